//! A loopback server that speaks Amazon Bedrock's runtime API as its public reference describes
//! it: Converse (`POST /model/{id}/converse`), ConverseStream (`/converse-stream`, answered in
//! AWS event-stream framing with both CRCs, payloads padded with `p` as Bedrock pads them) and
//! InvokeModel (`/invoke`) for Titan and Cohere embedding models.
//!
//! Every request must carry a valid AWS SigV4 signature for the fixture's access key (recomputed
//! from the request exactly as received; an unknown key is `UnrecognizedClientException`, a
//! wrong signature `InvalidSignatureException`, both 403 as AWS answers them). Converse bodies
//! are checked: known top-level keys only, turns alternating from `user`, one known member per
//! content block, base64 image bytes, every `toolResult` answering a `toolUse` of the turn
//! before, and a `toolConfig` whenever tool blocks are present.
//!
//! Answers by model id: `text` (and anything unknown), `tools` (a tool call, then
//! [`TOOL_ANSWER`] once the result comes back), `image` (names the image format it got),
//! `error-429` (`ThrottlingException`, with a `retry-after` header as a proxy in front of
//! Bedrock may add), `too-long` (`ValidationException`: input is too long), `malformed` (an
//! answer without content); `amazon.titan-embed-*` and `cohere.embed-*` embed.

use crate::auth::{aws_credentials, check_signature};
use crate::fixture::{json_response, Body, Fixture, Received};
use bytes::Bytes;
use http::Response;
use http_body_util::BodyExt;
use serde_json::{json, Value};

/// The text of `text`'s answer.
pub const TEXT_ANSWER: &str = "Hello from Bedrock";
/// The answer of `tools` once the tool result is back.
pub const TOOL_ANSWER: &str = "It is 18C and sunny in Paris.";

/// Starts a server that accepts requests signed with `key_id` / `secret`.
pub async fn start(key_id: &str, secret: &str) -> Fixture {
    let creds = aws_credentials(key_id, secret);
    Fixture::start(move |r: Received| {
        let answer = handle(&r, &creds);
        async move { answer }
    })
    .await
}

/// An AWS error: the type in `x-amzn-errortype` and `{"message"}`.
fn error(status: u16, kind: &str, message: &str) -> Response<Body> {
    let mut r = json_response(status, &json!({"message": message}));
    let header = format!("{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/");
    r.headers_mut()
        .insert("x-amzn-errortype", header.parse().unwrap());
    r
}

fn validation(message: impl Into<String>) -> Response<Body> {
    error(400, "ValidationException", &message.into())
}

fn with_request_id(mut r: Response<Body>) -> Response<Body> {
    r.headers_mut()
        .insert("x-amzn-requestid", "fixture-req-1".parse().unwrap());
    r
}

fn handle(r: &Received, creds: &aws_credential_types::Credentials) -> Response<Body> {
    let auth = r.header("authorization").unwrap_or_default();
    if !auth.starts_with("AWS4-HMAC-SHA256 ") {
        return error(
            403,
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        );
    }
    if let Err(problem) = check_signature(creds, r.method.as_str(), &r.path, &r.headers, &r.raw) {
        return if problem.starts_with("unknown access key") {
            error(
                403,
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            )
        } else {
            error(403, "InvalidSignatureException", &format!("The request signature we calculated does not match the signature you provided. ({problem})"))
        };
    }
    if !auth.contains("/bedrock/aws4_request") {
        return error(
            403,
            "InvalidSignatureException",
            "Credential should be scoped to correct service: 'bedrock'.",
        );
    }
    let Some((model, action)) = route(&r.path) else {
        return error(404, "UnknownOperationException", "unknown operation");
    };
    if r.method != http::Method::POST {
        return error(405, "UnknownOperationException", "use POST");
    }
    with_request_id(match action.as_str() {
        "converse" | "converse-stream" => {
            if let Err(m) = check_converse(&r.body) {
                return validation(m);
            }
            converse(&model, &r.body, action == "converse-stream")
        }
        "invoke" => invoke(&model, &r.body),
        _ => error(404, "UnknownOperationException", "unknown operation"),
    })
}

