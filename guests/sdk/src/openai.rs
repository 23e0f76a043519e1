//! OpenAI's chat-completions and embeddings wire format, shared by every adapter for an
//! OpenAI-compatible API (OpenAI, vLLM, Ollama, llama.cpp, Groq, Together, DeepSeek, Mistral,
//! OpenRouter, ...) and usable by any adapter that speaks a close dialect.

use crate::bindings::wasmgate::provider::types::*;
use crate::error::ProviderResult;
use serde_json::{json, Map, Value};

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

/// Merges the request's `extra` JSON object into `body`, its keys winning.
pub fn merge_extra(body: &mut Map<String, Value>, extra: Option<&str>) -> ProviderResult<()> {
    let Some(extra) = extra else { return Ok(()) };
    match parse_json("extra", extra)? {
        Value::Object(map) => {
            body.extend(map);
            Ok(())
        }
        Value::Null => Ok(()),
        _ => Err(ProviderError::bad_request("`extra` must be a JSON object")),
    }
}

fn parse_json(what: &str, text: &str) -> ProviderResult<Value> {
    serde_json::from_str(text)
        .map_err(|e| ProviderError::bad_request(format!("{what} is not valid JSON: {e}")))
}

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

fn parse_role(name: &str) -> Option<Role> {
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
        let calls: Vec<Value> = m
            .tool_calls
            .iter()
            .map(|c| {
                json!({"id": c.id, "type": "function",
                       "function": {"name": c.function.name, "arguments": c.function.arguments}})
            })
            .collect();
        out.insert("tool_calls".into(), Value::Array(calls));
    }
    if let Some(id) = &m.tool_call_id {
        out.insert("tool_call_id".into(), json!(id));
    }
    Ok(Value::Object(out))
}

fn content_part_json(p: &ContentPart) -> ProviderResult<Value> {
    Ok(match p {
        ContentPart::Text(t) => json!({"type": "text", "text": t}),
        ContentPart::Image(img) => {
            let mut url = json!({"url": img.url});
            if let Some(d) = &img.detail {
                url["detail"] = json!(d);
            }
            json!({"type": "image_url", "image_url": url})
        }
        ContentPart::Other(raw) => parse_json("a content part", raw)?,
    })
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
    Ok(json!({"type": "function", "function": function}))
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

/// Parses an OpenAI `usage` object.
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
            .and_then(|d| u32_field(d, "cached_tokens")),
        reasoning_tokens: v
            .get("completion_tokens_details")
            .and_then(|d| u32_field(d, "reasoning_tokens")),
    })
}

fn reasoning(v: &Value) -> Option<String> {
    str_field(v, "reasoning_content").or_else(|| str_field(v, "reasoning"))
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
            let m = c.get("message").cloned().unwrap_or(Value::Null);
            let tool_calls = m
                .get("tool_calls")
                .and_then(Value::as_array)
                .map(|calls| {
                    calls
                        .iter()
                        .map(|t| ToolCall {
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
                        })
                        .collect()
                })
                .unwrap_or_default();
            Choice {
                index: u32_field(c, "index").unwrap_or(i as u32),
                message: AssistantMessage {
                    content: str_field(&m, "content"),
                    reasoning_content: reasoning(&m),
                    tool_calls,
                    refusal: str_field(&m, "refusal"),
                },
                finish_reason: c.get("finish_reason").and_then(parse_finish_reason),
                logprobs: json_field(c, "logprobs"),
            }
        })
        .collect();
    let known = [
        "id",
        "object",
        "created",
        "model",
        "choices",
        "usage",
        "system_fingerprint",
    ];
    let extra: Map<String, Value> = v
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, val)| !known.contains(&k.as_str()) && !val.is_null())
                .map(|(k, val)| (k.clone(), val.clone()))
                .collect()
        })
        .unwrap_or_default();
    Ok(ChatResponse {
        id: str_field(v, "id").unwrap_or_default(),
        model: str_field(v, "model").unwrap_or_default(),
        created: v.get("created").and_then(Value::as_u64).unwrap_or(0),
        choices,
        usage: v.get("usage").and_then(parse_usage),
        system_fingerprint: str_field(v, "system_fingerprint"),
        extra: (!extra.is_empty()).then(|| Value::Object(extra).to_string()),
    })
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
                    let d = c.get("delta").cloned().unwrap_or(Value::Null);
                    let tool_calls = d
                        .get("tool_calls")
                        .and_then(Value::as_array)
                        .map(|calls| {
                            calls
                                .iter()
                                .enumerate()
                                .map(|(j, t)| ToolCallDelta {
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
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    ChoiceDelta {
                        index: u32_field(c, "index").unwrap_or(i as u32),
                        role: d.get("role").and_then(Value::as_str).and_then(parse_role),
                        content: str_field(&d, "content"),
                        reasoning_content: reasoning(&d),
                        tool_calls,
                        refusal: str_field(&d, "refusal"),
                        finish_reason: c.get("finish_reason").and_then(parse_finish_reason),
                        logprobs: json_field(c, "logprobs"),
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
    })
}

/// The JSON body of an `/embeddings` request. Floats are always requested; the host encodes
/// base64 for clients that ask for it.
pub fn embedding_request_body(req: &EmbeddingRequest) -> ProviderResult<Value> {
    let mut body = Map::new();
    body.insert("model".into(), json!(req.model));
    body.insert("input".into(), json!(req.input));
    body.insert("encoding_format".into(), json!("float"));
    if let Some(d) = req.dimensions {
        body.insert("dimensions".into(), json!(d));
    }
    if let Some(u) = &req.user {
        body.insert("user".into(), json!(u));
    }
    merge_extra(&mut body, req.extra.as_deref())?;
    Ok(Value::Object(body))
}

/// Parses an `/embeddings` response body.
pub fn parse_embedding_response(v: &Value) -> ProviderResult<EmbeddingResponse> {
    let data = v
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| ProviderError::upstream("the provider's response has no `data`"))?;
    let data = data
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let vector = e
                .get("embedding")
                .and_then(Value::as_array)
                .ok_or_else(|| ProviderError::upstream("an embedding is not a list of numbers"))?
                .iter()
                .map(|x| x.as_f64().map(|f| f as f32))
                .collect::<Option<Vec<f32>>>()
                .ok_or_else(|| ProviderError::upstream("an embedding holds a non-number"))?;
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
