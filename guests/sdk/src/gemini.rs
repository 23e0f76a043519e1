//! Google's Gemini wire format (`generateContent`, `streamGenerateContent?alt=sse`,
//! `batchEmbedContents`), shared by every adapter for an API that speaks it (Google AI Studio,
//! Gemini on Vertex AI): contents with `user` / `model` roles, the system prompt as
//! `systemInstruction`, images and files as inline data, function calls and their responses
//! (with the thought signatures Gemini needs back), `generationConfig`, thoughts as reasoning,
//! safety blocks as content-policy refusals, and usage.

use crate::bindings::wasmgate::provider::types::*;
use crate::error::ProviderResult;
use crate::openai::merge_extra;
use crate::wire::{
    count, data_url, now_secs, parse_json, push_turn, sampling, tool_arguments, SamplingNames,
};
use serde_json::{json, Map, Value};

fn bad(message: impl Into<String>) -> ProviderError {
    ProviderError::bad_request(message)
}

/// A media part: inline data for a `data:` URL, else a file reference.
fn media_part(url: &str, mime_hint: Option<&str>) -> Value {
    match data_url(url) {
        Some((mime, data)) => json!({"inlineData": {"mimeType": mime, "data": data}}),
        None => {
            let mime = mime_hint.unwrap_or_else(|| guess_mime(url));
            json!({"fileData": {"mimeType": mime, "fileUri": url}})
        }
    }
}

fn guess_mime(url: &str) -> &'static str {
    let lower = url.to_ascii_lowercase();
    let path = lower.split(['?', '#']).next().unwrap_or_default();
    match path.rsplit('.').next() {
        Some("png") => "image/png",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("pdf") => "application/pdf",
        Some("mp3") => "audio/mp3",
        Some("wav") => "audio/wav",
        Some("mp4") => "video/mp4",
        _ => "image/jpeg",
    }
}

fn part_json(part: &ContentPart) -> ProviderResult<Value> {
    Ok(match &part.body {
        PartBody::Text(text) => json!({"text": text}),
        PartBody::Image(image) => media_part(&image.url, None),
        PartBody::Other(raw) => {
            let v = parse_json("a content part", raw)?;
            match v.get("type").and_then(Value::as_str) {
                Some("file") => {
                    let file = &v["file"];
                    let url = file["file_data"]
                        .as_str()
                        .or(file["file_id"].as_str())
                        .ok_or_else(|| {
                            bad("a file part needs `file.file_data` or `file.file_id`")
                        })?;
                    media_part(url, file["format"].as_str())
                }
                Some("input_audio") => {
                    let audio = &v["input_audio"];
                    let format = audio["format"].as_str().unwrap_or("wav");
                    json!({"inlineData": {"mimeType": format!("audio/{format}"),
                                          "data": audio["data"].as_str().unwrap_or_default()}})
                }
                Some(other) => {
                    return Err(bad(format!(
                        "content parts of type `{other}` are not supported by Gemini's API"
                    )))
                }
                None => return Err(bad("a content part needs a `type`")),
            }
        }
    })
}

fn content_parts(content: &Option<MessageContent>) -> ProviderResult<Vec<Value>> {
    match content {
        None => Ok(Vec::new()),
        Some(MessageContent::Text(t)) if t.is_empty() => Ok(Vec::new()),
        Some(MessageContent::Text(t)) => Ok(vec![json!({"text": t})]),
        Some(MessageContent::Parts(parts)) => parts.iter().map(part_json).collect(),
    }
}

fn text_of(content: &Option<MessageContent>) -> String {
    match content {
        None => String::new(),
        Some(MessageContent::Text(t)) => t.clone(),
        Some(MessageContent::Parts(parts)) => parts
            .iter()
            .filter_map(|p| match &p.body {
                PartBody::Text(t) => Some(t.as_str()),
                _ => None,
            })
            .collect(),
    }
}

/// A function response's `response` object: the tool's output when it is a JSON object,
/// else `{"result": output}`.
fn function_response(output: &str) -> Value {
    match serde_json::from_str::<Value>(output) {
        Ok(v @ Value::Object(_)) => v,
        _ => json!({"result": output}),
    }
}

fn model_parts(m: &Message) -> ProviderResult<Vec<Value>> {
    let mut parts = content_parts(&m.content)?;
    for call in &m.tool_calls {
        let args = tool_arguments(call)?;
        let mut part = json!({"functionCall": {"name": call.function.name, "args": args}});
        if let Some(sig) = &call.signature {
            part["thoughtSignature"] = json!(sig);
        }
        parts.push(part);
    }
    Ok(parts)
}

