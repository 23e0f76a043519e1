//! Cohere's v2 API: Chat (`/v2/chat`, whole and SSE, tools with a tool plan, citations) and Embed
//! (`/v2/embed`, float and quantized types).

use crate::bindings::wasmgate::provider::types::*;
use crate::error::ProviderResult;
use crate::openai::merge_extra;
use crate::wire::{count, now_secs, parse_json, sampling, SamplingNames};
use serde_json::{json, Map, Value};

fn bad(message: impl Into<String>) -> ProviderError {
    ProviderError::bad_request(message)
}

fn content_json(content: &Option<MessageContent>) -> ProviderResult<Value> {
    Ok(match content {
        None => json!(""),
        Some(MessageContent::Text(t)) => json!(t),
        Some(MessageContent::Parts(parts)) => Value::Array(
            parts
                .iter()
                .map(|p| match &p.body {
                    PartBody::Text(t) => Ok(json!({"type": "text", "text": t})),
                    PartBody::Image(i) => {
                        Ok(json!({"type": "image_url", "image_url": {"url": i.url}}))
                    }
                    PartBody::Other(_) => Err(bad(
                        "Cohere's chat takes text and images only (no files or audio)",
                    )),
                })
                .collect::<ProviderResult<Vec<_>>>()?,
        ),
    })
}

fn message_json(m: &Message) -> ProviderResult<Value> {
    let role = match m.role {
        Role::System | Role::Developer => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    };
    let mut out = json!({"role": role, "content": content_json(&m.content)?});
    if m.role == Role::Tool {
        out["tool_call_id"] = json!(m.tool_call_id.as_deref().unwrap_or_default());
    }
    if !m.tool_calls.is_empty() {
        out["tool_calls"] = m
            .tool_calls
            .iter()
            .map(|c| {
                json!({"id": c.id, "type": "function",
                       "function": {"name": c.function.name, "arguments": c.function.arguments}})
            })
            .collect();
        // The plan the model wrote before its calls comes back as its reasoning.
        let plan: String = m
            .reasoning
            .iter()
            .filter_map(|r| match r {
                ReasoningBlock::Thinking(t) => Some(t.text.as_str()),
                ReasoningBlock::Redacted(_) => None,
            })
            .collect();
        if !plan.is_empty() {
            out["tool_plan"] = json!(plan);
        }
    }
    Ok(out)
}

/// The JSON body of a `/v2/chat` request.
pub fn chat_request_body(req: &ChatRequest, stream: bool) -> ProviderResult<Value> {
    let mut body = Map::new();
    body.insert("model".into(), json!(req.model));
    let messages = req
        .messages
        .iter()
        .map(message_json)
        .collect::<ProviderResult<Vec<_>>>()?;
    body.insert("messages".into(), Value::Array(messages));
    body.insert("stream".into(), json!(stream));
    if let Some(tools) = crate::wire::function_tools(&req.tools)? {
        body.insert("tools".into(), tools);
    }
    match &req.tool_choice {
        Some(ToolChoice::Required) => {
            body.insert("tool_choice".into(), json!("REQUIRED"));
        }
        Some(ToolChoice::None) => {
            body.insert("tool_choice".into(), json!("NONE"));
        }
        Some(ToolChoice::Function(name)) => {
            return Err(bad(format!(
            "Cohere cannot be made to call one named tool (`{name}`); use tool_choice `required`"
        )))
        }
        Some(ToolChoice::Auto) | None => {}
    }
    match &req.response_format {
        Some(ResponseFormat::JsonObject) => {
            body.insert("response_format".into(), json!({"type": "json_object"}));
        }
        Some(ResponseFormat::JsonSchema(s)) => {
            let mut f = json!({"type": "json_object"});
            if let Some(schema) = &s.schema {
                f["json_schema"] = parse_json("the response schema", schema)?;
            }
            body.insert("response_format".into(), f);
        }
        Some(ResponseFormat::Text) | None => {}
    }
    body.extend(sampling(
        req,
        &SamplingNames {
            temperature: Some("temperature"),
            top_p: Some("p"),
            top_k: Some("k"),
            max_tokens: Some("max_tokens"),
            stop: Some("stop_sequences"),
            seed: Some("seed"),
            presence_penalty: Some("presence_penalty"),
            frequency_penalty: Some("frequency_penalty"),
        },
    ));
    merge_extra(&mut body, req.extra.as_deref())?;
    Ok(Value::Object(body))
}

