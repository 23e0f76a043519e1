//! Virtual keys end to end, over the real server and a real upstream, on SQLite and on
//! Postgres: issue, use, update, spend and budgets (429 naming the budget, on OpenAI's and
//! Anthropic's routes), spend logs, expiry, delete, persistence across a restart, rate limits,
//! bad input (SQL-looking values, oversized metadata, unknown fields: clear 4xx, nothing
//! stored), and stored responses kept apart per key.

use crate::common;
use crate::common::databases::{postgres_url, sqlite_url, stored_text};
use serde_json::{json, Value};
use std::time::Duration;
use wasmgate::Gateway;
use wasmgate_test_support::client::{get, open, post_json};
use wasmgate_test_support::upstream::Upstream;

const MASTER: &str = "sk-master-virtual-keys";
const AUTH: (&str, &str) = ("authorization", "Bearer sk-master-virtual-keys");

fn config(upstream: &str, database_url: &str) -> String {
    let deployment = |name: &str, model: &str, priced: bool| {
        let prices = if priced {
            "\n  model_info:\n    input_cost_per_token: 0.001\n    output_cost_per_token: 0.002"
        } else {
            ""
        };
        format!("- model_name: {name}\n  litellm_params:\n    model: openai/{model}\n    api_base: {upstream}\n    api_key: sk-upstream{prices}\n")
    };
    format!(
        "model_list:\n{}{}{}general_settings:\n  master_key: {MASTER}\n  database_url: {database_url}\n",
        deployment("gpt", "gpt-4o-mini", true),
        deployment("other", "gpt-4o-mini", false),
        deployment("gated", "gated-stream", false),
    )
}

async fn start(upstream: &Upstream, database_url: &str) -> Gateway {
    common::start(&config(&upstream.url(), database_url)).await
}

fn bearer(key: &str) -> String {
    format!("Bearer {key}")
}

async fn chat(gateway: &Gateway, key: &str, model: &str) -> wasmgate_test_support::client::Reply {
    let auth = bearer(key);
    post_json(
        &common::url(gateway, "/v1/chat/completions"),
        &common::chat_body(model),
        &[("authorization", &auth)],
    )
    .await
}

