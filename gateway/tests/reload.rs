//! Hot reload under load: while a bounded loop of requests runs, the watched config changes
//! twice (a model added; the adapter file swapped for one with a new digest) and once to an
//! invalid file. No request fails, a stream opened before the swaps finishes, the new model and
//! digest are served, and the invalid file is refused while the last good config keeps serving.

mod common;

use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;
use wasmgate::config::Config;
use wasmgate::{Gateway, GatewayOptions};
use wasmgate_test_support::client::{get, post_json};
use wasmgate_test_support::guest_wasm;
use wasmgate_test_support::upstream::Upstream;

const AUTH: (&str, &str) = ("authorization", "Bearer sk-master-reload");

fn config(adapter: &std::path::Path, base: &str, with_m2: bool) -> String {
    let mut yaml = format!(
        "general_settings:\n  master_key: sk-master-reload\n\
         adapters:\n- name: acme\n  path: {}\n\
         model_list:\n\
         - model_name: m1\n  litellm_params:\n    model: acme/gpt-x\n    api_base: {base}\n    api_key: sk-up\n\
         - model_name: gated\n  litellm_params:\n    model: acme/gated-stream\n    api_base: {base}\n    api_key: sk-up\n",
        adapter.display()
    );
    if with_m2 {
        yaml += &format!(
            "- model_name: m2\n  litellm_params:\n    model: acme/gpt-y\n    api_base: {base}\n    api_key: sk-up\n"
        );
    }
    yaml
}

/// `bytes` with a custom section appended: the same component under another digest.
fn with_custom_section(mut bytes: Vec<u8>, note: &str) -> Vec<u8> {
    let mut payload = vec![note.len() as u8];
    payload.extend_from_slice(note.as_bytes());
    payload.extend_from_slice(b"reloaded");
    bytes.push(0);
    bytes.push(payload.len() as u8);
    bytes.extend_from_slice(&payload);
    bytes
}

/// Waits (bounded) until `check` holds.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..200 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn adapter_digest(gw: &Gateway, name: &str) -> Option<String> {
    let reply = get(&common::url(gw, "/admin/adapters"), &[AUTH]).await;
    reply.json()["data"]
        .as_array()?
        .iter()
        .find(|a| a["name"] == name)
        .and_then(|a| a["sha256"].as_str().map(str::to_string))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_and_adapter_swaps_under_load_lose_no_request() {
    let upstream = Upstream::start().await;
    let dir = std::env::temp_dir().join(format!("wasmgate-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let adapter = dir.join("acme.wasm");
    let original = std::fs::read(guest_wasm("openai")).unwrap();
    std::fs::write(&adapter, &original).unwrap();
    let path = dir.join("config.yaml");
    std::fs::write(&path, config(&adapter, &upstream.url(), false)).unwrap();

    let options = GatewayOptions {
        watch: Some(path.clone()),
        reload_poll: Duration::from_millis(100),
        ..common::options()
    };
    let gw = Gateway::start(&Config::load(&path).unwrap(), options)
        .await
        .unwrap();
    let chat = common::url(&gw, "/v1/chat/completions");
    let first_digest = adapter_digest(&gw, "acme").await.unwrap();

    // A stream that stays open across every swap: one chunk, then it waits for the gate.
    let stream = tokio::spawn({
        let chat = chat.clone();
        async move {
            let body = json!({"model": "gated", "stream": true,
                              "messages": [{"role": "user", "content": "hi"}]});
            post_json(&chat, &body, &[AUTH]).await
        }
    });
    eventually("the stream to open", || {
        let opened = upstream
            .requests()
            .iter()
            .any(|r| String::from_utf8_lossy(&r.body).contains("gated-stream"));
        async move { opened }
    })
    .await;

    // The load: sequential requests until told to stop (at most 20 000).
    let stop = Arc::new(AtomicBool::new(false));
    let (served, failed) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
    let load = tokio::spawn({
        let (chat, stop, served, failed) =
            (chat.clone(), stop.clone(), served.clone(), failed.clone());
        async move {
            for _ in 0..20_000 {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let reply = post_json(&chat, &common::chat_body("m1"), &[AUTH]).await;
                let counter = if reply.status == 200 {
                    &served
                } else {
                    &failed
                };
                counter.fetch_add(1, Ordering::SeqCst);
            }
        }
    });

    // 1: a model added.
    std::fs::write(&path, config(&adapter, &upstream.url(), true)).unwrap();
    eventually("m2 to be served", || {
        let url = common::url(&gw, "/v1/models");
        async move { get(&url, &[AUTH]).await.text().contains("\"m2\"") }
    })
    .await;
    let m2 = post_json(&chat, &common::chat_body("m2"), &[AUTH]).await;
    assert_eq!(m2.status, 200, "{}", m2.text());

    // 2: the adapter swapped for a build with another digest.
    let swapped = with_custom_section(original.clone(), "reload-test");
    let new_digest = wasmgate_runtime::sha256_hex(&swapped);
    assert_ne!(new_digest, first_digest);
    std::fs::write(&adapter, &swapped).unwrap();
    eventually("the new adapter digest", || {
        let gw = &gw;
        let want = new_digest.clone();
        async move { adapter_digest(gw, "acme").await == Some(want) }
    })
    .await;

    // 3: an invalid file is refused; the last good config keeps serving.
    std::fs::write(&path, "model_list: [this is not: a config\n").unwrap();
    let refused = gw.reload(&path).await;
    assert!(refused.is_err(), "{refused:?}");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(adapter_digest(&gw, "acme").await, Some(new_digest));
    let still = post_json(&chat, &common::chat_body("m2"), &[AUTH]).await;
    assert_eq!(still.status, 200, "{}", still.text());

    stop.store(true, Ordering::SeqCst);
    tokio::time::timeout(Duration::from_secs(30), load)
        .await
        .unwrap()
        .unwrap();
    upstream.release_gate();
    let streamed = tokio::time::timeout(Duration::from_secs(30), stream)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(streamed.status, 200, "{}", streamed.text());
    assert!(
        streamed.text().contains("data: [DONE]"),
        "{}",
        streamed.text()
    );

    let (served, failed) = (served.load(Ordering::SeqCst), failed.load(Ordering::SeqCst));
    assert_eq!(failed, 0, "{failed} of {} requests failed", served + failed);
    assert!(served >= 10, "only {served} requests ran during the swaps");
    let _ = std::fs::remove_dir_all(&dir);
}
