//! OpenAI's JSON wire format on the client side, converted to and from the WIT types adapters
//! take. Fields the contract does not model pass through in `extra`.

use crate::error::ApiError;
use base64::Engine as _;
use serde_json::{json, Map, Value};
use wasmgate_openai_wire::{self as wire_json, known, Block, Precedence};
use wasmgate_runtime::types::*;

/// A parsed `/v1/chat/completions` request.
pub struct ChatCall {
    /// The model name the client asked for.
    pub model: String,
    /// `stream: true`.
    pub stream: bool,
    /// The request for the adapter (its `model` is replaced per deployment).
    pub request: ChatRequest,
    /// Per-request fallbacks.
    pub fallbacks: Option<Vec<String>>,
    /// What the request asks of the response cache.
    pub cache: crate::cache::CacheControl,
}

/// Top-level chat fields the contract models; everything else goes to `extra`.
const CHAT_FIELDS: &[&str] = &[
    "model",
    "messages",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    "temperature",
    "top_p",
    "top_k",
    "max_tokens",
    "max_completion_tokens",
    "stop",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "n",
    "user",
    "logprobs",
    "top_logprobs",
    "reasoning_effort",
    "stream",
    "stream_options",
];

type Res<T> = Result<T, ApiError>;

fn bad(param: &str, message: impl Into<String>) -> ApiError {
    ApiError::invalid_param(param, message)
}

fn opt_f64(body: &Map<String, Value>, key: &str) -> Res<Option<f64>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_f64()
            .map(Some)
            .ok_or_else(|| bad(key, format!("`{key}` must be a number"))),
    }
}

fn opt_u32(body: &Map<String, Value>, key: &str) -> Res<Option<u32>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| bad(key, format!("`{key}` must be a non-negative integer"))),
    }
}

fn opt_bool(body: &Map<String, Value>, key: &str) -> Res<Option<bool>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(bad(key, format!("`{key}` must be a boolean"))),
    }
}

fn opt_str(body: &Map<String, Value>, key: &str, param: &str) -> Res<Option<String>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(bad(param, format!("`{param}` must be a string"))),
    }
}

fn object<'a>(v: &'a Value, param: &str) -> Res<&'a Map<String, Value>> {
    v.as_object()
        .ok_or_else(|| bad(param, format!("`{param}` must be an object")))
}

/// Body keys for the gateway, never passed to a provider (LiteLLM's per-request `fallbacks`
/// and `cache`).
const ROUTING_FIELDS: &[&str] = &["fallbacks", "cache"];

fn extra(body: &Map<String, Value>, known: &[&str]) -> Option<String> {
    let mut known = known.to_vec();
    known.extend_from_slice(ROUTING_FIELDS);
    wire_json::unknown_keys(body, &known, &[])
}

/// LiteLLM's per-request `cache`: `{"no-cache": true}`, `{"no-store": true}`, `{"ttl": s}`
/// (other keys LiteLLM knows, such as `s-maxage` or `namespace`, are ignored).
pub(crate) fn cache_of(body: &Map<String, Value>) -> Res<crate::cache::CacheControl> {
    let Some(v) = body.get("cache").filter(|v| !v.is_null()) else {
        return Ok(Default::default());
    };
    let cache = object(v, "cache")?;
    let ttl = match cache.get("ttl") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_f64()
                .filter(|s| s.is_finite() && *s >= 0.0 && *s <= 31_536_000.0)
                .map(std::time::Duration::from_secs_f64)
                .ok_or_else(|| bad("cache", "`cache.ttl` must be seconds, 0 to one year"))?,
        ),
    };
    Ok(crate::cache::CacheControl {
        no_cache: opt_bool(cache, "no-cache")?.unwrap_or(false),
        no_store: opt_bool(cache, "no-store")?.unwrap_or(false),
        ttl,
    })
}

/// LiteLLM's per-request `fallbacks`: model names to try, in order, after the requested one
/// failed (strings, or `{"model": name}` objects).
fn fallbacks_of(body: &Map<String, Value>) -> Res<Option<Vec<String>>> {
    let Some(v) = body.get("fallbacks").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let names = v.as_array().and_then(|items| {
        items
            .iter()
            .map(|i| {
                i.as_str()
                    .or_else(|| i.get("model").and_then(Value::as_str))
                    .map(str::to_string)
            })
            .collect::<Option<Vec<_>>>()
    });
    names
        .map(Some)
        .ok_or_else(|| bad("fallbacks", "`fallbacks` must be a list of model names"))
}

