//! Amazon Bedrock's Converse API (`/model/{id}/converse`, and `/converse-stream` over AWS
//! event-stream framing) and its embedding models through InvokeModel (`/model/{id}/invoke`:
//! Amazon Titan, one text per request; Cohere Embed, a batch per request).

use crate::bindings::wasmgate::provider::types::*;
use crate::error::ProviderResult;
use crate::eventstream::Message as EventMessage;
use crate::openai::{merge_extra, parse_vector};
use crate::stream::{Flow, Translate};
use crate::wire::{count, data_url, now_secs, parse_json, push_turn, tool_arguments};
use serde_json::{json, Map, Value};

fn bad(message: impl Into<String>) -> ProviderError {
    ProviderError::bad_request(message)
}

/// Converse's name of an image's format, from its media type.
fn image_format(media: &str) -> ProviderResult<&'static str> {
    match media {
        "image/png" => Ok("png"),
        "image/jpeg" | "image/jpg" => Ok("jpeg"),
        "image/gif" => Ok("gif"),
        "image/webp" => Ok("webp"),
        other => Err(bad(format!(
            "Bedrock takes PNG, JPEG, GIF or WebP images, not {other}"
        ))),
    }
}

/// Converse's name of a document's format, from its media type.
fn document_format(media: &str) -> ProviderResult<&'static str> {
    Ok(match media {
        "application/pdf" => "pdf",
        "text/csv" => "csv",
        "text/plain" => "txt",
        "text/markdown" => "md",
        "text/html" => "html",
        "application/msword" => "doc",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => "docx",
        "application/vnd.ms-excel" => "xls",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => "xlsx",
        other => return Err(bad(format!("Bedrock does not take {other} documents"))),
    })
}

/// An image as a content block: inline bytes from a `data:` URL, or an `s3://` location.
fn image_block(url: &str) -> ProviderResult<Value> {
    if let Some((media, data)) = data_url(url) {
        let format = image_format(media)?;
        return Ok(json!({"image": {"format": format, "source": {"bytes": data}}}));
    }
    if url.starts_with("s3://") {
        let format = url
            .rsplit('.')
            .next()
            .map(|ext| image_format(&format!("image/{}", ext.to_ascii_lowercase())))
            .transpose()?
            .unwrap_or("png");
        return Ok(json!({"image": {"format": format, "source": {"s3Location": {"uri": url}}}}));
    }
    Err(bad(
        "Bedrock takes images as base64 `data:` URLs or `s3://` locations, not web URLs",
    ))
}

/// OpenAI's file part as a document block (Bedrock wants a name of letters, digits and spaces).
fn document_block(file: &Value) -> ProviderResult<Value> {
    let data = file["file_data"].as_str().ok_or_else(|| {
        bad("a file part needs `file.file_data` (uploaded file ids are not supported by Bedrock)")
    })?;
    let (media, bytes) =
        data_url(data).ok_or_else(|| bad("`file.file_data` must be a data URL"))?;
    let name: String = file["filename"]
        .as_str()
        .unwrap_or("document")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { ' ' })
        .collect();
    Ok(
        json!({"document": {"format": document_format(media)?, "name": name.trim(),
                           "source": {"bytes": bytes}}}),
    )
}

fn part_block(part: &ContentPart) -> ProviderResult<Value> {
    match &part.body {
        PartBody::Text(text) => Ok(json!({"text": text})),
        PartBody::Image(image) => image_block(&image.url),
        PartBody::Other(raw) => {
            let v = parse_json("a content part", raw)?;
            match v["type"].as_str() {
                Some("file") => document_block(&v["file"]),
                Some(other) => Err(bad(format!(
                    "Bedrock's Converse API does not take `{other}` content parts"
                ))),
                None => Err(bad("a content part needs a `type`")),
            }
        }
    }
}

fn content_blocks(content: &Option<MessageContent>) -> ProviderResult<Vec<Value>> {
    match content {
        None => Ok(Vec::new()),
        Some(MessageContent::Text(t)) if t.is_empty() => Ok(Vec::new()),
        Some(MessageContent::Text(t)) => Ok(vec![json!({"text": t})]),
        Some(MessageContent::Parts(parts)) => parts.iter().map(part_block).collect(),
    }
}