async fn generate(gateway: &Gateway, body: Value) -> Value {
    let r = post_json(&common::url(gateway, "/key/generate"), &body, &[AUTH]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

async fn info(gateway: &Gateway, token: &str) -> Value {
    let r = get(
        &common::url(gateway, &format!("/key/info?key={token}")),
        &[AUTH],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["info"].clone()
}

fn assert_close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-9, "{a} != {b}");
}

async fn lifecycle(database_url: &str) {
    let upstream = Upstream::start().await;
    let gateway = start(&upstream, database_url).await;
    let created = generate(
        &gateway,
        json!({"key_alias": "team-a", "models": ["gpt", "gated"], "max_budget": 0.02,
               "metadata": {"team": "a"}}),
    )
    .await;
    let key = created["key"].as_str().unwrap().to_string();
    let token = created["token"].as_str().unwrap().to_string();
    assert!(key.starts_with("sk-") && token.len() == 64);
    assert_eq!(
        created["key_name"],
        format!("sk-…{}", &key[key.len() - 4..])
    );

    // Use: the key's models only, in the answer and in the model list.
    let r = chat(&gateway, &key, "gpt").await;
    assert_eq!(r.status, 200, "{}", r.text());
    common::assert_upstream_chat_answer(&r.json());
    // One answer of the upstream (12 tokens) at the prices above: about 0.013 USD, so two fit
    // under the 0.02 budget.
    let cost: f64 = r
        .header("x-litellm-response-cost")
        .unwrap()
        .parse()
        .unwrap();
    assert!((0.011..0.019).contains(&cost), "{cost}");
    let r = chat(&gateway, &key, "other").await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "model_not_allowed");
    assert!(r.text().contains("`team-a`") && !r.text().contains(&key));
    let auth = bearer(&key);
    let listed = get(
        &common::url(&gateway, "/v1/models"),
        &[("authorization", &auth)],
    )
    .await;
    let ids: Vec<String> = listed.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["gated", "gpt"]);

    // Spend shows at once, to the master key and to the key itself.
    assert_close(
        info(&gateway, &token).await["spend"].as_f64().unwrap(),
        cost,
    );
    let own = get(
        &common::url(&gateway, "/key/info"),
        &[("authorization", &auth)],
    )
    .await;
    assert_eq!(own.status, 200, "{}", own.text());
    assert_eq!(own.json()["info"]["key_alias"], "team-a");

    // The budget: one more request fits under 0.02, the next is refused naming the budget.
    assert_eq!(chat(&gateway, &key, "gpt").await.status, 200);
    let refused = chat(&gateway, &key, "gpt").await;
    assert_eq!(refused.status, 429, "{}", refused.text());
    let error = &refused.json()["error"];
    assert_eq!(error["code"], "budget_exceeded");
    let message = error["message"].as_str().unwrap();
    let spent = format!("spent ${:.6}", 2.0 * cost);
    assert!(
        message.contains("max_budget $0.020000") && message.contains(&spent),
        "{message}"
    );
    let anthropic = post_json(
        &common::url(&gateway, "/v1/messages"),
        &json!({"model": "gpt", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}),
        &[("x-api-key", &key), ("anthropic-version", "2023-06-01")],
    )
    .await;
    assert_eq!(anthropic.status, 429, "{}", anthropic.text());
    assert_eq!(anthropic.json()["type"], "error");
    assert!(anthropic.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("max_budget"));

    // Update: a larger budget lets it go on; fields not named stay.
    let r = post_json(
        &common::url(&gateway, "/key/update"),
        &json!({"key": token, "max_budget": 0.05}),
        &[AUTH],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["models"], json!(["gpt", "gated"]));
    assert_eq!(r.json()["metadata"]["team"], "a");
    assert_eq!(chat(&gateway, &key, "gpt").await.status, 200);
    assert_eq!(chat(&gateway, &key, "gpt").await.status, 200);
    assert_eq!(chat(&gateway, &key, "gpt").await.status, 429);

    // Spend logs: one entry per request served, newest first.
    let logs = get(
        &common::url(&gateway, &format!("/spend/logs?api_key={token}")),
        &[AUTH],
    )
    .await;
    assert_eq!(logs.status, 200, "{}", logs.text());
    let logs = logs.json();
    let logs = logs.as_array().unwrap();
    assert_eq!(logs.len(), 4, "{logs:?}");
    for entry in logs {
        assert_eq!(entry["model"], "gpt");
        assert_eq!(entry["api_key"], token.as_str());
        assert_close(entry["spend"].as_f64().unwrap(), cost);
        assert_eq!(entry["total_tokens"], 12);
    }

    // A restart keeps the key and its spend: still over budget.
    gateway.shutdown().await.unwrap();
    let gateway = start(&upstream, database_url).await;
    assert_close(
        info(&gateway, &token).await["spend"].as_f64().unwrap(),
        4.0 * cost,
    );
    let refused = chat(&gateway, &key, "gpt").await;
    assert_eq!(refused.status, 429, "{}", refused.text());

    // Expiry.
    let expired = generate(&gateway, json!({"expires": super_past()})).await;
    let r = chat(&gateway, expired["key"].as_str().unwrap(), "gpt").await;
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "key_expired");

    // What the database holds: the hash, never the key.
    let stored = stored_text(database_url).await;
    assert!(stored.contains(&token));
    assert!(!stored.contains(&key));
    assert!(!stored.contains(expired["key"].as_str().unwrap()));

    // Delete by alias: the key stops working at once.
    let r = post_json(
        &common::url(&gateway, "/key/delete"),
        &json!({"key_aliases": ["team-a"]}),
        &[AUTH],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["deleted_keys"], json!([token]));
    let r = chat(&gateway, &key, "gpt").await;
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(r.json()["error"]["message"], "invalid API key");
    let r = get(
        &common::url(&gateway, &format!("/key/info?key={token}")),
        &[AUTH],
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.text());
    gateway.shutdown().await.unwrap();
}

/// A time in the past, as Unix seconds.
fn super_past() -> i64 {
    wasmgate::keys::unix_now() - 10
}