/// Merges a record's `extra` into `out`; keys the record set itself win.
fn merge_extra(out: &mut Map<String, Value>, extra: &Option<String>) {
    if let Some(Value::Object(more)) = extra.as_deref().and_then(|e| serde_json::from_str(e).ok()) {
        wire_json::merge_extra(out, more, Precedence::Record);
    }
}

/// A message's reasoning: `thinking_blocks` (LiteLLM's name: `{type: thinking, thinking,
/// signature}` and `{type: redacted_thinking, data}`), else `reasoning_content` as one block.
fn reasoning_blocks(m: &Map<String, Value>, param: &str) -> Res<Vec<ReasoningBlock>> {
    match m.get("thinking_blocks") {
        None | Some(Value::Null) => {}
        Some(Value::Array(blocks)) => {
            return blocks
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    let p = format!("{param}.thinking_blocks[{i}]");
                    let b = object(b, &p)?;
                    match b.get("type").and_then(Value::as_str) {
                        Some("redacted_thinking") => Ok(ReasoningBlock::Redacted(
                            opt_str(b, "data", &format!("{p}.data"))?
                                .ok_or_else(|| bad(&p, "a redacted_thinking block needs `data`"))?,
                        )),
                        Some("thinking") | None => Ok(ReasoningBlock::Thinking(Thinking {
                            text: opt_str(b, "thinking", &format!("{p}.thinking"))?
                                .unwrap_or_default(),
                            signature: opt_str(b, "signature", &format!("{p}.signature"))?,
                        })),
                        Some(_) => Err(bad(
                            &format!("{p}.type"),
                            "a thinking block's `type` must be thinking or redacted_thinking",
                        )),
                    }
                })
                .collect();
        }
        Some(_) => {
            return Err(bad(
                &format!("{param}.thinking_blocks"),
                "`thinking_blocks` must be an array",
            ))
        }
    }
    Ok(opt_str(
        m,
        "reasoning_content",
        &format!("{param}.reasoning_content"),
    )?
    .map(|text| {
        ReasoningBlock::Thinking(Thinking {
            text,
            signature: None,
        })
    })
    .into_iter()
    .collect())
}

/// `reasoning_content` and, when the text alone would lose something, `thinking_blocks`.
fn put_reasoning(out: &mut Map<String, Value>, blocks: &[ReasoningBlock]) {
    let blocks: Vec<Block<'_>> = blocks
        .iter()
        .map(|b| match b {
            ReasoningBlock::Thinking(t) => Block::Thinking {
                text: &t.text,
                signature: t.signature.as_deref(),
            },
            ReasoningBlock::Redacted(data) => Block::Redacted(data),
        })
        .collect();
    wire_json::put_reasoning(out, &blocks);
}

/// The required `model` field.
pub fn model_of(body: &Map<String, Value>) -> Res<String> {
    match body.get("model") {
        Some(Value::String(m)) if !m.trim().is_empty() => Ok(m.trim().to_string()),
        Some(_) => Err(bad("model", "`model` must be a non-empty string")),
        None => Err(bad("model", "you must provide a model parameter")),
    }
}

