//! Databases for the key tests: a fresh SQLite file, or a fresh database on the test Postgres
//! server (`scripts/services.sh start`, which `.ci/run` runs, sets
//! `WASMGATE_TEST_POSTGRES_URL`), and what someone holding the database could read.

use sqlx::Row;
use wasmgate::keys;

/// A short random hex name.
pub fn unique() -> String {
    keys::token_of(&keys::generate_key())[..12].to_string()
}

/// A fresh SQLite file's URL.
pub fn sqlite_url() -> String {
    let file = wasmgate_test_support::workspace_root()
        .join("target")
        .join("tmp")
        .join(format!("keys-{}", unique()))
        .join("wasmgate.db");
    format!("sqlite://{}", file.display())
}

/// A fresh database on the test Postgres server. In CI the server must be there; elsewhere the
/// Postgres half is skipped with a note when `WASMGATE_TEST_POSTGRES_URL` is unset.
pub async fn postgres_url() -> Option<String> {
    let Ok(base) = std::env::var("WASMGATE_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs Postgres: start it with scripts/services.sh"
        );
        eprintln!("WASMGATE_TEST_POSTGRES_URL is unset: the Postgres half is skipped");
        return None;
    };
    sqlx::any::install_default_drivers();
    let admin = sqlx::AnyPool::connect(&base)
        .await
        .expect("the test Postgres");
    let name = format!("keys_{}", unique());
    // The name is made here, of hex digits only.
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await
        .unwrap();
    let (server, _) = base.rsplit_once('/').unwrap();
    Some(format!("{server}/{name}"))
}

/// Every stored text of the keys table, as one string: what someone holding the database reads.
pub async fn stored_text(url: &str) -> String {
    if let Some(path) = url.strip_prefix("sqlite://") {
        // The database file and its write-ahead log.
        let mut bytes = std::fs::read(path).unwrap();
        bytes.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
        return String::from_utf8_lossy(&bytes).into_owned();
    }
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    let rows = sqlx::query(
        "SELECT token || coalesce(key_alias, '') || key_preview || models || metadata AS t \
         FROM wasmgate_keys",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    rows.iter().map(|r| r.get::<String, _>("t")).collect()
}
