//! A loopback server that speaks Google AI Studio's Gemini API as its reference describes it,
//! and checks what an adapter sends: `POST /v1beta/models/{model}:generateContent`,
//! `:streamGenerateContent?alt=sse` and `:batchEmbedContents`, the key in `x-goog-api-key` and
//! never in the URL, `contents` with `user` / `model` roles only, every `functionResponse`
//! answering a `functionCall` of the turn before, and the thought signature this server put on
//! a function call coming back with it. Errors in Google's shape (`{"error": {"code",
//! "message", "status", "details"}}`, a 429 with `RetryInfo`); streams use `\r\n\r\n`.
//!
//! Answers by model name: `text` (and anything unknown), `tools`, `image`, `error-429`,
//! `too-long`, `blocked` (a prompt blocked for safety), `malformed`, `embed`.

use crate::fixture::{json_response, sse_response, Body, Fixture, Received};
use http::Response;
use serde_json::{json, Value};

/// The text of the `text` model's answer.
pub const TEXT_ANSWER: &str = "Hello from Gemini";
/// The answer once a function response comes back.
pub const TOOL_ANSWER: &str = "It is 18C in Paris.";
/// The thought signature this server puts on its function calls.
pub const THOUGHT_SIGNATURE: &str = "CiQB0e2Kb-gemini-fixture-signature";

/// Starts a server that accepts the key `key` (its API base is the URL; the adapter adds
/// `/v1beta`).
pub async fn start(key: &str) -> Fixture {
    Fixture::with_credential(key, handle).await
}

fn error(code: u16, status: &str, message: &str) -> Response<Body> {
    json_response(
        code,
        &json!({"error": {"code": code, "message": message, "status": status}}),
    )
}

fn handle(r: &Received, key: &str) -> Response<Body> {
    let query = r.query();
    if query.split('&').any(|p| p.starts_with("key=")) {
        return error(
            400,
            "INVALID_ARGUMENT",
            "the key must not travel in the URL",
        );
    }
    if r.header("x-goog-api-key") != Some(key) {
        return error(
            400,
            "INVALID_ARGUMENT",
            "API key not valid. Please pass a valid API key.",
        );
    }
    let path = r.path.split('?').next().unwrap_or_default();
    let Some((model, method)) = path
        .strip_prefix("/v1beta/models/")
        .and_then(|rest| rest.split_once(':'))
    else {
        return error(404, "NOT_FOUND", "no such method");
    };
    match method {
        "generateContent" => generate(model, &r.body, false),
        "streamGenerateContent" if query.split('&').any(|p| p == "alt=sse") => {
            generate(model, &r.body, true)
        }
        "batchEmbedContents" => embed(model, &r.body),
        _ => error(404, "NOT_FOUND", "no such method"),
    }
}

/// The request rules this server enforces.
fn check(body: &Value) -> Result<(), String> {
    let contents = body["contents"]
        .as_array()
        .filter(|c| !c.is_empty())
        .ok_or("contents is not specified")?;
    let mut called: Vec<String> = Vec::new();
    for (i, c) in contents.iter().enumerate() {
        let role = c["role"].as_str().unwrap_or_default();
        if role != "user" && role != "model" {
            return Err(format!(
                "contents[{i}].role: please use a valid role: user, model"
            ));
        }
        let parts = c["parts"]
            .as_array()
            .filter(|p| !p.is_empty())
            .ok_or(format!("contents[{i}].parts: must not be empty"))?;
        let mut calls = Vec::new();
        for (j, p) in parts.iter().enumerate() {
            if let Some(call) = p.get("functionCall") {
                if p["thoughtSignature"] != THOUGHT_SIGNATURE {
                    return Err(format!(
                        "contents[{i}].parts[{j}]: Function call is missing a thought_signature"
                    ));
                }
                calls.push(call["name"].as_str().unwrap_or_default().to_string());
            }
            if let Some(response) = p.get("functionResponse") {
                let name = response["name"].as_str().unwrap_or_default();
                if role != "user"
                    || !called.iter().any(|c| c == name)
                    || !response["response"].is_object()
                {
                    return Err(format!("contents[{i}].parts[{j}]: a function response must answer a function call of the turn before"));
                }
            }
        }
        called = calls;
    }
    Ok(())
}

