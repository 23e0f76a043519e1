//! wasmgate adapter for OpenAI's API and every OpenAI-compatible server (vLLM, Ollama,
//! llama.cpp, Groq, Together, DeepSeek, Mistral, OpenRouter, ...): set `api_base` to point at one.
//!
//! Settings: `organization` and `project` become OpenAI's headers.

use std::cell::RefCell;
use wasmgate_guest::openai::{self, ChunkEvents};
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
    req.call_headers(&ctx.headers)
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
            credential_uses: vec![
                CredentialUse {
                    method: "POST".into(),
                    path: "/chat/completions".into(),
                },
                CredentialUse {
                    method: "POST".into(),
                    path: "/embeddings".into(),
                },
            ],
            description: "OpenAI chat completions and embeddings, for any OpenAI-compatible API"
                .into(),
        }
    }

    fn chat(ctx: CallContext, req: ChatRequest) -> Result<ChatResponse, ProviderError> {
        let body = openai::chat_request_body(&req, false)?;
        let response = request(&ctx, "/chat/completions", &body)
            .send()?
            .error_for_status()?;
        let headers = response.passed_on_headers();
        let mut answer = openai::parse_chat_response(&response.json(MAX_RESPONSE)?)?;
        answer.headers = headers;
        Ok(answer)
    }

    fn chat_stream(ctx: CallContext, req: ChatRequest) -> Result<OpenedStream, ProviderError> {
        let body = openai::chat_request_body(&req, true)?;
        let response = request(&ctx, "/chat/completions", &body)
            .header("accept", "text/event-stream")
            .send()?
            .error_for_status()?;
        let headers = response.passed_on_headers();
        let pump = ChunkPump::new(SseStream::new(response.body), ChunkEvents);
        Ok(OpenedStream {
            chunks: ChunkStream::new(OpenAiStream {
                pump: RefCell::new(pump),
            }),
            headers,
        })
    }

    fn embed(ctx: CallContext, req: EmbeddingRequest) -> Result<EmbeddingResponse, ProviderError> {
        let body = openai::embedding_request_body(&req)?;
        let response = request(&ctx, "/embeddings", &body)
            .send()?
            .error_for_status()?;
        let headers = response.passed_on_headers();
        let encoding = req.encoding_format.unwrap_or(EncodingFormat::Float);
        let mut answer = openai::parse_embedding_response(&response.json(MAX_RESPONSE)?, encoding)?;
        answer.headers = headers;
        Ok(answer)
    }
}

/// A streamed answer: SSE events from the upstream body, until `[DONE]` or its end.
struct OpenAiStream {
    pump: RefCell<ChunkPump<SseStream, ChunkEvents>>,
}

impl GuestChunkStream for OpenAiStream {
    fn next(&self) -> Result<Vec<ChatChunk>, ProviderError> {
        self.pump.borrow_mut().next_batch()
    }
}

wasmgate_guest::export_adapter!(OpenAi);