/// Parses a chat-completions request body.
pub fn chat_call(body: &Value) -> Res<ChatCall> {
    let body = body
        .as_object()
        .ok_or_else(|| ApiError::bad_request("the request body must be a JSON object"))?;
    let model = model_of(body)?;
    let messages = match body.get("messages") {
        Some(Value::Array(list)) if !list.is_empty() => list
            .iter()
            .enumerate()
            .map(|(i, m)| message(m, &format!("messages[{i}]")))
            .collect::<Res<Vec<_>>>()?,
        Some(Value::Array(_)) => return Err(bad("messages", "`messages` must not be empty")),
        _ => return Err(bad("messages", "`messages` must be an array of messages")),
    };
    let tools = match body.get("tools") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list
            .iter()
            .enumerate()
            .map(|(i, t)| tool(t, &format!("tools[{i}]")))
            .collect::<Res<Vec<_>>>()?,
        Some(_) => return Err(bad("tools", "`tools` must be an array")),
    };
    let stop = match body.get("stop") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .map(|s| s.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| bad("stop", "`stop` must be a string or an array of strings"))?,
        Some(_) => {
            return Err(bad(
                "stop",
                "`stop` must be a string or an array of strings",
            ))
        }
    };
    let seed = match body.get("seed") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_i64()
                .ok_or_else(|| bad("seed", "`seed` must be an integer"))?,
        ),
    };
    let stream = opt_bool(body, "stream")?.unwrap_or(false);
    let include_usage = match body.get("stream_options") {
        None | Some(Value::Null) => false,
        Some(v) => opt_bool(object(v, "stream_options")?, "include_usage")?.unwrap_or(false),
    };
    let request = ChatRequest {
        model: model.clone(),
        messages,
        tools,
        tool_choice: body
            .get("tool_choice")
            .filter(|v| !v.is_null())
            .map(tool_choice)
            .transpose()?,
        parallel_tool_calls: opt_bool(body, "parallel_tool_calls")?,
        response_format: body
            .get("response_format")
            .filter(|v| !v.is_null())
            .map(response_format)
            .transpose()?,
        temperature: opt_f64(body, "temperature")?,
        top_p: opt_f64(body, "top_p")?,
        top_k: opt_u32(body, "top_k")?,
        max_tokens: opt_u32(body, "max_tokens")?,
        max_completion_tokens: opt_u32(body, "max_completion_tokens")?,
        stop,
        seed,
        presence_penalty: opt_f64(body, "presence_penalty")?,
        frequency_penalty: opt_f64(body, "frequency_penalty")?,
        n: opt_u32(body, "n")?,
        user: opt_str(body, "user", "user")?,
        logprobs: opt_bool(body, "logprobs")?,
        top_logprobs: opt_u32(body, "top_logprobs")?,
        reasoning_effort: opt_str(body, "reasoning_effort", "reasoning_effort")?,
        include_usage,
        extra: extra(body, CHAT_FIELDS),
    };
    Ok(ChatCall {
        model,
        stream,
        request,
        fallbacks: fallbacks_of(body)?,
        cache: cache_of(body)?,
    })
}

fn role(v: Option<&Value>, param: &str) -> Res<Role> {
    Ok(match v.and_then(Value::as_str) {
        Some("system") => Role::System,
        Some("developer") => Role::Developer,
        Some("user") => Role::User,
        Some("assistant") => Role::Assistant,
        Some("tool") | Some("function") => Role::Tool,
        _ => {
            return Err(bad(
                &format!("{param}.role"),
                "`role` must be one of system, developer, user, assistant, tool",
            ))
        }
    })
}

fn message(v: &Value, param: &str) -> Res<Message> {
    let m = object(v, param)?;
    let content = match m.get("content") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(MessageContent::Text(s.clone())),
        Some(Value::Array(parts)) => Some(MessageContent::Parts(
            parts
                .iter()
                .enumerate()
                .map(|(i, p)| content_part(p, &format!("{param}.content[{i}]")))
                .collect::<Res<Vec<_>>>()?,
        )),
        Some(_) => {
            return Err(bad(
                &format!("{param}.content"),
                "`content` must be a string or an array of parts",
            ))
        }
    };
    let tool_calls = match m.get("tool_calls") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(calls)) => calls
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let p = format!("{param}.tool_calls[{i}]");
                let c = object(c, &p)?;
                let f = object(
                    c.get("function").unwrap_or(&Value::Null),
                    &format!("{p}.function"),
                )?;
                Ok(ToolCall {
                    signature: wire_json::signature(c).map(str::to_string),
                    extra: wire_json::unknown_keys(
                        &wire_json::without_signature(c),
                        known::TOOL_CALL,
                        &[("function", known::FUNCTION_CALL)],
                    ),
                    id: opt_str(c, "id", &format!("{p}.id"))?.unwrap_or_default(),
                    function: FunctionCall {
                        name: opt_str(f, "name", &format!("{p}.function.name"))?
                            .unwrap_or_default(),
                        arguments: match f.get("arguments") {
                            Some(Value::String(s)) => s.clone(),
                            None | Some(Value::Null) => String::new(),
                            Some(other) => other.to_string(),
                        },
                    },
                })
            })
            .collect::<Res<Vec<_>>>()?,
        Some(_) => {
            return Err(bad(
                &format!("{param}.tool_calls"),
                "`tool_calls` must be an array",
            ))
        }
    };
    Ok(Message {
        role: role(m.get("role"), param)?,
        content,
        name: opt_str(m, "name", &format!("{param}.name"))?,
        tool_calls,
        tool_call_id: opt_str(m, "tool_call_id", &format!("{param}.tool_call_id"))?,
        reasoning: reasoning_blocks(m, param)?,
        extra: extra(m, known::REQUEST_MESSAGE),
    })
}

