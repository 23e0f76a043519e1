//! A loopback server that speaks Anthropic's Messages API as its public reference describes it,
//! and checks what an adapter sends: `x-api-key` and `anthropic-version` headers, `max_tokens`,
//! turns that alternate starting with `user`, no system role among them, known block types,
//! every `tool_result` answering a `tool_use` of the turn before, thinking blocks carrying the
//! signature this server made. A request that breaks a rule gets the API's 400
//! `invalid_request_error` naming it.
//!
//! Answers by model name (`claude-text` and anything unknown: text; `claude-tools`: a tool call,
//! then text once the result comes back; `claude-thinking`: signed thinking then text, and on a
//! later turn a check that the thinking came back unchanged; `claude-image`: describes the
//! image it was sent; `error-429`, `error-529`, `too-long`, `malformed`, `stream-error`), whole
//! or as the SSE event sequence, byte for byte as the API sends it.

use crate::fixture::{json_response, Body, Fixture, Received};
use bytes::Bytes;
use http::Response;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use serde_json::{json, Value};
use std::convert::Infallible;

/// The signature this server puts on its thinking blocks.
pub const THINKING_SIGNATURE: &str = "EqQBCkYIBxgCKkDsig-from-the-fixture";
/// The text of `claude-text`'s answer.
pub const TEXT_ANSWER: &str = "Hello from Claude";

/// Starts a server that accepts the key `key`.
pub async fn start(key: &str) -> Fixture {
    Fixture::with_credential(key, handle).await
}

fn error(status: u16, kind: &str, message: &str) -> Response<Body> {
    let mut r = json_response(
        status,
        &json!({"type": "error", "error": {"type": kind, "message": message}}),
    );
    r.headers_mut()
        .insert("request-id", "req_fixture".parse().unwrap());
    r
}

fn handle(r: &Received, key: &str) -> Response<Body> {
    let body = &r.body;
    if r.method != http::Method::POST {
        return error(405, "invalid_request_error", "use POST");
    }
    if r.header("x-api-key") != Some(key) {
        return error(401, "authentication_error", "invalid x-api-key");
    }
    if r.header("anthropic-version").is_none() {
        return error(
            400,
            "invalid_request_error",
            "anthropic-version: header is required",
        );
    }
    if r.path == "/v1/messages/count_tokens" {
        let allowed = [
            "model",
            "messages",
            "system",
            "tools",
            "tool_choice",
            "thinking",
            "mcp_servers",
        ];
        let extra = body
            .as_object()
            .and_then(|o| o.keys().find(|k| !allowed.contains(&k.as_str())));
        if let Some(field) = extra {
            let message = format!("{field}: Extra inputs are not permitted");
            return error(400, "invalid_request_error", &message);
        }
        return match check(body, false) {
            Ok(()) => json_response(200, &json!({"input_tokens": count_words(body)})),
            Err(m) => error(400, "invalid_request_error", &m),
        };
    }
    if r.path != "/v1/messages" {
        return error(404, "not_found_error", &format!("no route {}", r.path));
    }
    if let Err(m) = check(body, true) {
        return error(400, "invalid_request_error", &m);
    }
    answer(body)
}

/// A rough token count: words of every text in the request.
fn count_words(body: &Value) -> usize {
    fn walk(v: &Value, n: &mut usize) {
        match v {
            Value::String(s) => *n += s.split_whitespace().count(),
            Value::Array(a) => a.iter().for_each(|x| walk(x, n)),
            Value::Object(o) => o
                .iter()
                .filter(|(k, _)| *k != "model" && *k != "type")
                .for_each(|(_, x)| walk(x, n)),
            _ => {}
        }
    }
    let mut n = 0;
    walk(&body["messages"], &mut n);
    walk(&body["system"], &mut n);
    n
}

const BLOCK_TYPES: &[&str] = &[
    "text",
    "image",
    "document",
    "tool_use",
    "tool_result",
    "thinking",
    "redacted_thinking",
    "search_result",
];

