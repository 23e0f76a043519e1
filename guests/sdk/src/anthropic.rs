//! Anthropic's Messages wire format, shared by every adapter for an API that speaks it (Anthropic
//! itself, Claude on Vertex AI, ...): the request body (system prompt hoisted, alternating turns,
//! content blocks, tool_use / tool_result, thinking blocks with their signatures, `cache_control`
//! from the records' `extra`), the answer, the SSE event sequence, and its error events.

use crate::bindings::wasmgate::provider::types::*;
use crate::error::ProviderResult;
use crate::openai::merge_extra;
use crate::wire::{
    count, data_url, now_secs, parse_json, push_turn, sampling, tool_arguments, SamplingNames,
};
use serde_json::{json, Map, Value};

/// The `anthropic-version` sent when the client sent none.
pub const API_VERSION: &str = "2023-06-01";
/// `max_tokens` is required by the API; this is sent when the request gives none.
pub const DEFAULT_MAX_TOKENS: u32 = 4096;
/// The tool a JSON `response_format` becomes: the model is made to call it, and its input is
/// the answer's text (the API has no JSON mode of its own on every model).
pub const JSON_TOOL: &str = "json_tool_call";

/// What the answer's translation must know about the request.
#[derive(Debug, Clone, Copy, Default)]
pub struct Shape {
    /// The request asked for JSON: the [`JSON_TOOL`] call is the answer's text.
    pub json_tool: bool,
    /// Streaming only: report usage on the last chunk.
    pub include_usage: bool,
}

impl Shape {
    /// The shape of `req`'s answer.
    pub fn of(req: &ChatRequest) -> Shape {
        Shape {
            json_tool: matches!(
                req.response_format,
                Some(ResponseFormat::JsonObject | ResponseFormat::JsonSchema(_))
            ),
            include_usage: req.include_usage,
        }
    }
}

/// The smallest thinking budget the API takes.
pub(crate) const MIN_THINKING_BUDGET: u32 = 1024;

/// The thinking budget for an OpenAI-style reasoning effort (LiteLLM's numbers).
pub(crate) fn thinking_budget(effort: &str) -> Option<u32> {
    match effort {
        "minimal" | "low" => Some(1024),
        "medium" => Some(2048),
        "high" => Some(4096),
        _ => None,
    }
}

fn bad(message: impl Into<String>) -> ProviderError {
    ProviderError::bad_request(message)
}

/// Merges a record's `extra` object (e.g. `cache_control`) into a block.
fn with_extra(mut block: Value, extra: Option<&str>) -> ProviderResult<Value> {
    if let Value::Object(map) = &mut block {
        merge_extra(map, extra)?;
    }
    Ok(block)
}

/// A source object for an image or document URL.
fn source(url: &str) -> Value {
    match data_url(url) {
        Some((media, data)) => json!({"type": "base64", "media_type": media, "data": data}),
        None => json!({"type": "url", "url": url}),
    }
}

/// One content part as a block.
fn part_block(part: &ContentPart) -> ProviderResult<Value> {
    let block = match &part.body {
        PartBody::Text(text) => json!({"type": "text", "text": text}),
        PartBody::Image(image) => json!({"type": "image", "source": source(&image.url)}),
        PartBody::Other(raw) => {
            let v = parse_json("a content part", raw)?;
            match v.get("type").and_then(Value::as_str) {
                // OpenAI's file part: a PDF or text document.
                Some("file") => {
                    let file = &v["file"];
                    let data = file["file_data"].as_str().ok_or_else(|| {
                        bad("a file part needs `file.file_data` (uploaded file ids are not supported by Anthropic's API)")
                    })?;
                    let mut doc = json!({"type": "document", "source": source(data)});
                    if let Some(name) = file["filename"].as_str() {
                        doc["title"] = json!(name);
                    }
                    doc
                }
                Some("input_audio") => {
                    return Err(bad("audio input is not supported by Anthropic's API"))
                }
                // Anthropic's own blocks (document, search_result, ...): as they are.
                Some(_) => v,
                None => return Err(bad("a content part needs a `type`")),
            }
        }
    };
    with_extra(block, part.extra.as_deref())
}

