//! What a LiteLLM user meets in the first hour, through the real gateway on a loopback socket:
//! errors in words that name the model, the deployment and the host; a missing key refused
//! without a network attempt; wildcard routes; Ollama bases without `/v1`; `/v1/models`,
//! `/health`, and OpenAI-shaped 404s and 405s.

mod common;

use common::{assert_words, chat_body, start, url};
use wasmgate_test_support::client::{get, post_json, send};
use wasmgate_test_support::Upstream;

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn errors_are_words_that_name_the_model_the_deployment_and_the_host() {
    let upstream = Upstream::start().await;
    let port = closed_port();
    let gw = start(&format!(
        "model_list:\n\
         - model_name: down\n  litellm_params:\n    model: openai/gpt-x\n    api_base: http://127.0.0.1:{port}/v1\n    api_key: sk-1\n\
         - model_name: broken\n  litellm_params:\n    model: openai/error-500\n    api_base: {base}\n    api_key: sk-1\n\
         - model_name: demo\n  litellm_params:\n    model: mock/demo\n",
        base = upstream.url()
    ))
    .await;
    let chat = url(&gw, "/v1/chat/completions");
    let refused = post_json(&chat, &chat_body("down"), &[]).await;
    assert_eq!(refused.status, 503, "{}", refused.text());
    assert_eq!(
        refused.json()["error"]["message"],
        format!("model `down` (deployment openai/gpt-x): could not reach 127.0.0.1:{port}: the connection was refused")
    );

    let mut bodies = vec![refused.json()];
    let mut stream = chat_body("down");
    stream["stream"] = true.into();
    bodies.push(post_json(&chat, &stream, &[]).await.json());
    bodies.push(post_json(&chat, &chat_body("broken"), &[]).await.json());
    bodies.push(post_json(&chat, &chat_body("nope"), &[]).await.json());
    bodies.push(send(http::Method::POST, &chat, "{", &[]).await.json());
    bodies.push(get(&chat, &[]).await.json());
    bodies.push(get(&url(&gw, "/v1/nothing"), &[]).await.json());
    for body in &bodies {
        assert_words(body);
    }
}

#[tokio::test]
async fn a_missing_key_is_refused_naming_its_variable_without_a_network_attempt() {
    let upstream = Upstream::start().await;
    let yaml = format!(
        "model_list:\n\
         - model_name: keyless\n  litellm_params:\n    model: openai/gpt-4o-mini\n    api_base: {base}\n    api_key: os.environ/WASMGATE_TEST_NEVER_SET\n\
         - model_name: pair\n  litellm_params:\n    model: openai/gpt-4o-mini\n    api_base: {base}\n    api_key: os.environ/WASMGATE_TEST_NEVER_SET\n\
         - model_name: pair\n  litellm_params:\n    model: openai/gpt-4o-mini\n    api_base: {base}\n    api_key: sk-present\n",
        base = upstream.url()
    );
    let config = wasmgate::config::Config::parse(&yaml, "c.yaml").unwrap();
    assert_eq!(config.warnings.len(), 2, "{:?}", config.warnings);
    assert!(config.warnings[0].starts_with("c.yaml:6: model `keyless`: the environment variable WASMGATE_TEST_NEVER_SET is not set"), "{:?}", config.warnings);
    let gw = start(&yaml).await;
    let chat = url(&gw, "/v1/chat/completions");
    let reply = post_json(&chat, &chat_body("keyless"), &[]).await;
    assert_eq!(reply.status, 401);
    let e = &reply.json()["error"];
    assert_eq!(e["code"], "missing_api_key");
    assert_eq!(e["type"], "authentication_error");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("set the environment variable WASMGATE_TEST_NEVER_SET"),
        "{e}"
    );
    assert!(upstream.requests().is_empty(), "no network attempt");

    // In a group, the deployment with its key serves every time.
    for _ in 0..6 {
        let reply = post_json(&chat, &chat_body("pair"), &[]).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
    let sent = upstream.requests();
    assert_eq!(sent.len(), 6);
    assert!(sent
        .iter()
        .all(|r| r.header("authorization").as_deref() == Some("Bearer sk-present")));
}