fn assistant_blocks(m: &Message) -> ProviderResult<Vec<Value>> {
    let mut blocks = Vec::new();
    for r in &m.reasoning {
        match r {
            // Claude on Bedrock refuses reasoning without the signature it made.
            ReasoningBlock::Thinking(Thinking {
                text,
                signature: Some(sig),
            }) => blocks.push(
                json!({"reasoningContent": {"reasoningText": {"text": text, "signature": sig}}}),
            ),
            ReasoningBlock::Thinking(_) => {}
            ReasoningBlock::Redacted(data) => {
                blocks.push(json!({"reasoningContent": {"redactedContent": data}}))
            }
        }
    }
    blocks.extend(content_blocks(&m.content)?);
    for call in &m.tool_calls {
        blocks.push(
            json!({"toolUse": {"toolUseId": call.id, "name": call.function.name,
                                       "input": tool_arguments(call)?}}),
        );
    }
    Ok(blocks)
}

fn tool_result_block(m: &Message) -> ProviderResult<Value> {
    let id = m
        .tool_call_id
        .as_deref()
        .ok_or_else(|| bad("a tool message needs `tool_call_id`"))?;
    let mut content = content_blocks(&m.content)?;
    if content.is_empty() {
        content.push(json!({"text": ""}));
    }
    Ok(json!({"toolResult": {"toolUseId": id, "content": content}}))
}

fn tool_spec(t: &FunctionDefinition) -> ProviderResult<Value> {
    let schema = match &t.parameters {
        Some(p) => parse_json(&format!("the parameters of tool `{}`", t.name), p)?,
        None => json!({"type": "object", "properties": {}}),
    };
    let mut spec = json!({"name": t.name, "inputSchema": {"json": schema}});
    if let Some(d) = &t.description {
        spec["description"] = json!(d);
    }
    Ok(json!({"toolSpec": spec}))
}

/// Whether `model` (a model id, inference profile or ARN) is one of Anthropic's.
fn is_claude(model: &str) -> bool {
    model.contains("anthropic.") || model.contains("claude")
}

/// The JSON body of a Converse or ConverseStream request (the model is in the path).
pub fn converse_request_body(req: &ChatRequest) -> ProviderResult<Value> {
    let mut system = Vec::new();
    let mut turns = Vec::new();
    for m in &req.messages {
        let (role, blocks) = match m.role {
            Role::System | Role::Developer => {
                system.extend(content_blocks(&m.content)?);
                continue;
            }
            Role::User => ("user", content_blocks(&m.content)?),
            Role::Assistant => ("assistant", assistant_blocks(m)?),
            Role::Tool => ("user", vec![tool_result_block(m)?]),
        };
        push_turn(&mut turns, role, "content", blocks);
    }
    if turns.is_empty() {
        return Err(bad(
            "Bedrock's Converse API needs at least one user or assistant message",
        ));
    }
    if matches!(
        req.response_format,
        Some(ResponseFormat::JsonObject | ResponseFormat::JsonSchema(_))
    ) {
        return Err(bad(
            "JSON response_format is not supported by the bedrock adapter yet; describe the JSON in the prompt or use a tool",
        ));
    }
    let mut body = Map::new();
    body.insert("messages".into(), Value::Array(turns));
    if !system.is_empty() {
        body.insert("system".into(), Value::Array(system));
    }
    let mut inference = Map::new();
    if let Some(n) = req.max_completion_tokens.or(req.max_tokens) {
        inference.insert("maxTokens".into(), json!(n));
    }
    if let Some(t) = req.temperature {
        inference.insert("temperature".into(), json!(t));
    }
    if let Some(p) = req.top_p {
        inference.insert("topP".into(), json!(p));
    }
    if !req.stop.is_empty() {
        inference.insert("stopSequences".into(), json!(req.stop));
    }
    if !inference.is_empty() {
        body.insert("inferenceConfig".into(), Value::Object(inference));
    }
    let mut additional = Map::new();
    if let Some(k) = req.top_k {
        additional.insert("top_k".into(), json!(k));
    }
    if is_claude(&req.model) {
        let room = req
            .max_completion_tokens
            .or(req.max_tokens)
            .unwrap_or(u32::MAX);
        let budget = req
            .reasoning_effort
            .as_deref()
            .and_then(crate::anthropic::thinking_budget)
            .map(|b| b.min(room.saturating_sub(1)))
            .filter(|b| *b >= crate::anthropic::MIN_THINKING_BUDGET);
        if let Some(b) = budget {
            additional.insert(
                "thinking".into(),
                json!({"type": "enabled", "budget_tokens": b}),
            );
        }
    }
    if !additional.is_empty() {
        body.insert(
            "additionalModelRequestFields".into(),
            Value::Object(additional),
        );
    }
    if !req.tools.is_empty() {
        let tools = req
            .tools
            .iter()
            .map(tool_spec)
            .collect::<ProviderResult<Vec<_>>>()?;
        let mut config = json!({"tools": tools});
        match &req.tool_choice {
            Some(ToolChoice::Required) => config["toolChoice"] = json!({"any": {}}),
            Some(ToolChoice::Function(name)) => {
                config["toolChoice"] = json!({"tool": {"name": name}})
            }
            // Converse has no "none": the tools stay declared (earlier turns may use them).
            Some(ToolChoice::Auto | ToolChoice::None) | None => {}
        }
        body.insert("toolConfig".into(), config);
    }
    merge_extra(&mut body, req.extra.as_deref())?;
    Ok(Value::Object(body))
}

