//! A loopback server that speaks Cohere's v2 API as its reference describes it, and checks what
//! an adapter sends: `POST /v2/chat` and `/v2/embed`, a bearer key, roles `system` / `user` /
//! `assistant` / `tool`, every `tool` message answering a `tool_calls` id of an earlier
//! assistant message, `p` / `k` rather than OpenAI's names, and `input_type` plus
//! `embedding_types` on embeddings. Streams are its named SSE events, ending with
//! `message-end`. Errors come as `{"id", "message"}`.
//!
//! Answers by model name: `text` (and anything unknown), `tools`, `image`, `error-429`,
//! `too-long`, `malformed`, `embed`.

use crate::fixture::{json_response, sse_response, Body, Fixture, Received};
use http::Response;
use serde_json::{json, Value};

/// The text of the `text` model's answer.
pub const TEXT_ANSWER: &str = "Hello from Cohere";
/// The answer once a tool result comes back.
pub const TOOL_ANSWER: &str = "It is 18C in Paris.";

/// Starts a server that wants `key` as a bearer token.
pub async fn start(key: &str) -> Fixture {
    Fixture::with_credential(key, handle).await
}

fn error(status: u16, message: &str) -> Response<Body> {
    json_response(status, &json!({"id": "err-fixture", "message": message}))
}

fn handle(r: &Received, key: &str) -> Response<Body> {
    if r.header("authorization") != Some(&format!("Bearer {key}")) {
        return error(401, "invalid api token");
    }
    match r.path.as_str() {
        "/v2/chat" => match check(&r.body) {
            Ok(()) => chat(&r.body),
            Err(m) => error(400, &m),
        },
        "/v2/embed" => embed(&r.body),
        _ => error(404, "not found"),
    }
}

/// The request rules this server enforces.
fn check(body: &Value) -> Result<(), String> {
    for openai_name in ["top_p", "top_k", "stop", "max_completion_tokens"] {
        if body.get(openai_name).is_some() {
            return Err(format!("invalid request: unknown field `{openai_name}`"));
        }
    }
    let messages = body["messages"].as_array().ok_or("messages is required")?;
    let mut called: Vec<String> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let role = m["role"].as_str().unwrap_or_default();
        if !matches!(role, "system" | "user" | "assistant" | "tool") {
            return Err(format!("messages[{i}]: invalid role {role:?}"));
        }
        for call in m["tool_calls"].as_array().into_iter().flatten() {
            if !call["function"]["arguments"].is_string() {
                return Err(format!(
                    "messages[{i}].tool_calls: arguments must be a string"
                ));
            }
            called.push(call["id"].as_str().unwrap_or_default().into());
        }
        if role == "tool" {
            let id = m["tool_call_id"].as_str().unwrap_or_default();
            if !called.iter().any(|c| c == id) {
                return Err(format!(
                    "messages[{i}]: tool_call_id {id:?} answers no tool call"
                ));
            }
        }
    }
    Ok(())
}

fn usage() -> Value {
    json!({"billed_units": {"input_tokens": 8, "output_tokens": 4},
           "tokens": {"input_tokens": 70, "output_tokens": 4}})
}

fn chat(body: &Value) -> Response<Body> {
    let model = body["model"].as_str().unwrap_or_default();
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    let last = messages.last().cloned().unwrap_or(Value::Null);
    let (text, calls) = match model {
        "error-429" => {
            let mut r = error(429, "You are using a Trial key, which is limited to 10 API calls / minute.");
            r.headers_mut().insert("retry-after", "7".parse().unwrap());
            return r;
        }
        "too-long" => {
            return error(
                400,
                "too many tokens: total number of tokens in the prompt cannot exceed 128000 - received 250000",
            )
        }
        "malformed" => return json_response(200, &json!({"id": "x", "finish_reason": "COMPLETE"})),
        "tools" if last["role"] == "tool" => (TOOL_ANSWER.to_string(), None),
        "tools" => (
            String::new(),
            Some(json!([{"id": "get_weather_fx1", "type": "function",
                         "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}])),
        ),
        "image" => {
            let has_image = last["content"]
                .as_array()
                .is_some_and(|parts| parts.iter().any(|p| p["type"] == "image_url"));
            if !has_image {
                return error(400, "no image was sent");
            }
            ("I see an image.".to_string(), None)
        }
        _ => (TEXT_ANSWER.to_string(), None),
    };
    let finish = if calls.is_some() {
        "TOOL_CALL"
    } else {
        "COMPLETE"
    };
    if body["stream"] != true {
        let mut message = json!({"role": "assistant"});
        match &calls {
            Some(c) => {
                message["tool_plan"] = json!("I will look up the weather.");
                message["tool_calls"] = c.clone();
            }
            None => message["content"] = json!([{"type": "text", "text": text}]),
        }
        return json_response(
            200,
            &json!({"id": "chat-fx", "finish_reason": finish, "message": message, "usage": usage()}),
        );
    }
    let mut events = vec![(
        "message-start",
        json!({"id": "chat-fx", "type": "message-start",
               "delta": {"message": {"role": "assistant", "content": [], "tool_plan": "", "tool_calls": [], "citations": []}}}),
    )];
    match &calls {
        Some(c) => {
            events.push(("tool-plan-delta", json!({"type": "tool-plan-delta", "delta": {"message": {"tool_plan": "I will look up the weather."}}})));
            let call = &c[0];
            events.push(("tool-call-start", json!({"type": "tool-call-start", "index": 0,
                "delta": {"message": {"tool_calls": {"id": call["id"], "type": "function",
                                                     "function": {"name": call["function"]["name"], "arguments": ""}}}}})));
            for piece in ["{\"city\":", "\"Paris\"}"] {
                events.push((
                    "tool-call-delta",
                    json!({"type": "tool-call-delta", "index": 0,
                    "delta": {"message": {"tool_calls": {"function": {"arguments": piece}}}}}),
                ));
            }
            events.push((
                "tool-call-end",
                json!({"type": "tool-call-end", "index": 0}),
            ));
        }
        None => {
            events.push((
                "content-start",
                json!({"type": "content-start", "index": 0,
                "delta": {"message": {"content": {"type": "text", "text": ""}}}}),
            ));
            let (a, b) = text.split_at(text.len() / 2);
            for piece in [a, b] {
                events.push((
                    "content-delta",
                    json!({"type": "content-delta", "index": 0,
                    "delta": {"message": {"content": {"text": piece}}}}),
                ));
            }
            events.push(("content-end", json!({"type": "content-end", "index": 0})));
        }
    }
    events.push((
        "message-end",
        json!({"type": "message-end", "delta": {"finish_reason": finish, "usage": usage()}}),
    ));
    let text: String = events
        .iter()
        .map(|(name, data)| format!("event: {name}\ndata: {data}\n\n"))
        .collect();
    sse_response(text)
}

fn embed(body: &Value) -> Response<Body> {
    let Some(texts) = body["texts"].as_array() else {
        return error(400, "texts is required");
    };
    if !body["input_type"].is_string() {
        return error(400, "input_type is required for embed models v3 and higher");
    }
    let Some(kind) = body["embedding_types"][0].as_str() else {
        return error(400, "embedding_types is required");
    };
    let vectors: Vec<Value> = (0..texts.len())
        .map(|i| match kind {
            "float" => json!([0.75, -0.5, i as f64]),
            _ => json!([12, -7, i]),
        })
        .collect();
    json_response(
        200,
        &json!({"id": "emb-fx", "texts": texts, "embeddings": {kind: vectors},
                "meta": {"billed_units": {"input_tokens": texts.len()}}}),
    )
}