fn usage() -> Value {
    json!({"promptTokenCount": 8, "candidatesTokenCount": 4, "totalTokenCount": 12})
}

fn answer_parts(model: &str, body: &Value) -> Result<Vec<Value>, Box<Response<Body>>> {
    let contents = body["contents"].as_array().cloned().unwrap_or_default();
    let last = contents.last().cloned().unwrap_or(Value::Null);
    let last_parts = last["parts"].as_array().cloned().unwrap_or_default();
    match model {
        "tools"
            if last_parts
                .iter()
                .any(|p| p.get("functionResponse").is_some()) =>
        {
            Ok(vec![json!({"text": TOOL_ANSWER})])
        }
        "tools" => Ok(vec![
            json!({"functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                                  "thoughtSignature": THOUGHT_SIGNATURE}),
        ]),
        "image" => {
            let mime = last_parts
                .iter()
                .find_map(|p| p["inlineData"]["mimeType"].as_str())
                .ok_or_else(|| Box::new(error(400, "INVALID_ARGUMENT", "no image was sent")))?;
            Ok(vec![json!({"text": format!("I see an image ({mime}).")})])
        }
        _ => Ok(vec![json!({"text": TEXT_ANSWER})]),
    }
}

pub(crate) fn generate(model: &str, body: &Value, stream: bool) -> Response<Body> {
    match model {
        "error-429" => {
            return json_response(
                429,
                &json!({"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).",
                                  "status": "RESOURCE_EXHAUSTED",
                                  "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"}]}}),
            )
        }
        "too-long" => {
            return error(
                400,
                "INVALID_ARGUMENT",
                "The input token count (250000) exceeds the maximum number of tokens allowed (1048576).",
            )
        }
        "blocked" => {
            return json_response(
                200,
                &json!({"promptFeedback": {"blockReason": "SAFETY", "safetyRatings": []},
                        "usageMetadata": {"promptTokenCount": 8, "totalTokenCount": 8}}),
            )
        }
        "malformed" => return json_response(200, &json!({"candidates": "none"})),
        _ => {}
    }
    if let Err(m) = check(body) {
        return error(400, "INVALID_ARGUMENT", &m);
    }
    let parts = match answer_parts(model, body) {
        Ok(p) => p,
        Err(response) => return *response,
    };
    let whole = |parts: Vec<Value>, finish: Option<&str>| {
        let mut candidate = json!({"content": {"role": "model", "parts": parts}, "index": 0});
        let mut out = json!({"candidates": [], "modelVersion": "gemini-2.5-flash", "responseId": "gem-resp-1"});
        if let Some(f) = finish {
            candidate["finishReason"] = json!(f);
            out["usageMetadata"] = usage();
        }
        out["candidates"] = json!([candidate]);
        out
    };
    if !stream {
        return json_response(200, &whole(parts, Some("STOP")));
    }
    let mut events = Vec::new();
    match parts[0]["text"].as_str() {
        Some(text) => {
            let (a, b) = text.split_at(text.len() / 2);
            events.push(whole(vec![json!({"text": a})], None));
            events.push(whole(vec![json!({"text": b})], Some("STOP")));
        }
        None => events.push(whole(parts, Some("STOP"))),
    }
    let mut text = String::new();
    for e in events {
        text += &format!("data: {e}\r\n\r\n");
    }
    sse_response(text)
}

fn embed(model: &str, body: &Value) -> Response<Body> {
    let Some(requests) = body["requests"].as_array() else {
        return error(400, "INVALID_ARGUMENT", "requests is required");
    };
    let mut embeddings = Vec::new();
    for (i, r) in requests.iter().enumerate() {
        if r["model"] != format!("models/{model}") {
            return error(
                400,
                "INVALID_ARGUMENT",
                &format!("requests[{i}].model must be models/{model}"),
            );
        }
        if !r["content"]["parts"][0]["text"].is_string() {
            return error(
                400,
                "INVALID_ARGUMENT",
                &format!("requests[{i}].content has no text"),
            );
        }
        embeddings.push(json!({"values": [0.25, -0.5, i as f64]}));
    }
    json_response(200, &json!({"embeddings": embeddings}))
}