fn content_part(v: &Value, param: &str) -> Res<ContentPart> {
    let p = object(v, param)?;
    match p.get("type").and_then(Value::as_str) {
        Some("text") => Ok(ContentPart {
            body: PartBody::Text(
                opt_str(p, "text", &format!("{param}.text"))?
                    .ok_or_else(|| bad(param, "a text part needs `text`"))?,
            ),
            extra: extra(p, known::TEXT_PART),
        }),
        Some("image_url") => {
            let image = match p.get("image_url") {
                Some(Value::String(url)) => ImageUrl {
                    url: url.clone(),
                    detail: None,
                },
                Some(Value::Object(o)) => ImageUrl {
                    url: opt_str(o, "url", &format!("{param}.image_url.url"))?
                        .ok_or_else(|| bad(param, "an image part needs `image_url.url`"))?,
                    detail: opt_str(o, "detail", &format!("{param}.image_url.detail"))?,
                },
                _ => return Err(bad(param, "an image part needs `image_url`")),
            };
            Ok(ContentPart {
                body: PartBody::Image(image),
                extra: extra(p, known::IMAGE_PART),
            })
        }
        Some(_) => Ok(ContentPart {
            body: PartBody::Other(v.to_string()),
            extra: None,
        }),
        None => Err(bad(
            &format!("{param}.type"),
            "a content part needs a `type`",
        )),
    }
}

fn tool(v: &Value, param: &str) -> Res<FunctionDefinition> {
    let t = object(v, param)?;
    if t.get("type").and_then(Value::as_str).unwrap_or("function") != "function" {
        return Err(bad(
            &format!("{param}.type"),
            "only `function` tools are supported",
        ));
    }
    let f = object(
        t.get("function").unwrap_or(&Value::Null),
        &format!("{param}.function"),
    )?;
    Ok(FunctionDefinition {
        name: opt_str(f, "name", &format!("{param}.function.name"))?.ok_or_else(|| {
            bad(
                &format!("{param}.function.name"),
                "a function needs a `name`",
            )
        })?,
        description: opt_str(f, "description", &format!("{param}.function.description"))?,
        parameters: f
            .get("parameters")
            .filter(|p| !p.is_null())
            .map(Value::to_string),
        strict: opt_bool(f, "strict")?,
        extra: wire_json::unknown_keys(t, known::TOOL, &[("function", known::FUNCTION)]),
    })
}

fn tool_choice(v: &Value) -> Res<ToolChoice> {
    match v {
        Value::String(s) => match s.as_str() {
            "none" => Ok(ToolChoice::None),
            "auto" => Ok(ToolChoice::Auto),
            "required" => Ok(ToolChoice::Required),
            _ => Err(bad(
                "tool_choice",
                "`tool_choice` must be none, auto, required or a function",
            )),
        },
        Value::Object(o) => o
            .get("function")
            .and_then(|f| f.get("name"))
            .and_then(Value::as_str)
            .map(|n| ToolChoice::Function(n.to_string()))
            .ok_or_else(|| bad("tool_choice", "`tool_choice.function.name` is required")),
        _ => Err(bad(
            "tool_choice",
            "`tool_choice` must be a string or an object",
        )),
    }
}

fn response_format(v: &Value) -> Res<ResponseFormat> {
    let o = object(v, "response_format")?;
    match o.get("type").and_then(Value::as_str) {
        Some("text") => Ok(ResponseFormat::Text),
        Some("json_object") => Ok(ResponseFormat::JsonObject),
        Some("json_schema") => {
            let s = object(
                o.get("json_schema").unwrap_or(&Value::Null),
                "response_format.json_schema",
            )?;
            Ok(ResponseFormat::JsonSchema(JsonSchemaFormat {
                name: opt_str(s, "name", "response_format.json_schema.name")?
                    .unwrap_or_else(|| "response".into()),
                description: opt_str(s, "description", "response_format.json_schema.description")?,
                schema: s
                    .get("schema")
                    .filter(|x| !x.is_null())
                    .map(Value::to_string),
                strict: opt_bool(s, "strict")?,
            }))
        }
        _ => Err(bad(
            "response_format.type",
            "`response_format.type` must be text, json_object or json_schema",
        )),
    }
}

