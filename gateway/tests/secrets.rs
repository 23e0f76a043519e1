//! A recognisable key goes through every error path (upstream errors that echo it, denials,
//! traps, timeouts, mid-stream failures, bad requests); neither the logs (captured at TRACE
//! level) nor any response body or header may contain it. The same holds for a canary in every
//! other kind of credential (OAuth refresh tokens, client secrets, the access tokens the host
//! obtains, a service account's private key, AWS keys, Azure AD tokens, secret settings and
//! headers), and a hostile adapter that dumps its whole context finds none of them.

mod common;

use common::start;
use serde_json::json;
use std::io::Write;
use std::sync::{Arc, Mutex};
use wasmgate_test_support::auth::{service_account_json, TokenEndpoint, SERVICE_ACCOUNT_KEY};
use wasmgate_test_support::client::{get, post_json, send};
use wasmgate_test_support::{guest_wasm, Upstream};

const CANARY: &str = "sk-canary-7f3a9c1e5b2d";

/// A canary in every other credential kind, as `(name, value)`.
const CANARIES: [(&str, &str); 9] = [
    ("refresh token", "rt-canary-51c0e2"),
    ("client secret", "cs-canary-a83d17"),
    ("AWS access key id", "AKIACANARY0E4B2"),
    ("AWS secret key", "aws-canary-9f1b6d"),
    ("AWS session token", "st-canary-2e7a40"),
    ("Azure AD token", "aad-canary-c3f905"),
    ("secret setting from the environment", "env-canary-77d2a1"),
    ("secret-like setting", "set-canary-0b94ee"),
    ("secret extra header", "hdr-canary-6a13f8"),
];

/// Deployments holding the other credential kinds: each is served by the hostile adapter
/// dumping its context, and (where it sends a bearer token) by an upstream that echoes it.
fn credential_models(base: &str, port: u16, token_url: &str, key_file: &str) -> String {
    let c = |i: usize| CANARIES[i].1;
    let kinds = [
        format!("credential: {{type: oauth2_refresh_token, token_url: \"{token_url}\", client_id: cid, client_secret: {}, refresh_token: {}}}", c(1), c(0)),
        format!("vertex_credentials: {key_file}"),
        format!("aws_access_key_id: {}\n    aws_secret_access_key: {}\n    aws_session_token: {}\n    aws_region_name: us-east-1", c(2), c(3), c(4)),
        format!("azure_ad_token: {}", c(5)),
        format!("organization: os.environ/WASMGATE_CANARY_ORG\n    custom_secret: {}\n    extra_headers: {{x-secret: os.environ/WASMGATE_CANARY_HEADER}}", c(7)),
    ];
    let mut yaml = String::new();
    for (i, kind) in kinds.iter().enumerate() {
        yaml += &format!("- model_name: kind{i}-dump\n  litellm_params:\n    model: hostile/x\n    api_base: {base}\n    {kind}\n    settings:\n      attack: dump-context\n      url: http://127.0.0.1:{port}/steal\n");
        yaml += &format!("- model_name: kind{i}-echo\n  litellm_params:\n    model: openai/error-401-echo\n    api_base: {base}\n    {kind}\n");
    }
    yaml
}

/// Upstream behaviours (see test-support's upstream) served through the openai adapter.
const UPSTREAM_MODELS: [&str; 9] = [
    "error-401-echo",
    "error-echo-code",
    "stream-error-echo",
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
    let tokens = TokenEndpoint::start(
        std::time::Duration::from_secs(3600),
        std::time::Duration::ZERO,
        false,
    )
    .await;
    let key_file =
        std::env::temp_dir().join(format!("wasmgate-canary-sa-{}.json", std::process::id()));
    std::fs::write(&key_file, service_account_json(&tokens.url())).unwrap();
    std::env::set_var("WASMGATE_CANARY_ORG", CANARIES[6].1);
    std::env::set_var("WASMGATE_CANARY_HEADER", CANARIES[8].1);
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
    yaml += &credential_models(&base, port, &tokens.url(), &key_file.display().to_string());
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
        .chain((0..5).flat_map(|i| [format!("kind{i}-dump"), format!("kind{i}-echo")]))
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
    // An upstream echoing the key in its error code, and in an error in the middle of a stream.
    for (model, stream) in [("error-echo-code", false), ("stream-error-echo", true)] {
        let reply = post_json(
            &chat,
            &json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]}),
            &[],
        )
        .await;
        assert!(
            reply.text().matches("[redacted]").count() >= 2,
            "{model}: message and code are scrubbed: {}",
            reply.text()
        );
    }
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
    // Every credential kind was exercised: the dumps show the adapters got placeholders, and
    // the host obtained access tokens for the OAuth deployments.
    assert!(
        seen.matches(wasmgate_runtime::PLACEHOLDER_PREFIX).count() >= 4,
        "{seen}"
    );
    let issued: Vec<String> = tokens.issued().into_iter().map(|t| t.token).collect();
    assert_eq!(
        issued.len(),
        4,
        "one token per OAuth deployment: {issued:?}"
    );
    let private_key_line = SERVICE_ACCOUNT_KEY.lines().nth(1).unwrap();
    let mut secrets: Vec<(String, String)> = vec![
        ("key".into(), CANARY.into()),
        (
            "service account private key".into(),
            private_key_line.into(),
        ),
    ];
    secrets.extend(CANARIES.iter().map(|(n, v)| (n.to_string(), v.to_string())));
    secrets.extend(
        issued
            .iter()
            .map(|t| (format!("access token {t}"), format!("\"{t}\""))),
    );
    secrets.extend(
        issued
            .iter()
            .map(|t| (format!("access token {t}"), format!("Bearer {t}"))),
    );
    for (what, text) in [
        ("responses", &seen),
        ("logs", &logs),
        ("config debug output", &debug_dump),
    ] {
        for (name, secret) in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "the {name} leaked into the {what}:\n{text}"
            );
        }
    }
    let _ = std::fs::remove_file(key_file);
}