/// The contract's finish reason for a `stopReason`.
pub fn finish_reason(reason: &str) -> FinishReason {
    match reason {
        "end_turn" | "stop_sequence" => FinishReason::Stop,
        "tool_use" => FinishReason::ToolCalls,
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "guardrail_intervened" | "content_filtered" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_string()),
    }
}

/// Usage from `{inputTokens, outputTokens, totalTokens, cacheReadInputTokens,
/// cacheWriteInputTokens}`.
pub fn parse_usage(v: &Value) -> Usage {
    let prompt = count(v, "inputTokens").unwrap_or(0);
    let completion = count(v, "outputTokens").unwrap_or(0);
    Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: count(v, "totalTokens").unwrap_or(prompt + completion),
        cached_tokens: count(v, "cacheReadInputTokens"),
        cache_write_tokens: count(v, "cacheWriteInputTokens"),
        reasoning_tokens: None,
        extra: None,
    }
}

/// A whole Converse answer. Converse gives no id; `id` is the request id from its headers.
pub fn parse_converse_response(v: &Value, model: &str, id: &str) -> ProviderResult<ChatResponse> {
    let content = v["output"]["message"]["content"]
        .as_array()
        .ok_or_else(|| {
            ProviderError::upstream("the provider's answer has no `output.message.content`")
        })?;
    let mut text = String::new();
    let mut reasoning = Vec::new();
    let mut tool_calls = Vec::new();
    for block in content {
        if let Some(t) = block["text"].as_str() {
            text.push_str(t);
        } else if let Some(used) = block.get("toolUse") {
            tool_calls.push(ToolCall {
                id: used["toolUseId"].as_str().unwrap_or_default().to_string(),
                function: FunctionCall {
                    name: used["name"].as_str().unwrap_or_default().to_string(),
                    arguments: used["input"].to_string(),
                },
                signature: None,
                extra: None,
            });
        } else if let Some(r) = block.get("reasoningContent") {
            if let Some(data) = r["redactedContent"].as_str() {
                reasoning.push(ReasoningBlock::Redacted(data.to_string()));
            } else {
                let r = &r["reasoningText"];
                reasoning.push(ReasoningBlock::Thinking(Thinking {
                    text: r["text"].as_str().unwrap_or_default().to_string(),
                    signature: r["signature"].as_str().map(str::to_string),
                }));
            }
        }
    }
    let message = AssistantMessage {
        content: (!text.is_empty()).then_some(text),
        reasoning,
        tool_calls,
        refusal: None,
        extra: None,
    };
    Ok(ChatResponse::single(
        id,
        model,
        message,
        v["stopReason"].as_str().map(finish_reason),
        v.get("usage").map(parse_usage),
    ))
}

/// The translation of ConverseStream's events (`messageStart`, `contentBlockStart`,
/// `contentBlockDelta`, `contentBlockStop`, `messageStop`, `metadata`) and its exceptions.
#[derive(Debug)]
pub struct ConverseEvents {
    id: String,
    model: String,
    include_usage: bool,
    /// The content block index of each tool call, in order: a call's place is its index here.
    tool_blocks: Vec<u64>,
    finish: Option<FinishReason>,
}

impl ConverseEvents {
    /// A translation for a stream of `model` whose chunks carry `id`, reporting usage when
    /// `include_usage`.
    pub fn new(model: &str, id: &str, include_usage: bool) -> Self {
        ConverseEvents {
            id: id.to_string(),
            model: model.to_string(),
            include_usage,
            tool_blocks: Vec::new(),
            finish: None,
        }
    }

