//! Ollama's native API (`/api/chat` with NDJSON streaming, `/api/embed`): messages with base64
//! `images`, tool calls whose arguments are objects, tool results named by `tool_name`,
//! sampling under `options`, `think` for reasoning models, and `keep_alive` / `options` from the
//! request's extras passed through.

use crate::bindings::wasmgate::provider::types::*;
use crate::error::ProviderResult;
use crate::openai::merge_extra;
use crate::wire::{count, data_url, now_secs, sampling, tool_arguments, SamplingNames};
use serde_json::{json, Map, Value};

fn bad(message: impl Into<String>) -> ProviderError {
    ProviderError::bad_request(message)
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::System | Role::Developer => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    }
}

/// A message's text and its images (base64, as Ollama takes them).
fn text_and_images(content: &Option<MessageContent>) -> ProviderResult<(String, Vec<String>)> {
    let parts = match content {
        None => return Ok((String::new(), Vec::new())),
        Some(MessageContent::Text(t)) => return Ok((t.clone(), Vec::new())),
        Some(MessageContent::Parts(parts)) => parts,
    };
    let mut text = String::new();
    let mut images = Vec::new();
    for part in parts {
        match &part.body {
            PartBody::Text(t) => text.push_str(t),
            PartBody::Image(image) => {
                let (_, data) = data_url(&image.url)
                    .ok_or_else(|| bad("Ollama takes images as data: URLs (base64), not links"))?;
                images.push(data.to_string());
            }
            PartBody::Other(_) => {
                return Err(bad(
                    "Ollama's chat takes text and images only (no files or audio)",
                ))
            }
        }
    }
    Ok((text, images))
}

fn message_json(m: &Message, call_names: &[(String, String)]) -> ProviderResult<Value> {
    let (text, images) = text_and_images(&m.content)?;
    let mut out = json!({"role": role_name(m.role), "content": text});
    if !images.is_empty() {
        out["images"] = json!(images);
    }
    if !m.tool_calls.is_empty() {
        let calls = m
            .tool_calls
            .iter()
            .map(|c| {
                Ok(json!({"function": {"name": c.function.name, "arguments": tool_arguments(c)?}}))
            })
            .collect::<ProviderResult<Vec<_>>>()?;
        out["tool_calls"] = Value::Array(calls);
    }
    let thinking: String = m
        .reasoning
        .iter()
        .filter_map(|r| match r {
            ReasoningBlock::Thinking(t) => Some(t.text.as_str()),
            ReasoningBlock::Redacted(_) => None,
        })
        .collect();
    if !thinking.is_empty() {
        out["thinking"] = json!(thinking);
    }
    if m.role == Role::Tool {
        let id = m.tool_call_id.as_deref().unwrap_or_default();
        if let Some((_, name)) = call_names.iter().find(|(call, _)| call == id) {
            out["tool_name"] = json!(name);
        }
    }
    Ok(out)
}

