//! OpenAI's chat-completions and embeddings wire format, shared by every adapter for an
//! OpenAI-compatible API (OpenAI, vLLM, Ollama, llama.cpp, Groq, Together, DeepSeek, Mistral,
//! OpenRouter, ...) and usable by any adapter that speaks a close dialect.

use crate::bindings::wasmgate::provider::types::*;
use crate::error::ProviderResult;
use serde_json::{json, Map, Value};
/// Keys of OpenAI objects the records model; everything else is kept in `extra`.
pub use wasmgate_openai_wire::known;
use wasmgate_openai_wire::{self as wire, Block, Precedence};

/// The JSON body of a `/chat/completions` request.
pub fn chat_request_body(req: &ChatRequest, stream: bool) -> ProviderResult<Value> {
    let mut body = Map::new();
    body.insert("model".into(), json!(req.model));
    let messages = req
        .messages
        .iter()
        .map(message_json)
        .collect::<ProviderResult<Vec<_>>>()?;
    body.insert("messages".into(), Value::Array(messages));
    if !req.tools.is_empty() {
        let tools = req
            .tools
            .iter()
            .map(tool_json)
            .collect::<ProviderResult<Vec<_>>>()?;
        body.insert("tools".into(), Value::Array(tools));
    }
    if let Some(choice) = &req.tool_choice {
        body.insert("tool_choice".into(), tool_choice_json(choice));
    }
    if let Some(format) = &req.response_format {
        body.insert("response_format".into(), response_format_json(format)?);
    }
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(v) = value {
            body.insert(key.into(), v);
        }
    };
    put(
        "parallel_tool_calls",
        req.parallel_tool_calls.map(Value::from),
    );
    put("temperature", req.temperature.map(Value::from));
    put("top_p", req.top_p.map(Value::from));
    put("top_k", req.top_k.map(Value::from));
    put("max_tokens", req.max_tokens.map(Value::from));
    put(
        "max_completion_tokens",
        req.max_completion_tokens.map(Value::from),
    );
    put("stop", (!req.stop.is_empty()).then(|| json!(req.stop)));
    put("seed", req.seed.map(Value::from));
    put("presence_penalty", req.presence_penalty.map(Value::from));
    put("frequency_penalty", req.frequency_penalty.map(Value::from));
    put("n", req.n.map(Value::from));
    put("user", req.user.clone().map(Value::from));
    put("logprobs", req.logprobs.map(Value::from));
    put("top_logprobs", req.top_logprobs.map(Value::from));
    put(
        "reasoning_effort",
        req.reasoning_effort.clone().map(Value::from),
    );
    if stream {
        put("stream", Some(Value::Bool(true)));
        if req.include_usage {
            put("stream_options", Some(json!({"include_usage": true})));
        }
    }
    merge_extra(&mut body, req.extra.as_deref())?;
    Ok(Value::Object(body))
}

/// Merges a record's `extra` JSON object into `body`: its keys win, except that two objects
/// under one key are merged key by key (so `{"function": {...}}` adds to the function).
pub fn merge_extra(body: &mut Map<String, Value>, extra: Option<&str>) -> ProviderResult<()> {
    let Some(extra) = extra else { return Ok(()) };
    match parse_json("extra", extra)? {
        Value::Object(map) => {
            wire::merge_extra(body, map, Precedence::Extra);
            Ok(())
        }
        Value::Null => Ok(()),
        _ => Err(ProviderError::bad_request("`extra` must be a JSON object")),
    }
}

/// The keys of `object` not in `known`, as the JSON text of an `extra` field (`None` when
/// there are none or `object` is not an object); see [`wire::unknown_keys`].
pub fn extra_of(object: &Value, known: &[&str], nested: &[(&str, &[&str])]) -> Option<String> {
    wire::unknown_keys(object.as_object()?, known, nested)
}

/// A tool call's signature and its other unknown keys, read from the wire.
fn signature_and_extra(call: &Value) -> (Option<String>, Option<String>) {
    let Some(call) = call.as_object() else {
        return (None, None);
    };
    (
        wire::signature(call).map(str::to_string),
        wire::unknown_keys(
            &wire::without_signature(call),
            known::TOOL_CALL,
            &[("function", known::FUNCTION_CALL)],
        ),
    )
}

