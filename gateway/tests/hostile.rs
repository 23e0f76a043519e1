//! The hostile-adapter suite through the real gateway: every attack from `guests/hostile` runs
//! while well-behaved requests run at the same time; each attack gets its exact OpenAI-shaped
//! error, the good requests all succeed, and the gateway keeps serving.

mod common;

use common::{sse_events, start, url};
use serde_json::{json, Value};
use wasmgate_test_support::client::post_json;
use wasmgate_test_support::{guest_wasm, Upstream};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn suite_config(upstream: &Upstream) -> String {
    let port = upstream.addr.port();
    let hostile = guest_wasm("hostile");
    let openai = guest_wasm("openai");
    let model = |name: &str, adapter: &str, settings: &[(&str, String)]| {
        let mut s = format!("- model_name: {name}\n  litellm_params:\n    model: {adapter}/x\n    api_key: sk-suite-key\n    settings:\n      _: x\n");
        for (k, v) in settings {
            s += &format!("      {k}: \"{v}\"\n");
        }
        s
    };
    fn attack(name: &str, settings: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
        let mut all = vec![("attack", name.to_string())];
        all.extend_from_slice(settings);
        all
    }
    let mut yaml = format!(
        "adapters:\n\
         - name: hostile\n  path: {h}\n  allowed_hosts: [\"http://localhost:{port}\"]\n  limits: {{cpu_ms: 200, memory_mb: 48, timeout_s: 3, stream_timeout_s: 0.5}}\n\
         - name: hostile-mem\n  path: {h}\n  allowed_hosts: [\"http://localhost:{port}\"]\n  limits: {{cpu_ms: 10000, memory_mb: 48, timeout_s: 30}}\n\
         - name: hostile-open\n  path: {h}\n  allowed_hosts: [\"http://127.0.0.1:{port}\"]\n  allow_private_networks: true\n  credential_hosts: []\n\
         - name: hostile-meta\n  path: {h}\n  allowed_hosts: [\"http://169.254.169.254\"]\n\
         - name: tight-openai\n  path: {o}\n  limits: {{timeout_s: 1.5, max_response_mb: 1}}\n\
         - name: plain-openai\n  path: {o}\n\
         model_list:\n\
         - model_name: gated\n  litellm_params:\n    model: plain-openai/gated-stream\n    api_base: {base}\n\
         - model_name: drip\n  litellm_params:\n    model: tight-openai/drip\n    api_base: {base}\n\
         - model_name: endless\n  litellm_params:\n    model: tight-openai/endless\n    api_base: {base}\n\
         - model_name: good\n  litellm_params:\n    model: mock/demo\n",
        h = hostile.display(),
        o = openai.display(),
        base = upstream.url()
    );
    let steal = format!("http://127.0.0.1:{port}/steal");
    for (name, adapter, settings) in [
        ("spin", "hostile", attack("spin", &[])),
        // Its own CPU budget, so that on a loaded machine the memory limit, not the CPU
        // deadline, is what stops it.
        ("bomb", "hostile-mem", attack("allocate", &[])),
        ("recurse", "hostile", attack("recurse", &[])),
        ("flood", "hostile", attack("flood", &[])),
        (
            "huge",
            "hostile",
            attack("huge-output", &[("size_mb", "20".into())]),
        ),
        ("panic", "hostile", attack("panic", &[])),
        (
            "panic-mid-stream",
            "hostile",
            attack("panic-mid-stream", &[]),
        ),
        ("forever", "hostile", attack("none", &[])),
        ("ambient", "hostile", attack("ambient", &[])),
        (
            "egress",
            "hostile",
            attack("egress", &[("url", "http://example.com/".into())]),
        ),
        (
            "ssrf",
            "hostile",
            attack("egress", &[("url", format!("http://localhost:{port}/"))]),
        ),
        (
            "metadata",
            "hostile-meta",
            attack(
                "egress",
                &[("url", "http://169.254.169.254/latest/meta-data/".into())],
            ),
        ),
        (
            "exfiltrate",
            "hostile-open",
            attack("exfiltrate", &[("url", steal.clone())]),
        ),
        (
            "exfiltrate-body",
            "hostile-open",
            attack("exfiltrate-body", &[("url", steal.clone())]),
        ),
    ] {
        yaml += &model(name, adapter, &settings);
    }
    yaml
}