fn content_blocks(content: &Option<MessageContent>) -> ProviderResult<Vec<Value>> {
    match content {
        None => Ok(Vec::new()),
        Some(MessageContent::Text(text)) if text.is_empty() => Ok(Vec::new()),
        Some(MessageContent::Text(text)) => Ok(vec![json!({"type": "text", "text": text})]),
        Some(MessageContent::Parts(parts)) => parts.iter().map(part_block).collect(),
    }
}

fn assistant_blocks(m: &Message) -> ProviderResult<Vec<Value>> {
    let mut blocks = Vec::new();
    for r in &m.reasoning {
        match r {
            // The API refuses thinking without the signature it made; reasoning from another
            // provider has none and is left out.
            ReasoningBlock::Thinking(Thinking {
                text,
                signature: Some(sig),
            }) => blocks.push(json!({"type": "thinking", "thinking": text, "signature": sig})),
            ReasoningBlock::Thinking(_) => {}
            ReasoningBlock::Redacted(data) => {
                blocks.push(json!({"type": "redacted_thinking", "data": data}))
            }
        }
    }
    blocks.extend(content_blocks(&m.content)?);
    for call in &m.tool_calls {
        let block = json!({"type": "tool_use", "id": call.id, "name": call.function.name,
                           "input": tool_arguments(call)?});
        blocks.push(with_extra(block, call.extra.as_deref())?);
    }
    Ok(blocks)
}

fn tool_result_block(m: &Message) -> ProviderResult<Value> {
    let id = m
        .tool_call_id
        .as_deref()
        .ok_or_else(|| bad("a tool message needs `tool_call_id`"))?;
    let content = match &m.content {
        Some(MessageContent::Parts(_)) => Value::Array(content_blocks(&m.content)?),
        Some(MessageContent::Text(text)) => json!(text),
        None => json!(""),
    };
    Ok(json!({"type": "tool_result", "tool_use_id": id, "content": content}))
}

/// A message's own `extra` (e.g. `cache_control` set on the whole message) goes on its last
/// block, as Anthropic's caching marks the end of a prefix.
fn mark_last(blocks: &mut [Value], extra: Option<&str>) -> ProviderResult<()> {
    if let (Some(Value::Object(last)), Some(_)) = (blocks.last_mut(), extra) {
        merge_extra(last, extra)?;
    }
    Ok(())
}

fn tool_json(t: &FunctionDefinition) -> ProviderResult<Value> {
    let schema = match &t.parameters {
        Some(p) => parse_json(&format!("the parameters of tool `{}`", t.name), p)?,
        None => json!({"type": "object", "properties": {}}),
    };
    let mut tool = json!({"name": t.name, "input_schema": schema});
    if let Some(d) = &t.description {
        tool["description"] = json!(d);
    }
    with_extra(tool, t.extra.as_deref())
}

/// The JSON tool for a `response_format`, and its forced choice.
fn json_tool(format: &ResponseFormat) -> ProviderResult<Option<Value>> {
    let (schema, description) = match format {
        ResponseFormat::Text => return Ok(None),
        ResponseFormat::JsonObject => (json!({"type": "object"}), None),
        ResponseFormat::JsonSchema(s) => (
            match &s.schema {
                Some(text) => parse_json("the response schema", text)?,
                None => json!({"type": "object"}),
            },
            s.description.clone(),
        ),
    };
    let mut tool = json!({"name": JSON_TOOL, "input_schema": schema});
    if let Some(d) = description {
        tool["description"] = json!(d);
    }
    Ok(Some(tool))
}