/// The reasoning blocks as OpenAI-compatible servers take them back; see
/// [`wire::put_reasoning`].
pub fn put_reasoning(out: &mut Map<String, Value>, blocks: &[ReasoningBlock]) {
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
    wire::put_reasoning(out, &blocks);
}

/// Reasoning blocks from a wire message: `thinking_blocks` when present, else the text of
/// `reasoning_content` (or `reasoning`) as one block.
pub fn parse_reasoning(m: &Value) -> Vec<ReasoningBlock> {
    reasoning_blocks(
        str_field(m, "reasoning_content").or_else(|| str_field(m, "reasoning")),
        m.get("thinking_blocks")
            .and_then(Value::as_array)
            .map(Vec::as_slice),
    )
}

/// A message's reasoning blocks from its reasoning text and its `thinking_blocks` entries
/// (which, when present, carry the text themselves).
pub(crate) fn reasoning_blocks(
    text: Option<String>,
    blocks: Option<&[Value]>,
) -> Vec<ReasoningBlock> {
    if let Some(blocks) = blocks {
        return blocks.iter().filter_map(parse_thinking_block).collect();
    }
    match text {
        Some(text) => vec![ReasoningBlock::Thinking(Thinking {
            text,
            signature: None,
        })],
        None => Vec::new(),
    }
}

fn parse_thinking_block(b: &Value) -> Option<ReasoningBlock> {
    match b.get("type").and_then(Value::as_str) {
        Some("redacted_thinking") => Some(ReasoningBlock::Redacted(str_field(b, "data")?)),
        _ => Some(ReasoningBlock::Thinking(Thinking {
            text: str_field(b, "thinking").unwrap_or_default(),
            signature: str_field(b, "signature"),
        })),
    }
}

use crate::wire::parse_json;

/// The OpenAI name of a role.
pub fn role_name(role: Role) -> &'static str {
    match role {
        Role::System => "system",
        Role::Developer => "developer",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    }
}

pub(crate) fn parse_role(name: &str) -> Option<Role> {
    Some(match name {
        "system" => Role::System,
        "developer" => Role::Developer,
        "user" => Role::User,
        "assistant" => Role::Assistant,
        "tool" | "function" => Role::Tool,
        _ => return None,
    })
}

fn message_json(m: &Message) -> ProviderResult<Value> {
    let mut out = Map::new();
    out.insert("role".into(), json!(role_name(m.role)));
    let content = match &m.content {
        None => Value::Null,
        Some(MessageContent::Text(t)) => json!(t),
        Some(MessageContent::Parts(parts)) => Value::Array(
            parts
                .iter()
                .map(content_part_json)
                .collect::<ProviderResult<Vec<_>>>()?,
        ),
    };
    out.insert("content".into(), content);
    if let Some(name) = &m.name {
        out.insert("name".into(), json!(name));
    }
    if !m.tool_calls.is_empty() {
        let calls = m
            .tool_calls
            .iter()
            .map(tool_call_json)
            .collect::<ProviderResult<Vec<_>>>()?;
        out.insert("tool_calls".into(), Value::Array(calls));
    }
    if let Some(id) = &m.tool_call_id {
        out.insert("tool_call_id".into(), json!(id));
    }
    put_reasoning(&mut out, &m.reasoning);
    merge_extra(&mut out, m.extra.as_deref())?;
    Ok(Value::Object(out))
}

/// A tool call in OpenAI's wire format, with its signature and extra keys.
pub fn tool_call_json(c: &ToolCall) -> ProviderResult<Value> {
    let mut call = Map::new();
    call.insert("id".into(), json!(c.id));
    call.insert("type".into(), json!("function"));
    call.insert(
        "function".into(),
        json!({"name": c.function.name, "arguments": c.function.arguments}),
    );
    if let Some(sig) = &c.signature {
        wire::put_signature(&mut call, sig);
    }
    merge_extra(&mut call, c.extra.as_deref())?;
    Ok(Value::Object(call))
}

fn content_part_json(p: &ContentPart) -> ProviderResult<Value> {
    let mut part = match &p.body {
        PartBody::Text(t) => json!({"type": "text", "text": t}),
        PartBody::Image(img) => {
            let mut url = json!({"url": img.url});
            if let Some(d) = &img.detail {
                url["detail"] = json!(d);
            }
            json!({"type": "image_url", "image_url": url})
        }
        PartBody::Other(raw) => parse_json("a content part", raw)?,
    };
    if let Value::Object(map) = &mut part {
        merge_extra(map, p.extra.as_deref())?;
    }
    Ok(part)
}