/// What the client must see for one attack: status, error code, and a piece of the message.
struct Expect {
    model: &'static str,
    stream: bool,
    status: u16,
    code: Option<&'static str>,
    message: &'static str,
}

const fn expect(
    model: &'static str,
    stream: bool,
    status: u16,
    code: Option<&'static str>,
    message: &'static str,
) -> Expect {
    Expect {
        model,
        stream,
        status,
        code,
        message,
    }
}

/// The trap of unbounded recursion.
const RECURSE_TRAP: &str = "out of bounds memory access";
/// The trap of creating handles without bound.
const FLOOD_TRAP: &str = "resource table";

const ATTACKS: &[Expect] = &[
    expect(
        "spin",
        false,
        500,
        Some("adapter_failure"),
        "CPU time limit",
    ),
    expect(
        "bomb",
        false,
        500,
        Some("adapter_failure"),
        "memory limit of 50331648 bytes",
    ),
    expect("recurse", false, 500, Some("adapter_failure"), RECURSE_TRAP),
    expect("flood", false, 500, Some("adapter_failure"), FLOOD_TRAP),
    // 20 MiB of answer runs out of hostcall fuel (16 MiB) before the host copies it.
    expect(
        "huge",
        false,
        500,
        Some("adapter_failure"),
        "fuel allocated for hostcalls has been exhausted",
    ),
    expect(
        "panic",
        false,
        500,
        Some("adapter_failure"),
        "the adapter failed",
    ),
    expect(
        "egress",
        false,
        500,
        Some("egress_refused"),
        "not on the adapter's allow-list",
    ),
    expect("ssrf", false, 500, None, "private or local address"),
    // On the allow-list, so only the SSRF guard stands between it and the metadata service.
    expect("metadata", false, 500, None, "private or local address"),
    expect(
        "exfiltrate",
        false,
        500,
        Some("egress_refused"),
        "the sealed credential may not be sent to this host",
    ),
    expect(
        "exfiltrate-body",
        false,
        500,
        Some("egress_refused"),
        "the sealed credential may not leave in a request body",
    ),
    expect(
        "drip",
        false,
        504,
        Some("timeout"),
        "did not answer within 1.5s",
    ),
    expect("endless", false, 502, None, "exceeds limit: 1048576 bytes"),
];

async fn run_attack(base: &str, e: &Expect) -> Result<(), String> {
    let mut body = json!({"model": e.model, "messages": [{"role": "user", "content": "attack"}]});
    body["stream"] = json!(e.stream);
    let reply = post_json(&format!("{base}/v1/chat/completions"), &body, &[]).await;
    let text = reply.text();
    if reply.status != e.status {
        return Err(format!(
            "{}: status {} instead of {}: {text}",
            e.model, reply.status, e.status
        ));
    }
    let error = &reply.json()["error"];
    let message = error["message"].as_str().unwrap_or_default();
    if !message.contains(e.message) {
        return Err(format!(
            "{}: message {message:?} lacks {:?}",
            e.model, e.message
        ));
    }
    if let Some(code) = e.code {
        if error["code"] != code {
            return Err(format!(
                "{}: code {} instead of {code}",
                e.model, error["code"]
            ));
        }
    }
    Ok(())
}