/// The JSON body of a `/v1/messages` request.
pub fn messages_request_body(req: &ChatRequest, stream: bool) -> ProviderResult<Value> {
    let mut system = Vec::new();
    let mut turns = Vec::new();
    for m in &req.messages {
        let (role, mut blocks) = match m.role {
            Role::System | Role::Developer => {
                let mut blocks = content_blocks(&m.content)?;
                mark_last(&mut blocks, m.extra.as_deref())?;
                system.extend(blocks);
                continue;
            }
            Role::User => ("user", content_blocks(&m.content)?),
            Role::Assistant => ("assistant", assistant_blocks(m)?),
            Role::Tool => ("user", vec![tool_result_block(m)?]),
        };
        mark_last(&mut blocks, m.extra.as_deref())?;
        push_turn(&mut turns, role, "content", blocks);
    }
    if turns.is_empty() {
        return Err(bad(
            "Anthropic's API needs at least one user or assistant message",
        ));
    }
    let mut body = Map::new();
    body.insert("model".into(), json!(req.model));
    body.insert("messages".into(), Value::Array(turns));
    if !system.is_empty() {
        let plain = system
            .iter()
            .all(|b| b["type"] == "text" && b.as_object().is_some_and(|o| o.len() == 2));
        let value = if plain {
            let texts: Vec<&str> = system.iter().filter_map(|b| b["text"].as_str()).collect();
            json!(texts.join("\n\n"))
        } else {
            Value::Array(system)
        };
        body.insert("system".into(), value);
    }
    let max_tokens = req
        .max_completion_tokens
        .or(req.max_tokens)
        .unwrap_or(DEFAULT_MAX_TOKENS);
    body.insert("max_tokens".into(), json!(max_tokens));
    let mut tools = req
        .tools
        .iter()
        .map(tool_json)
        .collect::<ProviderResult<Vec<_>>>()?;
    let mut choice = match &req.tool_choice {
        None => None,
        Some(ToolChoice::Auto) => Some(json!({"type": "auto"})),
        Some(ToolChoice::Required) => Some(json!({"type": "any"})),
        Some(ToolChoice::None) => Some(json!({"type": "none"})),
        Some(ToolChoice::Function(name)) => Some(json!({"type": "tool", "name": name})),
    };
    if let Some(tool) = req
        .response_format
        .as_ref()
        .map(json_tool)
        .transpose()?
        .flatten()
    {
        tools.push(tool);
        choice = Some(json!({"type": "tool", "name": JSON_TOOL}));
    }
    if req.parallel_tool_calls == Some(false) && !tools.is_empty() {
        let c = choice.get_or_insert_with(|| json!({"type": "auto"}));
        c["disable_parallel_tool_use"] = json!(true);
    }
    if !tools.is_empty() {
        body.insert("tools".into(), Value::Array(tools));
    }
    if let Some(c) = choice {
        body.insert("tool_choice".into(), c);
    }
    body.extend(sampling(
        req,
        &SamplingNames {
            temperature: Some("temperature"),
            top_p: Some("top_p"),
            top_k: Some("top_k"),
            stop: Some("stop_sequences"),
            ..SamplingNames::default()
        },
    ));
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(v) = value {
            body.insert(key.into(), v);
        }
    };
    put("metadata", req.user.as_ref().map(|u| json!({"user_id": u})));
    // The budget must stay below max_tokens; too little room for the API's minimum budget
    // means no thinking.
    put(
        "thinking",
        req.reasoning_effort
            .as_deref()
            .and_then(thinking_budget)
            .map(|b| b.min(max_tokens.saturating_sub(1)))
            .filter(|b| *b >= MIN_THINKING_BUDGET)
            .map(|b| json!({"type": "enabled", "budget_tokens": b})),
    );
    if stream {
        put("stream", Some(Value::Bool(true)));
    }
    merge_extra(&mut body, req.extra.as_deref())?;
    Ok(Value::Object(body))
}

/// The fields of a Messages body that `/v1/messages/count_tokens` takes; it refuses the others.
const COUNT_TOKENS_FIELDS: &[&str] = &[
    "model",
    "messages",
    "system",
    "tools",
    "tool_choice",
    "thinking",
    "mcp_servers",
];

/// The JSON body of a `/v1/messages/count_tokens` request: the Messages body of `req` without
/// the fields that only matter to generation.
pub fn count_tokens_request_body(req: &ChatRequest) -> ProviderResult<Value> {
    let mut body = messages_request_body(req, false)?;
    if let Some(fields) = body.as_object_mut() {
        fields.retain(|k, _| COUNT_TOKENS_FIELDS.contains(&k.as_str()));
    }
    Ok(body)
}

/// The count in a `/v1/messages/count_tokens` answer (`{"input_tokens": N}`).
pub fn parse_token_count(v: &Value) -> ProviderResult<u32> {
    v["input_tokens"]
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| {
            ProviderError::new(
                ErrorKind::UpstreamError,
                "the token count answer has no `input_tokens` number",
            )
        })
}