fn tool_json(f: &FunctionDefinition) -> ProviderResult<Value> {
    let mut function = Map::new();
    function.insert("name".into(), json!(f.name));
    if let Some(d) = &f.description {
        function.insert("description".into(), json!(d));
    }
    if let Some(p) = &f.parameters {
        function.insert("parameters".into(), parse_json("tool parameters", p)?);
    }
    if let Some(s) = f.strict {
        function.insert("strict".into(), json!(s));
    }
    let mut tool = Map::new();
    tool.insert("type".into(), json!("function"));
    tool.insert("function".into(), Value::Object(function));
    merge_extra(&mut tool, f.extra.as_deref())?;
    Ok(Value::Object(tool))
}

fn tool_choice_json(c: &ToolChoice) -> Value {
    match c {
        ToolChoice::None => json!("none"),
        ToolChoice::Auto => json!("auto"),
        ToolChoice::Required => json!("required"),
        ToolChoice::Function(name) => json!({"type": "function", "function": {"name": name}}),
    }
}

fn response_format_json(f: &ResponseFormat) -> ProviderResult<Value> {
    Ok(match f {
        ResponseFormat::Text => json!({"type": "text"}),
        ResponseFormat::JsonObject => json!({"type": "json_object"}),
        ResponseFormat::JsonSchema(s) => {
            let mut schema = Map::new();
            schema.insert("name".into(), json!(s.name));
            if let Some(d) = &s.description {
                schema.insert("description".into(), json!(d));
            }
            if let Some(raw) = &s.schema {
                schema.insert(
                    "schema".into(),
                    parse_json("the response JSON schema", raw)?,
                );
            }
            if let Some(strict) = s.strict {
                schema.insert("strict".into(), json!(strict));
            }
            json!({"type": "json_schema", "json_schema": schema})
        }
    })
}

/// Parses an OpenAI finish reason.
pub fn parse_finish_reason(v: &Value) -> Option<FinishReason> {
    Some(match v.as_str()? {
        "stop" => FinishReason::Stop,
        "length" => FinishReason::Length,
        "tool_calls" => FinishReason::ToolCalls,
        "content_filter" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_string()),
    })
}

fn str_field(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

fn u32_field(v: &Value, key: &str) -> Option<u32> {
    v.get(key)
        .and_then(Value::as_u64)
        .map(|n| n.min(u32::MAX as u64) as u32)
}

fn json_field(v: &Value, key: &str) -> Option<String> {
    v.get(key).filter(|x| !x.is_null()).map(Value::to_string)
}

/// Parses an OpenAI `usage` object (Anthropic-style cache counts included).
pub fn parse_usage(v: &Value) -> Option<Usage> {
    if !v.is_object() {
        return None;
    }
    let prompt = u32_field(v, "prompt_tokens").unwrap_or(0);
    let completion = u32_field(v, "completion_tokens").unwrap_or(0);
    Some(Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: u32_field(v, "total_tokens").unwrap_or(prompt.saturating_add(completion)),
        cached_tokens: v
            .get("prompt_tokens_details")
            .and_then(|d| u32_field(d, "cached_tokens"))
            .or_else(|| u32_field(v, "cache_read_input_tokens")),
        cache_write_tokens: u32_field(v, "cache_creation_input_tokens"),
        reasoning_tokens: v
            .get("completion_tokens_details")
            .and_then(|d| u32_field(d, "reasoning_tokens")),
        extra: extra_of(
            v,
            known::USAGE,
            &[
                ("prompt_tokens_details", known::PROMPT_DETAILS),
                ("completion_tokens_details", known::COMPLETION_DETAILS),
            ],
        ),
    })
}

