//! A recognisable key goes through every error path (upstream errors that echo it, denials,
//! traps, timeouts, mid-stream failures, bad requests); neither the logs (captured at TRACE
//! level) nor any response body or header may contain it.

mod common;

use common::start;
use serde_json::json;
use std::io::Write;
use std::sync::{Arc, Mutex};
use wasmgate_test_support::client::{get, post_json, send};
use wasmgate_test_support::{guest_wasm, Upstream};

const CANARY: &str = "sk-canary-7f3a9c1e5b2d";

/// Upstream behaviours (see test-support's upstream) served through the openai adapter.
const UPSTREAM_MODELS: [&str; 7] = [
    "error-401-echo",
    "error-400",
    "error-429",
    "error-500",
    "error-503",
    "stream-error",
    "gpt-ok",
];

/// Attacks of the hostile adapter, each made with the canary as its credential.
const ATTACKS: [&str; 6] = [
    "exfiltrate",
    "exfiltrate-body",
    "echo-credential",
    "panic",
    "spin",
    "egress",
];

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_never_appears_in_logs_or_responses() {
    let logs = Captured::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let upstream = Upstream::start().await;
    let base = upstream.url();
    let port = upstream.addr.port();
    let hostile = guest_wasm("hostile");
    let mut yaml = format!(
        "adapters:\n\
         - name: hostile\n  path: {h}\n  allowed_hosts: [\"http://127.0.0.1:{port}\"]\n  allow_private_networks: true\n  credential_hosts: []\n  limits: {{cpu_ms: 100, timeout_s: 2, stream_timeout_s: 0.5}}\n\
         model_list:\n",
        h = hostile.display()
    );
    for model in UPSTREAM_MODELS {
        yaml += &format!("- model_name: {model}\n  litellm_params:\n    model: openai/{model}\n    api_base: {base}\n    api_key: {CANARY}\n");
    }
    for attack in ATTACKS {
        yaml += &format!(
            "- model_name: h-{attack}\n  litellm_params:\n    model: hostile/x\n    api_key: {CANARY}\n    settings:\n      attack: {attack}\n      url: http://127.0.0.1:{port}/steal\n"
        );
    }
    yaml += &format!("- model_name: h-timeout\n  litellm_params:\n    model: openai/drip\n    api_base: {base}\n    api_key: {CANARY}\n    timeout: 0.5\n");
    let gw = start(&yaml).await;
    let chat = format!("http://{}/v1/chat/completions", gw.addr);

    let mut seen = String::new();
    let mut record = |reply: &wasmgate_test_support::client::Reply| {
        seen.push_str(&reply.text());
        for (name, value) in &reply.headers {
            seen.push_str(&format!("{name}: {}\n", value.to_str().unwrap_or_default()));
        }
    };
    let models: Vec<String> = UPSTREAM_MODELS
        .iter()
        .chain(["h-timeout"].iter())
        .map(|m| m.to_string())
        .chain(ATTACKS.iter().map(|a| format!("h-{a}")))
        .collect();
    for model in &models {
        for stream in [false, true] {
            let body = json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]});
            let reply = post_json(&chat, &body, &[]).await;
            record(&reply);
        }
    }
    let echoed = post_json(
        &chat,
        &json!({"model": "error-401-echo", "messages": [{"role": "user", "content": "hi"}]}),
        &[],
    )
    .await;
    assert!(
        echoed.text().contains("[redacted]"),
        "the upstream's echo is scrubbed: {}",
        echoed.text()
    );
    record(&send(http::Method::POST, &chat, "{not json", &[]).await);
    record(&post_json(&chat, &json!({"model": "nope", "messages": []}), &[]).await);
    record(&get(&format!("http://{}/health/readiness", gw.addr), &[]).await);

    // The upstream did receive the key where it was meant to go.
    assert!(upstream
        .requests()
        .iter()
        .any(|r| r.header("authorization").as_deref() == Some(&format!("Bearer {CANARY}"))));

    let config = wasmgate::config::Config::parse(&yaml, "secrets.yaml").unwrap();
    let debug_dump = format!("{config:?}");
    let logs = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(
        logs.contains("outgoing request refused"),
        "the denials were logged:\n{logs}"
    );
    for (what, text) in [
        ("responses", &seen),
        ("logs", &logs),
        ("config debug output", &debug_dump),
    ] {
        assert!(
            !text.contains(CANARY),
            "the key leaked into the {what}:\n{text}"
        );
    }
}