/// The JSON body of a `generateContent` request.
pub fn generate_request_body(req: &ChatRequest) -> ProviderResult<Value> {
    let mut system = Vec::new();
    let mut turns = Vec::new();
    let mut call_names: Vec<(String, String)> = Vec::new();
    for m in &req.messages {
        match m.role {
            Role::System | Role::Developer => system.extend(content_parts(&m.content)?),
            Role::User => push_turn(&mut turns, "user", "parts", content_parts(&m.content)?),
            Role::Assistant => {
                call_names.extend(
                    m.tool_calls
                        .iter()
                        .map(|c| (c.id.clone(), c.function.name.clone())),
                );
                push_turn(&mut turns, "model", "parts", model_parts(m)?);
            }
            Role::Tool => {
                let id = m.tool_call_id.as_deref().unwrap_or_default();
                let name = call_names
                    .iter()
                    .find(|(call, _)| call == id)
                    .map(|(_, n)| n.clone())
                    .or_else(|| m.name.clone())
                    .ok_or_else(|| {
                        bad(format!(
                            "the tool message for `{id}` answers no earlier tool call (Gemini needs the function's name)"
                        ))
                    })?;
                let part = json!({"functionResponse": {"name": name,
                                   "response": function_response(&text_of(&m.content))}});
                push_turn(&mut turns, "user", "parts", vec![part]);
            }
        }
    }
    if turns.is_empty() {
        return Err(bad(
            "Gemini's API needs at least one user or assistant message",
        ));
    }
    let mut body = Map::new();
    body.insert("contents".into(), Value::Array(turns));
    if !system.is_empty() {
        body.insert("systemInstruction".into(), json!({"parts": system}));
    }
    if !req.tools.is_empty() {
        let declarations = req
            .tools
            .iter()
            .map(|t| {
                let mut d = json!({"name": t.name});
                if let Some(desc) = &t.description {
                    d["description"] = json!(desc);
                }
                if let Some(p) = &t.parameters {
                    d["parametersJsonSchema"] =
                        parse_json(&format!("the parameters of tool `{}`", t.name), p)?;
                }
                Ok(d)
            })
            .collect::<ProviderResult<Vec<_>>>()?;
        body.insert(
            "tools".into(),
            json!([{"functionDeclarations": declarations}]),
        );
    }
    if let Some(choice) = &req.tool_choice {
        let config = match choice {
            ToolChoice::Auto => json!({"mode": "AUTO"}),
            ToolChoice::None => json!({"mode": "NONE"}),
            ToolChoice::Required => json!({"mode": "ANY"}),
            ToolChoice::Function(name) => json!({"mode": "ANY", "allowedFunctionNames": [name]}),
        };
        body.insert(
            "toolConfig".into(),
            json!({"functionCallingConfig": config}),
        );
    }
    let mut generation = sampling(
        req,
        &SamplingNames {
            temperature: Some("temperature"),
            top_p: Some("topP"),
            top_k: Some("topK"),
            max_tokens: Some("maxOutputTokens"),
            stop: Some("stopSequences"),
            seed: Some("seed"),
            presence_penalty: Some("presencePenalty"),
            frequency_penalty: Some("frequencyPenalty"),
        },
    );
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(v) = value {
            generation.insert(key.into(), v);
        }
    };
    put("candidateCount", req.n.map(Value::from));
    match &req.response_format {
        Some(ResponseFormat::JsonObject) => {
            put("responseMimeType", Some(json!("application/json")))
        }
        Some(ResponseFormat::JsonSchema(s)) => {
            put("responseMimeType", Some(json!("application/json")));
            if let Some(schema) = &s.schema {
                let schema = parse_json("the response schema", schema)?;
                put("responseJsonSchema", Some(schema));
            }
        }
        Some(ResponseFormat::Text) | None => {}
    }
    put(
        "thinkingConfig",
        req.reasoning_effort.as_deref().map(|effort| {
            let budget = match effort {
                "none" => 0,
                "minimal" | "low" => 1024,
                "medium" => 2048,
                _ => 4096,
            };
            json!({"thinkingBudget": budget, "includeThoughts": budget > 0})
        }),
    );
    if !generation.is_empty() {
        body.insert("generationConfig".into(), Value::Object(generation));
    }
    merge_extra(&mut body, req.extra.as_deref())?;
    Ok(Value::Object(body))
}