pub(crate) fn parse_tool_call(t: &Value) -> ToolCall {
    let (signature, extra) = signature_and_extra(t);
    ToolCall {
        id: str_field(t, "id").unwrap_or_default(),
        function: FunctionCall {
            name: t
                .pointer("/function/name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            arguments: t
                .pointer("/function/arguments")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        },
        signature,
        extra,
    }
}

/// Parses a `/chat/completions` response body.
pub fn parse_chat_response(v: &Value) -> ProviderResult<ChatResponse> {
    let choices = v
        .get("choices")
        .and_then(Value::as_array)
        .ok_or_else(|| ProviderError::upstream("the provider's response has no `choices`"))?;
    let choices = choices
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let m = c.get("message").unwrap_or(&Value::Null);
            let tool_calls = m
                .get("tool_calls")
                .and_then(Value::as_array)
                .map(|calls| calls.iter().map(parse_tool_call).collect())
                .unwrap_or_default();
            Choice {
                index: u32_field(c, "index").unwrap_or(i as u32),
                message: AssistantMessage {
                    content: str_field(m, "content"),
                    reasoning: parse_reasoning(m),
                    tool_calls,
                    refusal: str_field(m, "refusal"),
                    extra: extra_of(m, known::ANSWER_MESSAGE, &[]),
                },
                finish_reason: c.get("finish_reason").and_then(parse_finish_reason),
                logprobs: json_field(c, "logprobs"),
                extra: extra_of(c, known::CHOICE, &[]),
            }
        })
        .collect();
    Ok(ChatResponse {
        id: str_field(v, "id").unwrap_or_default(),
        model: str_field(v, "model").unwrap_or_default(),
        created: v.get("created").and_then(Value::as_u64).unwrap_or(0),
        choices,
        usage: v.get("usage").and_then(parse_usage),
        system_fingerprint: str_field(v, "system_fingerprint"),
        extra: extra_of(v, known::COMPLETION, &[]),
        headers: Vec::new(),
    })
}

/// Reasoning fragments of a delta: `reasoning_content` text (block 0, or the block a
/// `thinking_blocks` entry names) and `thinking_blocks` entries with their signatures.
fn parse_reasoning_deltas(d: &Value) -> Vec<ReasoningDelta> {
    let text = str_field(d, "reasoning_content").or_else(|| str_field(d, "reasoning"));
    let blocks = d.get("thinking_blocks").and_then(Value::as_array);
    reasoning_deltas(text, blocks.map(Vec::as_slice))
}

/// Reasoning fragments from a delta's reasoning text and its `thinking_blocks` entries (which,
/// when present, carry the text themselves).
pub(crate) fn reasoning_deltas(
    text: Option<String>,
    blocks: Option<&[Value]>,
) -> Vec<ReasoningDelta> {
    match blocks {
        Some(blocks) => blocks
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let index = u32_field(b, "index").unwrap_or(i as u32);
                match b.get("type").and_then(Value::as_str) {
                    Some("redacted_thinking") => ReasoningDelta {
                        index,
                        text: None,
                        signature: None,
                        redacted: str_field(b, "data"),
                    },
                    _ => ReasoningDelta {
                        index,
                        text: str_field(b, "thinking").filter(|t| !t.is_empty()),
                        signature: str_field(b, "signature"),
                        redacted: None,
                    },
                }
            })
            .collect(),
        None => text
            .map(|t| ReasoningDelta {
                index: 0,
                text: Some(t),
                signature: None,
                redacted: None,
            })
            .into_iter()
            .collect(),
    }
}

/// The `j`th tool-call fragment of a delta.
pub(crate) fn tool_call_delta(j: usize, t: &Value) -> ToolCallDelta {
    let (signature, extra) = signature_and_extra(t);
    ToolCallDelta {
        index: u32_field(t, "index").unwrap_or(j as u32),
        id: str_field(t, "id"),
        name: t
            .pointer("/function/name")
            .and_then(Value::as_str)
            .map(str::to_string),
        arguments: t
            .pointer("/function/arguments")
            .and_then(Value::as_str)
            .map(str::to_string),
        signature,
        extra,
    }
}