/// The request rules of the Messages API this server enforces.
pub(crate) fn check(body: &Value, needs_max_tokens: bool) -> Result<(), String> {
    if !body["model"].is_string() {
        return Err("model: Field required".into());
    }
    if needs_max_tokens && !body["max_tokens"].is_u64() {
        return Err("max_tokens: Field required".into());
    }
    let turns = body["messages"]
        .as_array()
        .filter(|t| !t.is_empty())
        .ok_or("messages: at least one message is required")?;
    let mut previous_tool_ids: Vec<String> = Vec::new();
    for (i, turn) in turns.iter().enumerate() {
        let role = turn["role"].as_str().unwrap_or_default();
        let expected = if i % 2 == 0 { "user" } else { "assistant" };
        if role != expected {
            return Err(format!(
                "messages.{i}.role: roles must alternate between \"user\" and \"assistant\", starting with \"user\" (got {role:?})"
            ));
        }
        let blocks = match &turn["content"] {
            Value::String(_) => Vec::new(),
            Value::Array(b) => b.clone(),
            _ => {
                return Err(format!(
                    "messages.{i}.content: Input should be a valid list"
                ))
            }
        };
        let mut tool_ids = Vec::new();
        for (j, b) in blocks.iter().enumerate() {
            let kind = b["type"].as_str().unwrap_or_default();
            if !BLOCK_TYPES.contains(&kind) {
                return Err(format!(
                    "messages.{i}.content.{j}.type: unknown block type {kind:?}"
                ));
            }
            match kind {
                "tool_result" => {
                    let id = b["tool_use_id"].as_str().unwrap_or_default();
                    if role != "user" || !previous_tool_ids.iter().any(|p| p == id) {
                        return Err(format!(
                            "messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks: {id}. Each `tool_result` block must have a corresponding `tool_use` block in the previous message."
                        ));
                    }
                }
                "tool_use" => {
                    if !b["input"].is_object() {
                        return Err(format!("messages.{i}.content.{j}.tool_use.input: Input should be a valid dictionary"));
                    }
                    tool_ids.push(b["id"].as_str().unwrap_or_default().to_string());
                }
                "thinking" if b["signature"] != THINKING_SIGNATURE => {
                    return Err(format!(
                        "messages.{i}.content.{j}: Invalid `signature` in `thinking` block"
                    ));
                }
                "image" if !matches!(b["source"]["type"].as_str(), Some("base64" | "url")) => {
                    return Err(format!(
                        "messages.{i}.content.{j}.source: unknown image source"
                    ));
                }
                _ => {}
            }
        }
        previous_tool_ids = tool_ids;
    }
    if let Some(t) = body.get("thinking") {
        let budget = t["budget_tokens"].as_u64().unwrap_or(0);
        if budget < 1024 || budget >= body["max_tokens"].as_u64().unwrap_or(0) {
            return Err(
                "thinking.budget_tokens: must be at least 1024 and less than max_tokens".into(),
            );
        }
    }
    Ok(())
}

fn message(model: &str, content: Value, stop: &str, output_tokens: u64) -> Value {
    json!({"id": "msg_fixture01", "type": "message", "role": "assistant", "model": model,
           "content": content, "stop_reason": stop, "stop_sequence": null,
           "usage": {"input_tokens": 10, "cache_creation_input_tokens": 0,
                     "cache_read_input_tokens": 2, "output_tokens": output_tokens}})
}

fn last_user_blocks(body: &Value) -> Vec<Value> {
    body["messages"]
        .as_array()
        .and_then(|t| t.last())
        .and_then(|t| t["content"].as_array())
        .cloned()
        .unwrap_or_default()
}

/// The answer's content blocks and stop reason for a (valid) request.
fn reply(body: &Value) -> Result<(Value, &'static str), Box<Response<Body>>> {
    let model = body["model"].as_str().unwrap_or_default();
    let last = last_user_blocks(body);
    let has = |kind: &str| last.iter().any(|b| b["type"] == kind);
    match model {
        "error-429" => {
            let mut r = error(
                429,
                "rate_limit_error",
                "Number of request tokens has exceeded your per-minute rate limit",
            );
            r.headers_mut().insert("retry-after", "7".parse().unwrap());
            Err(Box::new(r))
        }
        "error-529" => Err(Box::new(error(529, "overloaded_error", "Overloaded"))),
        "too-long" => Err(Box::new(error(
            400,
            "invalid_request_error",
            "prompt is too long: 250000 tokens > 200000 maximum",
        ))),
        "claude-tools" if has("tool_result") => Ok((
            json!([{"type": "text", "text": "It is 18C in Paris."}]),
            "end_turn",
        )),
        "claude-tools" => Ok((
            json!([{"type": "text", "text": "Let me check."},
                   {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}}]),
            "tool_use",
        )),
        "claude-thinking" => {
            let earlier = body["messages"].as_array().map_or(0, Vec::len) > 1;
            let text = if earlier { "Still 18C." } else { "18C." };
            Ok((
                json!([{"type": "thinking", "thinking": "The user asks about weather.", "signature": THINKING_SIGNATURE},
                       {"type": "text", "text": text}]),
                "end_turn",
            ))
        }
        "claude-image" => {
            let media = last.iter().find(|b| b["type"] == "image").map(|b| {
                b["source"]["media_type"]
                    .as_str()
                    .unwrap_or("url")
                    .to_string()
            });
            match media {
                Some(m) => Ok((
                    json!([{"type": "text", "text": format!("I see an image ({m}).")}]),
                    "end_turn",
                )),
                None => Err(Box::new(error(
                    400,
                    "invalid_request_error",
                    "no image was sent",
                ))),
            }
        }
        _ => Ok((json!([{"type": "text", "text": TEXT_ANSWER}]), "end_turn")),
    }
}