/// The contract's finish reason for a `stop_reason`.
pub fn finish_reason(stop: &str, shape: Shape) -> FinishReason {
    match stop {
        "end_turn" | "stop_sequence" => FinishReason::Stop,
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "tool_use" if shape.json_tool => FinishReason::Stop,
        "tool_use" => FinishReason::ToolCalls,
        "refusal" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_string()),
    }
}

/// Usage from the API's counts: the prompt includes tokens read from and written to the cache.
pub fn parse_usage(v: &Value) -> Usage {
    let input = count(v, "input_tokens").unwrap_or(0);
    let cached = count(v, "cache_read_input_tokens");
    let written = count(v, "cache_creation_input_tokens");
    let output = count(v, "output_tokens").unwrap_or(0);
    let prompt = input + cached.unwrap_or(0) + written.unwrap_or(0);
    let extra = crate::openai::extra_of(
        v,
        &[
            "input_tokens",
            "cache_read_input_tokens",
            "cache_creation_input_tokens",
            "output_tokens",
        ],
        &[],
    );
    Usage {
        prompt_tokens: prompt,
        completion_tokens: output,
        total_tokens: prompt + output,
        cached_tokens: cached,
        cache_write_tokens: written,
        reasoning_tokens: None,
        extra,
    }
}

fn text_of(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// A whole `/v1/messages` answer.
pub fn parse_messages_response(v: &Value, shape: Shape) -> ProviderResult<ChatResponse> {
    let blocks = v
        .get("content")
        .and_then(Value::as_array)
        .ok_or_else(|| ProviderError::upstream("the provider's answer has no `content` list"))?;
    let mut text = String::new();
    let mut message = AssistantMessage {
        content: None,
        reasoning: Vec::new(),
        tool_calls: Vec::new(),
        refusal: None,
        extra: None,
    };
    let mut other_blocks = Vec::new();
    for b in blocks {
        match b.get("type").and_then(Value::as_str) {
            Some("text") => text.push_str(&text_of(b, "text")),
            Some("thinking") => message.reasoning.push(ReasoningBlock::Thinking(Thinking {
                text: text_of(b, "thinking"),
                signature: b
                    .get("signature")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            })),
            Some("redacted_thinking") => message
                .reasoning
                .push(ReasoningBlock::Redacted(text_of(b, "data"))),
            Some("tool_use") if shape.json_tool && b["name"] == JSON_TOOL => {
                text.push_str(&b.get("input").unwrap_or(&json!({})).to_string())
            }
            Some("tool_use") => message.tool_calls.push(ToolCall {
                id: text_of(b, "id"),
                function: FunctionCall {
                    name: text_of(b, "name"),
                    arguments: b.get("input").unwrap_or(&json!({})).to_string(),
                },
                signature: None,
                extra: None,
            }),
            // Server tools' calls and results, citations blocks: kept for the client.
            _ => other_blocks.push(b.clone()),
        }
    }
    if !text.is_empty() {
        message.content = Some(text);
    }
    if !other_blocks.is_empty() {
        message.extra = Some(json!({"provider_content_blocks": other_blocks}).to_string());
    }
    let stop = v.get("stop_reason").and_then(Value::as_str);
    Ok(ChatResponse {
        id: text_of(v, "id"),
        model: text_of(v, "model"),
        created: now_secs(),
        choices: vec![Choice {
            index: 0,
            message,
            finish_reason: stop.map(|s| finish_reason(s, shape)),
            logprobs: None,
            extra: None,
        }],
        usage: v.get("usage").map(parse_usage),
        system_fingerprint: None,
        extra: crate::openai::extra_of(
            v,
            &[
                "id",
                "type",
                "role",
                "model",
                "content",
                "stop_reason",
                "stop_sequence",
                "usage",
            ],
            &[],
        ),
        headers: Vec::new(),
    })
}

/// The HTTP status an error event's `type` stands for.
fn error_status(kind: &str) -> u16 {
    match kind {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        "overloaded_error" => 529,
        _ => 500,
    }
}

/// What a content block of the stream is, by its index.
#[derive(Debug, Clone, Copy)]
enum Block {
    Text,
    /// Reasoning block number `n` of the answer.
    Reasoning(u32),
    /// Tool call number `n` of the answer.
    Tool(u32),
    /// The JSON tool's input: the answer's text.
    JsonText,
    /// A block the contract does not model (server tool use, ...).
    Other,
}

/// The translation of the Messages SSE stream into chunks.
#[derive(Debug)]
pub struct MessagesEvents {
    shape: Shape,
    id: String,
    model: String,
    created: u64,
    input_usage: Value,
    blocks: Vec<Block>,
    reasoning: u32,
    tools: u32,
}

impl MessagesEvents {
    /// A translation for an answer of `shape`.
    pub fn new(shape: Shape) -> Self {
        MessagesEvents {
            shape,
            id: String::new(),
            model: String::new(),
            created: now_secs(),
            input_usage: json!({}),
            blocks: Vec::new(),
            reasoning: 0,
            tools: 0,
        }
    }

    fn chunk(&self, delta: ChoiceDelta) -> ChatChunk {
        ChatChunk::of(&self.id, &self.model, self.created, delta, None)
    }

    fn block(&self, index: Option<u64>) -> Block {
        index
            .and_then(|i| self.blocks.get(i as usize).copied())
            .unwrap_or(Block::Other)
    }

    fn start_block(&mut self, index: usize, b: &Value) -> Option<ChoiceDelta> {
        let mut delta = ChoiceDelta::empty();
        let block = match b.get("type").and_then(Value::as_str) {
            Some("text") => {
                let text = text_of(b, "text");
                if !text.is_empty() {
                    delta.content = Some(text);
                }
                Block::Text
            }
            Some("thinking") => {
                let n = self.next_reasoning();
                let text = text_of(b, "thinking");
                delta.reasoning.push(ReasoningDelta {
                    index: n,
                    text: (!text.is_empty()).then_some(text),
                    signature: b
                        .get("signature")
                        .and_then(Value::as_str)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string),
                    redacted: None,
                });
                Block::Reasoning(n)
            }
            Some("redacted_thinking") => {
                let n = self.next_reasoning();
                delta.reasoning.push(ReasoningDelta {
                    index: n,
                    text: None,
                    signature: None,
                    redacted: Some(text_of(b, "data")),
                });
                Block::Reasoning(n)
            }
            Some("tool_use") if self.shape.json_tool && b["name"] == JSON_TOOL => Block::JsonText,
            Some("tool_use") => {
                let n = self.tools;
                self.tools += 1;
                delta.tool_calls.push(ToolCallDelta {
                    index: n,
                    id: Some(text_of(b, "id")),
                    name: Some(text_of(b, "name")),
                    arguments: Some(String::new()),
                    signature: None,
                    extra: None,
                });
                Block::Tool(n)
            }
            _ => Block::Other,
        };
        if self.blocks.len() <= index {
            self.blocks.resize(index + 1, Block::Other);
        }
        self.blocks[index] = block;
        let empty =
            delta.content.is_none() && delta.reasoning.is_empty() && delta.tool_calls.is_empty();
        (!empty).then_some(delta)
    }

    fn next_reasoning(&mut self) -> u32 {
        let n = self.reasoning;
        self.reasoning += 1;
        n
    }

    fn block_delta(&self, block: Block, d: &Value) -> Option<ChoiceDelta> {
        let mut delta = ChoiceDelta::empty();
        let piece = |key: &str| d.get(key).and_then(Value::as_str).map(str::to_string);
        match (block, d.get("type").and_then(Value::as_str)) {
            (Block::Text, Some("text_delta")) => delta.content = piece("text"),
            (Block::JsonText, Some("input_json_delta")) => delta.content = piece("partial_json"),
            (Block::Tool(n), Some("input_json_delta")) => delta.tool_calls.push(ToolCallDelta {
                index: n,
                id: None,
                name: None,
                arguments: piece("partial_json"),
                signature: None,
                extra: None,
            }),
            (Block::Reasoning(n), Some("thinking_delta")) => delta.reasoning.push(ReasoningDelta {
                index: n,
                text: piece("thinking"),
                signature: None,
                redacted: None,
            }),
            (Block::Reasoning(n), Some("signature_delta")) => {
                delta.reasoning.push(ReasoningDelta {
                    index: n,
                    text: None,
                    signature: piece("signature"),
                    redacted: None,
                })
            }
            _ => return None,
        }
        Some(delta)
    }
}

