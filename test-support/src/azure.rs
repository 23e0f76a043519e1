//! A loopback server that speaks Azure OpenAI's data-plane API as its reference describes it,
//! and checks what an adapter sends: `POST /openai/deployments/{deployment}/chat/completions` (or
//! `/embeddings`) with an `api-version` query, the key in `api-key` (or an Entra ID token as
//! `authorization: Bearer`), never both. Azure's errors come in its shape (`{"error": {"code",
//! "message"}}`), streams start with its `prompt_filter_results` chunk.
//!
//! Answers by deployment name, like the Anthropic fixture: `text` (and anything unknown),
//! `tools` (a call, then text once the result comes back), `image`, `error-429`, `too-long`,
//! `filtered` (a content-filter refusal), `malformed`, `embed`.

use crate::fixture::{json_response, sse_response, Body, Fixture, Received};
use http::Response;
use serde_json::{json, Value};

/// The text of the `text` deployment's answer.
pub const TEXT_ANSWER: &str = "Hello from Azure";
/// The answer once a tool result comes back.
pub const TOOL_ANSWER: &str = "It is 18C in Paris.";

/// Starts a server that accepts `credential` as the `api-key` header or as a bearer token.
pub async fn start(credential: &str) -> Fixture {
    Fixture::with_credential(credential, handle).await
}

fn error(status: u16, code: &str, message: &str) -> Response<Body> {
    let mut r = json_response(
        status,
        &json!({"error": {"code": code, "message": message}}),
    );
    r.headers_mut()
        .insert("apim-request-id", "azure-fixture".parse().unwrap());
    r
}

fn handle(r: &Received, credential: &str) -> Response<Body> {
    let key = r.header("api-key");
    let bearer = r
        .header("authorization")
        .and_then(|a| a.strip_prefix("Bearer "));
    let authorized = match (key, bearer) {
        (Some(k), None) => k == credential,
        (None, Some(t)) => t == credential,
        _ => false,
    };
    if !authorized {
        return error(
            401,
            "401",
            "Access denied due to invalid subscription key or wrong API endpoint.",
        );
    }
    if !r
        .query()
        .split('&')
        .any(|p| p.starts_with("api-version=") && p.len() > 12)
    {
        return error(404, "404", "Resource not found");
    }
    let path = r.path.split('?').next().unwrap_or_default();
    let Some((deployment, operation)) = path
        .strip_prefix("/openai/deployments/")
        .and_then(|rest| rest.split_once('/'))
    else {
        return error(404, "404", "Resource not found");
    };
    if r.method != http::Method::POST {
        return error(405, "405", "use POST");
    }
    let body = &r.body;
    match operation {
        "chat/completions" if body["messages"].is_array() => chat(deployment, body),
        "embeddings" if body["input"].is_string() || body["input"].is_array() => embed(body),
        "chat/completions" | "embeddings" => error(400, "BadRequest", "invalid request body"),
        _ => error(404, "404", "Resource not found"),
    }
}

fn usage() -> Value {
    json!({"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13})
}

fn last_message(body: &Value) -> Value {
    body["messages"]
        .as_array()
        .and_then(|m| m.last())
        .cloned()
        .unwrap_or(Value::Null)
}

fn chat(deployment: &str, body: &Value) -> Response<Body> {
    let last = last_message(body);
    let message = match deployment {
        "error-429" => {
            let mut r = error(429, "429", "Requests to the ChatCompletions_Create Operation have exceeded call rate limit. Please retry after 7 seconds.");
            r.headers_mut().insert("retry-after", "7".parse().unwrap());
            return r;
        }
        "too-long" => return error(400, "context_length_exceeded", "This model's maximum context length is 128000 tokens. However, your messages resulted in 250000 tokens."),
        "filtered" => return error(400, "content_filter", "The response was filtered due to the prompt triggering Azure OpenAI's content management policy."),
        "malformed" => return json_response(200, &json!({"choices": "none"})),
        "tools" if last["role"] == "tool" => json!({"role": "assistant", "content": TOOL_ANSWER}),
        "tools" => json!({"role": "assistant", "content": null, "tool_calls": [{"id": "call_az1", "type": "function",
                           "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]}),
        "image" => {
            let has_image = last["content"]
                .as_array()
                .is_some_and(|parts| parts.iter().any(|p| p["type"] == "image_url"));
            if !has_image {
                return error(400, "BadRequest", "no image was sent");
            }
            json!({"role": "assistant", "content": "I see an image."})
        }
        _ => json!({"role": "assistant", "content": TEXT_ANSWER}),
    };
    let finish = if message["tool_calls"].is_array() {
        "tool_calls"
    } else {
        "stop"
    };
    if body["stream"] != true {
        return json_response(
            200,
            &json!({"id": "chatcmpl-az", "object": "chat.completion", "created": 1_700_000_000u64,
                    "model": "gpt-4o-2024-08-06", "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}],
                    "choices": [{"index": 0, "message": message, "finish_reason": finish,
                                 "content_filter_results": {}}],
                    "usage": usage()}),
        );
    }
    let chunk = |choices: Value| {
        json!({"id": "chatcmpl-az", "object": "chat.completion.chunk", "created": 1_700_000_000u64,
               "model": "gpt-4o-2024-08-06", "choices": choices})
    };
    let mut events = vec![
        json!({"id": "", "object": "", "created": 0, "model": "", "choices": [],
                                 "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}]}),
    ];
    events.push(chunk(
        json!([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]),
    ));
    if let Some(calls) = message["tool_calls"].as_array() {
        let call = &calls[0];
        events.push(chunk(json!([{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": call["id"], "type": "function",
                                   "function": {"name": call["function"]["name"], "arguments": ""}}]}}])));
        for piece in ["{\"city\":", "\"Paris\"}"] {
            events.push(chunk(json!([{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}}])));
        }
    } else {
        let text = message["content"].as_str().unwrap_or_default();
        let (a, b) = text.split_at(text.len() / 2);
        for piece in [a, b] {
            events.push(chunk(
                json!([{"index": 0, "delta": {"content": piece}, "finish_reason": null}]),
            ));
        }
    }
    events.push(chunk(
        json!([{"index": 0, "delta": {}, "finish_reason": finish}]),
    ));
    if body["stream_options"]["include_usage"] == true {
        let mut last = chunk(json!([]));
        last["usage"] = usage();
        events.push(last);
    }
    let mut text = String::new();
    for e in events {
        text += &format!("data: {e}\n\n");
    }
    text += "data: [DONE]\n\n";
    sse_response(text)
}

fn embed(body: &Value) -> Response<Body> {
    let inputs = match &body["input"] {
        Value::Array(a) => a.len(),
        _ => 1,
    };
    let data: Vec<Value> = (0..inputs)
        .map(|i| json!({"object": "embedding", "index": i, "embedding": [0.5, -0.25, i as f64]}))
        .collect();
    json_response(
        200,
        &json!({"object": "list", "data": data, "model": "text-embedding-3-small",
                "usage": {"prompt_tokens": inputs, "total_tokens": inputs}}),
    )
}