/// `/model/{id}/{action}` with the id percent-decoded.
fn route(path: &str) -> Option<(String, String)> {
    let rest = path.split('?').next()?.strip_prefix("/model/")?;
    let (id, action) = rest.split_once('/')?;
    Some((percent_decode(id)?, action.to_string()))
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

const TOP_LEVEL: &[&str] = &[
    "messages",
    "system",
    "inferenceConfig",
    "toolConfig",
    "guardrailConfig",
    "additionalModelRequestFields",
    "additionalModelResponseFieldPaths",
    "promptVariables",
    "requestMetadata",
    "performanceConfig",
];
const BLOCKS: &[&str] = &[
    "text",
    "image",
    "document",
    "video",
    "toolUse",
    "toolResult",
    "reasoningContent",
    "cachePoint",
    "guardContent",
];
const INFERENCE: &[&str] = &["maxTokens", "temperature", "topP", "stopSequences"];

fn is_base64(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
}

/// The request rules of Converse this server enforces.
fn check_converse(body: &Value) -> Result<(), String> {
    let fields = body.as_object().ok_or("the body must be a JSON object")?;
    if let Some(k) = fields.keys().find(|k| !TOP_LEVEL.contains(&k.as_str())) {
        return Err(format!(
            "Malformed input request: extraneous key [{k}] is not permitted"
        ));
    }
    if let Some(c) = body.get("inferenceConfig").and_then(Value::as_object) {
        if let Some(k) = c.keys().find(|k| !INFERENCE.contains(&k.as_str())) {
            return Err(format!(
                "Malformed input request: extraneous key [{k}] is not permitted"
            ));
        }
    }
    let turns = body["messages"]
        .as_array()
        .filter(|t| !t.is_empty())
        .ok_or("A conversation must start with a user message.")?;
    let mut uses_tools = false;
    let mut previous_tool_ids: Vec<&str> = Vec::new();
    for (i, turn) in turns.iter().enumerate() {
        let expected = if i % 2 == 0 { "user" } else { "assistant" };
        if turn["role"] != expected {
            return Err("A conversation must alternate between user and assistant roles.".into());
        }
        let blocks = turn["content"]
            .as_array()
            .filter(|b| !b.is_empty())
            .ok_or(format!("messages.{i}.content must not be empty"))?;
        let mut tool_ids = Vec::new();
        for block in blocks {
            let keys: Vec<&String> = block
                .as_object()
                .map(|o| o.keys().collect())
                .unwrap_or_default();
            let [kind] = keys.as_slice() else {
                return Err(format!(
                    "messages.{i}: a content block must have exactly one member"
                ));
            };
            if !BLOCKS.contains(&kind.as_str()) {
                return Err(format!("messages.{i}: unknown content block `{kind}`"));
            }
            match kind.as_str() {
                "text" if !block["text"].is_string() => {
                    return Err(format!("messages.{i}: text must be a string"))
                }
                "image" => {
                    let image = &block["image"];
                    if !["png", "jpeg", "gif", "webp"]
                        .contains(&image["format"].as_str().unwrap_or(""))
                    {
                        return Err(format!("messages.{i}: unsupported image format"));
                    }
                    if !image["source"]["bytes"].as_str().is_some_and(is_base64) {
                        return Err(format!("messages.{i}: image bytes must be base64"));
                    }
                }
                "toolUse" => {
                    uses_tools = true;
                    let used = &block["toolUse"];
                    if !used["input"].is_object() || !used["name"].is_string() {
                        return Err(format!(
                            "messages.{i}: toolUse needs a name and an input object"
                        ));
                    }
                    tool_ids.push(used["toolUseId"].as_str().unwrap_or_default());
                }
                "toolResult" => {
                    uses_tools = true;
                    let id = block["toolResult"]["toolUseId"]
                        .as_str()
                        .unwrap_or_default();
                    if !previous_tool_ids.contains(&id) {
                        return Err(format!("messages.{i}: the toolResult {id:?} does not answer a toolUse of the previous turn"));
                    }
                }
                _ => {}
            }
        }
        previous_tool_ids = tool_ids;
    }
    let tools = body["toolConfig"]["tools"].as_array();
    if uses_tools && tools.is_none_or(|t| t.is_empty()) {
        return Err("The toolConfig field must be defined when using toolUse and toolResult content blocks.".into());
    }
    for tool in tools.into_iter().flatten() {
        let spec = &tool["toolSpec"];
        if !spec["name"].is_string() || !spec["inputSchema"]["json"].is_object() {
            return Err(
                "toolConfig.tools: each tool needs toolSpec.name and toolSpec.inputSchema.json"
                    .into(),
            );
        }
    }
    Ok(())
}

/// What the model says, as content blocks, and why it stopped.
fn answer_blocks(model: &str, body: &Value) -> (Vec<Value>, &'static str) {
    let turns = body["messages"].as_array().cloned().unwrap_or_default();
    let last = turns.last().cloned().unwrap_or(Value::Null);
    let has = |kind: &str| {
        last["content"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|b| b.get(kind).is_some())
            .cloned()
    };
    match model {
        "tools" if has("toolResult").is_some() => (vec![json!({"text": TOOL_ANSWER})], "end_turn"),
        "tools" => (
            vec![
                json!({"toolUse": {"toolUseId": "tooluse_fixture1", "name": "get_weather",
                                     "input": {"city": "Paris"}}}),
            ],
            "tool_use",
        ),
        "image" => {
            let text = match has("image") {
                Some(b) => format!(
                    "I see a {} image",
                    b["image"]["format"].as_str().unwrap_or("?")
                ),
                None => "I see no image".to_string(),
            };
            (vec![json!({"text": text})], "end_turn")
        }
        _ => (vec![json!({"text": TEXT_ANSWER})], "end_turn"),
    }
}

const USAGE: fn() -> Value = || json!({"inputTokens": 12, "outputTokens": 6, "totalTokens": 18});

fn converse(model: &str, body: &Value, stream: bool) -> Response<Body> {
    match model {
        "error-429" => {
            let mut r = error(
                429,
                "ThrottlingException",
                "Too many requests, please wait before trying again.",
            );
            r.headers_mut().insert("retry-after", "7".parse().unwrap());
            return r;
        }
        "too-long" => return validation("Input is too long for requested model."),
        "malformed" => {
            return json_response(
                200,
                &json!({"output": {"message": {"role": "assistant"}}, "stopReason": "end_turn"}),
            )
        }
        _ => {}
    }
    let (blocks, stop) = answer_blocks(model, body);
    if !stream {
        return json_response(
            200,
            &json!({"output": {"message": {"role": "assistant", "content": blocks}},
                    "stopReason": stop, "usage": USAGE(), "metrics": {"latencyMs": 42}}),
        );
    }
    let mut frames = vec![event("messageStart", json!({"role": "assistant"}))];
    for (index, block) in blocks.iter().enumerate() {
        if let Some(text) = block["text"].as_str() {
            // Split after each space, as the API streams text in small pieces.
            for piece in text.split_inclusive(' ') {
                frames.push(event(
                    "contentBlockDelta",
                    json!({"contentBlockIndex": index, "delta": {"text": piece}}),
                ));
            }
        } else if let Some(used) = block.get("toolUse") {
            frames.push(event(
                "contentBlockStart",
                json!({"contentBlockIndex": index,
                "start": {"toolUse": {"toolUseId": used["toolUseId"], "name": used["name"]}}}),
            ));
            let input = used["input"].to_string();
            let (a, b) = input.split_at(input.len() / 2);
            for piece in [a, b] {
                frames.push(event(
                    "contentBlockDelta",
                    json!({"contentBlockIndex": index, "delta": {"toolUse": {"input": piece}}}),
                ));
            }
        }
        frames.push(event(
            "contentBlockStop",
            json!({"contentBlockIndex": index}),
        ));
    }
    frames.push(event("messageStop", json!({"stopReason": stop})));
    frames.push(event(
        "metadata",
        json!({"usage": USAGE(), "metrics": {"latencyMs": 42}}),
    ));
    Response::builder()
        .header("content-type", "application/vnd.amazon.eventstream")
        .body(http_body_util::Full::new(Bytes::from(frames.concat())).boxed())
        .expect("static headers are valid")
}

/// One event-stream message of `:event-type` `kind`, its payload padded with `p` as Bedrock
/// pads its events.
fn event(kind: &str, mut payload: Value) -> Vec<u8> {
    payload["p"] = json!("abcdefghijklmnopqrstuvwxyzABCDEF"[..(kind.len() % 17) + 4]);
    encode(
        &[
            (":event-type", kind),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        payload.to_string().as_bytes(),
    )
}

/// An AWS event-stream message with string headers: prelude (total length, headers length,
/// CRC32 of both), headers, payload, CRC32 of everything before it.
pub fn encode(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut head = Vec::new();
    for (name, value) in headers {
        head.push(name.len() as u8);
        head.extend_from_slice(name.as_bytes());
        head.push(7);
        head.extend_from_slice(&(value.len() as u16).to_be_bytes());
        head.extend_from_slice(value.as_bytes());
    }
    let total = (12 + head.len() + payload.len() + 4) as u32;
    let mut out = Vec::with_capacity(total as usize);
    out.extend_from_slice(&total.to_be_bytes());
    out.extend_from_slice(&(head.len() as u32).to_be_bytes());
    let prelude_crc = crc32fast::hash(&out);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    out.extend_from_slice(&head);
    out.extend_from_slice(payload);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

/// A vector that says which text it embeds: its first number is the text's length times
/// `scale`.
fn vector(text: &str, scale: f64, second: f64) -> Value {
    json!([text.chars().count() as f64 * scale, second, 1.0])
}

fn invoke(model: &str, body: &Value) -> Response<Body> {
    let extraneous = |allowed: &[&str]| {
        body.as_object()
            .and_then(|o| o.keys().find(|k| !allowed.contains(&k.as_str())).cloned())
    };
    if model.contains("titan-embed") {
        if let Some(k) = extraneous(&["inputText", "dimensions", "normalize", "embeddingTypes"]) {
            return validation(format!(
                "Malformed input request: extraneous key [{k}] is not permitted"
            ));
        }
        let Some(text) = body["inputText"].as_str() else {
            return validation("Malformed input request: required key [inputText] not found");
        };
        return json_response(
            200,
            &json!({"embedding": vector(text, 0.5, -0.25),
                    "inputTextTokenCount": text.split_whitespace().count().max(1)}),
        );
    }
    if model.contains("cohere.embed") {
        if let Some(k) = extraneous(&[
            "texts",
            "input_type",
            "embedding_types",
            "truncate",
            "images",
        ]) {
            return validation(format!(
                "Malformed input request: extraneous key [{k}] is not permitted"
            ));
        }
        let Some(texts) = body["texts"].as_array() else {
            return validation("Malformed input request: required key [texts] not found");
        };
        let input_types = [
            "search_document",
            "search_query",
            "classification",
            "clustering",
        ];
        if !input_types.contains(&body["input_type"].as_str().unwrap_or("")) {
            return validation("Malformed input request: input_type is required");
        }
        let vectors: Vec<Value> = texts
            .iter()
            .map(|t| vector(t.as_str().unwrap_or_default(), 0.25, -0.5))
            .collect();
        let embeddings = match body["embedding_types"].as_array() {
            Some(types) if types.iter().any(|t| t != "float") => {
                return validation("the fixture embeds as float only")
            }
            Some(_) => json!({"float": vectors}),
            None => json!(vectors),
        };
        return json_response(
            200,
            &json!({"id": "emb-fixture", "texts": texts, "embeddings": embeddings,
            "response_type": if embeddings.is_object() {"embeddings_by_type"} else {"embeddings_floats"}}),
        );
    }
    validation(format!(
        "The provided model identifier {model} is invalid for InvokeModel here."
    ))
}
