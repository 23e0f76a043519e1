//! The response cache: whole chat and embedding answers of the models it covers, found by an
//! exact match on the normalized request per client API; `cache: {no-cache | no-store | ttl}`
//! per request; never before a virtual key's checks; shared by replicas through Redis.

use crate::common;
use serde_json::json;
use wasmgate_test_support::client::{post_json, Reply};
use wasmgate_test_support::upstream::Upstream;

const AUTH: (&str, &str) = ("authorization", "Bearer sk-master-cache");

fn config(upstream: &Upstream, cache_params: &str, database_url: &str) -> String {
    let deployment = |name: &str, model: &str| {
        format!("- model_name: {name}\n  litellm_params:\n    model: openai/{model}\n    api_base: {}\n    api_key: sk-upstream\n", upstream.url())
    };
    format!(
        "model_list:\n{}{}{}general_settings:\n  master_key: sk-master-cache\n  database_url: {database_url}\nlitellm_settings:\n  cache: true\n  cache_params:\n{cache_params}",
        deployment("gpt", "gpt-4o-mini"),
        deployment("embed", "text-embedding-3-small"),
        deployment("other", "gpt-4o-mini"),
    )
}

async fn send(gateway: &wasmgate::Gateway, path: &str, body: &serde_json::Value) -> Reply {
    post_json(&common::url(gateway, path), body, &[AUTH]).await
}

fn upstream_calls(upstream: &Upstream) -> usize {
    upstream.requests().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_come_from_the_cache_for_the_models_it_covers() {
    let upstream = Upstream::start().await;
    let params = "    type: local\n    ttl: 60\n    models: [gpt, embed]\n";
    let gateway = common::start(&config(
        &upstream,
        params,
        &crate::common::databases::sqlite_url(),
    ))
    .await;
    let chat = common::chat_body("gpt");

    let first = send(&gateway, "/v1/chat/completions", &chat).await;
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(first.header("x-wasmgate-cache").as_deref(), Some("miss"));
    let calls = upstream_calls(&upstream);
    let again = send(&gateway, "/v1/chat/completions", &chat).await;
    assert_eq!(again.header("x-wasmgate-cache").as_deref(), Some("hit"));
    assert_eq!(again.json(), first.json(), "the same answer, id included");
    assert_eq!(
        again.header("x-litellm-cache-key"),
        first.header("x-litellm-cache-key")
    );
    assert_eq!(
        upstream_calls(&upstream),
        calls,
        "a hit does not reach the provider"
    );

    // Another request, or one that says no-cache, goes to the provider.
    let mut warmer = chat.clone();
    warmer["temperature"] = json!(0.9);
    let r = send(&gateway, "/v1/chat/completions", &warmer).await;
    assert_eq!(r.header("x-wasmgate-cache").as_deref(), Some("miss"));
    let mut fresh = chat.clone();
    fresh["cache"] = json!({"no-cache": true});
    let r = send(&gateway, "/v1/chat/completions", &fresh).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-wasmgate-cache").as_deref(), Some("miss"));
    assert_eq!(upstream_calls(&upstream), calls + 2);
    let sent = upstream.requests().last().unwrap().json();
    assert!(
        sent.get("cache").is_none(),
        "`cache` is the gateway's, not the provider's"
    );

    // no-store: answered, not kept.
    let mut once = chat.clone();
    once["user"] = json!("u-no-store");
    once["cache"] = json!({"no-store": true});
    send(&gateway, "/v1/chat/completions", &once).await;
    once["cache"] = json!({});
    let r = send(&gateway, "/v1/chat/completions", &once).await;
    assert_eq!(r.header("x-wasmgate-cache").as_deref(), Some("miss"));

    // A model the cache does not cover, a stream, a bad `cache` value.
    let r = send(
        &gateway,
        "/v1/chat/completions",
        &common::chat_body("other"),
    )
    .await;
    assert!(r.header("x-wasmgate-cache").is_none());
    let mut streamed = chat.clone();
    streamed["stream"] = json!(true);
    let r = send(&gateway, "/v1/chat/completions", &streamed).await;
    assert_eq!(r.status, 200);
    assert!(r.header("x-wasmgate-cache").is_none());
    let mut bad = chat.clone();
    bad["cache"] = json!({"ttl": -1});
    let r = send(&gateway, "/v1/chat/completions", &bad).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["error"]["param"], "cache");

    // Embeddings, and the same question through another client API is another entry.
    let embed = json!({"model": "embed", "input": ["a", "b"]});
    assert_eq!(
        send(&gateway, "/v1/embeddings", &embed)
            .await
            .header("x-wasmgate-cache")
            .as_deref(),
        Some("miss")
    );
    let hit = send(&gateway, "/v1/embeddings", &embed).await;
    assert_eq!(hit.header("x-wasmgate-cache").as_deref(), Some("hit"));
    assert_eq!(hit.json()["data"].as_array().unwrap().len(), 2);
    let messages = json!({"model": "gpt", "max_tokens": 100,
                          "messages": [{"role": "user", "content": "Say hello"}]});
    let r = send(&gateway, "/v1/messages", &messages).await;
    assert_eq!(r.header("x-wasmgate-cache").as_deref(), Some("miss"));
    assert_eq!(r.json()["type"], "message");
    let r = send(&gateway, "/v1/messages", &messages).await;
    assert_eq!(r.header("x-wasmgate-cache").as_deref(), Some("hit"));
    assert_eq!(r.json()["type"], "message");

    // A virtual key is checked before the cache answers.
    let key = send(&gateway, "/key/generate", &json!({"models": ["other"]}))
        .await
        .json();
    let auth = format!("Bearer {}", key["key"].as_str().unwrap());
    let r = post_json(
        &common::url(&gateway, "/v1/chat/completions"),
        &chat,
        &[("authorization", &auth)],
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text());
    gateway.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_a_redis_cache() {
    let Ok(redis) = std::env::var("WASMGATE_TEST_REDIS_URL") else {
        assert!(std::env::var_os("CI").is_none(), "CI runs Redis");
        eprintln!("WASMGATE_TEST_REDIS_URL is unset: skipped");
        return;
    };
    let upstream = Upstream::start().await;
    let namespace = common::databases::unique();
    let params =
        format!("    type: redis\n    url: {redis}\n    ttl: 60\n    namespace: {namespace}\n");
    let db = common::databases::sqlite_url();
    let a = common::start(&config(&upstream, &params, &db)).await;
    let b = common::start(&config(&upstream, &params, &db)).await;
    let chat = common::chat_body("gpt");
    let first = send(&a, "/v1/chat/completions", &chat).await;
    assert_eq!(first.header("x-wasmgate-cache").as_deref(), Some("miss"));
    let calls = upstream_calls(&upstream);
    let shared = send(&b, "/v1/chat/completions", &chat).await;
    assert_eq!(shared.header("x-wasmgate-cache").as_deref(), Some("hit"));
    assert_eq!(shared.json(), first.json());
    assert_eq!(upstream_calls(&upstream), calls);
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}
