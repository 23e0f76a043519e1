//! The same end-to-end suite against the OpenAI-compatible adapter written in each language:
//! Rust (`guests/openai`), Python (`guests/python-example`, componentize-py) and JavaScript
//! (`guests/js-example`, componentize-js). Each is loaded as an external component by a real
//! gateway on a loopback socket, in front of a real upstream on 127.0.0.1.

mod common;

use common::{
    assert_upstream_chat_answer, chat_body, sse_events, start, streamed_chunks, streamed_tool_call,
    url,
};
use serde_json::{json, Value};
use std::path::Path;
use wasmgate::Gateway;
use wasmgate_test_support::client::post_json;
use wasmgate_test_support::{example_wasm, guest_wasm, Upstream};

const KEY: &str = "sk-language-suite-secret";

fn config(wasm: &Path, upstream: &Upstream) -> String {
    let mut yaml = format!(
        "adapters:\n- name: lang\n  path: {}\n  allowed_hosts: []\nmodel_list:\n",
        wasm.display()
    );
    let mut model = |name: &str, upstream_model: &str, api_base: Option<&str>| {
        yaml += &format!("- model_name: {name}\n  litellm_params:\n    model: lang/{upstream_model}\n    api_key: {KEY}\n");
        if let Some(base) = api_base {
            yaml += &format!("    api_base: {base}\n");
        }
    };
    let base = upstream.url();
    model("gpt", "gpt-4o-mini", Some(&base));
    model("tools", "tool-call", Some(&base));
    model("embed", "text-embedding-3-small", Some(&base));
    model("flaky", "stream-error", Some(&base));
    for code in ["400", "401", "403", "404", "429", "500", "503"] {
        model(&format!("e{code}"), &format!("error-{code}"), Some(&base));
    }
    // No api_base: the adapter's default (api.openai.com) is not on its empty allow-list.
    model("elsewhere", "gpt-4o-mini", None);
    yaml
}

