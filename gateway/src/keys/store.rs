//! Where keys and spend live: an embedded SQLite file by default, Postgres for several replicas
//! (`database_url: postgres://...`). One schema and one set of migrations serve both
//! (`gateway/migrations`); queries are plain SQL with bound parameters, never spliced text.

use super::spec::{parse_duration, KeySpec};
use serde_json::{Map, Value};
use sqlx::any::AnyRow;
use sqlx::pool::PoolOptions;
use sqlx::Row;
use sqlx::{Any, Pool};

/// A failure of the key database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed.
    #[error("key database: {0}")]
    Database(#[from] sqlx::Error),
    /// The schema could not be brought up to date.
    #[error("key database migration: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// Another key already has this alias.
    #[error("a key with the alias `{0}` already exists")]
    AliasTaken(String),
    /// The database failed to open moments ago; it is tried again after the given time.
    #[error("key database: it could not be opened; trying again every {} s", .0.as_secs())]
    Unreachable(std::time::Duration),
    /// A `database_url` this build cannot use (its scheme: the rest may hold a password).
    #[error("unsupported database_url scheme `{0}`: use sqlite://PATH or postgres://...")]
    Unsupported(String),
}

/// A stored key (never the key itself: its SHA-256, `token`).
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRecord {
    /// SHA-256 of the key, hex.
    pub token: String,
    /// Its alias.
    pub key_alias: Option<String>,
    /// `sk-…` and the key's last four characters, to tell keys apart in listings.
    pub key_preview: String,
    /// The models it may use; empty: all.
    pub models: Vec<String>,
    /// Budget in USD.
    pub max_budget: Option<f64>,
    /// The budget period as written.
    pub budget_duration: Option<String>,
    /// When the spend goes back to zero, Unix seconds.
    pub budget_reset_at: Option<i64>,
    /// USD spent in the current period.
    pub spend: f64,
    /// Requests per minute.
    pub rpm_limit: Option<i64>,
    /// Tokens per minute.
    pub tpm_limit: Option<i64>,
    /// Requests in flight at once.
    pub max_parallel_requests: Option<i64>,
    /// The client's metadata.
    pub metadata: Map<String, Value>,
    /// Expiry, Unix seconds.
    pub expires: Option<i64>,
    /// Creation time, Unix seconds.
    pub created_at: i64,
    /// Last change, Unix seconds.
    pub updated_at: i64,
}

/// One request's spend.
#[derive(Debug, Clone, PartialEq)]
pub struct SpendEntry {
    /// The request id (`x-request-id`).
    pub request_id: String,
    /// The key's token.
    pub token: String,
    /// The model the client asked for.
    pub model: String,
    /// USD.
    pub spend: f64,
    /// Prompt tokens.
    pub prompt_tokens: i64,
    /// Completion tokens.
    pub completion_tokens: i64,
    /// When the request started, Unix seconds.
    pub started_at: i64,
}

/// The key database.
#[derive(Clone)]
pub struct KeyStore {
    pool: Pool<Any>,
}

/// The columns of `wasmgate_keys`, as a literal for `concat!` (queries are literal SQL only).
macro_rules! columns {
    () => {
        "token, key_alias, key_preview, models, max_budget, budget_duration, budget_reset_at, \
         spend, rpm_limit, tpm_limit, max_parallel_requests, metadata, expires, created_at, \
         updated_at"
    };
}

/// The columns of `wasmgate_spend_logs`, as a literal for `concat!`.
macro_rules! log_columns {
    () => {
        "request_id, token, model, spend, prompt_tokens, completion_tokens, started_at"
    };
}

/// Spend-log rows written by one statement.
const LOG_ROWS: usize = 8;

type AnyQuery<'q> = sqlx::query::Query<'q, Any, sqlx::any::AnyArguments>;

/// Binds one spend-log row, in [`log_columns`] order.
fn bind_log<'q>(query: AnyQuery<'q>, e: &SpendEntry) -> AnyQuery<'q> {
    query
        .bind(e.request_id.clone())
        .bind(e.token.clone())
        .bind(e.model.clone())
        .bind(e.spend)
        .bind(e.prompt_tokens)
        .bind(e.completion_tokens)
        .bind(e.started_at)
}

