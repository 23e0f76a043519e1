//! The key database on both backends: an embedded SQLite file and a real Postgres server
//! (`scripts/services.sh start`, which `.ci/run` runs, sets `WASMGATE_TEST_POSTGRES_URL`). The
//! lifecycle of a key, spend and budget periods, SQL-looking values, and that only the key's
//! hash is stored.

use crate::common::databases::{postgres_url, sqlite_url, stored_text};
use serde_json::json;
use wasmgate::keys::{self, KeySpec, KeyStore, SpendEntry, StoreError};

fn spec(body: serde_json::Value, now: i64) -> KeySpec {
    KeySpec::parse(&body, now).unwrap().spec
}

async fn lifecycle(url: &str) {
    let store = KeyStore::open(url).await.unwrap();
    let now = 1_800_000_000;
    let key = keys::generate_key();
    assert!(key.starts_with("sk-") && key.len() > 40);
    let token = keys::token_of(&key);
    let created = store
        .insert(
            &token,
            &keys::preview_of(&key),
            &spec(
                json!({"key_alias": "team-a", "models": ["gpt-4o"], "max_budget": 1.0,
                       "budget_duration": "1d", "rpm_limit": 10, "metadata": {"team": "a"},
                       "duration": "30d"}),
                now,
            ),
            now,
        )
        .await
        .unwrap();
    assert_eq!(created.models, ["gpt-4o"]);
    assert_eq!(created.budget_reset_at, Some(now + 86_400));
    assert_eq!(created.expires, Some(now + 30 * 86_400));
    assert_eq!(created.spend, 0.0);
    assert_eq!(created.metadata["team"], "a");
    assert!(created.key_preview.ends_with(&key[key.len() - 4..]));

    // The database holds the hash, never the key.
    drop(store);
    let stored = stored_text(url).await;
    assert!(!stored.contains(&key), "the key itself is in the database");
    assert!(stored.contains(&token));
    let store = KeyStore::open(url).await.unwrap();

    // A second key may not take the alias.
    let other = keys::token_of(&keys::generate_key());
    let taken = store
        .insert(
            &other,
            "sk-…x",
            &spec(json!({"key_alias": "team-a"}), now),
            now,
        )
        .await;
    assert!(matches!(taken, Err(StoreError::AliasTaken(a)) if a == "team-a"));

    let updated = store
        .update(
            &token,
            &spec(json!({"rpm_limit": 20, "models": []}), now + 5),
            now + 5,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.rpm_limit, Some(20));
    assert!(updated.models.is_empty());
    assert_eq!(
        updated.max_budget,
        Some(1.0),
        "fields not in the update stay"
    );
    assert_eq!(updated.updated_at, now + 5);

    for (i, cost) in [0.25, 0.5].into_iter().enumerate() {
        store
            .record_spend(&SpendEntry {
                request_id: format!("req-{i}"),
                token: token.clone(),
                model: "gpt-4o".into(),
                spend: cost,
                prompt_tokens: 10,
                completion_tokens: 5,
                started_at: now + 10 + i as i64,
            })
            .await
            .unwrap();
    }
    assert_eq!(store.get(&token).await.unwrap().unwrap().spend, 0.75);
    let logs = store.spend_logs(Some(&token), 10).await.unwrap();
    assert_eq!(
        logs.iter()
            .map(|l| l.request_id.as_str())
            .collect::<Vec<_>>(),
        ["req-1", "req-0"]
    );
    assert_eq!(store.spend_logs(None, 1).await.unwrap().len(), 1);

    // The period ends: spend back to zero, next reset one period later.
    assert_eq!(store.reset_due_budgets(now + 100).await.unwrap(), 0);
    assert_eq!(store.reset_due_budgets(now + 86_400).await.unwrap(), 1);
    let reset = store.get(&token).await.unwrap().unwrap();
    assert_eq!(reset.spend, 0.0);
    assert_eq!(reset.budget_reset_at, Some(now + 2 * 86_400));

    assert_eq!(store.list().await.unwrap().len(), 1);
    assert!(store.delete(&token).await.unwrap());
    assert!(!store.delete(&token).await.unwrap());
    assert!(store.get(&token).await.unwrap().is_none());
    assert!(store.spend_logs(Some(&token), 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_key_from_creation_to_deletion_on_sqlite() {
    lifecycle(&sqlite_url()).await;
}

#[tokio::test]
async fn a_key_from_creation_to_deletion_on_postgres() {
    if let Some(url) = postgres_url().await {
        lifecycle(&url).await;
    }
}

async fn sql_looking_values(url: &str) {
    let store = KeyStore::open(url).await.unwrap();
    let now = 1_800_000_000;
    let alias = "x'; DROP TABLE wasmgate_keys; --";
    let token = keys::token_of("sk-' OR '1'='1");
    store
        .insert(
            &token,
            "sk-…1'",
            &spec(json!({"key_alias": alias, "models": ["a\"); --"]}), now),
            now,
        )
        .await
        .unwrap();
    assert!(store.get("' OR '1'='1").await.unwrap().is_none());
    let found = store.by_alias(alias).await.unwrap().unwrap();
    assert_eq!(found.models, ["a\"); --"]);
    assert_eq!(
        store.list().await.unwrap().len(),
        1,
        "the table is still there"
    );
}

#[tokio::test]
async fn sql_looking_values_are_data_on_sqlite() {
    sql_looking_values(&sqlite_url()).await;
}

#[tokio::test]
async fn sql_looking_values_are_data_on_postgres() {
    if let Some(url) = postgres_url().await {
        sql_looking_values(&url).await;
    }
}

/// 19 entries over two keys and a key that is gone: the 13 kept go as one statement of 8 log
/// rows and 5 single ones; each key's spend is added once; the gone key's entries are dropped.
async fn batched_spend(url: &str) {
    let store = KeyStore::open(url).await.unwrap();
    let now = 1_800_000_000;
    let mut tokens = Vec::new();
    for _ in 0..2 {
        let key = keys::generate_key();
        let token = keys::token_of(&key);
        store
            .insert(&token, &keys::preview_of(&key), &spec(json!({}), now), now)
            .await
            .unwrap();
        tokens.push(token);
    }
    tokens.push(keys::token_of(&keys::generate_key()));
    let entries: Vec<SpendEntry> = (0..19)
        .map(|i| SpendEntry {
            request_id: format!("batch-{i}"),
            token: tokens[i % 3].clone(),
            model: "gpt".into(),
            spend: 0.25,
            prompt_tokens: i as i64,
            completion_tokens: 1,
            started_at: now + i as i64,
        })
        .collect();
    store.record_spends(&entries).await.unwrap();
    for (token, requests) in [(&tokens[0], 7), (&tokens[1], 6)] {
        let logs = store.spend_logs(Some(token), 100).await.unwrap();
        assert_eq!(logs.len(), requests);
        assert_eq!(
            store.get(token).await.unwrap().unwrap().spend,
            0.25 * requests as f64
        );
    }
    assert!(store
        .spend_logs(Some(&tokens[2]), 100)
        .await
        .unwrap()
        .is_empty());
    let newest = &store.spend_logs(Some(&tokens[0]), 1).await.unwrap()[0];
    assert_eq!(
        (newest.request_id.as_str(), newest.prompt_tokens),
        ("batch-18", 18)
    );
}

#[tokio::test]
async fn spend_is_written_in_batches_on_sqlite() {
    batched_spend(&sqlite_url()).await;
}

#[tokio::test]
async fn spend_is_written_in_batches_on_postgres() {
    if let Some(url) = postgres_url().await {
        batched_spend(&url).await;
    }
}

#[tokio::test]
async fn a_reopened_database_keeps_its_keys() {
    let url = sqlite_url();
    let token = keys::token_of("sk-reopen");
    KeyStore::open(&url)
        .await
        .unwrap()
        .insert(&token, "sk-…open", &spec(json!({}), 1), 1)
        .await
        .unwrap();
    let again = KeyStore::open(&url).await.unwrap();
    assert!(again.get(&token).await.unwrap().is_some());
}

#[tokio::test]
async fn an_unsupported_database_url_is_refused() {
    let err = KeyStore::open("mysql://localhost/db").await.err().unwrap();
    assert!(
        err.to_string().contains("sqlite://PATH or postgres://"),
        "{err}"
    );
}