async fn bad_input(database_url: &str) {
    let upstream = Upstream::start().await;
    let gateway = start(&upstream, database_url).await;
    let list = || async {
        let r = get(
            &common::url(&gateway, "/key/list?return_full_object=true"),
            &[AUTH],
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    };
    // SQL-looking values are data: stored as given, matched exactly.
    let sly = generate(
        &gateway,
        json!({"key_alias": "x'; DROP TABLE wasmgate_keys; --",
               "models": ["gpt' OR '1'='1"], "metadata": {"q": "'); DELETE FROM wasmgate_keys; --"}}),
    )
    .await;
    let sly_key = sly["key"].as_str().unwrap();
    let r = chat(&gateway, sly_key, "gpt").await;
    assert_eq!(r.status, 403, "{}", r.text());
    for presented in ["' OR '1'='1", "x' --", "sk-\"; SELECT 1; --"] {
        let r = chat(&gateway, presented, "gpt").await;
        assert_eq!(r.status, 401, "{presented}: {}", r.text());
    }
    let r = get(
        &common::url(&gateway, "/key/info?key=%27%20OR%20%271%27%3D%271"),
        &[AUTH],
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.text());
    let before = list().await;
    assert_eq!(before["total_count"], 1);
    assert_eq!(
        before["keys"][0]["key_alias"],
        "x'; DROP TABLE wasmgate_keys; --"
    );

    // Refused with the field named, and nothing stored.
    let refusals = [
        (
            json!({"metadata": {"blob": "x".repeat(20_000)}}),
            "metadata",
        ),
        (json!({"key_alias": "a", "team_id": "t"}), "team_id"),
        (json!({"rpm_limit": -1}), "rpm_limit"),
        (json!({"budget_duration": "1 fortnight"}), "budget_duration"),
        (
            json!({"key_alias": "x'; DROP TABLE wasmgate_keys; --"}),
            "key_alias",
        ),
        (json!({"key": "not-a-key"}), "key"),
        (
            json!({"key": MASTER.to_string() + "-and-more-characters"}),
            "",
        ),
    ];
    for (body, field) in refusals {
        let r = post_json(&common::url(&gateway, "/key/generate"), &body, &[AUTH]).await;
        if field.is_empty() {
            // A chosen key is fine when it is not the master key.
            assert_eq!(r.status, 200, "{}", r.text());
            continue;
        }
        assert_eq!(r.status, 400, "{body}: {}", r.text());
        assert!(r.text().contains(field), "{field}: {}", r.text());
    }
    let r = post_json(
        &common::url(&gateway, "/key/generate"),
        &json!({"key": MASTER}),
        &[AUTH],
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(!r.text().contains(MASTER));
    assert_eq!(list().await["total_count"], 2);
    let r = post_json(
        &common::url(&gateway, "/key/generate"),
        &json!({}),
        &[
            ("content-type", "application/json"),
            ("authorization", "Bearer nope"),
        ],
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.text());

    // Deleting a set that names a missing key deletes nothing.
    let r = post_json(
        &common::url(&gateway, "/key/delete"),
        &json!({"key_aliases": ["x'; DROP TABLE wasmgate_keys; --", "nobody"]}),
        &[AUTH],
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.text());
    let r = post_json(
        &common::url(&gateway, "/key/delete"),
        &json!({"keys": [sly_key], "surprise": true}),
        &[AUTH],
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(list().await["total_count"], 2);

    // Virtual keys may not manage keys.
    let auth = bearer(sly_key);
    for path in ["/key/list", "/spend/logs", "/admin/adapters"] {
        let r = get(&common::url(&gateway, path), &[("authorization", &auth)]).await;
        assert_eq!(r.status, 403, "{path}: {}", r.text());
    }
    let r = post_json(
        &common::url(&gateway, "/key/generate"),
        &json!({}),
        &[("authorization", &auth)],
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text());
    gateway.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_lifecycle_on_sqlite() {
    lifecycle(&sqlite_url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_lifecycle_on_postgres() {
    if let Some(url) = postgres_url().await {
        lifecycle(&url).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_key_input_on_sqlite() {
    bad_input(&sqlite_url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_key_input_on_postgres() {
    if let Some(url) = postgres_url().await {
        bad_input(&url).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_of_a_key() {
    let upstream = Upstream::start().await;
    let gateway = start(&upstream, &sqlite_url()).await;

    let rpm = generate(&gateway, json!({"rpm_limit": 3})).await;
    let rpm = rpm["key"].as_str().unwrap();
    for _ in 0..3 {
        assert_eq!(chat(&gateway, rpm, "gpt").await.status, 200);
    }
    let r = chat(&gateway, rpm, "gpt").await;
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.text().contains("rpm_limit"), "{}", r.text());
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");

    // Tokens per minute: each answer uses 12; the third request finds 24 ≥ 20.
    let tpm = generate(&gateway, json!({"tpm_limit": 20})).await;
    let tpm = tpm["key"].as_str().unwrap();
    assert_eq!(chat(&gateway, tpm, "gpt").await.status, 200);
    assert_eq!(chat(&gateway, tpm, "gpt").await.status, 200);
    let r = chat(&gateway, tpm, "gpt").await;
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.text().contains("24 tokens"), "{}", r.text());

    // In flight: a stream held open counts until its body ends.
    let parallel = generate(&gateway, json!({"max_parallel_requests": 1})).await;
    let parallel = parallel["key"].as_str().unwrap();
    let auth = bearer(parallel);
    let mut body = common::chat_body("gated");
    body["stream"] = json!(true);
    let held = open(
        http::Method::POST,
        &common::url(&gateway, "/v1/chat/completions"),
        serde_json::to_vec(&body).unwrap(),
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
    )
    .await;
    assert_eq!(held.status(), 200);
    let r = chat(&gateway, parallel, "other").await;
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.text().contains("max_parallel_requests"), "{}", r.text());
    upstream.release_gate();
    use http_body_util::BodyExt;
    tokio::time::timeout(Duration::from_secs(10), held.into_body().collect())
        .await
        .expect("the stream ends")
        .unwrap();
    let mut admitted = false;
    for _ in 0..50 {
        let r = chat(&gateway, parallel, "other").await;
        if r.status == 200 {
            admitted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(admitted, "the slot is free once the stream ended");
    gateway.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_responses_are_kept_apart_per_key() {
    let upstream = Upstream::start().await;
    let gateway = start(&upstream, &sqlite_url()).await;
    let a = generate(&gateway, json!({"key_alias": "a"})).await;
    let b = generate(&gateway, json!({"key_alias": "b"})).await;
    let (a, b) = (
        bearer(a["key"].as_str().unwrap()),
        bearer(b["key"].as_str().unwrap()),
    );
    let r = post_json(
        &common::url(&gateway, "/v1/responses"),
        &json!({"model": "gpt", "input": "hi", "store": true}),
        &[("authorization", &a)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();
    let path = format!("/v1/responses/{id}");
    let seen_by = |auth: String| {
        let url = common::url(&gateway, &path);
        async move { get(&url, &[("authorization", &auth)]).await.status }
    };
    assert_eq!(seen_by(a.clone()).await, 200);
    assert_eq!(seen_by(b.clone()).await, 404);
    assert_eq!(seen_by(bearer(MASTER)).await, 200);
    let r = post_json(
        &common::url(&gateway, "/v1/responses"),
        &json!({"model": "gpt", "input": "more", "previous_response_id": id}),
        &[("authorization", &b)],
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "previous_response_not_found");
    gateway.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_database_that_is_down_stops_only_virtual_keys() {
    let upstream = Upstream::start().await;
    // Nothing listens on port 1: the database cannot be reached, and the gateway starts anyway.
    let gateway = start(&upstream, "postgres://wasmgate:secret-pw@127.0.0.1:1/keys").await;
    assert_eq!(chat(&gateway, MASTER, "gpt").await.status, 200);
    for _ in 0..2 {
        let r = chat(&gateway, "sk-some-virtual-key-0123456789", "gpt").await;
        assert_eq!(r.status, 503, "{}", r.text());
        assert_eq!(r.json()["error"]["code"], "key_database_unavailable");
        assert!(!r.text().contains("secret-pw"));
    }
    let r = post_json(&common::url(&gateway, "/key/generate"), &json!({}), &[AUTH]).await;
    assert_eq!(r.status, 503, "{}", r.text());
    gateway.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_budget_starts_again_when_its_period_ends() {
    let upstream = Upstream::start().await;
    let gateway = start(&upstream, &sqlite_url()).await;
    let created = generate(
        &gateway,
        json!({"max_budget": 0.001, "budget_duration": "2s"}),
    )
    .await;
    let key = created["key"].as_str().unwrap();
    assert_eq!(chat(&gateway, key, "gpt").await.status, 200);
    let refused = chat(&gateway, key, "gpt").await;
    assert_eq!(refused.status, 429, "{}", refused.text());
    assert!(
        refused.text().contains("the budget is per 2s"),
        "{}",
        refused.text()
    );
    // Bounded: the period is 2 s.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let r = chat(&gateway, key, "gpt").await;
        if r.status == 200 {
            break;
        }
        assert_eq!(r.status, 429, "{}", r.text());
        assert!(std::time::Instant::now() < deadline, "a new period starts");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The database started the new period too.
    let token = created["token"].as_str().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let info = info(&gateway, token).await;
        if info["budget_reset_at"] != created["budget_reset_at"] {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "budget_reset_at moves on"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    gateway.shutdown().await.unwrap();
}