fn json_text<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

fn record(row: &AnyRow) -> Result<KeyRecord, sqlx::Error> {
    let models: String = row.try_get("models")?;
    let metadata: String = row.try_get("metadata")?;
    Ok(KeyRecord {
        token: row.try_get("token")?,
        key_alias: row.try_get("key_alias")?,
        key_preview: row.try_get("key_preview")?,
        models: serde_json::from_str(&models).unwrap_or_default(),
        max_budget: row.try_get("max_budget")?,
        budget_duration: row.try_get("budget_duration")?,
        budget_reset_at: row.try_get("budget_reset_at")?,
        spend: row.try_get("spend")?,
        rpm_limit: row.try_get("rpm_limit")?,
        tpm_limit: row.try_get("tpm_limit")?,
        max_parallel_requests: row.try_get("max_parallel_requests")?,
        metadata: serde_json::from_str(&metadata).unwrap_or_default(),
        expires: row.try_get("expires")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// A unique-constraint violation on the alias, as [`StoreError::AliasTaken`].
fn alias_taken(e: sqlx::Error, alias: Option<&String>) -> StoreError {
    match (&e, alias) {
        (sqlx::Error::Database(d), Some(alias)) if d.is_unique_violation() => {
            StoreError::AliasTaken(alias.clone())
        }
        _ => StoreError::Database(e),
    }
}

/// Brings the schema up to date. Gateways in one process take turns; gateways in several
/// processes that start together on one fresh SQLite file may collide (SQLite has no migration
/// lock), so a failed run is tried again once the other one had time to finish.
async fn migrate(pool: &Pool<Any>) -> Result<(), StoreError> {
    static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _turn = ONE_AT_A_TIME.lock().await;
    let mut tries = 0;
    loop {
        match sqlx::migrate!("./migrations").run(pool).await {
            Ok(()) => return Ok(()),
            Err(e) if tries < 3 => {
                tracing::debug!("key database migration: {e}; trying again");
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(200 * tries)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

impl KeyStore {
    /// Opens (creating an SQLite file when needed) the database at `url` and applies the
    /// migrations.
    pub async fn open(url: &str) -> Result<KeyStore, StoreError> {
        sqlx::any::install_default_drivers();
        let url = if let Some(path) = url.strip_prefix("sqlite://") {
            if let Some(dir) = std::path::Path::new(path.split('?').next().unwrap_or(path)).parent()
            {
                if !dir.as_os_str().is_empty() {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
                }
            }
            if path.contains('?') {
                url.to_string()
            } else {
                format!("{url}?mode=rwc")
            }
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            url.to_string()
        } else {
            let scheme = url.split_once("://").map_or("(none)", |(s, _)| s);
            return Err(StoreError::Unsupported(scheme.to_string()));
        };
        let sqlite = url.starts_with("sqlite:");
        let pool = PoolOptions::<Any>::new()
            .max_connections(8)
            .acquire_timeout(std::time::Duration::from_secs(5))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if sqlite {
                        // Write-ahead log, synced at checkpoints: a committed write survives
                        // a crash of the process, and costs no fsync of its own.
                        sqlx::Executor::execute(&mut *conn, "PRAGMA journal_mode = WAL").await?;
                        sqlx::Executor::execute(&mut *conn, "PRAGMA synchronous = NORMAL").await?;
                        sqlx::Executor::execute(&mut *conn, "PRAGMA busy_timeout = 5000").await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        migrate(&pool).await?;
        Ok(KeyStore { pool })
    }

    /// Stores a new key with hash `token` and `preview`, as `spec` says.
    pub async fn insert(
        &self,
        token: &str,
        preview: &str,
        spec: &KeySpec,
        now: i64,
    ) -> Result<KeyRecord, StoreError> {
        let reset_at = spec.budget_duration.as_ref().map(|(_, secs)| now + secs);
        sqlx::query(concat!(
            "INSERT INTO wasmgate_keys (",
            columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $9, $10, $11, $12, $13, $13)"
        ))
        .bind(token)
        .bind(spec.key_alias.clone())
        .bind(preview)
        .bind(json_text(&spec.models.clone().unwrap_or_default()))
        .bind(spec.max_budget)
        .bind(spec.budget_duration.as_ref().map(|(text, _)| text.clone()))
        .bind(reset_at)
        .bind(spec.rpm_limit)
        .bind(spec.tpm_limit)
        .bind(spec.max_parallel_requests)
        .bind(json_text(&spec.metadata.clone().unwrap_or_default()))
        .bind(spec.expires)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(|e| alias_taken(e, spec.key_alias.as_ref()))?;
        self.get(token)
            .await?
            .ok_or(StoreError::Database(sqlx::Error::RowNotFound))
    }

    /// The key with hash `token`.
    pub async fn get(&self, token: &str) -> Result<Option<KeyRecord>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM wasmgate_keys WHERE token = $1"
        ))
        .bind(token)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(record).transpose()?)
    }

    /// The key with alias `alias`.
    pub async fn by_alias(&self, alias: &str) -> Result<Option<KeyRecord>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM wasmgate_keys WHERE key_alias = $1"
        ))
        .bind(alias)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(record).transpose()?)
    }

    /// Every key, oldest first.
    pub async fn list(&self) -> Result<Vec<KeyRecord>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM wasmgate_keys ORDER BY created_at, token"
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(record).collect::<Result<_, _>>()?)
    }

    /// Applies the fields `spec` sets to key `token`; `None` when there is no such key.
    pub async fn update(
        &self,
        token: &str,
        spec: &KeySpec,
        now: i64,
    ) -> Result<Option<KeyRecord>, StoreError> {
        let Some(mut key) = self.get(token).await? else {
            return Ok(None);
        };
        if let Some(alias) = &spec.key_alias {
            key.key_alias = Some(alias.clone());
        }
        if let Some(models) = &spec.models {
            key.models = models.clone();
        }
        if spec.max_budget.is_some() {
            key.max_budget = spec.max_budget;
        }
        if let Some((text, secs)) = &spec.budget_duration {
            key.budget_duration = Some(text.clone());
            key.budget_reset_at = Some(now + secs);
        }
        for (field, value) in [
            (&mut key.rpm_limit, spec.rpm_limit),
            (&mut key.tpm_limit, spec.tpm_limit),
            (&mut key.max_parallel_requests, spec.max_parallel_requests),
            (&mut key.expires, spec.expires),
        ] {
            if value.is_some() {
                *field = value;
            }
        }
        if let Some(metadata) = &spec.metadata {
            key.metadata = metadata.clone();
        }
        sqlx::query(
            "UPDATE wasmgate_keys SET key_alias = $1, models = $2, max_budget = $3, \
             budget_duration = $4, budget_reset_at = $5, rpm_limit = $6, tpm_limit = $7, \
             max_parallel_requests = $8, metadata = $9, expires = $10, updated_at = $11 \
             WHERE token = $12",
        )
        .bind(key.key_alias.clone())
        .bind(json_text(&key.models))
        .bind(key.max_budget)
        .bind(key.budget_duration.clone())
        .bind(key.budget_reset_at)
        .bind(key.rpm_limit)
        .bind(key.tpm_limit)
        .bind(key.max_parallel_requests)
        .bind(json_text(&key.metadata))
        .bind(key.expires)
        .bind(now)
        .bind(token)
        .execute(&self.pool)
        .await
        .map_err(|e| alias_taken(e, key.key_alias.as_ref()))?;
        self.get(token).await
    }

    /// Deletes key `token` and its spend logs; whether it existed.
    pub async fn delete(&self, token: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM wasmgate_spend_logs WHERE token = $1")
            .bind(token)
            .execute(&mut *tx)
            .await?;
        let gone = sqlx::query("DELETE FROM wasmgate_keys WHERE token = $1")
            .bind(token)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(gone > 0)
    }

    /// Adds one request's spend to its key and logs it, atomically.
    pub async fn record_spend(&self, entry: &SpendEntry) -> Result<(), StoreError> {
        self.record_spends(std::slice::from_ref(entry)).await
    }

    /// Adds requests' spend to their keys and logs them, in one transaction: one update per
    /// key, the log rows [`LOG_ROWS`] to a statement. Entries of keys deleted meanwhile are
    /// dropped.
    pub async fn record_spends(&self, entries: &[SpendEntry]) -> Result<(), StoreError> {
        let mut by_key: Vec<(&str, f64)> = Vec::new();
        for e in entries {
            match by_key.iter_mut().find(|(t, _)| *t == e.token) {
                Some((_, usd)) => *usd += e.spend,
                None => by_key.push((&e.token, e.spend)),
            }
        }
        let mut tx = self.pool.begin().await?;
        let mut gone = Vec::new();
        for (token, usd) in &by_key {
            let updated =
                sqlx::query("UPDATE wasmgate_keys SET spend = spend + $1 WHERE token = $2")
                    .bind(*usd)
                    .bind(*token)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            if updated == 0 {
                gone.push(*token);
            }
        }
        let kept: Vec<&SpendEntry> = entries
            .iter()
            .filter(|e| !gone.contains(&e.token.as_str()))
            .collect();
        let mut chunks = kept.chunks_exact(LOG_ROWS);
        for chunk in &mut chunks {
            let mut insert = sqlx::query(concat!(
                "INSERT INTO wasmgate_spend_logs (",
                log_columns!(),
                ") VALUES \
                 ($1, $2, $3, $4, $5, $6, $7), ($8, $9, $10, $11, $12, $13, $14), \
                 ($15, $16, $17, $18, $19, $20, $21), ($22, $23, $24, $25, $26, $27, $28), \
                 ($29, $30, $31, $32, $33, $34, $35), ($36, $37, $38, $39, $40, $41, $42), \
                 ($43, $44, $45, $46, $47, $48, $49), ($50, $51, $52, $53, $54, $55, $56)"
            ));
            for e in chunk {
                insert = bind_log(insert, e);
            }
            insert.execute(&mut *tx).await?;
        }
        for e in chunks.remainder() {
            let one = sqlx::query(concat!(
                "INSERT INTO wasmgate_spend_logs (",
                log_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7)"
            ));
            bind_log(one, e).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Starts a new budget period for every key whose period ended by `now`: its spend goes
    /// back to zero and its next reset is one period later. Returns how many keys were reset.
    pub async fn reset_due_budgets(&self, now: i64) -> Result<u64, StoreError> {
        let due = sqlx::query(
            "SELECT token, budget_duration FROM wasmgate_keys \
             WHERE budget_reset_at IS NOT NULL AND budget_reset_at <= $1",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        let mut reset = 0;
        for row in &due {
            let token: String = row.try_get("token")?;
            let duration: Option<String> = row.try_get("budget_duration")?;
            let Some(secs) = duration.as_deref().and_then(parse_duration) else {
                continue;
            };
            reset += sqlx::query(
                "UPDATE wasmgate_keys SET spend = 0, budget_reset_at = $1 \
                 WHERE token = $2 AND budget_reset_at <= $3",
            )
            .bind(now + secs)
            .bind(&token)
            .bind(now)
            .execute(&self.pool)
            .await?
            .rows_affected();
        }
        Ok(reset)
    }

    /// The latest `limit` spend entries, of key `token` or of all keys.
    pub async fn spend_logs(
        &self,
        token: Option<&str>,
        limit: i64,
    ) -> Result<Vec<SpendEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT request_id, token, model, spend, prompt_tokens, completion_tokens, started_at \
             FROM wasmgate_spend_logs WHERE ($1 IS NULL OR token = $1) \
             ORDER BY started_at DESC, request_id LIMIT $2",
        )
        .bind(token)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(SpendEntry {
                    request_id: row.try_get("request_id")?,
                    token: row.try_get("token")?,
                    model: row.try_get("model")?,
                    spend: row.try_get("spend")?,
                    prompt_tokens: row.try_get("prompt_tokens")?,
                    completion_tokens: row.try_get("completion_tokens")?,
                    started_at: row.try_get("started_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }
}