async fn good_request(base: &str, i: usize) -> bool {
    let body =
        json!({"model": "good", "messages": [{"role": "user", "content": format!("hello {i}")}]});
    let reply = post_json(&format!("{base}/v1/chat/completions"), &body, &[]).await;
    reply.status == 200
        && reply.json()["choices"][0]["message"]["content"]
            == format!("This is a mock response to: hello {i}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_attack_is_contained_while_good_requests_succeed() {
    let upstream = Upstream::start().await;
    let gw = start(&suite_config(&upstream)).await;
    let base = format!("http://{}", gw.addr);
    let before = rss_kib();

    // A request held open by the upstream until the end: a gateway that served one request at
    // a time would serve nothing below (and the test would hang into its timeout).
    let mut held = wasmgate_test_support::client::open(
        http::Method::POST,
        &url(&gw, "/v1/chat/completions"),
        json!({"model": "gated", "stream": true, "messages": [{"role": "user", "content": "x"}]})
            .to_string(),
        &[],
    )
    .await;
    assert_eq!(held.status(), 200);
    let first = wasmgate_test_support::client::next_frame(held.body_mut()).await;
    assert!(
        first.is_some_and(|f| f.starts_with(b"data: ")),
        "the held stream started"
    );

    // Memory bombs on top of the suite: a slot that kept its 48 MiB would show in the RSS.
    let bombs = (0..8).map(|_| ATTACKS.iter().find(|e| e.model == "bomb").unwrap());
    let attacks =
        futures::future::join_all(ATTACKS.iter().chain(bombs).map(|e| run_attack(&base, e)));
    let good = futures::future::join_all((0..40).map(|i| good_request(&base, i)));
    let (attacks, good) = tokio::join!(attacks, good);
    let failures: Vec<String> = attacks.into_iter().filter_map(Result::err).collect();
    assert!(
        failures.is_empty(),
        "attacks not contained as expected:\n{}",
        failures.join("\n")
    );
    assert!(
        good.iter().all(|ok| *ok),
        "well-behaved requests failed during the attacks: {good:?}"
    );

    // Nothing the adapters tried reached the upstream: no request to /steal at all, and neither
    // the key nor a placeholder anywhere in what the upstream recorded.
    for sent in upstream.requests() {
        assert!(
            !sent.path.starts_with("/steal"),
            "{} reached the upstream",
            sent.path
        );
        let mut everything = format!("{} {}\n", sent.method, sent.path);
        for (name, value) in &sent.headers {
            everything += &format!("{name}: {}\n", value.to_str().unwrap_or_default());
        }
        everything += &String::from_utf8_lossy(&sent.body);
        assert!(
            !everything.contains("sk-suite-key")
                && !everything.contains(wasmgate_runtime::PLACEHOLDER_PREFIX),
            "{everything}"
        );
    }
    upstream.release_gate();
    let mut rest = Vec::new();
    while let Some(frame) = wasmgate_test_support::client::next_frame(held.body_mut()).await {
        rest.extend_from_slice(&frame);
    }
    assert!(
        String::from_utf8_lossy(&rest).ends_with("data: [DONE]\n\n"),
        "the held stream finished: {}",
        String::from_utf8_lossy(&rest)
    );

    // Streams: a panic mid-stream and a stream that never ends.
    let stream = |model: &str| json!({"model": model, "stream": true, "messages": [{"role": "user", "content": "x"}]});
    let reply = post_json(
        &url(&gw, "/v1/chat/completions"),
        &stream("panic-mid-stream"),
        &[],
    )
    .await;
    let events = sse_events(&reply.text());
    assert_eq!(events.len(), 2, "{events:?}");
    let error: Value = serde_json::from_str(&events[1]).unwrap();
    assert_eq!(error["error"]["code"], "adapter_failure");
    let reply = post_json(&url(&gw, "/v1/chat/completions"), &stream("forever"), &[]).await;
    let events = sse_events(&reply.text());
    let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert_eq!(
        last["error"]["code"], "timeout",
        "the endless stream is cut: {last}"
    );
    assert!(events.len() > 2);

    // No ambient authority.
    let reply = post_json(
        &url(&gw, "/v1/chat/completions"),
        &json!({"model": "ambient", "messages": [{"role": "user", "content": "x"}]}),
        &[],
    )
    .await;
    assert_eq!(
        reply.json()["choices"][0]["message"]["content"],
        "env=0 args=0"
    );

    // And the gateway still serves.
    assert!(good_request(&base, 1000).await);
    let after = rss_kib();
    eprintln!("gateway process RSS: {before} KiB before the suite, {after} KiB after");
    assert!(before > 0 && after > 0, "RSS is readable");
    assert!(
        after.saturating_sub(before) < 128 << 10,
        "the process grew by {} KiB over a suite with nine 48 MiB memory bombs",
        after - before
    );
}

#[tokio::test]
async fn a_component_with_ambient_imports_is_served_without_capability() {
    let yaml = format!(
        "adapters:\n- name: ambient\n  path: {}\nmodel_list:\n- model_name: a\n  litellm_params:\n    model: ambient/x\n",
        guest_wasm("hostile-ambient").display()
    );
    let gw = start(&yaml).await;
    let reply = post_json(
        &url(&gw, "/v1/chat/completions"),
        &json!({"model": "a", "messages": [{"role": "user", "content": "x"}]}),
        &[],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let report = reply.json()["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(report.matches(": denied(").count(), 7, "{report}");
    assert!(!report.contains("GRANTED"), "{report}");
}
