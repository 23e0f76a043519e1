//! wasmgate adapter for OpenAI's API and every OpenAI-compatible server (vLLM, Ollama,
//! llama.cpp, Groq, Together, DeepSeek, Mistral, OpenRouter, ...): set `api_base` to point at one.
//!
//! Settings: `organization` and `project` become OpenAI's headers.

use std::cell::RefCell;
use wasmgate_guest::openai;
use wasmgate_guest::prelude::*;

const DEFAULT_API_BASE: &str = "https://api.openai.com/v1";
/// Largest non-streaming response body accepted.
const MAX_RESPONSE: usize = 32 * 1024 * 1024;

struct OpenAi;

fn request(ctx: &CallContext, path: &str, body: &serde_json::Value) -> Request {
    let url = format!("{}{path}", ctx.api_base_or(DEFAULT_API_BASE));
    let mut req = Request::post_json(url, body)
        .bearer(ctx.credential.as_deref())
        .timeout_ms(ctx.timeout_ms);
    if let Some(org) = ctx.setting("organization") {
        req = req.header("openai-organization", org);
    }
    if let Some(project) = ctx.setting("project") {
        req = req.header("openai-project", project);
    }
    req
}

impl Guest for OpenAi {
    type ChunkStream = OpenAiStream;

    fn info() -> AdapterInfo {
        AdapterInfo {
            name: "openai".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            capabilities: Capabilities::CHAT
                | Capabilities::STREAMING
                | Capabilities::EMBEDDINGS
                | Capabilities::TOOLS
                | Capabilities::VISION,
            default_api_base: Some(DEFAULT_API_BASE.into()),
            required_hosts: vec!["https://api.openai.com".into()],
            description: "OpenAI chat completions and embeddings, for any OpenAI-compatible API"
                .into(),
        }
    }

    fn chat(ctx: CallContext, req: ChatRequest) -> Result<ChatResponse, ProviderError> {
        let body = openai::chat_request_body(&req, false)?;
        let json = request(&ctx, "/chat/completions", &body)
            .send()?
            .error_for_status()?
            .json(MAX_RESPONSE)?;
        openai::parse_chat_response(&json)
    }

    fn chat_stream(ctx: CallContext, req: ChatRequest) -> Result<ChunkStream, ProviderError> {
        let body = openai::chat_request_body(&req, true)?;
        let response = request(&ctx, "/chat/completions", &body)
            .header("accept", "text/event-stream")
            .send()?
            .error_for_status()?;
        Ok(ChunkStream::new(OpenAiStream {
            events: RefCell::new(Some(SseStream::new(response.body))),
        }))
    }

    fn embed(ctx: CallContext, req: EmbeddingRequest) -> Result<EmbeddingResponse, ProviderError> {
        let body = openai::embedding_request_body(&req)?;
        let json = request(&ctx, "/embeddings", &body)
            .send()?
            .error_for_status()?
            .json(MAX_RESPONSE)?;
        openai::parse_embedding_response(&json)
    }
}

/// A streamed answer: SSE events from the upstream body, until `[DONE]` or its end.
struct OpenAiStream {
    events: RefCell<Option<SseStream>>,
}

impl GuestChunkStream for OpenAiStream {
    fn next(&self) -> Result<Option<ChatChunk>, ProviderError> {
        let mut slot = self.events.borrow_mut();
        let Some(events) = slot.as_mut() else {
            return Ok(None);
        };
        loop {
            let Some(event) = events.next_event()? else {
                *slot = None;
                return Ok(None);
            };
            if event.is_done() {
                *slot = None;
                return Ok(None);
            }
            if event.data.trim().is_empty() {
                continue;
            }
            let json: serde_json::Value = serde_json::from_str(&event.data).map_err(|e| {
                ProviderError::upstream(format!("invalid JSON in the provider's stream: {e}"))
            })?;
            if let Some(err) = openai::stream_error(&json) {
                *slot = None;
                return Err(err);
            }
            return openai::parse_chat_chunk(&json).map(Some);
        }
    }
}

wasmgate_guest::export_adapter!(OpenAi);