pub(crate) fn answer(body: &Value) -> Response<Body> {
    let model = body["model"].as_str().unwrap_or_default();
    let stream = body["stream"] == true;
    if model == "malformed" {
        return json_response(200, &json!({"type": "message", "content": "not a list"}));
    }
    let (content, stop) = match reply(body) {
        Ok(r) => r,
        Err(response) => return *response,
    };
    if !stream {
        return json_response(200, &message(model, content, stop, 5));
    }
    let mut start = message(model, json!([]), "", 1);
    start["stop_reason"] = Value::Null;
    let mut events = vec![sse(
        "message_start",
        json!({"type": "message_start", "message": start}),
    )];
    for (index, block) in content.as_array().unwrap().iter().enumerate() {
        events.extend(block_events(index, block));
        if index == 0 {
            events.push(sse("ping", json!({"type": "ping"})));
        }
    }
    if model == "stream-error" {
        events.push(sse(
            "error",
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        ));
    } else {
        events.push(sse(
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null},
                   "usage": {"output_tokens": 5}}),
        ));
        events.push(sse("message_stop", json!({"type": "message_stop"})));
    }
    let frames = futures::stream::iter(
        events
            .into_iter()
            .map(|b| Ok::<_, Infallible>(Frame::data(b))),
    );
    Response::builder()
        .header("content-type", "text/event-stream; charset=utf-8")
        .header("cache-control", "no-cache")
        .header("request-id", "req_fixture")
        .body(StreamBody::new(frames).boxed())
        .unwrap()
}

fn sse(name: &str, data: Value) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

/// Halves of a text, as the API splits deltas.
fn halves(text: &str) -> [&str; 2] {
    let mid = text
        .char_indices()
        .map(|(i, _)| i)
        .nth(text.chars().count() / 2)
        .unwrap_or(text.len());
    [&text[..mid], &text[mid..]]
}

/// `content_block_start`, its deltas and `content_block_stop` for one block.
fn block_events(index: usize, block: &Value) -> Vec<Bytes> {
    let delta = |d: Value| {
        sse(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": index, "delta": d}),
        )
    };
    let (start, deltas): (Value, Vec<Bytes>) = match block["type"].as_str().unwrap_or_default() {
        "text" => (
            json!({"type": "text", "text": ""}),
            halves(block["text"].as_str().unwrap_or_default())
                .iter()
                .map(|t| delta(json!({"type": "text_delta", "text": t})))
                .collect(),
        ),
        "thinking" => {
            let mut d: Vec<Bytes> = halves(block["thinking"].as_str().unwrap_or_default())
                .iter()
                .map(|t| delta(json!({"type": "thinking_delta", "thinking": t})))
                .collect();
            d.push(delta(
                json!({"type": "signature_delta", "signature": block["signature"]}),
            ));
            (json!({"type": "thinking", "thinking": ""}), d)
        }
        "tool_use" => {
            let input = block["input"].to_string();
            (
                json!({"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}),
                halves(&input)
                    .iter()
                    .map(|p| delta(json!({"type": "input_json_delta", "partial_json": p})))
                    .collect(),
            )
        }
        _ => (block.clone(), Vec::new()),
    };
    let mut out = vec![sse(
        "content_block_start",
        json!({"type": "content_block_start", "index": index, "content_block": start}),
    )];
    out.extend(deltas);
    out.push(sse(
        "content_block_stop",
        json!({"type": "content_block_stop", "index": index}),
    ));
    out
}