impl crate::stream::Translate<crate::sse::SseEvent> for MessagesEvents {
    fn translate(
        &mut self,
        event: crate::sse::SseEvent,
        out: &mut Vec<ChatChunk>,
    ) -> ProviderResult<crate::stream::Flow> {
        use crate::stream::Flow;
        if event.data.trim().is_empty() {
            return Ok(Flow::Continue);
        }
        let v = crate::wire::stream_json(&event.data)?;
        let kind = v
            .get("type")
            .and_then(Value::as_str)
            .or(event.event.as_deref())
            .unwrap_or_default()
            .to_string();
        match kind.as_str() {
            "message_start" => {
                let m = &v["message"];
                self.id = text_of(m, "id");
                self.model = text_of(m, "model");
                self.input_usage = m.get("usage").cloned().unwrap_or(json!({}));
                let mut delta = ChoiceDelta::empty();
                delta.role = Some(Role::Assistant);
                out.push(self.chunk(delta));
            }
            "content_block_start" => {
                let index = v["index"].as_u64().unwrap_or(0) as usize;
                if let Some(delta) = self.start_block(index, &v["content_block"]) {
                    out.push(self.chunk(delta));
                }
            }
            "content_block_delta" => {
                let block = self.block(v["index"].as_u64());
                if let Some(delta) = self.block_delta(block, &v["delta"]) {
                    out.push(self.chunk(delta));
                }
            }
            "message_delta" => {
                let mut delta = ChoiceDelta::empty();
                delta.finish_reason = v["delta"]["stop_reason"]
                    .as_str()
                    .map(|s| finish_reason(s, self.shape));
                let mut chunk = self.chunk(delta);
                if self.shape.include_usage {
                    let mut counts = self.input_usage.clone();
                    if let (Value::Object(c), Some(Value::Object(later))) =
                        (&mut counts, v.get("usage"))
                    {
                        c.extend(later.clone());
                    }
                    chunk.usage = Some(parse_usage(&counts));
                }
                out.push(chunk);
            }
            "message_stop" => return Ok(Flow::End),
            "error" => {
                let kind = v["error"]["type"].as_str().unwrap_or("api_error");
                let body = v.to_string();
                return Err(crate::error::from_http(
                    error_status(kind),
                    &[],
                    body.as_bytes(),
                ));
            }
            // ping, content_block_stop, and events added later
            _ => {}
        }
        Ok(Flow::Continue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::Translate;

    use crate::wire::samples;

    fn message(role: Role, content: &str) -> Message {
        samples::message(role, content)
    }

    fn request(messages: Vec<Message>) -> ChatRequest {
        samples::request("claude", messages)
    }

    #[test]
    fn system_is_hoisted_and_tool_results_join_one_user_turn() {
        let mut assistant = message(Role::Assistant, "");
        assistant.reasoning = vec![
            ReasoningBlock::Thinking(Thinking {
                text: "plan".into(),
                signature: Some("sig".into()),
            }),
            ReasoningBlock::Thinking(Thinking {
                text: "unsigned".into(),
                signature: None,
            }),
        ];
        assistant.tool_calls = ["a", "b"]
            .iter()
            .map(|id| ToolCall {
                id: id.to_string(),
                function: FunctionCall {
                    name: "f".into(),
                    arguments: "{\"x\":1}".into(),
                },
                signature: None,
                extra: None,
            })
            .collect();
        let mut result_a = message(Role::Tool, "ra");
        result_a.tool_call_id = Some("a".into());
        let mut result_b = message(Role::Tool, "rb");
        result_b.tool_call_id = Some("b".into());
        let mut system = message(Role::System, "Be brief.");
        system.extra = Some(r#"{"cache_control":{"type":"ephemeral"}}"#.into());
        let mut req = request(vec![
            system,
            message(Role::User, "hi"),
            assistant,
            result_a,
            result_b,
            message(Role::User, "thanks"),
        ]);
        req.reasoning_effort = Some("medium".into());
        let body = messages_request_body(&req, false).unwrap();
        assert_eq!(
            body["system"],
            json!([{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}])
        );
        assert_eq!(body["max_tokens"], DEFAULT_MAX_TOKENS);
        assert_eq!(body["thinking"]["budget_tokens"], 2048);
        let turns = body["messages"].as_array().unwrap();
        assert_eq!(turns.len(), 3, "{turns:?}");
        let said = &turns[1]["content"];
        assert_eq!(
            said[0],
            json!({"type": "thinking", "thinking": "plan", "signature": "sig"})
        );
        assert_eq!(
            said[1]["type"], "tool_use",
            "the unsigned thinking is left out"
        );
        assert_eq!(said[1]["input"], json!({"x": 1}));
        let results = turns[2]["content"].as_array().unwrap();
        let kinds: Vec<&str> = results
            .iter()
            .map(|b| b["type"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["tool_result", "tool_result", "text"]);
    }

    #[test]
    fn a_json_format_is_a_forced_tool_whose_input_is_the_text() {
        let mut req = request(vec![message(Role::User, "hi")]);
        req.response_format = Some(ResponseFormat::JsonObject);
        let body = messages_request_body(&req, false).unwrap();
        assert_eq!(
            body["tool_choice"],
            json!({"type": "tool", "name": JSON_TOOL})
        );
        let answer = json!({"id": "msg_1", "model": "claude", "stop_reason": "tool_use",
            "content": [{"type": "tool_use", "id": "t", "name": JSON_TOOL, "input": {"a": 1}}],
            "usage": {"input_tokens": 3, "output_tokens": 2, "cache_read_input_tokens": 4}});
        let r = parse_messages_response(&answer, Shape::of(&req)).unwrap();
        assert_eq!(r.choices[0].message.content.as_deref(), Some("{\"a\":1}"));
        assert!(matches!(
            r.choices[0].finish_reason,
            Some(FinishReason::Stop)
        ));
        let usage = r.usage.unwrap();
        assert_eq!(
            (usage.prompt_tokens, usage.cached_tokens, usage.total_tokens),
            (7, Some(4), 9)
        );
    }

    fn sse(kind: &str, data: Value) -> crate::sse::SseEvent {
        crate::sse::SseEvent {
            event: Some(kind.into()),
            data: data.to_string(),
            id: None,
        }
    }

    #[test]
    fn the_event_sequence_becomes_chunks() {
        let mut t = MessagesEvents::new(Shape {
            json_tool: false,
            include_usage: true,
        });
        let mut out = Vec::new();
        let events = [
            sse(
                "message_start",
                json!({"type": "message_start", "message": {"id": "msg_1", "model": "claude", "usage": {"input_tokens": 5}}}),
            ),
            sse(
                "content_block_start",
                json!({"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}}),
            ),
            sse(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "hm"}}),
            ),
            sse(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "sig"}}),
            ),
            sse(
                "content_block_start",
                json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}}),
            ),
            sse(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"x\":"}}),
            ),
            sse("ping", json!({"type": "ping"})),
            sse(
                "message_delta",
                json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 7}}),
            ),
        ];
        for e in events {
            assert_eq!(
                t.translate(e, &mut out).unwrap(),
                crate::stream::Flow::Continue
            );
        }
        let end = sse("message_stop", json!({"type": "message_stop"}));
        assert_eq!(
            t.translate(end, &mut out).unwrap(),
            crate::stream::Flow::End
        );
        assert_eq!(out.len(), 7);
        assert_eq!(out[2].choices[0].reasoning[0].text.as_deref(), Some("hm"));
        assert_eq!(
            out[3].choices[0].reasoning[0].signature.as_deref(),
            Some("sig")
        );
        assert_eq!(
            out[4].choices[0].tool_calls[0].id.as_deref(),
            Some("toolu_1")
        );
        assert_eq!(
            out[5].choices[0].tool_calls[0].arguments.as_deref(),
            Some("{\"x\":")
        );
        assert!(matches!(
            out[6].choices[0].finish_reason,
            Some(FinishReason::ToolCalls)
        ));
        assert_eq!(out[6].usage.as_ref().unwrap().total_tokens, 12);
        let overloaded = sse(
            "error",
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        );
        let e = t.translate(overloaded, &mut out).unwrap_err();
        assert_eq!((e.kind, e.status), (ErrorKind::Unavailable, Some(529)));
    }
}