/// The contract's finish reason for a candidate's `finishReason`.
pub fn finish_reason(reason: &str, called: bool) -> FinishReason {
    match reason {
        "STOP" if called => FinishReason::ToolCalls,
        "STOP" => FinishReason::Stop,
        "MAX_TOKENS" => FinishReason::Length,
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY" => {
            FinishReason::ContentFilter
        }
        other => FinishReason::Other(other.to_string()),
    }
}

/// Usage from `usageMetadata`; thoughts count as completion (reasoning) tokens.
pub fn parse_usage(v: &Value) -> Usage {
    let prompt = count(v, "promptTokenCount").unwrap_or(0);
    let thoughts = count(v, "thoughtsTokenCount");
    let completion = count(v, "candidatesTokenCount").unwrap_or(0) + thoughts.unwrap_or(0);
    Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: count(v, "totalTokenCount").unwrap_or(prompt + completion),
        cached_tokens: count(v, "cachedContentTokenCount"),
        cache_write_tokens: None,
        reasoning_tokens: thoughts,
        extra: None,
    }
}

/// A prompt Gemini blocked (no candidates, `promptFeedback.blockReason`), as an error.
fn blocked(v: &Value) -> Option<ProviderError> {
    let reason = v["promptFeedback"]["blockReason"].as_str()?;
    if v["candidates"].as_array().is_some_and(|c| !c.is_empty()) {
        return None;
    }
    let mut e = ProviderError::new(
        ErrorKind::ContentPolicy,
        format!("Gemini blocked the prompt ({reason})"),
    );
    e.status = Some(400);
    e.provider_code = Some(reason.to_string());
    Some(e)
}

/// What one candidate's parts say, in the contract's terms.
#[derive(Default)]
struct Parts {
    text: String,
    thoughts: String,
    calls: Vec<(String, String, Option<String>, Option<String>)>,
}

fn read_parts(candidate: &Value) -> Parts {
    let mut out = Parts::default();
    for p in candidate["content"]["parts"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let Some(call) = p.get("functionCall") {
            out.calls.push((
                call["name"].as_str().unwrap_or_default().to_string(),
                call.get("args").unwrap_or(&json!({})).to_string(),
                call["id"].as_str().map(str::to_string),
                p["thoughtSignature"].as_str().map(str::to_string),
            ));
        } else if let Some(t) = p["text"].as_str() {
            if p["thought"] == true {
                out.thoughts.push_str(t);
            } else {
                out.text.push_str(t);
            }
        }
    }
    out
}

/// A call's id: Gemini's own when it gives one, else one made from the answer's position.
fn call_id(given: Option<String>, response: &str, n: usize) -> String {
    given.unwrap_or_else(|| format!("call_{response}_{n}"))
}

/// A whole `generateContent` answer.
pub fn parse_generate_response(v: &Value, model: &str) -> ProviderResult<ChatResponse> {
    if let Some(e) = blocked(v) {
        return Err(e);
    }
    let candidates = v["candidates"]
        .as_array()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ProviderError::upstream("the provider's answer has no `candidates`"))?;
    let id = v["responseId"].as_str().unwrap_or("gemini").to_string();
    let choices = candidates
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let parts = read_parts(c);
            let called = !parts.calls.is_empty();
            let tool_calls = parts
                .calls
                .into_iter()
                .enumerate()
                .map(|(n, (name, args, given, signature))| ToolCall {
                    id: call_id(given, &id, n),
                    function: FunctionCall {
                        name,
                        arguments: args,
                    },
                    signature,
                    extra: None,
                })
                .collect();
            Choice {
                index: c["index"].as_u64().unwrap_or(i as u64) as u32,
                message: AssistantMessage {
                    content: (!parts.text.is_empty()).then_some(parts.text),
                    reasoning: if parts.thoughts.is_empty() {
                        Vec::new()
                    } else {
                        vec![ReasoningBlock::Thinking(Thinking {
                            text: parts.thoughts,
                            signature: None,
                        })]
                    },
                    tool_calls,
                    refusal: None,
                    extra: None,
                },
                finish_reason: c["finishReason"].as_str().map(|r| finish_reason(r, called)),
                logprobs: None,
                extra: None,
            }
        })
        .collect();
    Ok(ChatResponse {
        id,
        model: v["modelVersion"].as_str().unwrap_or(model).to_string(),
        created: now_secs(),
        choices,
        usage: v.get("usageMetadata").map(parse_usage),
        system_fingerprint: None,
        extra: None,
        headers: Vec::new(),
    })
}