/// The JSON body of an `/api/chat` request.
pub fn chat_request_body(req: &ChatRequest, stream: bool) -> ProviderResult<Value> {
    let mut call_names = Vec::new();
    let mut messages = Vec::new();
    for m in &req.messages {
        call_names.extend(
            m.tool_calls
                .iter()
                .map(|c| (c.id.clone(), c.function.name.clone())),
        );
        messages.push(message_json(m, &call_names)?);
    }
    let mut body = Map::new();
    body.insert("model".into(), json!(req.model));
    body.insert("messages".into(), Value::Array(messages));
    body.insert("stream".into(), json!(stream));
    if let Some(tools) = crate::wire::function_tools(&req.tools)? {
        body.insert("tools".into(), tools);
    }
    match &req.response_format {
        Some(ResponseFormat::JsonObject) => {
            body.insert("format".into(), json!("json"));
        }
        Some(ResponseFormat::JsonSchema(s)) => {
            let schema = match &s.schema {
                Some(text) => crate::wire::parse_json("the response schema", text)?,
                None => json!("json"),
            };
            body.insert("format".into(), schema);
        }
        Some(ResponseFormat::Text) | None => {}
    }
    if let Some(effort) = req.reasoning_effort.as_deref() {
        let think = match effort {
            "none" => json!(false),
            "minimal" | "low" => json!("low"),
            "medium" => json!("medium"),
            _ => json!("high"),
        };
        body.insert("think".into(), think);
    }
    let options = sampling(
        req,
        &SamplingNames {
            temperature: Some("temperature"),
            top_p: Some("top_p"),
            top_k: Some("top_k"),
            max_tokens: Some("num_predict"),
            stop: Some("stop"),
            seed: Some("seed"),
            presence_penalty: Some("presence_penalty"),
            frequency_penalty: Some("frequency_penalty"),
        },
    );
    if !options.is_empty() {
        body.insert("options".into(), Value::Object(options));
    }
    // `keep_alive`, and `options` keys the contract has no field for (num_ctx, ...), as given.
    merge_extra(&mut body, req.extra.as_deref())?;
    Ok(Value::Object(body))
}

fn finish_reason(v: &Value, called: bool) -> Option<FinishReason> {
    if v["done"] != true {
        return None;
    }
    Some(match v["done_reason"].as_str() {
        Some("length") => FinishReason::Length,
        _ if called => FinishReason::ToolCalls,
        Some("stop") | None => FinishReason::Stop,
        Some(other) => FinishReason::Other(other.to_string()),
    })
}

fn usage(v: &Value) -> Option<Usage> {
    let prompt = count(v, "prompt_eval_count")?;
    let completion = count(v, "eval_count").unwrap_or(0);
    Some(Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: prompt + completion,
        cached_tokens: None,
        cache_write_tokens: None,
        reasoning_tokens: None,
        extra: None,
    })
}

/// Tool calls in a message; Ollama gives no ids, so they are made from the answer's position.
fn tool_calls(message: &Value, first: u32) -> Vec<(u32, String, String, String)> {
    message["tool_calls"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, c)| {
            let n = first + i as u32;
            let f = &c["function"];
            let args = match &f["arguments"] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (
                n,
                c["id"]
                    .as_str()
                    .map_or_else(|| format!("call_{n}"), str::to_string),
                f["name"].as_str().unwrap_or_default().to_string(),
                args,
            )
        })
        .collect()
}

/// An error line or body (`{"error": "..."}`), if `v` is one.
pub fn error_of(v: &Value) -> Option<ProviderError> {
    let message = v.get("error")?.as_str()?;
    let status = if message.contains("not found") {
        404
    } else {
        500
    };
    Some(crate::error::from_http(
        status,
        &[],
        v.to_string().as_bytes(),
    ))
}

/// A whole `/api/chat` answer.
pub fn parse_chat_response(v: &Value) -> ProviderResult<ChatResponse> {
    if let Some(e) = error_of(v) {
        return Err(e);
    }
    let message = v
        .get("message")
        .filter(|m| m.is_object())
        .ok_or_else(|| ProviderError::upstream("the provider's answer has no `message`"))?;
    let calls = tool_calls(message, 0);
    let called = !calls.is_empty();
    let text = message["content"].as_str().unwrap_or_default();
    let thinking = message["thinking"].as_str().unwrap_or_default();
    let answer = AssistantMessage {
        content: (!text.is_empty()).then(|| text.to_string()),
        reasoning: ReasoningBlock::plain(thinking),
        tool_calls: calls
            .into_iter()
            .map(|(_, id, name, arguments)| ToolCall {
                id,
                function: FunctionCall { name, arguments },
                signature: None,
                extra: None,
            })
            .collect(),
        refusal: None,
        extra: None,
    };
    Ok(ChatResponse::single(
        format!("ollama-{}", now_secs()),
        v["model"].as_str().unwrap_or_default(),
        answer,
        finish_reason(v, called),
        usage(v),
    ))
}

