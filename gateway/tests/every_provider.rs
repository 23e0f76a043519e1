//! `examples/litellm-every-provider.yaml`, a LiteLLM config with one deployment of every
//! provider that has a built-in adapter, in LiteLLM's own key names: `wasmgate check-config`
//! accepts it with no warnings, and the gateway serves every entry, each against a loopback
//! fixture of its provider's wire format (the config as written, with each entry's `api_base`
//! pointed at its fixture and the `os.environ/` references filled in).

mod common;

use serde_json::{json, Value};
use std::collections::BTreeMap;
use wasmgate_test_support::auth::{service_account_json, TokenEndpoint};
use wasmgate_test_support::client::post_json;
use wasmgate_test_support::{anthropic, azure, bedrock, cohere, gemini, ollama, vertex};
use wasmgate_test_support::{upstream::Upstream, workspace_root};

const EXAMPLE: &str = "examples/litellm-every-provider.yaml";
const AWS_KEY_ID: &str = "AKIDEVERYPROVIDER";
const AWS_SECRET: &str = "every-provider-aws-secret";

/// The example with `os.environ/NAME` replaced by `env[NAME]`, and every entry's `api_base` set
/// to `bases[model_name]` (added after its `model:` line, replacing any it had).
fn served_config(
    text: &str,
    env: &BTreeMap<&str, String>,
    bases: &BTreeMap<&str, String>,
) -> String {
    let mut out = String::new();
    let mut entry = String::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if let Some(name) = trimmed.strip_prefix("- model_name: ") {
            entry = name.trim().to_string();
        }
        if trimmed.starts_with("api_base:") {
            continue;
        }
        let mut line = line.to_string();
        if let Some((head, var)) = line.split_once("os.environ/") {
            let value = env
                .get(var.trim())
                .unwrap_or_else(|| panic!("no value for {var}"));
            line = format!("{head}{value}");
        }
        out += &line;
        out.push('\n');
        if trimmed.starts_with("model:") {
            let indent = &line[..line.len() - trimmed.len()];
            let base = bases
                .get(entry.as_str())
                .unwrap_or_else(|| panic!("no fixture for `{entry}`"));
            out += &format!("{indent}api_base: {base}\n");
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_provider_of_a_litellm_config_checks_clean_and_is_served() {
    let text = std::fs::read_to_string(workspace_root().join(EXAMPLE)).unwrap();

    let openai_like = Upstream::start().await;
    let anthropic = anthropic::start("sk-ant-every").await;
    let gemini = gemini::start("gemini-every").await;
    let tokens = TokenEndpoint::start(
        std::time::Duration::from_secs(3600),
        std::time::Duration::ZERO,
        false,
    )
    .await;
    let vertex = vertex::start(|t| t.starts_with("tok-"), "my-gcp-project", "europe-west4").await;
    let azure = azure::start("az-every").await;
    let bedrock = bedrock::start(AWS_KEY_ID, AWS_SECRET).await;
    let cohere = cohere::start("co-every").await;
    let ollama = ollama::start("").await;

    let key_file = std::env::temp_dir().join(format!("wasmgate-every-{}.json", std::process::id()));
    std::fs::write(&key_file, service_account_json(&tokens.url())).unwrap();
    let env: BTreeMap<&str, String> = [
        ("OPENAI_API_KEY", "sk-every".to_string()),
        ("ANTHROPIC_API_KEY", "sk-ant-every".to_string()),
        ("GEMINI_API_KEY", "gemini-every".to_string()),
        ("VERTEX_CREDENTIALS", key_file.display().to_string()),
        ("AZURE_API_BASE", azure.url()),
        ("AZURE_API_KEY", "az-every".to_string()),
        ("AZURE_AI_API_BASE", openai_like.url()),
        ("AZURE_AI_API_KEY", "azai-every".to_string()),
        ("AWS_ACCESS_KEY_ID", AWS_KEY_ID.to_string()),
        ("AWS_SECRET_ACCESS_KEY", AWS_SECRET.to_string()),
        ("COHERE_API_KEY", "co-every".to_string()),
        ("GROQ_API_KEY", "gsk-every".to_string()),
    ]
    .into_iter()
    .collect();

    // check-config with the variables set: no warnings about any entry or key.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wasmgate"))
        .env_clear()
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env(
            "WASMGATE_CACHE_DIR",
            workspace_root().join("target").join("wasmgate-test-cache"),
        )
        .current_dir(workspace_root())
        .args(["check-config", EXAMPLE])
        .output()
        .unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{report}");
    assert!(!report.contains("warning:"), "{report}");
    assert!(report.contains(", 0 warnings)"), "{report}");

    let openai_base = openai_like.url();
    let bases: BTreeMap<&str, String> = [
        ("gpt-4o", openai_base.clone()),
        ("claude-sonnet", anthropic.url()),
        ("gemini-flash", gemini.url()),
        ("vertex-gemini", vertex.url()),
        ("vertex-claude", vertex.url()),
        ("azure-gpt-4o", azure.url()),
        ("azure-ai-llama", openai_base.clone()),
        ("bedrock-claude", bedrock.url()),
        ("titan-embed", bedrock.url()),
        ("command-a", cohere.url()),
        ("llama3", ollama.url()),
        ("groq-llama", openai_base.clone()),
        ("local-vllm", openai_base),
    ]
    .into_iter()
    .collect();
    let yaml = format!(
        "general_settings:\n  master_key: sk-master-every\n{}",
        served_config(&text, &env, &bases)
    );
    let gw = common::start(&yaml).await;
    let auth = [("authorization", "Bearer sk-master-every")];
    let mut served = Vec::new();
    for name in bases.keys() {
        let (route, body) = if name.contains("embed") {
            ("/v1/embeddings", json!({"model": name, "input": ["hello"]}))
        } else {
            ("/v1/chat/completions", common::chat_body(name))
        };
        let reply = post_json(&common::url(&gw, route), &body, &auth).await;
        assert_eq!(reply.status, 200, "{name}: {}", reply.text());
        let v: Value = reply.json();
        let answered = if name.contains("embed") {
            v["data"][0]["embedding"]
                .as_array()
                .is_some_and(|e| !e.is_empty())
        } else {
            v["choices"][0]["message"]["content"]
                .as_str()
                .is_some_and(|c| !c.is_empty())
        };
        assert!(answered, "{name}: {v}");
        served.push(*name);
    }
    assert_eq!(served.len(), 13);
    // Each provider's fixture saw its own wire format.
    assert!(anthropic
        .received()
        .iter()
        .any(|r| r.path == "/v1/messages"));
    assert!(gemini
        .received()
        .iter()
        .any(|r| r.path.contains("gemini-2.5-flash:generateContent")));
    assert!(vertex.received().iter().any(|r| r
        .path
        .contains("publishers/anthropic/models/claude-sonnet-4-5%40")));
    assert!(azure.received().iter().any(|r| r
        .path
        .starts_with("/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21")));
    assert!(bedrock
        .received()
        .iter()
        .any(|r| r.path.ends_with("/converse")));
    assert!(cohere.received().iter().any(|r| r.path == "/v2/chat"));
    let keep_alive = ollama
        .received()
        .iter()
        .find(|r| r.path == "/api/chat")
        .map(|r| r.body["keep_alive"].clone());
    assert_eq!(keep_alive, Some(json!("5m")));
    let _ = std::fs::remove_file(key_file);
}