/// Parses one `chat.completion.chunk`.
pub fn parse_chat_chunk(v: &Value) -> ProviderResult<ChatChunk> {
    let choices = v
        .get("choices")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .enumerate()
                .map(|(i, c)| {
                    let d = c.get("delta").unwrap_or(&Value::Null);
                    let tool_calls = d
                        .get("tool_calls")
                        .and_then(Value::as_array)
                        .map(|calls| {
                            calls
                                .iter()
                                .enumerate()
                                .map(|(j, t)| tool_call_delta(j, t))
                                .collect()
                        })
                        .unwrap_or_default();
                    ChoiceDelta {
                        index: u32_field(c, "index").unwrap_or(i as u32),
                        role: d.get("role").and_then(Value::as_str).and_then(parse_role),
                        content: str_field(d, "content"),
                        reasoning: parse_reasoning_deltas(d),
                        tool_calls,
                        refusal: str_field(d, "refusal"),
                        finish_reason: c.get("finish_reason").and_then(parse_finish_reason),
                        logprobs: json_field(c, "logprobs"),
                        extra: extra_of(
                            c,
                            known::CHUNK_CHOICE,
                            &[("delta", known::ANSWER_MESSAGE)],
                        ),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(ChatChunk {
        id: str_field(v, "id").unwrap_or_default(),
        model: str_field(v, "model").unwrap_or_default(),
        created: v.get("created").and_then(Value::as_u64).unwrap_or(0),
        choices,
        usage: v.get("usage").and_then(parse_usage),
        system_fingerprint: str_field(v, "system_fingerprint"),
        extra: extra_of(v, known::COMPLETION, &[]),
    })
}

/// The OpenAI name of an encoding.
fn encoding_name(e: EncodingFormat) -> &'static str {
    match e {
        EncodingFormat::Float | EncodingFormat::Base64 => "float",
        EncodingFormat::Int8 => "int8",
        EncodingFormat::Uint8 => "uint8",
        EncodingFormat::Binary => "binary",
        EncodingFormat::Ubinary => "ubinary",
    }
}

/// An embedding input as OpenAI takes it: text, or token ids.
fn embedding_input_json(input: &EmbeddingInput) -> ProviderResult<Value> {
    match input {
        EmbeddingInput::Text(t) => Ok(json!(t)),
        EmbeddingInput::Tokens(ids) => Ok(json!(ids)),
        EmbeddingInput::Image(_) => Err(ProviderError::bad_request(
            "this provider's embeddings endpoint takes text or tokens, not images",
        )),
    }
}

/// The JSON body of an `/embeddings` request. Floats are requested for `float` and `base64`
/// (the host encodes base64 for clients that ask for it); quantized encodings are passed on.
pub fn embedding_request_body(req: &EmbeddingRequest) -> ProviderResult<Value> {
    let mut body = Map::new();
    body.insert("model".into(), json!(req.model));
    let input = req
        .input
        .iter()
        .map(embedding_input_json)
        .collect::<ProviderResult<Vec<_>>>()?;
    body.insert("input".into(), Value::Array(input));
    let encoding = req.encoding_format.unwrap_or(EncodingFormat::Float);
    body.insert("encoding_format".into(), json!(encoding_name(encoding)));
    if let Some(d) = req.dimensions {
        body.insert("dimensions".into(), json!(d));
    }
    if let Some(u) = &req.user {
        body.insert("user".into(), json!(u));
    }
    merge_extra(&mut body, req.extra.as_deref())?;
    Ok(Value::Object(body))
}

/// A vector of JSON numbers in `encoding` (floats for `float` and `base64`).
pub fn parse_vector(v: &Value, encoding: EncodingFormat) -> ProviderResult<EmbeddingVector> {
    let items = v
        .as_array()
        .ok_or_else(|| ProviderError::upstream("an embedding is not a list of numbers"))?;
    let bad = || ProviderError::upstream("an embedding holds a number out of its encoding's range");
    let ints = |lo: i64, hi: i64| {
        items
            .iter()
            .map(|x| x.as_i64().filter(|n| (lo..=hi).contains(n)))
            .collect::<Option<Vec<i64>>>()
            .ok_or_else(bad)
    };
    Ok(match encoding {
        EncodingFormat::Float | EncodingFormat::Base64 => EmbeddingVector::Float(
            items
                .iter()
                .map(|x| x.as_f64().map(|f| f as f32))
                .collect::<Option<Vec<f32>>>()
                .ok_or_else(|| ProviderError::upstream("an embedding holds a non-number"))?,
        ),
        EncodingFormat::Int8 => {
            EmbeddingVector::Int8(ints(-128, 127)?.into_iter().map(|n| n as i8).collect())
        }
        EncodingFormat::Binary => {
            EmbeddingVector::Binary(ints(-128, 127)?.into_iter().map(|n| n as i8).collect())
        }
        EncodingFormat::Uint8 => {
            EmbeddingVector::Uint8(ints(0, 255)?.into_iter().map(|n| n as u8).collect())
        }
        EncodingFormat::Ubinary => {
            EmbeddingVector::Ubinary(ints(0, 255)?.into_iter().map(|n| n as u8).collect())
        }
    })
}

/// Parses an `/embeddings` response body, its vectors in `encoding`.
pub fn parse_embedding_response(
    v: &Value,
    encoding: EncodingFormat,
) -> ProviderResult<EmbeddingResponse> {
    let data = v
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| ProviderError::upstream("the provider's response has no `data`"))?;
    let data = data
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let vector = parse_vector(e.get("embedding").unwrap_or(&Value::Null), encoding)?;
            Ok(Embedding {
                index: u32_field(e, "index").unwrap_or(i as u32),
                vector,
            })
        })
        .collect::<ProviderResult<Vec<_>>>()?;
    Ok(EmbeddingResponse {
        model: str_field(v, "model").unwrap_or_default(),
        data,
        usage: v.get("usage").and_then(parse_usage),
        extra: extra_of(v, known::EMBEDDINGS, &[]),
        headers: Vec::new(),
    })
}

