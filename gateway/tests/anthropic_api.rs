//! `POST /v1/messages` through the real gateway over an OpenAI-shaped upstream: the exact SSE
//! byte sequence of a streamed tool call, whole answers, and errors in Anthropic's shape; and the
//! official `anthropic` Python SDK (installed from PyPI into a venv under `target/`).

mod common;

use common::{start, url};
use serde_json::{json, Value};
use std::path::PathBuf;
use wasmgate_test_support::anthropic;
use wasmgate_test_support::client::post_json;
use wasmgate_test_support::Upstream;

fn config(upstream: &Upstream) -> String {
    format!(
        "general_settings:\n  master_key: sk-master-anthropic\nmodel_list:\n\
         - model_name: claude\n  litellm_params:\n    model: openai/gpt-4o-mini\n    api_base: {base}\n\
         - model_name: tools\n  litellm_params:\n    model: openai/tool-call\n    api_base: {base}\n\
         - model_name: limited\n  litellm_params:\n    model: openai/error-429\n    api_base: {base}\n",
        base = upstream.url()
    )
}

const KEY: (&str, &str) = ("x-api-key", "sk-master-anthropic");

#[tokio::test]
async fn a_streamed_tool_call_is_anthropics_exact_event_sequence() {
    let upstream = Upstream::start().await;
    let gw = start(&config(&upstream)).await;
    let body = json!({"model": "tools", "max_tokens": 100, "stream": true,
                      "messages": [{"role": "user", "content": "Weather in Paris?"}],
                      "tools": [{"name": "get_weather", "input_schema": {"type": "object"}}]});
    let reply = post_json(
        &url(&gw, "/v1/messages"),
        &body,
        &[KEY, ("anthropic-version", "2023-06-01")],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.header("content-type").as_deref(),
        Some("text/event-stream")
    );
    let text = reply.text();
    let events: Vec<(String, Value)> = text
        .split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            let (name, data) = e.split_once('\n').expect("event and data lines");
            let name = name
                .strip_prefix("event: ")
                .expect("an event line")
                .to_string();
            let data = data.strip_prefix("data: ").expect("a data line");
            (name, serde_json::from_str(data).expect("JSON data"))
        })
        .collect();
    assert!(text.ends_with("\n\n"));
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "ping",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    for (name, data) in &events {
        assert_eq!(
            data["type"],
            name.as_str(),
            "the data's type names its event"
        );
    }
    let start = &events[0].1["message"];
    assert_eq!(
        (start["role"].as_str(), start["model"].as_str()),
        (Some("assistant"), Some("tools"))
    );
    assert!(start["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(
        events[2].1,
        json!({"type": "content_block_start", "index": 0,
               "content_block": {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {}}})
    );
    assert_eq!(
        events[3].1["delta"],
        json!({"type": "input_json_delta", "partial_json": "{\"city\":"})
    );
    assert_eq!(
        events[4].1["delta"],
        json!({"type": "input_json_delta", "partial_json": "\"Paris\"}"})
    );
    assert_eq!(
        events[5].1,
        json!({"type": "content_block_stop", "index": 0})
    );
    assert_eq!(events[6].1["delta"]["stop_reason"], "tool_use");
    assert_eq!(events[6].1["usage"]["output_tokens"], 3);
    assert_eq!(events[6].1["usage"]["cache_read_input_tokens"], 2);
    let sent = upstream.requests();
    assert_eq!(sent[0].json()["stream_options"]["include_usage"], true);
    assert_eq!(
        sent[0].json()["tools"][0]["function"]["name"],
        "get_weather"
    );
}

