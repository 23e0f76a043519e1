//! Each provider adapter through the real gateway with the official `openai` Python SDK as the
//! client, against a loopback fixture that speaks the provider's own wire format and checks
//! what the adapter sends: chat, stream, a tool-call round trip (whole and streamed), an image,
//! and the provider's auth, rate-limit (with retry-after), context-window and malformed answers.

mod common;

use wasmgate_test_support::anthropic;
use wasmgate_test_support::auth::{service_account_json, TokenEndpoint};
use wasmgate_test_support::azure;
use wasmgate_test_support::gemini;
use wasmgate_test_support::ollama;

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
    let upstream = anthropic::start("sk-ant-fixture-key").await;
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
            ("EXPECT_TEXT", anthropic::TEXT_ANSWER),
            ("EXPECT_TOOL_TEXT", "It is 18C in Paris."),
            ("EXPECT_IMAGE", "image/png"),
            (
                "EXPECT_MALFORMED",
                "the provider's answer has no `content` list",
            ),
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure() {
    let upstream = azure::start("az-fixture-key").await;
    let mut yaml = config(
        "azure",
        &upstream.url(),
        "az-fixture-key",
        &[
            ("chat", "text"),
            ("tools", "tools"),
            ("image", "image"),
            ("embed", "embed"),
            ("bad-key", "text"),
            ("limited", "error-429"),
            ("too-long", "too-long"),
            ("malformed", "malformed"),
        ],
    );
    yaml += &format!(
        "- model_name: entra\n  litellm_params:\n    model: azure/text\n    api_base: {}\n    api_version: 2024-06-01\n    azure_ad_token: az-fixture-key\n",
        upstream.url()
    );
    let gw = common::start(&yaml).await;
    check(
        &format!("http://{}/v1", gw.addr),
        &[
            ("EXPECT_TEXT", azure::TEXT_ANSWER),
            ("EXPECT_TOOL_TEXT", azure::TOOL_ANSWER),
            ("EXPECT_IMAGE", "image"),
            ("EXPECT_EMBEDDINGS", "[0.5, -0.25, 1.0]"),
            (
                "EXPECT_MALFORMED",
                "the provider's response has no `choices`",
            ),
        ],
    )
    .await;
    let entra = wasmgate_test_support::client::post_json(
        &format!("http://{}/v1/chat/completions", gw.addr),
        &serde_json::json!({"model": "entra", "messages": [{"role": "user", "content": "Hi"}]}),
        &[("authorization", "Bearer sk-master-providers")],
    )
    .await;
    assert_eq!(entra.status, 200, "{}", entra.text());
    let received = upstream.received();
    let last = received.last().unwrap();
    assert_eq!(
        last.path,
        "/openai/deployments/text/chat/completions?api-version=2024-06-01"
    );
    assert_eq!(
        last.headers.get("authorization").unwrap(),
        "Bearer az-fixture-key",
        "an Entra token travels as a bearer token"
    );
    assert!(last.headers.get("api-key").is_none());
    let keyed = &received[0];
    assert_eq!(
        keyed.path,
        "/openai/deployments/text/chat/completions?api-version=2024-10-21"
    );
    assert_eq!(keyed.headers.get("api-key").unwrap(), "az-fixture-key");
    assert!(keyed.headers.get("authorization").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gemini() {
    let upstream = gemini::start("gm-fixture-key").await;
    let yaml = config(
        "gemini",
        &upstream.url(),
        "gm-fixture-key",
        &[
            ("chat", "text"),
            ("tools", "tools"),
            ("image", "image"),
            ("embed", "embed"),
            ("blocked", "blocked"),
            ("bad-key", "text"),
            ("limited", "error-429"),
            ("too-long", "too-long"),
            ("malformed", "malformed"),
        ],
    );
    let gw = common::start(&yaml).await;
    check(
        &format!("http://{}/v1", gw.addr),
        &[
            ("EXPECT_TEXT", gemini::TEXT_ANSWER),
            ("EXPECT_TOOL_TEXT", gemini::TOOL_ANSWER),
            ("EXPECT_IMAGE", "image/png"),
            ("EXPECT_EMBEDDINGS", "[0.25, -0.5, 1.0]"),
            (
                "EXPECT_MALFORMED",
                "the provider's answer has no `candidates`",
            ),
        ],
    )
    .await;
    let blocked = wasmgate_test_support::client::post_json(
        &format!("http://{}/v1/chat/completions", gw.addr),
        &serde_json::json!({"model": "blocked", "messages": [{"role": "user", "content": "Hi"}]}),
        &[("authorization", "Bearer sk-master-providers")],
    )
    .await;
    assert_eq!(blocked.status, 400, "{}", blocked.text());
    assert_eq!(blocked.json()["error"]["code"], "content_policy_violation");
    let received = upstream.received();
    assert!(
        received
            .iter()
            .all(|r| !r.path.contains("key=") && r.path.starts_with("/v1beta/models/")),
        "the key never travels in the URL"
    );
    assert!(received
        .iter()
        .any(|r| r.path == "/v1beta/models/text:streamGenerateContent?alt=sse"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ollama() {
    let upstream = ollama::start("ol-fixture-key").await;
    let mut yaml = config(
        "ollama_chat",
        &upstream.url(),
        "ol-fixture-key",
        &[
            ("chat", "text"),
            ("tools", "tools"),
            ("image", "image"),
            ("embed", "embed"),
            ("bad-key", "text"),
            ("limited", "error-429"),
            ("too-long", "too-long"),
            ("malformed", "malformed"),
        ],
    );
    yaml += &format!(
        "- model_name: warm\n  litellm_params:\n    model: ollama/text\n    api_base: {}\n    api_key: ol-fixture-key\n    keep_alive: 30m\n",
        upstream.url()
    );
    let gw = common::start(&yaml).await;
    check(
        &format!("http://{}/v1", gw.addr),
        &[
            ("EXPECT_TEXT", ollama::TEXT_ANSWER),
            ("EXPECT_TOOL_TEXT", ollama::TOOL_ANSWER),
            ("EXPECT_IMAGE", "image"),
            ("EXPECT_EMBEDDINGS", "[0.5, -0.25, 1.0]"),
            ("EXPECT_MALFORMED", "the provider's answer has no `message`"),
        ],
    )
    .await;
    let warm = wasmgate_test_support::client::post_json(
        &format!("http://{}/v1/chat/completions", gw.addr),
        &serde_json::json!({"model": "warm", "messages": [{"role": "user", "content": "Hi"}],
                            "options": {"num_ctx": 8192}}),
        &[("authorization", "Bearer sk-master-providers")],
    )
    .await;
    assert_eq!(warm.status, 200, "{}", warm.text());
    let sent = upstream.received().last().unwrap().body.clone();
    assert_eq!(sent["keep_alive"], "30m", "the deployment's setting");
    assert_eq!(
        sent["options"]["num_ctx"], 8192,
        "the client's options, passed through"
    );
    assert_eq!(sent["stream"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vertex_ai() {
    let tokens = TokenEndpoint::start(
        std::time::Duration::from_secs(3600),
        std::time::Duration::ZERO,
        false,
    )
    .await;
    let key_file =
        std::env::temp_dir().join(format!("wasmgate-vertex-{}.json", std::process::id()));
    std::fs::write(&key_file, service_account_json(&tokens.url())).unwrap();
    // Only tokens the endpoint issued pass: never the service account's key itself.
    let upstream =
        wasmgate_test_support::vertex::start(|t| t.starts_with("tok-"), "proj-1", "europe-west4")
            .await;
    let mut yaml =
        String::from("general_settings:\n  master_key: sk-master-providers\nmodel_list:\n");
    for (name, model) in [
        ("chat", "text"),
        ("tools", "tools"),
        ("image", "image"),
        ("embed", "text-embedding-005"),
        ("limited", "error-429"),
        ("too-long", "too-long"),
        ("malformed", "malformed"),
        ("claude", "claude-text"),
        ("claude-tools", "claude-tools"),
    ] {
        yaml += &format!(
            "- model_name: {name}\n  litellm_params:\n    model: vertex_ai/{model}\n    api_base: {}\n    vertex_credentials: {}\n    vertex_project: proj-1\n    vertex_location: europe-west4\n",
            upstream.url(),
            key_file.display()
        );
    }
    yaml += &format!(
        "- model_name: bad-key\n  litellm_params:\n    model: vertex_ai/text\n    api_base: {}\n    vertex_project: proj-1\n    vertex_location: europe-west4\n    credential:\n      type: access_token\n      token: not-a-google-token\n",
        upstream.url()
    );
    let gw = common::start(&yaml).await;
    check(
        &format!("http://{}/v1", gw.addr),
        &[
            ("EXPECT_TEXT", gemini::TEXT_ANSWER),
            ("EXPECT_TOOL_TEXT", gemini::TOOL_ANSWER),
            ("EXPECT_IMAGE", "image/png"),
            ("EXPECT_EMBEDDINGS", "[0.125, -0.5, 1.0]"),
            (
                "EXPECT_MALFORMED",
                "the provider's answer has no `candidates`",
            ),
        ],
    )
    .await;
    let url = format!("http://{}/v1/chat/completions", gw.addr);
    let chat = |model: &str, stream: bool| {
        let body = serde_json::json!({"model": model, "stream": stream,
                                      "messages": [{"role": "user", "content": "Hi"}]});
        let url = url.clone();
        async move {
            wasmgate_test_support::client::post_json(
                &url,
                &body,
                &[("authorization", "Bearer sk-master-providers")],
            )
            .await
        }
    };
    let claude = chat("claude", false).await;
    assert_eq!(claude.status, 200, "{}", claude.text());
    assert_eq!(
        claude.json()["choices"][0]["message"]["content"],
        anthropic::TEXT_ANSWER
    );
    let streamed = chat("claude-tools", true).await;
    assert_eq!(streamed.status, 200, "{}", streamed.text());
    let (call, _) = common::streamed_tool_call(&common::sse_events(&streamed.text()));
    assert_eq!(call["function"]["name"], "get_weather");
    let paths: Vec<String> = upstream.received().iter().map(|r| r.path.clone()).collect();
    assert!(paths.contains(
        &"/v1/projects/proj-1/locations/europe-west4/publishers/anthropic/models/claude-tools:streamRawPredict".to_string()
    ), "{paths:?}");
    assert!(paths.contains(
        &"/v1/projects/proj-1/locations/europe-west4/publishers/google/models/text:streamGenerateContent?alt=sse".to_string()
    ), "{paths:?}");
    assert_eq!(
        tokens.issued().len(),
        9,
        "one token per deployment with vertex_credentials, cached across its calls"
    );
    let _ = std::fs::remove_file(key_file);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cohere() {
    let upstream = wasmgate_test_support::cohere::start("co-fixture-key").await;
    let yaml = config(
        "cohere_chat",
        &upstream.url(),
        "co-fixture-key",
        &[
            ("chat", "text"),
            ("tools", "tools"),
            ("image", "image"),
            ("embed", "embed"),
            ("bad-key", "text"),
            ("limited", "error-429"),
            ("too-long", "too-long"),
            ("malformed", "malformed"),
        ],
    );
    let gw = common::start(&yaml).await;
    check(
        &format!("http://{}/v1", gw.addr),
        &[
            ("EXPECT_TEXT", wasmgate_test_support::cohere::TEXT_ANSWER),
            (
                "EXPECT_TOOL_TEXT",
                wasmgate_test_support::cohere::TOOL_ANSWER,
            ),
            ("EXPECT_IMAGE", "image"),
            ("EXPECT_EMBEDDINGS", "[0.75, -0.5, 1.0]"),
            ("EXPECT_MALFORMED", "the provider's answer has no `message`"),
        ],
    )
    .await;
    let int8 = wasmgate_test_support::client::post_json(
        &format!("http://{}/v1/embeddings", gw.addr),
        &serde_json::json!({"model": "embed", "input": ["a"], "encoding_format": "int8"}),
        &[("authorization", "Bearer sk-master-providers")],
    )
    .await;
    assert_eq!(int8.status, 200, "{}", int8.text());
    assert_eq!(
        int8.json()["data"][0]["embedding"],
        serde_json::json!([12, -7, 0])
    );
    let sent = upstream.received().last().unwrap().body.clone();
    assert_eq!(sent["embedding_types"], serde_json::json!(["int8"]));
    assert_eq!(sent["input_type"], "search_document");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bedrock() {
    use wasmgate_test_support::bedrock;
    const KEY_ID: &str = "AKIDBEDROCKFIXTURE";
    let upstream = bedrock::start(KEY_ID, "bedrock-fixture-secret").await;
    let mut yaml =
        String::from("general_settings:\n  master_key: sk-master-providers\nmodel_list:\n");
    for (name, model) in [
        ("chat", "text"),
        ("tools", "converse/tools"),
        ("image", "image"),
        ("embed", "amazon.titan-embed-text-v2:0"),
        ("cohere-embed", "cohere.embed-english-v3"),
        ("bad-key", "text"),
        ("limited", "error-429"),
        ("too-long", "too-long"),
        ("malformed", "malformed"),
    ] {
        let secret = if name == "bad-key" {
            "not-the-secret"
        } else {
            "bedrock-fixture-secret"
        };
        yaml += &format!(
            "- model_name: {name}\n  litellm_params:\n    model: bedrock/{model}\n    api_base: {}\n    aws_access_key_id: {KEY_ID}\n    aws_secret_access_key: {secret}\n    aws_region_name: us-west-2\n",
            upstream.url()
        );
    }
    let gw = common::start(&yaml).await;
    check(
        &format!("http://{}/v1", gw.addr),
        &[
            ("EXPECT_TEXT", bedrock::TEXT_ANSWER),
            ("EXPECT_TOOL_TEXT", bedrock::TOOL_ANSWER),
            ("EXPECT_IMAGE", "png"),
            ("EXPECT_EMBEDDINGS", "[1.0, -0.25, 1.0]"),
            (
                "EXPECT_MALFORMED",
                "the provider's answer has no `output.message.content`",
            ),
        ],
    )
    .await;
    let cohere = wasmgate_test_support::client::post_json(
        &format!("http://{}/v1/embeddings", gw.addr),
        &serde_json::json!({"model": "cohere-embed", "input": ["a", "bbbb"]}),
        &[("authorization", "Bearer sk-master-providers")],
    )
    .await;
    assert_eq!(cohere.status, 200, "{}", cohere.text());
    assert_eq!(
        cohere.json()["data"][1]["embedding"],
        serde_json::json!([1.0, -0.5, 1.0])
    );
    let received = upstream.received();
    let paths: Vec<&str> = received.iter().map(|r| r.path.as_str()).collect();
    for path in [
        "/model/text/converse",
        "/model/text/converse-stream",
        "/model/tools/converse-stream",
        "/model/amazon.titan-embed-text-v2%3A0/invoke",
        "/model/cohere.embed-english-v3/invoke",
    ] {
        assert!(paths.contains(&path), "{path} not in {paths:?}");
    }
    for r in &received {
        let auth = r.header("authorization").unwrap_or_default();
        assert!(
            auth.contains(&format!("{KEY_ID}/"))
                && auth.contains("/us-west-2/bedrock/aws4_request"),
            "{auth}"
        );
        assert!(
            !String::from_utf8_lossy(&r.raw).contains("bedrock-fixture-secret"),
            "the secret key never travels"
        );
    }
    let titan: Vec<_> = received
        .iter()
        .filter(|r| r.path.contains("titan"))
        .map(|r| r.body["inputText"].clone())
        .collect();
    assert_eq!(
        titan,
        [serde_json::json!("a"), serde_json::json!("bb")],
        "one text per Titan request"
    );
}