/// The translation of `streamGenerateContent?alt=sse`: each event is a partial answer; text
/// arrives in pieces, function calls whole.
#[derive(Debug)]
pub struct GenerateEvents {
    model: String,
    include_usage: bool,
    created: u64,
    calls: u32,
    called: bool,
}

impl GenerateEvents {
    /// A translation for a stream of `model`, reporting usage when `include_usage`.
    pub fn new(model: &str, include_usage: bool) -> Self {
        GenerateEvents {
            model: model.to_string(),
            include_usage,
            created: now_secs(),
            calls: 0,
            called: false,
        }
    }
}

impl crate::stream::Translate<crate::sse::SseEvent> for GenerateEvents {
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
        if let Some(err) = v.get("error") {
            let status = err["code"].as_u64().unwrap_or(500) as u16;
            return Err(crate::error::from_http(
                status,
                &[],
                v.to_string().as_bytes(),
            ));
        }
        if let Some(e) = blocked(&v) {
            return Err(e);
        }
        let id = v["responseId"].as_str().unwrap_or("gemini").to_string();
        let candidate = v["candidates"].get(0).unwrap_or(&Value::Null);
        let parts = read_parts(candidate);
        let mut delta = ChoiceDelta {
            index: 0,
            role: Some(Role::Assistant),
            content: (!parts.text.is_empty()).then_some(parts.text),
            reasoning: Vec::new(),
            tool_calls: Vec::new(),
            refusal: None,
            finish_reason: None,
            logprobs: None,
            extra: None,
        };
        if !parts.thoughts.is_empty() {
            delta.reasoning.push(ReasoningDelta {
                index: 0,
                text: Some(parts.thoughts),
                signature: None,
                redacted: None,
            });
        }
        for (name, args, given, signature) in parts.calls {
            let n = self.calls;
            self.calls += 1;
            self.called = true;
            delta.tool_calls.push(ToolCallDelta {
                index: n,
                id: Some(call_id(given, &id, n as usize)),
                name: Some(name),
                arguments: Some(args),
                signature,
                extra: None,
            });
        }
        delta.finish_reason = candidate["finishReason"]
            .as_str()
            .map(|r| finish_reason(r, self.called));
        let usage = (self.include_usage && delta.finish_reason.is_some())
            .then(|| v.get("usageMetadata").map(parse_usage))
            .flatten();
        let model = v["modelVersion"].as_str().unwrap_or(&self.model);
        out.push(ChatChunk::of(id, model, self.created, delta, usage));
        Ok(Flow::Continue)
    }
}

/// The JSON body of a `batchEmbedContents` request for `model`.
pub fn embed_request_body(req: &EmbeddingRequest, model: &str) -> ProviderResult<Value> {
    let texts = req
        .input
        .iter()
        .map(|i| match i {
            EmbeddingInput::Text(t) => Ok(t.as_str()),
            _ => Err(bad("Gemini's embeddings take text inputs only")),
        })
        .collect::<ProviderResult<Vec<&str>>>()?;
    let requests: Vec<Value> = texts
        .iter()
        .map(|t| {
            let mut r =
                json!({"model": format!("models/{model}"), "content": {"parts": [{"text": t}]}});
            if let Some(d) = req.dimensions {
                r["outputDimensionality"] = json!(d);
            }
            r
        })
        .collect();
    let mut body = Map::new();
    body.insert("requests".into(), Value::Array(requests));
    Ok(Value::Object(body))
}

/// A `batchEmbedContents` answer.
pub fn parse_embed_response(v: &Value, model: &str) -> ProviderResult<EmbeddingResponse> {
    let list = v["embeddings"]
        .as_array()
        .ok_or_else(|| ProviderError::upstream("the provider's answer has no `embeddings`"))?;
    let data = list
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let values = e["values"]
                .as_array()
                .ok_or_else(|| ProviderError::upstream("an embedding has no `values`"))?
                .iter()
                .map(|x| x.as_f64().map(|f| f as f32))
                .collect::<Option<Vec<f32>>>()
                .ok_or_else(|| ProviderError::upstream("an embedding value is not a number"))?;
            Ok(Embedding {
                index: i as u32,
                vector: EmbeddingVector::Float(values),
            })
        })
        .collect::<ProviderResult<Vec<_>>>()?;
    Ok(EmbeddingResponse {
        model: model.to_string(),
        data,
        usage: None,
        extra: None,
        headers: Vec::new(),
    })
}