#[tokio::test]
async fn answers_and_errors_are_in_anthropics_shape() {
    let upstream = Upstream::start().await;
    let gw = start(&config(&upstream)).await;
    let messages = url(&gw, "/v1/messages");
    let body = json!({"model": "claude", "max_tokens": 50, "system": "Be brief.",
                      "messages": [{"role": "user", "content": "Hi"}]});
    let reply = post_json(&messages, &body, &[KEY]).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let m = reply.json();
    assert_eq!(
        (m["type"].as_str(), m["role"].as_str(), m["model"].as_str()),
        (Some("message"), Some("assistant"), Some("claude"))
    );
    assert_eq!(
        m["content"][0],
        json!({"type": "text", "text": "Hello from upstream"})
    );
    assert_eq!(m["stop_reason"], "end_turn");
    assert_eq!(m["usage"]["input_tokens"], 7);
    assert_eq!(
        upstream.requests()[0].json()["messages"][0],
        json!({"role": "system", "content": "Be brief."})
    );

    let wrong = post_json(&messages, &body, &[("x-api-key", "wrong")]).await;
    assert_eq!(wrong.status, 401);
    assert_eq!(
        wrong.json(),
        json!({"type": "error", "error": {"type": "authentication_error", "message": "invalid API key"}})
    );
    let unknown = post_json(
        &messages,
        &json!({"model": "nope", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}),
        &[KEY],
    )
    .await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.json()["error"]["type"], "not_found_error");
    let limited = post_json(&messages, &json!({"model": "limited", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}), &[KEY]).await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.json()["error"]["type"], "rate_limit_error");
    assert_eq!(limited.header("retry-after").as_deref(), Some("7"));
    let invalid = post_json(
        &messages,
        &json!({"model": "claude", "messages": []}),
        &[KEY],
    )
    .await;
    assert_eq!(invalid.status, 400);
    assert_eq!(invalid.json()["error"]["type"], "invalid_request_error");
}

/// The pinned SDK version.
const ANTHROPIC_SDK: &str = "anthropic==2.14.0";

/// A venv with the SDK.
fn venv_python() -> PathBuf {
    common::sdk_venv("py-anthropic-sdk", ANTHROPIC_SDK)
}

/// Runs an SDK script against the gateway at `addr`.
async fn run_sdk_script(script: &str, addr: std::net::SocketAddr) {
    let python = tokio::task::spawn_blocking(venv_python).await.unwrap();
    common::run_sdk_script(
        &python,
        script,
        &[("GATEWAY_URL", format!("http://{addr}"))],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_anthropic_sdk_works_over_an_openai_shaped_upstream() {
    let upstream = Upstream::start().await;
    let gw = start(&config(&upstream)).await;
    run_sdk_script("anthropic_sdk_check.py", gw.addr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_anthropic_sdk_works_over_the_anthropic_adapter() {
    let upstream = anthropic::start("sk-ant-native").await;
    let mut yaml =
        String::from("general_settings:\n  master_key: sk-master-anthropic\nmodel_list:\n");
    for (name, model) in [
        ("claude", "claude-text"),
        ("tools", "claude-tools"),
        ("thinker", "claude-thinking"),
        ("limited", "error-429"),
        ("overloaded", "error-529"),
    ] {
        yaml += &format!(
            "- model_name: {name}\n  litellm_params:\n    model: anthropic/{model}\n    api_base: {}\n    api_key: sk-ant-native\n",
            upstream.url()
        );
    }
    let gw = start(&yaml).await;
    run_sdk_script("anthropic_native_check.py", gw.addr).await;
    let thinking_turns: Vec<_> = upstream
        .received()
        .into_iter()
        .filter(|r| r.body["model"] == "claude-thinking")
        .collect();
    assert_eq!(thinking_turns.len(), 2);
    for turn in &thinking_turns {
        assert_eq!(
            turn.body["thinking"],
            json!({"type": "enabled", "budget_tokens": 2048}),
            "a budget of LiteLLM's (1024, 2048, 4096) reaches the provider exactly"
        );
    }
    let system = upstream.received()[0].body["system"].clone();
    assert_eq!(system, json!("Be brief."));
}