/// An error event inside a stream (`data: {"error": {...}}`), if `v` is one.
pub fn stream_error(v: &Value) -> Option<ProviderError> {
    let err = v.get("error")?;
    let status = err
        .get("code")
        .and_then(Value::as_u64)
        .filter(|c| (400..600).contains(c))
        .map(|c| c as u16)
        .unwrap_or(500);
    let body = json!({ "error": err }).to_string();
    Some(crate::error::from_http(status, &[], body.as_bytes()))
}

/// The translation of OpenAI's SSE stream: each `data:` event is one chunk, `[DONE]` ends it,
/// an `{"error": ...}` event fails it.
#[derive(Debug, Default)]
pub struct ChunkEvents;

impl crate::stream::Translate<crate::sse::SseEvent> for ChunkEvents {
    fn translate(
        &mut self,
        event: crate::sse::SseEvent,
        out: &mut Vec<ChatChunk>,
    ) -> ProviderResult<crate::stream::Flow> {
        use crate::stream::Flow;
        if event.is_done() {
            return Ok(Flow::End);
        }
        if event.data.trim().is_empty() {
            return Ok(Flow::Continue);
        }
        if let Some(chunk) = crate::openai_typed::chat_chunk(&event.data) {
            out.push(chunk);
            return Ok(Flow::Continue);
        }
        let json = crate::wire::stream_json(&event.data)?;
        if let Some(err) = stream_error(&json) {
            return Err(err);
        }
        out.push(parse_chat_chunk(&json)?);
        Ok(Flow::Continue)
    }
}

/// The stream type of every OpenAI-shaped adapter.
pub type OpenAiStream = crate::stream::PumpStream<crate::sse::SseStream, ChunkEvents>;

/// A whole chat answer from an OpenAI-shaped endpoint; `post` makes the adapter's HTTP request
/// (URL, auth, headers) for a body, or says why it cannot.
pub fn chat(
    req: &ChatRequest,
    post: impl FnOnce(&Value) -> ProviderResult<crate::http::Request>,
) -> ProviderResult<ChatResponse> {
    let (body, headers) = post(&chat_request_body(req, false)?)?.fetch_body()?;
    let mut answer = match crate::openai_typed::chat_response(&body) {
        Some(answer) => answer,
        None => parse_chat_response(&crate::http::json_of(&body)?)?,
    };
    answer.headers = headers;
    Ok(answer)
}

/// A streamed chat answer from an OpenAI-shaped endpoint; see [`chat`].
pub fn chat_stream(
    req: &ChatRequest,
    post: impl FnOnce(&Value) -> ProviderResult<crate::http::Request>,
) -> ProviderResult<crate::bindings::exports::wasmgate::provider::adapter::OpenedStream> {
    let (body, headers) = post(&chat_request_body(req, true)?)?
        .header("accept", "text/event-stream")
        .open_stream()?;
    Ok(OpenAiStream::open(
        crate::sse::SseStream::new(body),
        ChunkEvents,
        headers,
    ))
}

/// Embeddings from an OpenAI-shaped endpoint; see [`chat`].
pub fn embed(
    req: &EmbeddingRequest,
    post: impl FnOnce(&Value) -> ProviderResult<crate::http::Request>,
) -> ProviderResult<EmbeddingResponse> {
    let (json, headers) = post(&embedding_request_body(req)?)?.fetch_json()?;
    let encoding = req.encoding_format.unwrap_or(EncodingFormat::Float);
    let mut answer = parse_embedding_response(&json, encoding)?;
    answer.headers = headers;
    Ok(answer)
}