    fn tool_index(&mut self, block: u64) -> u32 {
        match self.tool_blocks.iter().position(|b| *b == block) {
            Some(i) => i as u32,
            None => {
                self.tool_blocks.push(block);
                (self.tool_blocks.len() - 1) as u32
            }
        }
    }

    fn chunk(&self, delta: ChoiceDelta, usage: Option<Usage>) -> ChatChunk {
        ChatChunk::of(&self.id, &self.model, now_secs(), delta, usage)
    }
}

impl Translate<EventMessage> for ConverseEvents {
    fn translate(&mut self, event: EventMessage, out: &mut Vec<ChatChunk>) -> ProviderResult<Flow> {
        if let Some(e) = event.error() {
            return Err(e);
        }
        let v = event.json()?;
        let block = v["contentBlockIndex"].as_u64().unwrap_or(0);
        let mut delta = ChoiceDelta::empty();
        match event.event_type().unwrap_or_default() {
            "messageStart" => delta.role = Some(Role::Assistant),
            "contentBlockStart" => {
                let Some(used) = v["start"].get("toolUse") else {
                    return Ok(Flow::Continue);
                };
                delta.tool_calls.push(ToolCallDelta {
                    index: self.tool_index(block),
                    id: used["toolUseId"].as_str().map(str::to_string),
                    name: used["name"].as_str().map(str::to_string),
                    arguments: None,
                    signature: None,
                    extra: None,
                });
            }
            "contentBlockDelta" => {
                let d = &v["delta"];
                if let Some(t) = d["text"].as_str() {
                    delta.content = Some(t.to_string());
                } else if let Some(input) = d["toolUse"]["input"].as_str() {
                    delta.tool_calls.push(ToolCallDelta {
                        index: self.tool_index(block),
                        id: None,
                        name: None,
                        arguments: Some(input.to_string()),
                        signature: None,
                        extra: None,
                    });
                } else if let Some(r) = d.get("reasoningContent") {
                    delta.reasoning.push(ReasoningDelta {
                        index: 0,
                        text: r["text"].as_str().map(str::to_string),
                        signature: r["signature"].as_str().map(str::to_string),
                        redacted: r["redactedContent"].as_str().map(str::to_string),
                    });
                } else {
                    return Ok(Flow::Continue);
                }
            }
            "messageStop" => {
                // The usage follows in `metadata`; the finish reason goes out with it.
                self.finish = v["stopReason"].as_str().map(finish_reason);
                return Ok(Flow::Continue);
            }
            "metadata" => {
                delta.finish_reason = self.finish.take();
                let usage = self
                    .include_usage
                    .then(|| v.get("usage").map(parse_usage))
                    .flatten();
                out.push(self.chunk(delta, usage));
                return Ok(Flow::End);
            }
            // contentBlockStop and events added later
            _ => return Ok(Flow::Continue),
        }
        out.push(self.chunk(delta, None));
        Ok(Flow::Continue)
    }

    fn finish(&mut self, out: &mut Vec<ChatChunk>) -> ProviderResult<()> {
        match self.finish.take() {
            // A stream that stopped without its metadata event still says why it stopped.
            Some(reason) => {
                let mut delta = ChoiceDelta::empty();
                delta.finish_reason = Some(reason);
                out.push(self.chunk(delta, None));
                Ok(())
            }
            None => Err(ProviderError::upstream(
                "the provider's stream ended before `messageStop`",
            )),
        }
    }
}

/// Which embedding API a Bedrock model id speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmbedFamily {
    /// `amazon.titan-embed-*`: one `inputText` per request.
    Titan,
    /// `cohere.embed-*`: a batch of `texts` per request.
    Cohere,
}

impl EmbedFamily {
    /// The family of `model`, when it is an embedding model this module speaks.
    pub fn of(model: &str) -> Option<EmbedFamily> {
        if model.contains("titan-embed") {
            Some(EmbedFamily::Titan)
        } else if model.contains("cohere.embed") {
            Some(EmbedFamily::Cohere)
        } else {
            None
        }
    }
}