/// The contract's finish reason for Cohere's.
pub fn finish_reason(reason: &str) -> FinishReason {
    match reason {
        "COMPLETE" | "STOP_SEQUENCE" => FinishReason::Stop,
        "MAX_TOKENS" => FinishReason::Length,
        "TOOL_CALL" => FinishReason::ToolCalls,
        other => FinishReason::Other(other.to_lowercase()),
    }
}

/// Usage from `{billed_units, tokens}`: the tokens the model saw, else those billed.
pub fn parse_usage(v: &Value) -> Usage {
    let counts = if v["tokens"].is_object() {
        &v["tokens"]
    } else {
        &v["billed_units"]
    };
    let prompt = count(counts, "input_tokens").unwrap_or(0);
    let completion = count(counts, "output_tokens").unwrap_or(0);
    Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: prompt + completion,
        cached_tokens: count(v, "cached_tokens"),
        cache_write_tokens: None,
        reasoning_tokens: None,
        extra: None,
    }
}

fn tool_call(c: &Value) -> ToolCall {
    ToolCall {
        id: c["id"].as_str().unwrap_or_default().to_string(),
        function: FunctionCall {
            name: c["function"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            arguments: c["function"]["arguments"]
                .as_str()
                .unwrap_or("{}")
                .to_string(),
        },
        signature: None,
        extra: None,
    }
}

/// A whole `/v2/chat` answer; citations ride in the message's `extra`.
pub fn parse_chat_response(v: &Value, model: &str) -> ProviderResult<ChatResponse> {
    let message = v
        .get("message")
        .filter(|m| m.is_object())
        .ok_or_else(|| ProviderError::upstream("the provider's answer has no `message`"))?;
    let text: String = message["content"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["text"].as_str())
        .collect();
    let plan = message["tool_plan"].as_str().unwrap_or_default();
    let citations = message
        .get("citations")
        .filter(|c| c.as_array().is_some_and(|a| !a.is_empty()));
    let answer = AssistantMessage {
        content: (!text.is_empty()).then_some(text),
        reasoning: ReasoningBlock::plain(plan),
        tool_calls: message["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
            .map(tool_call)
            .collect(),
        refusal: None,
        extra: citations.map(|c| json!({"citations": c}).to_string()),
    };
    Ok(ChatResponse::single(
        v["id"].as_str().unwrap_or_default(),
        model,
        answer,
        v["finish_reason"].as_str().map(finish_reason),
        v.get("usage").map(parse_usage),
    ))
}

/// The translation of `/v2/chat`'s SSE events (`message-start`, `content-delta`,
/// `tool-plan-delta`, `tool-call-start` / `-delta`, `message-end`, ...).
#[derive(Debug)]
pub struct ChatEvents {
    id: String,
    model: String,
    include_usage: bool,
}

impl ChatEvents {
    /// A translation for a stream of `model`, reporting usage when `include_usage`.
    pub fn new(model: &str, include_usage: bool) -> Self {
        ChatEvents {
            id: String::new(),
            model: model.to_string(),
            include_usage,
        }
    }
}

impl crate::stream::Translate<crate::sse::SseEvent> for ChatEvents {
    fn translate(
        &mut self,
        event: crate::sse::SseEvent,
        out: &mut Vec<ChatChunk>,
    ) -> ProviderResult<crate::stream::Flow> {
        use crate::stream::Flow;
        if event.data.trim().is_empty() || event.is_done() {
            return Ok(Flow::Continue);
        }
        let v = crate::wire::stream_json(&event.data)?;
        let kind = v["type"]
            .as_str()
            .or(event.event.as_deref())
            .unwrap_or_default();
        let message = &v["delta"]["message"];
        let index = v["index"].as_u64().unwrap_or(0) as u32;
        let mut delta = ChoiceDelta::empty();
        let mut usage = None;
        let mut flow = Flow::Continue;
        match kind {
            "message-start" => {
                self.id = v["id"].as_str().unwrap_or_default().to_string();
                delta.role = Some(Role::Assistant);
            }
            "content-delta" => {
                delta.content = message["content"]["text"].as_str().map(str::to_string)
            }
            "tool-plan-delta" => {
                delta.reasoning.push(ReasoningDelta {
                    index: 0,
                    text: message["tool_plan"].as_str().map(str::to_string),
                    signature: None,
                    redacted: None,
                });
            }
            "tool-call-start" | "tool-call-delta" => {
                let c = &message["tool_calls"];
                delta.tool_calls.push(ToolCallDelta {
                    index,
                    id: c["id"].as_str().map(str::to_string),
                    name: c["function"]["name"].as_str().map(str::to_string),
                    arguments: c["function"]["arguments"].as_str().map(str::to_string),
                    signature: None,
                    extra: None,
                });
            }
            "message-end" => {
                delta.finish_reason = v["delta"]["finish_reason"].as_str().map(finish_reason);
                if self.include_usage {
                    usage = v["delta"].get("usage").map(parse_usage);
                }
                flow = Flow::End;
            }
            // content-start / -end, tool-call-end, citations and events added later
            _ => return Ok(Flow::Continue),
        }
        out.push(ChatChunk::of(
            &self.id,
            &self.model,
            now_secs(),
            delta,
            usage,
        ));
        Ok(flow)
    }
}

/// Cohere's name of an embedding type.
fn embedding_type(encoding: EncodingFormat) -> &'static str {
    match encoding {
        EncodingFormat::Float | EncodingFormat::Base64 => "float",
        EncodingFormat::Int8 => "int8",
        EncodingFormat::Uint8 => "uint8",
        EncodingFormat::Binary => "binary",
        EncodingFormat::Ubinary => "ubinary",
    }
}

/// The JSON body of a `/v2/embed` request; `input_type` is required by the v3+ models
/// (`search_document` unless the request's extras or the deployment say otherwise).
pub fn embed_request_body(req: &EmbeddingRequest, input_type: &str) -> ProviderResult<Value> {
    let texts = req
        .input
        .iter()
        .map(|i| match i {
            EmbeddingInput::Text(t) => Ok(t.clone()),
            _ => Err(bad(
                "Cohere's embeddings take text inputs here (no tokens or images)",
            )),
        })
        .collect::<ProviderResult<Vec<_>>>()?;
    let encoding = req.encoding_format.unwrap_or(EncodingFormat::Float);
    let mut body = Map::new();
    body.insert("model".into(), json!(req.model));
    body.insert("texts".into(), json!(texts));
    body.insert("input_type".into(), json!(input_type));
    body.insert("embedding_types".into(), json!([embedding_type(encoding)]));
    if let Some(d) = req.dimensions {
        body.insert("output_dimension".into(), json!(d));
    }
    merge_extra(&mut body, req.extra.as_deref())?;
    Ok(Value::Object(body))
}

/// A `/v2/embed` answer in `encoding`.
pub fn parse_embed_response(
    v: &Value,
    model: &str,
    encoding: EncodingFormat,
) -> ProviderResult<EmbeddingResponse> {
    let kind = embedding_type(encoding);
    let list = v["embeddings"][kind].as_array().ok_or_else(|| {
        ProviderError::upstream(format!("the provider's answer has no `embeddings.{kind}`"))
    })?;
    let data = list
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let format = if kind == "float" {
                EncodingFormat::Float
            } else {
                encoding
            };
            Ok(Embedding {
                index: i as u32,
                vector: crate::openai::parse_vector(e, format)?,
            })
        })
        .collect::<ProviderResult<Vec<_>>>()?;
    Ok(EmbeddingResponse {
        model: model.to_string(),
        data,
        usage: count(&v["meta"]["billed_units"], "input_tokens").map(Usage::prompt_only),
        extra: None,
        headers: Vec::new(),
    })
}
