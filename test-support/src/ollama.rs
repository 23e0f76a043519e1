//! A loopback server that speaks Ollama's native API as its reference describes it, and checks
//! what an adapter sends: `POST /api/chat` and `/api/embed`, roles `system` / `user` /
//! `assistant` / `tool`, images as bare base64 (not `data:` URLs), tool-call arguments as
//! objects, tool results naming the function (`tool_name`) of an earlier call, `options` as an
//! object. Like Ollama, a request that does not say `stream: false` is answered as an NDJSON
//! stream. Behind an auth proxy (as Ollama's cloud API is), the key is a bearer token.
//!
//! Answers by model name: `text` (and anything unknown), `tools`, `image`, `error-429`,
//! `too-long`, `malformed`, `embed`.

use crate::fixture::{json_response, Body, Fixture, Received};
use bytes::Bytes;
use http::Response;
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};

/// The text of the `text` model's answer.
pub const TEXT_ANSWER: &str = "Hello from Ollama";
/// The answer once a tool result comes back.
pub const TOOL_ANSWER: &str = "It is 18C in Paris.";

/// Starts a server that wants `key` as a bearer token (any request or none, when `key` is empty,
/// as a local Ollama takes it).
pub async fn start(key: &str) -> Fixture {
    Fixture::with_credential(key, handle).await
}

fn error(status: u16, message: &str) -> Response<Body> {
    json_response(status, &json!({"error": message}))
}

fn handle(r: &Received, key: &str) -> Response<Body> {
    if !key.is_empty() && r.header("authorization") != Some(&format!("Bearer {key}")) {
        return error(401, "unauthorized");
    }
    if r.method != http::Method::POST {
        return error(405, "method not allowed");
    }
    match r.path.as_str() {
        "/api/chat" => match check(&r.body) {
            Ok(()) => chat(&r.body),
            Err(m) => error(400, &m),
        },
        "/api/embed" => embed(&r.body),
        _ => error(404, "404 page not found"),
    }
}

/// The request rules this server enforces.
fn check(body: &Value) -> Result<(), String> {
    if !body["model"].is_string() {
        return Err("model is required".into());
    }
    if body.get("options").is_some_and(|o| !o.is_object()) {
        return Err("options must be an object".into());
    }
    let messages = body["messages"].as_array().ok_or("messages is required")?;
    let mut called: Vec<String> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let role = m["role"].as_str().unwrap_or_default();
        if !matches!(role, "system" | "user" | "assistant" | "tool") {
            return Err(format!("messages[{i}]: invalid role {role:?}"));
        }
        for image in m["images"].as_array().into_iter().flatten() {
            if image.as_str().is_none_or(|s| s.starts_with("data:")) {
                return Err(format!("messages[{i}].images: illegal base64 data"));
            }
        }
        for call in m["tool_calls"].as_array().into_iter().flatten() {
            if !call["function"]["arguments"].is_object() {
                return Err(format!(
                    "messages[{i}].tool_calls: arguments must be an object"
                ));
            }
            called.push(call["function"]["name"].as_str().unwrap_or_default().into());
        }
        if role == "tool" {
            let name = m["tool_name"].as_str().unwrap_or_default();
            if !called.iter().any(|c| c == name) {
                return Err(format!(
                    "messages[{i}]: tool_name {name:?} names no earlier call"
                ));
            }
        }
    }
    Ok(())
}

fn line(model: &str, message: Value, done: Option<&str>) -> Value {
    let mut v = json!({"model": model, "created_at": "2026-11-30T00:00:00Z", "message": message,
                       "done": done.is_some()});
    if let Some(reason) = done {
        v["done_reason"] = json!(reason);
        v["prompt_eval_count"] = json!(8);
        v["eval_count"] = json!(4);
    }
    v
}

fn chat(body: &Value) -> Response<Body> {
    let model = body["model"].as_str().unwrap_or_default();
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    let last = messages.last().cloned().unwrap_or(Value::Null);
    let message = match model {
        "error-429" => {
            let mut r = error(429, "too many requests, please retry later");
            r.headers_mut().insert("retry-after", "7".parse().unwrap());
            return r;
        }
        "too-long" => return error(400, "the input length exceeds the context length"),
        "malformed" => return json_response(200, &json!({"model": model, "done": true})),
        "tools" if last["role"] == "tool" => {
            json!({"role": "assistant", "content": TOOL_ANSWER})
        }
        "tools" => json!({"role": "assistant", "content": "",
                          "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]}),
        "image" if last["images"].as_array().is_some_and(|i| !i.is_empty()) => {
            json!({"role": "assistant", "content": "I see an image."})
        }
        "image" => return error(400, "no image was sent"),
        _ => json!({"role": "assistant", "content": TEXT_ANSWER}),
    };
    if body["stream"] == false {
        return json_response(200, &line(model, message, Some("stop")));
    }
    let mut lines = Vec::new();
    if message["tool_calls"].is_array() {
        lines.push(line(model, message, None));
    } else {
        let text = message["content"].as_str().unwrap_or_default();
        let (a, b) = text.split_at(text.len() / 2);
        for piece in [a, b] {
            lines.push(line(
                model,
                json!({"role": "assistant", "content": piece}),
                None,
            ));
        }
    }
    lines.push(line(
        model,
        json!({"role": "assistant", "content": ""}),
        Some("stop"),
    ));
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    Response::builder()
        .header("content-type", "application/x-ndjson")
        .body(Full::new(Bytes::from(text)).boxed())
        .unwrap()
}

fn embed(body: &Value) -> Response<Body> {
    let inputs = match &body["input"] {
        Value::Array(a) => a.len(),
        Value::String(_) => 1,
        _ => return error(400, "input is required"),
    };
    let embeddings: Vec<Value> = (0..inputs).map(|i| json!([0.5, -0.25, i as f64])).collect();
    json_response(
        200,
        &json!({"model": body["model"], "embeddings": embeddings, "prompt_eval_count": inputs}),
    )
}
