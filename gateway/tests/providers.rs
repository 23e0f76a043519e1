//! Each provider adapter through the real gateway with the official `openai` Python SDK as the
//! client, against a loopback fixture that speaks the provider's own wire format and checks
//! what the adapter sends: chat, stream, a tool-call round trip (whole and streamed), an image,
//! and the provider's auth, rate-limit (with retry-after), context-window and malformed answers.

mod common;

use wasmgate_test_support::anthropic::{AnthropicUpstream, TEXT_ANSWER};

/// The pinned SDK version (the same as tests/openai_sdk.rs).
const OPENAI_SDK: &str = "openai==3.54.0";

/// A config serving the standard model names of provider_sdk_check.py: `(name, model)` pairs
/// under `provider/`, each with `api_base` and `api_key` (`bad-key` gets a wrong key).
fn config(provider: &str, base: &str, key: &str, models: &[(&str, &str)]) -> String {
    let mut yaml =
        String::from("general_settings:\n  master_key: sk-master-providers\nmodel_list:\n");
    for (name, model) in models {
        let key = if *name == "bad-key" { "wrong-key" } else { key };
        yaml += &format!(
            "- model_name: {name}\n  litellm_params:\n    model: {provider}/{model}\n    api_base: {base}\n    api_key: {key}\n"
        );
    }
    yaml
}

/// Runs the SDK script against the gateway with the fixture's expected answers.
async fn check(gateway_url: &str, expect: &[(&str, &str)]) {
    let python = tokio::task::spawn_blocking(|| common::sdk_venv("py-openai-sdk", OPENAI_SDK))
        .await
        .unwrap();
    let mut env = vec![("GATEWAY_URL", gateway_url.to_string())];
    env.extend(expect.iter().map(|(k, v)| (*k, v.to_string())));
    common::run_sdk_script(&python, "provider_sdk_check.py", &env).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic() {
    let upstream = AnthropicUpstream::start("sk-ant-fixture-key").await;
    let yaml = config(
        "anthropic",
        &upstream.url(),
        "sk-ant-fixture-key",
        &[
            ("chat", "claude-text"),
            ("tools", "claude-tools"),
            ("image", "claude-image"),
            ("bad-key", "claude-text"),
            ("limited", "error-429"),
            ("too-long", "too-long"),
            ("malformed", "malformed"),
        ],
    );
    let gw = common::start(&yaml).await;
    check(
        &format!("http://{}/v1", gw.addr),
        &[
            ("EXPECT_TEXT", TEXT_ANSWER),
            ("EXPECT_TOOL_TEXT", "It is 18C in Paris."),
            ("EXPECT_IMAGE", "image/png"),
        ],
    )
    .await;
    let received = upstream.received();
    assert!(received.len() >= 10, "{}", received.len());
    for r in &received {
        assert_eq!(r.path, "/v1/messages");
        assert_eq!(r.header("anthropic-version"), Some("2023-06-01"));
        assert!(r.header("authorization").is_none(), "no bearer token");
    }
    let keys: Vec<(&str, Option<&str>)> = received
        .iter()
        .map(|r| (r.body["model"].as_str().unwrap(), r.header("x-api-key")))
        .collect();
    let wrong: Vec<_> = keys
        .iter()
        .filter(|(_, k)| *k == Some("wrong-key"))
        .collect();
    assert_eq!(
        wrong,
        [&("claude-text", Some("wrong-key"))],
        "only bad-key's"
    );
    assert!(
        keys.iter()
            .all(|(_, k)| matches!(*k, Some("sk-ant-fixture-key" | "wrong-key"))),
        "the host swapped each deployment's own key in: {keys:?}"
    );
}