async fn chat_round_trip(gw: &Gateway, upstream: &Upstream) {
    let reply = post_json(&url(gw, "/v1/chat/completions"), &chat_body("gpt"), &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let body = reply.json();
    assert_upstream_chat_answer(&body);
    assert_eq!(body["system_fingerprint"], "fp_test");
    assert!(!reply.text().contains(KEY));
    let sent = upstream
        .requests()
        .into_iter()
        .last()
        .expect("the upstream got the request");
    assert_eq!(sent.json()["model"], "gpt-4o-mini");
    assert_eq!(
        sent.header("authorization").as_deref(),
        Some(format!("Bearer {KEY}").as_str()),
        "the host swapped the sealed placeholder for the real key"
    );
}

async fn streaming_with_usage(gw: &Gateway) {
    let mut body = chat_body("gpt");
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let reply = post_json(&url(gw, "/v1/chat/completions"), &body, &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let (chunks, content) = streamed_chunks(&sse_events(&reply.text()));
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(content, "Hello from upstream");
    let usage = chunks.last().unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["total_tokens"], 12);
}

async fn tool_calls(gw: &Gateway, upstream: &Upstream) {
    let mut body = chat_body("tools");
    body["tools"] = json!([{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]);
    body["tool_choice"] = json!("auto");
    let whole = post_json(&url(gw, "/v1/chat/completions"), &body, &[]).await;
    assert_eq!(whole.status, 200, "{}", whole.text());
    let whole = whole.json();
    let call = &whole["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(call["function"]["arguments"], r#"{"city":"Paris"}"#);
    assert_eq!(whole["choices"][0]["finish_reason"], "tool_calls");
    let sent = upstream.requests().into_iter().last().unwrap().json();
    assert_eq!(
        sent["tools"][0]["function"]["parameters"],
        json!({"type": "object"})
    );
    assert_eq!(sent["tool_choice"], "auto");

    body["stream"] = json!(true);
    let events = sse_events(
        &post_json(&url(gw, "/v1/chat/completions"), &body, &[])
            .await
            .text(),
    );
    let (first, args) = streamed_tool_call(&events);
    assert_eq!(first["id"], "call_1");
    assert_eq!(first["function"]["name"], "get_weather");
    assert_eq!(args, r#"{"city":"Paris"}"#);
}

async fn request_fields_reach_the_upstream(gw: &Gateway, upstream: &Upstream) {
    let body = json!({"model": "gpt", "response_format": {"type": "json_object"},
        "temperature": 0.25, "max_tokens": 7, "stop": ["END"], "seed": 42, "user": "u-1",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [
                {"type": "text", "text": "describe"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}}]},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_9", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "call_9", "content": "42"}],
        "logit_bias": {"50256": -100}});
    let reply = post_json(&url(gw, "/v1/chat/completions"), &body, &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let sent = upstream.requests().into_iter().last().unwrap().json();
    assert_eq!(sent["response_format"]["type"], "json_object");
    assert_eq!(sent["temperature"], 0.25);
    assert_eq!(sent["max_tokens"], 7);
    assert_eq!(sent["stop"], json!(["END"]));
    assert_eq!(sent["seed"], 42);
    assert_eq!(sent["user"], "u-1");
    assert_eq!(
        sent["messages"][1]["content"][1]["image_url"]["detail"],
        "low"
    );
    assert_eq!(sent["messages"][2]["tool_calls"][0]["id"], "call_9");
    assert_eq!(sent["messages"][3]["tool_call_id"], "call_9");
    assert_eq!(
        sent["logit_bias"]["50256"], -100,
        "provider extras pass through"
    );
}

async fn embeddings(gw: &Gateway) {
    let body = json!({"model": "embed", "input": ["a", "bb"]});
    let reply = post_json(&url(gw, "/v1/embeddings"), &body, &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let v = reply.json();
    assert_eq!(v["data"][1]["embedding"], json!([1.0, 2.0, 0.5]));
    assert_eq!(v["usage"]["prompt_tokens"], 2);
    let body = json!({"model": "embed", "input": "a", "encoding_format": "base64"});
    let v = post_json(&url(gw, "/v1/embeddings"), &body, &[])
        .await
        .json();
    assert_eq!(v["data"][0]["embedding"], "AAAAAAAAgD8AAAA/");
}

async fn upstream_errors(gw: &Gateway) {
    let cases = [
        ("e400", 400, "context_length_exceeded"),
        ("e401", 401, "invalid_api_key"),
        ("e403", 403, "forbidden"),
        ("e404", 404, "model_not_found"),
        ("e429", 429, "rate_limit_exceeded"),
        ("e500", 502, "internal"),
        ("e503", 503, "overloaded"),
    ];
    for (model, status, code) in cases {
        for stream in [false, true] {
            let mut body = chat_body(model);
            body["stream"] = json!(stream);
            let reply = post_json(&url(gw, "/v1/chat/completions"), &body, &[]).await;
            assert_eq!(
                reply.status,
                status,
                "{model} stream={stream}: {}",
                reply.text()
            );
            assert_eq!(reply.json()["error"]["code"], code, "{model}");
            assert!(!reply.text().contains(KEY));
            if model == "e429" {
                assert_eq!(reply.header("retry-after").as_deref(), Some("7"));
            }
        }
    }
}

async fn mid_stream_error(gw: &Gateway) {
    let mut body = chat_body("flaky");
    body["stream"] = json!(true);
    let reply = post_json(&url(gw, "/v1/chat/completions"), &body, &[]).await;
    assert_eq!(reply.status, 200);
    let events = sse_events(&reply.text());
    assert_eq!(events.len(), 2, "one chunk, then the error: {events:?}");
    let error: Value = serde_json::from_str(&events[1]).unwrap();
    assert_eq!(error["error"]["message"], "upstream failed mid-stream");
    assert_eq!(error["error"]["type"], "service_unavailable_error");
}

/// A POST the host refuses must come back as the adapter's own error, not kill its engine.
async fn refused_egress(gw: &Gateway) {
    for stream in [false, true] {
        let mut body = chat_body("elsewhere");
        body["stream"] = json!(stream);
        let reply = post_json(&url(gw, "/v1/chat/completions"), &body, &[]).await;
        // The allow-list refused it, by name: not a DNS failure or any other 5xx an offline
        // machine would also produce.
        assert_eq!(reply.status, 500, "stream={stream}: {}", reply.text());
        let error = &reply.json()["error"];
        assert_eq!(error["code"], "egress_refused", "stream={stream}: {error}");
        let message = error["message"].as_str().unwrap();
        assert!(
            message.contains("the destination is not on the adapter's allow-list"),
            "stream={stream}: {message}"
        );
        assert!(!reply.text().contains(KEY));
    }
    let reply = post_json(&url(gw, "/v1/chat/completions"), &chat_body("gpt"), &[]).await;
    assert_eq!(reply.status, 200, "later requests still work");
}

async fn conformance(wasm: &Path) {
    let upstream = Upstream::start().await;
    let gw = start(&config(wasm, &upstream)).await;
    chat_round_trip(&gw, &upstream).await;
    streaming_with_usage(&gw).await;
    tool_calls(&gw, &upstream).await;
    request_fields_reach_the_upstream(&gw, &upstream).await;
    embeddings(&gw).await;
    upstream_errors(&gw).await;
    mid_stream_error(&gw).await;
    refused_egress(&gw).await;
}

#[tokio::test]
async fn rust_adapter() {
    conformance(&guest_wasm("openai")).await;
}

#[tokio::test]
async fn python_adapter() {
    conformance(&example_wasm("python-example")).await;
}

#[tokio::test]
async fn javascript_adapter() {
    conformance(&example_wasm("js-example")).await;
}