fn finish_reason(f: &FinishReason) -> Value {
    json!(finish_reason_name(f))
}

/// OpenAI's name of a finish reason.
pub(crate) fn finish_reason_name(f: &FinishReason) -> &str {
    match f {
        FinishReason::Stop => "stop",
        FinishReason::Length => "length",
        FinishReason::ToolCalls => "tool_calls",
        FinishReason::ContentFilter => "content_filter",
        FinishReason::Other(s) => s,
    }
}

/// The text of a message's content (its text parts joined; images and files left out).
pub(crate) fn message_text(m: &Message) -> String {
    match &m.content {
        None => String::new(),
        Some(MessageContent::Text(t)) => t.clone(),
        Some(MessageContent::Parts(parts)) => parts
            .iter()
            .filter_map(|p| match &p.body {
                PartBody::Text(t) => Some(t.as_str()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join(""),
    }
}

/// The OpenAI name of a role.
pub(crate) fn role_name(r: Role) -> &'static str {
    match r {
        Role::System => "system",
        Role::Developer => "developer",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    }
}

fn raw_json(text: &Option<String>) -> Value {
    text.as_deref()
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(Value::Null)
}

/// OpenAI's `usage` object, with the provider's other counts merged in.
pub fn usage_json(u: &Usage) -> Value {
    let mut v = json!({"prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens,
                       "total_tokens": u.total_tokens});
    if let Some(c) = u.cached_tokens {
        v["prompt_tokens_details"] = json!({"cached_tokens": c});
    }
    if let Some(w) = u.cache_write_tokens {
        v["cache_creation_input_tokens"] = json!(w);
    }
    if let Some(r) = u.reasoning_tokens {
        v["completion_tokens_details"] = json!({"reasoning_tokens": r});
    }
    with_extra(v, &u.extra)
}

/// `v` (an object) with `extra` merged in.
fn with_extra(mut v: Value, extra: &Option<String>) -> Value {
    if let Value::Object(map) = &mut v {
        merge_extra(map, extra);
    }
    v
}

/// Writes a tool call's signature, when it has one, where clients find it.
fn put_signature(call: &mut Value, signature: &Option<String>) {
    if let (Value::Object(call), Some(sig)) = (call, signature) {
        wire_json::put_signature(call, sig);
    }
}

fn tool_call_json(t: &ToolCall) -> Value {
    let mut call = json!({"id": t.id, "type": "function",
                          "function": {"name": t.function.name, "arguments": t.function.arguments}});
    put_signature(&mut call, &t.signature);
    with_extra(call, &t.extra)
}

/// A `chat.completion` object, with `model` set to the name the client asked for.
pub fn chat_response_json(r: &ChatResponse, model: &str) -> Value {
    let choices: Vec<Value> = r
        .choices
        .iter()
        .map(|c| {
            let m = &c.message;
            let mut message = json!({"role": "assistant", "content": m.content});
            if !m.tool_calls.is_empty() {
                message["tool_calls"] = m.tool_calls.iter().map(tool_call_json).collect();
            }
            if let Value::Object(fields) = &mut message {
                put_reasoning(fields, &m.reasoning);
            }
            if let Some(r) = &m.refusal {
                message["refusal"] = json!(r);
            }
            let message = with_extra(message, &m.extra);
            let choice = json!({"index": c.index, "message": message, "logprobs": raw_json(&c.logprobs),
                                "finish_reason": c.finish_reason.as_ref().map(finish_reason)});
            with_extra(choice, &c.extra)
        })
        .collect();
    let mut out = Map::new();
    out.insert("id".into(), json!(r.id));
    out.insert("object".into(), json!("chat.completion"));
    out.insert("created".into(), json!(r.created));
    out.insert("model".into(), json!(model));
    out.insert("choices".into(), Value::Array(choices));
    if let Some(u) = &r.usage {
        out.insert("usage".into(), usage_json(u));
    }
    if let Some(f) = &r.system_fingerprint {
        out.insert("system_fingerprint".into(), json!(f));
    }
    merge_extra(&mut out, &r.extra);
    Value::Object(out)
}

fn reasoning_delta_json(d: &ChoiceDelta, delta: &mut Map<String, Value>) {
    if d.reasoning.is_empty() {
        return;
    }
    let text = reasoning_text(d);
    if !text.is_empty() {
        delta.insert("reasoning_content".into(), json!(text));
    }
    if reasoning_is_plain(d) {
        return;
    }
    let blocks = d
        .reasoning
        .iter()
        .map(|r| match &r.redacted {
            Some(data) => json!({"index": r.index, "type": "redacted_thinking", "data": data}),
            None => {
                let mut b = json!({"index": r.index, "type": "thinking",
                                   "thinking": r.text.as_deref().unwrap_or("")});
                if let Some(s) = &r.signature {
                    b["signature"] = json!(s);
                }
                b
            }
        })
        .collect();
    delta.insert("thinking_blocks".into(), Value::Array(blocks));
}

/// The reasoning text of a delta, its blocks' fragments joined (`reasoning_content`).
pub(crate) fn reasoning_text(d: &ChoiceDelta) -> String {
    d.reasoning
        .iter()
        .filter_map(|r| r.text.as_deref())
        .collect()
}

/// Whether a delta's reasoning is text of block 0 alone, which `reasoning_content` carries
/// whole; otherwise the client also gets `thinking_blocks`.
pub(crate) fn reasoning_is_plain(d: &ChoiceDelta) -> bool {
    d.reasoning
        .iter()
        .all(|r| r.index == 0 && r.signature.is_none() && r.redacted.is_none())
}

/// A `chat.completion.chunk` object, with `model` set to the name the client asked for.
pub fn chat_chunk_json(c: &ChatChunk, model: &str) -> Value {
    let choices: Vec<Value> = c
        .choices
        .iter()
        .map(|d| {
            let mut delta = Map::new();
            if let Some(r) = d.role {
                delta.insert("role".into(), json!(role_name(r)));
            }
            if let Some(t) = &d.content {
                delta.insert("content".into(), json!(t));
            }
            reasoning_delta_json(d, &mut delta);
            if let Some(t) = &d.refusal {
                delta.insert("refusal".into(), json!(t));
            }
            if !d.tool_calls.is_empty() {
                let calls = d
                    .tool_calls
                    .iter()
                    .map(|t| {
                        let mut call = json!({"index": t.index});
                        if let Some(id) = &t.id {
                            call["id"] = json!(id);
                            call["type"] = json!("function");
                        }
                        let mut function = Map::new();
                        if let Some(n) = &t.name {
                            function.insert("name".into(), json!(n));
                        }
                        if let Some(a) = &t.arguments {
                            function.insert("arguments".into(), json!(a));
                        }
                        call["function"] = Value::Object(function);
                        put_signature(&mut call, &t.signature);
                        with_extra(call, &t.extra)
                    })
                    .collect();
                delta.insert("tool_calls".into(), Value::Array(calls));
            }
            let choice = json!({"index": d.index, "delta": delta, "logprobs": raw_json(&d.logprobs),
                                "finish_reason": d.finish_reason.as_ref().map(finish_reason)});
            with_extra(choice, &d.extra)
        })
        .collect();
    let mut out = json!({"id": c.id, "object": "chat.completion.chunk", "created": c.created,
                         "model": model, "choices": choices});
    if let Some(f) = &c.system_fingerprint {
        out["system_fingerprint"] = json!(f);
    }
    if let Some(u) = &c.usage {
        out["usage"] = usage_json(u);
    }
    with_extra(out, &c.extra)
}

/// A chunk as the client sees it: a chunk carrying the adapter's usage loses it, and a
/// usage-only chunk is left out (`None`), unless the client asked for usage
/// (`stream_options.include_usage`).
pub fn client_chunk_json(c: &ChatChunk, model: &str, include_usage: bool) -> Option<Value> {
    let mut json = chat_chunk_json(c, model);
    if !include_usage && c.usage.is_some() {
        if c.choices.is_empty() {
            return None;
        }
        if let Some(fields) = json.as_object_mut() {
            fields.remove("usage");
        }
    }
    Some(json)
}

/// A parsed `/v1/embeddings` request.
pub struct EmbeddingCall {
    /// The model name the client asked for.
    pub model: String,
    /// The encoding the client asked for.
    pub encoding: EncodingFormat,
    /// The request for the adapter.
    pub request: EmbeddingRequest,
    /// Per-request fallbacks.
    pub fallbacks: Option<Vec<String>>,
    /// What the request asks of the response cache.
    pub cache: crate::cache::CacheControl,
}

fn embedding_input(v: &Value, param: &str) -> Res<EmbeddingInput> {
    let tokens = |list: &Vec<Value>| {
        list.iter()
            .map(|t| t.as_u64().and_then(|n| u32::try_from(n).ok()))
            .collect::<Option<Vec<u32>>>()
    };
    match v {
        Value::String(s) => Ok(EmbeddingInput::Text(s.clone())),
        Value::Array(list) => tokens(list).map(EmbeddingInput::Tokens).ok_or_else(|| {
            bad(
                param,
                "a token input must be an array of non-negative integers",
            )
        }),
        Value::Object(o) => {
            let url = o
                .get("image_url")
                .and_then(|i| i.as_str().or_else(|| i.get("url").and_then(Value::as_str)))
                .or_else(|| o.get("image").and_then(Value::as_str))
                .ok_or_else(|| {
                    bad(
                        param,
                        "an object input must be an image: `{\"image\": URL}`",
                    )
                })?;
            Ok(EmbeddingInput::Image(ImageUrl {
                url: url.to_string(),
                detail: None,
            }))
        }
        _ => Err(bad(
            param,
            "an input must be a string, a token array or an image",
        )),
    }
}

/// Parses an embeddings request body.
pub fn embedding_call(body: &Value) -> Res<EmbeddingCall> {
    let body = body
        .as_object()
        .ok_or_else(|| ApiError::bad_request("the request body must be a JSON object"))?;
    let model = model_of(body)?;
    let input = match body.get("input") {
        Some(Value::String(s)) => vec![EmbeddingInput::Text(s.clone())],
        // One token array is one input; an array of anything else is a list of inputs.
        Some(Value::Array(a)) if !a.is_empty() && a.iter().all(Value::is_number) => {
            vec![embedding_input(&Value::Array(a.clone()), "input")?]
        }
        Some(Value::Array(a)) if !a.is_empty() => a
            .iter()
            .enumerate()
            .map(|(i, v)| embedding_input(v, &format!("input[{i}]")))
            .collect::<Res<Vec<_>>>()?,
        _ => return Err(bad("input", "`input` must be a non-empty string or array")),
    };
    let encoding = match opt_str(body, "encoding_format", "encoding_format")?.as_deref() {
        None | Some("float") => EncodingFormat::Float,
        Some("base64") => EncodingFormat::Base64,
        Some("int8") => EncodingFormat::Int8,
        Some("uint8") => EncodingFormat::Uint8,
        Some("binary") => EncodingFormat::Binary,
        Some("ubinary") => EncodingFormat::Ubinary,
        Some(_) => {
            return Err(bad(
                "encoding_format",
                "`encoding_format` must be float, base64, int8, uint8, binary or ubinary",
            ))
        }
    };
    let request = EmbeddingRequest {
        model: model.clone(),
        input,
        dimensions: opt_u32(body, "dimensions")?,
        encoding_format: Some(encoding),
        user: opt_str(body, "user", "user")?,
        extra: extra(
            body,
            &["model", "input", "dimensions", "encoding_format", "user"],
        ),
    };
    Ok(EmbeddingCall {
        model,
        encoding,
        request,
        fallbacks: fallbacks_of(body)?,
        cache: cache_of(body)?,
    })
}

fn encoding_name(e: EncodingFormat) -> &'static str {
    match e {
        EncodingFormat::Float => "float",
        EncodingFormat::Base64 => "base64",
        EncodingFormat::Int8 => "int8",
        EncodingFormat::Uint8 => "uint8",
        EncodingFormat::Binary => "binary",
        EncodingFormat::Ubinary => "ubinary",
    }
}

/// One vector as the client asked for it: floats, base64 of little-endian f32, or the
/// provider's quantized numbers. An adapter that answered in another encoding is an upstream
/// error, never a silent conversion.
fn vector_json(v: &EmbeddingVector, encoding: EncodingFormat) -> Res<Value> {
    Ok(match (v, encoding) {
        (EmbeddingVector::Float(f), EncodingFormat::Float) => json!(f),
        (EmbeddingVector::Float(f), EncodingFormat::Base64) => {
            let bytes: Vec<u8> = f.iter().flat_map(|x| x.to_le_bytes()).collect();
            json!(base64::engine::general_purpose::STANDARD.encode(bytes))
        }
        (EmbeddingVector::Int8(i), EncodingFormat::Int8)
        | (EmbeddingVector::Binary(i), EncodingFormat::Binary) => json!(i),
        (EmbeddingVector::Uint8(u), EncodingFormat::Uint8)
        | (EmbeddingVector::Ubinary(u), EncodingFormat::Ubinary) => json!(u),
        _ => {
            return Err(ApiError::upstream(format!(
                "the provider did not answer in the `{}` encoding the request asked for",
                encoding_name(encoding)
            )))
        }
    })
}

/// An embeddings `list` object in the encoding the client asked for.
pub fn embedding_response_json(
    r: &EmbeddingResponse,
    model: &str,
    encoding: EncodingFormat,
) -> Res<Value> {
    let data = r
        .data
        .iter()
        .map(|e| {
            Ok(json!({"object": "embedding", "index": e.index,
                      "embedding": vector_json(&e.vector, encoding)?}))
        })
        .collect::<Res<Vec<Value>>>()?;
    let usage = r
        .usage
        .as_ref()
        .map(|u| json!({"prompt_tokens": u.prompt_tokens, "total_tokens": u.total_tokens}))
        .unwrap_or_else(|| json!({"prompt_tokens": 0, "total_tokens": 0}));
    let out = json!({"object": "list", "data": data, "model": model, "usage": usage});
    Ok(with_extra(out, &r.extra))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_chat_request() {
        let body = json!({
            "model": "gpt", "stream": true, "stream_options": {"include_usage": true},
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": [{"type": "text", "text": "what is this?"},
                                             {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA", "detail": "low"}},
                                             {"type": "input_audio", "input_audio": {"data": "x"}}]},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "42"}
            ],
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
            "tool_choice": {"type": "function", "function": {"name": "f"}},
            "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
            "stop": "END", "seed": -3, "max_tokens": 5, "metadata": {"k": "v"}
        });
        let call = chat_call(&body).unwrap();
        assert!(call.stream && call.request.include_usage);
        let r = &call.request;
        assert_eq!(r.messages.len(), 4);
        assert!(
            matches!(&r.messages[1].content, Some(MessageContent::Parts(p)) if p.len() == 3 && matches!(&p[2].body, PartBody::Other(_)))
        );
        assert_eq!(r.messages[2].tool_calls[0].function.name, "f");
        assert_eq!(r.messages[3].tool_call_id.as_deref(), Some("c1"));
        assert_eq!(r.tool_choice, Some(ToolChoice::Function("f".into())));
        assert_eq!(r.stop, vec!["END".to_string()]);
        assert_eq!(r.seed, Some(-3));
        assert_eq!(r.extra.as_deref(), Some(r#"{"metadata":{"k":"v"}}"#));
    }

    #[test]
    fn rejects_bad_fields_naming_the_param() {
        let cases = [
            (
                json!({"messages": [{"role": "user", "content": "x"}]}),
                "model",
            ),
            (json!({"model": "m", "messages": []}), "messages"),
            (
                json!({"model": "m", "messages": [{"role": "robot", "content": "x"}]}),
                "messages[0].role",
            ),
            (
                json!({"model": "m", "messages": [{"role": "user", "content": 5}]}),
                "messages[0].content",
            ),
            (
                json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": "hot"}),
                "temperature",
            ),
            (
                json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": -1}),
                "max_tokens",
            ),
        ];
        for (body, param) in cases {
            let err = chat_call(&body).err().expect("must fail");
            assert_eq!(err.param.as_deref(), Some(param));
            assert_eq!(err.status, 400);
        }
    }

    #[test]
    fn encodes_base64_embeddings() {
        let r = EmbeddingResponse {
            model: "m".into(),
            data: vec![Embedding {
                index: 0,
                vector: EmbeddingVector::Float(vec![1.0, -2.0]),
            }],
            usage: None,
            extra: None,
            headers: Vec::new(),
        };
        let v = embedding_response_json(&r, "alias", EncodingFormat::Base64).unwrap();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(v["data"][0]["embedding"].as_str().unwrap())
            .unwrap();
        assert_eq!(
            bytes,
            [1.0f32.to_le_bytes(), (-2.0f32).to_le_bytes()].concat()
        );
        assert_eq!(v["model"], "alias");
    }
}