fn texts(req: &EmbeddingRequest) -> ProviderResult<Vec<&str>> {
    req.input
        .iter()
        .map(|i| match i {
            EmbeddingInput::Text(t) => Ok(t.as_str()),
            _ => Err(bad(
                "Bedrock's embedding models take text inputs here (no tokens or images)",
            )),
        })
        .collect()
}

/// The InvokeModel bodies for `req`: one per text for Titan, one for the batch for Cohere.
pub fn embed_request_bodies(
    req: &EmbeddingRequest,
    family: EmbedFamily,
    input_type: &str,
) -> ProviderResult<Vec<Value>> {
    let texts = texts(req)?;
    let encoding = req.encoding_format.unwrap_or(EncodingFormat::Float);
    let bodies = match family {
        EmbedFamily::Titan => {
            if !matches!(encoding, EncodingFormat::Float | EncodingFormat::Base64) {
                return Err(bad("Titan embeddings come as floats only"));
            }
            texts
                .iter()
                .map(|t| {
                    let mut body = Map::new();
                    body.insert("inputText".into(), json!(t));
                    if let Some(d) = req.dimensions {
                        body.insert("dimensions".into(), json!(d));
                    }
                    merge_extra(&mut body, req.extra.as_deref())?;
                    Ok(Value::Object(body))
                })
                .collect::<ProviderResult<Vec<_>>>()?
        }
        EmbedFamily::Cohere => {
            let kind = match encoding {
                EncodingFormat::Float | EncodingFormat::Base64 => "float",
                EncodingFormat::Int8 => "int8",
                EncodingFormat::Uint8 => "uint8",
                EncodingFormat::Binary => "binary",
                EncodingFormat::Ubinary => "ubinary",
            };
            let mut body = Map::new();
            body.insert("texts".into(), json!(texts));
            body.insert("input_type".into(), json!(input_type));
            body.insert("embedding_types".into(), json!([kind]));
            merge_extra(&mut body, req.extra.as_deref())?;
            vec![Value::Object(body)]
        }
    };
    Ok(bodies)
}

/// The embeddings in InvokeModel answers (in request order) as one response.
pub fn parse_embed_responses(
    answers: &[Value],
    family: EmbedFamily,
    req: &EmbeddingRequest,
) -> ProviderResult<EmbeddingResponse> {
    let encoding = req.encoding_format.unwrap_or(EncodingFormat::Float);
    let missing =
        |what: &str| ProviderError::upstream(format!("the provider's answer has no `{what}`"));
    let mut vectors = Vec::new();
    let mut tokens = 0u32;
    match family {
        EmbedFamily::Titan => {
            for a in answers {
                let e = a.get("embedding").ok_or_else(|| missing("embedding"))?;
                vectors.push(parse_vector(e, EncodingFormat::Float)?);
                tokens = tokens.saturating_add(count(a, "inputTextTokenCount").unwrap_or(0));
            }
        }
        EmbedFamily::Cohere => {
            let a = answers.first().ok_or_else(|| missing("embeddings"))?;
            let (list, format) = match &a["embeddings"] {
                Value::Array(list) => (list, EncodingFormat::Float),
                Value::Object(by_type) => {
                    let (kind, format) = match encoding {
                        EncodingFormat::Float | EncodingFormat::Base64 => {
                            ("float", EncodingFormat::Float)
                        }
                        EncodingFormat::Int8 => ("int8", encoding),
                        EncodingFormat::Uint8 => ("uint8", encoding),
                        EncodingFormat::Binary => ("binary", encoding),
                        EncodingFormat::Ubinary => ("ubinary", encoding),
                    };
                    let list = by_type
                        .get(kind)
                        .and_then(Value::as_array)
                        .ok_or_else(|| missing(&format!("embeddings.{kind}")))?;
                    (list, format)
                }
                _ => return Err(missing("embeddings")),
            };
            for e in list {
                vectors.push(parse_vector(e, format)?);
            }
        }
    }
    if vectors.len() != req.input.len() {
        return Err(ProviderError::upstream(format!(
            "the provider answered {} embeddings for {} inputs",
            vectors.len(),
            req.input.len()
        )));
    }
    Ok(EmbeddingResponse {
        model: req.model.clone(),
        data: vectors
            .into_iter()
            .enumerate()
            .map(|(i, vector)| Embedding {
                index: i as u32,
                vector,
            })
            .collect(),
        usage: (tokens > 0).then(|| Usage::prompt_only(tokens)),
        extra: None,
        headers: Vec::new(),
    })
}