#[tokio::test]
async fn wildcard_routes_serve_any_matching_name() {
    let upstream = Upstream::start().await;
    let gw = start(&format!(
        "model_list:\n\
         - model_name: \"*\"\n  litellm_params:\n    model: \"*\"\n\
         - model_name: openai/*\n  litellm_params:\n    model: openai/*\n    api_base: {base}\n    api_key: sk-openai\n\
         - model_name: team-*\n  litellm_params:\n    model: openai/*\n    api_base: {base}\n    api_key: sk-team\n\
         - model_name: demo\n  litellm_params:\n    model: mock/demo\n",
        base = upstream.url()
    ))
    .await;
    let chat = url(&gw, "/v1/chat/completions");
    let mock = post_json(&chat, &chat_body("mock/anything"), &[]).await;
    assert_eq!(
        mock.json()["choices"][0]["message"]["content"],
        "This is a mock response to: Hi"
    );
    assert_eq!(mock.json()["model"], "mock/anything");

    let reply = post_json(&chat, &chat_body("openai/gpt-4o-mini"), &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let reply = post_json(&chat, &chat_body("team-gpt-4o-mini"), &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let sent = upstream.requests();
    let seen: Vec<(String, Option<String>)> = sent
        .iter()
        .map(|r| {
            (
                r.json()["model"].as_str().unwrap().to_string(),
                r.header("authorization"),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (
                "gpt-4o-mini".to_string(),
                Some("Bearer sk-openai".to_string())
            ),
            (
                "gpt-4o-mini".to_string(),
                Some("Bearer sk-team".to_string())
            ),
        ]
    );

    let bare = post_json(&chat, &chat_body("no-provider"), &[]).await;
    assert_eq!(bare.status, 404);
    assert!(bare.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("name it as `provider/model`"));
    let unknown = post_json(&chat, &chat_body("acme/x"), &[]).await;
    assert_eq!(unknown.status, 404);
    assert!(unknown.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("unknown provider `acme`"));

    let models = get(&url(&gw, "/v1/models"), &[]).await.json();
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["demo", "openai/*", "team-*", "*"]);
}

#[tokio::test]
async fn ollama_bases_work_with_or_without_v1() {
    let ollama = wasmgate_test_support::ollama::start("").await;
    let gw = start(&format!(
        "model_list:\n\
         - model_name: bare\n  litellm_params:\n    model: ollama/text\n    api_base: {origin}\n\
         - model_name: versioned\n  litellm_params:\n    model: ollama_chat/text\n    api_base: {origin}/v1/\n",
        origin = ollama.url()
    ))
    .await;
    for model in ["bare", "versioned"] {
        let reply = post_json(&url(&gw, "/v1/chat/completions"), &chat_body(model), &[]).await;
        assert_eq!(reply.status, 200, "{model}: {}", reply.text());
        assert_eq!(
            reply.json()["choices"][0]["message"]["content"],
            wasmgate_test_support::ollama::TEXT_ANSWER
        );
    }
    let paths: Vec<String> = ollama.received().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths,
        ["/api/chat", "/api/chat"],
        "Ollama's native API, from either base"
    );
}

#[tokio::test]
async fn every_route_answers_in_openai_shape() {
    let gw =
        start("model_list:\n- model_name: demo\n  litellm_params:\n    model: mock/demo\n").await;
    let wrong_method = get(&url(&gw, "/v1/chat/completions"), &[]).await;
    assert_eq!(wrong_method.status, 405);
    let e = &wrong_method.json()["error"];
    assert_eq!(e["code"], "method_not_allowed");
    assert_eq!(e["type"], "invalid_request_error");
    assert_eq!(e["message"], "/v1/chat/completions does not take GET");
    let post_models = post_json(&url(&gw, "/v1/models"), &serde_json::json!({}), &[]).await;
    assert_eq!(post_models.status, 405);
    let nowhere = post_json(&url(&gw, "/v1/nothing"), &serde_json::json!({}), &[]).await;
    assert_eq!(nowhere.status, 404);
    assert!(nowhere.json()["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("no route for POST /v1/nothing"));
}

#[tokio::test]
async fn health_probes_every_deployment_like_litellm() {
    let upstream = Upstream::start().await;
    let port = closed_port();
    let gw = start(&format!(
        "model_list:\n\
         - model_name: good\n  litellm_params:\n    model: openai/gpt-4o-mini\n    api_base: {base}\n    api_key: sk-1\n\
         - model_name: down\n  litellm_params:\n    model: openai/gpt-x\n    api_base: http://127.0.0.1:{port}/v1\n    api_key: sk-1\n\
         - model_name: keyless\n  litellm_params:\n    model: openai/gpt-y\n    api_base: {base}\n    api_key: os.environ/WASMGATE_TEST_NEVER_SET\n",
        base = upstream.url()
    ))
    .await;
    let health = get(&url(&gw, "/health"), &[]).await;
    assert_eq!(health.status, 200);
    let h = health.json();
    assert_eq!(h["healthy_count"], 1, "{h}");
    assert_eq!(h["unhealthy_count"], 2, "{h}");
    assert_eq!(h["healthy_endpoints"][0]["model_name"], "good");
    assert_eq!(h["healthy_endpoints"][0]["model"], "openai/gpt-4o-mini");
    let errors: Vec<&str> = h["unhealthy_endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["error"].as_str().unwrap())
        .collect();
    assert!(
        errors[0].contains("the connection was refused"),
        "{errors:?}"
    );
    assert!(errors[1].contains("WASMGATE_TEST_NEVER_SET"), "{errors:?}");
    let sent = upstream.requests();
    assert_eq!(sent.len(), 1, "only the deployment with a key is called");
    assert_eq!(sent[0].json()["max_tokens"], 1);
}