/// The translation of `/api/chat`'s NDJSON stream: one chunk per line, the `done` line carries
/// the finish reason and the counts.
#[derive(Debug)]
pub struct ChatLines {
    id: String,
    include_usage: bool,
    calls: u32,
}

impl ChatLines {
    /// A translation reporting usage on the last chunk when `include_usage`.
    pub fn new(include_usage: bool) -> Self {
        ChatLines {
            id: format!("ollama-{}", now_secs()),
            include_usage,
            calls: 0,
        }
    }
}

impl crate::stream::Translate<Value> for ChatLines {
    fn translate(
        &mut self,
        v: Value,
        out: &mut Vec<ChatChunk>,
    ) -> ProviderResult<crate::stream::Flow> {
        use crate::stream::Flow;
        if let Some(e) = error_of(&v) {
            return Err(e);
        }
        let message = &v["message"];
        let calls = tool_calls(message, self.calls);
        self.calls += calls.len() as u32;
        let text = message["content"].as_str().unwrap_or_default();
        let thinking = message["thinking"].as_str().unwrap_or_default();
        let delta = ChoiceDelta {
            index: 0,
            role: Some(Role::Assistant),
            content: (!text.is_empty()).then(|| text.to_string()),
            reasoning: if thinking.is_empty() {
                Vec::new()
            } else {
                vec![ReasoningDelta {
                    index: 0,
                    text: Some(thinking.to_string()),
                    signature: None,
                    redacted: None,
                }]
            },
            tool_calls: calls
                .into_iter()
                .map(|(index, id, name, arguments)| ToolCallDelta {
                    index,
                    id: Some(id),
                    name: Some(name),
                    arguments: Some(arguments),
                    signature: None,
                    extra: None,
                })
                .collect(),
            refusal: None,
            finish_reason: finish_reason(&v, self.calls > 0),
            logprobs: None,
            extra: None,
        };
        let done = v["done"] == true;
        let model = v["model"].as_str().unwrap_or_default();
        let usage = (done && self.include_usage).then(|| usage(&v)).flatten();
        out.push(ChatChunk::of(&self.id, model, now_secs(), delta, usage));
        Ok(if done { Flow::End } else { Flow::Continue })
    }
}

/// The JSON body of an `/api/embed` request.
pub fn embed_request_body(req: &EmbeddingRequest) -> ProviderResult<Value> {
    let texts = req
        .input
        .iter()
        .map(|i| match i {
            EmbeddingInput::Text(t) => Ok(t.clone()),
            _ => Err(bad("Ollama embeds text inputs only")),
        })
        .collect::<ProviderResult<Vec<_>>>()?;
    let mut body = Map::new();
    body.insert("model".into(), json!(req.model));
    body.insert("input".into(), json!(texts));
    if let Some(d) = req.dimensions {
        body.insert("dimensions".into(), json!(d));
    }
    merge_extra(&mut body, req.extra.as_deref())?;
    Ok(Value::Object(body))
}

/// An `/api/embed` answer.
pub fn parse_embed_response(v: &Value) -> ProviderResult<EmbeddingResponse> {
    if let Some(e) = error_of(v) {
        return Err(e);
    }
    let list = v["embeddings"]
        .as_array()
        .ok_or_else(|| ProviderError::upstream("the provider's answer has no `embeddings`"))?;
    let data = list
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let values = e
                .as_array()
                .and_then(|a| a.iter().map(|x| x.as_f64().map(|f| f as f32)).collect())
                .ok_or_else(|| ProviderError::upstream("an embedding is not a list of numbers"))?;
            Ok(Embedding {
                index: i as u32,
                vector: EmbeddingVector::Float(values),
            })
        })
        .collect::<ProviderResult<Vec<_>>>()?;
    Ok(EmbeddingResponse {
        model: v["model"].as_str().unwrap_or_default().to_string(),
        data,
        usage: count(v, "prompt_eval_count").map(Usage::prompt_only),
        extra: None,
        headers: Vec::new(),
    })
}