/// Refines a provider error from Bedrock's answer: the error type in `x-amzn-errortype`
/// becomes the provider code, a refused signature or key is an authentication error, and
/// "input is too long" is a context-window error.
pub fn refine_error(mut e: ProviderError) -> ProviderError {
    let error_type = e
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("x-amzn-errortype"))
        .map(|(_, v)| v.split(':').next().unwrap_or_default().to_string());
    if let Some(t) = error_type.filter(|t| !t.is_empty()) {
        e.provider_code = Some(t);
    }
    let code = e.provider_code.as_deref().unwrap_or_default();
    if matches!(
        code,
        "UnrecognizedClientException"
            | "InvalidSignatureException"
            | "IncompleteSignatureException"
            | "ExpiredTokenException"
            | "MissingAuthenticationTokenException"
    ) {
        e.kind = ErrorKind::Authentication;
    }
    let lower = e.message.to_ascii_lowercase();
    if e.kind == ErrorKind::BadRequest && lower.contains("input is too long") {
        e.kind = ErrorKind::ContextWindowExceeded;
    }
    if code == "ThrottlingException" || code == "ModelNotReadyException" {
        e.kind = ErrorKind::RateLimited;
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::wire::samples;

    fn user(text: &str) -> Message {
        samples::message(Role::User, text)
    }

    #[test]
    fn tool_results_join_one_user_turn_and_system_is_hoisted() {
        let call = |id: &str| ToolCall {
            id: id.into(),
            function: FunctionCall {
                name: "f".into(),
                arguments: r#"{"a":1}"#.into(),
            },
            signature: None,
            extra: None,
        };
        let result = |id: &str| Message {
            role: Role::Tool,
            tool_call_id: Some(id.into()),
            ..user("ok")
        };
        let req = samples::request(
            "anthropic.claude-3-5-sonnet",
            vec![
                Message {
                    role: Role::System,
                    ..user("Be brief.")
                },
                user("Hi"),
                Message {
                    role: Role::Assistant,
                    content: None,
                    tool_calls: vec![call("t1"), call("t2")],
                    ..user("")
                },
                result("t1"),
                result("t2"),
            ],
        );
        let body = converse_request_body(&req).unwrap();
        assert_eq!(body["system"], json!([{"text": "Be brief."}]));
        let turns = body["messages"].as_array().unwrap();
        assert_eq!(turns.len(), 3);
        assert_eq!(
            turns[1]["content"][1]["toolUse"],
            json!({"toolUseId": "t2", "name": "f", "input": {"a": 1}})
        );
        assert_eq!(turns[2]["content"].as_array().unwrap().len(), 2);
        assert_eq!(turns[2]["content"][0]["toolResult"]["toolUseId"], "t1");
    }

    #[test]
    fn stream_events_become_chunks_with_the_finish_reason_on_the_last() {
        let ev = |t: &str, payload: Value| {
            let mut parser = crate::eventstream::EventStreamParser::new();
            parser.push(&crate::eventstream::encode(
                &[(":message-type", "event"), (":event-type", t)],
                payload.to_string().as_bytes(),
            ));
            parser.next_message().unwrap().unwrap()
        };
        let mut t = ConverseEvents::new("m", "req-1", true);
        let mut out = Vec::new();
        for (kind, payload) in [
            ("messageStart", json!({"role": "assistant"})),
            (
                "contentBlockStart",
                json!({"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "t", "name": "f"}}}),
            ),
            (
                "contentBlockDelta",
                json!({"contentBlockIndex": 1, "delta": {"toolUse": {"input": "{\"a\""}}}),
            ),
            ("messageStop", json!({"stopReason": "tool_use"})),
        ] {
            assert_eq!(
                t.translate(ev(kind, payload), &mut out).unwrap(),
                Flow::Continue
            );
        }
        let flow = t
            .translate(
                ev(
                    "metadata",
                    json!({"usage": {"inputTokens": 3, "outputTokens": 2, "totalTokens": 5}}),
                ),
                &mut out,
            )
            .unwrap();
        assert_eq!(flow, Flow::End);
        assert_eq!(out.len(), 4);
        assert_eq!(out[1].choices[0].tool_calls[0].index, 0);
        assert!(matches!(
            out[3].choices[0].finish_reason,
            Some(FinishReason::ToolCalls)
        ));
        assert_eq!(out[3].usage.as_ref().unwrap().total_tokens, 5);
    }
}
