//! wasmgate adapter for OpenAI's API and every OpenAI-compatible server (vLLM, Ollama,
//! llama.cpp, Groq, Together, DeepSeek, Mistral, OpenRouter, ...): set `api_base` to point at one.
//!
//! Settings: `organization` and `project` become OpenAI's headers.

use wasmgate_guest::openai::{self, OpenAiStream};
use wasmgate_guest::prelude::*;

const DEFAULT_API_BASE: &str = "https://api.openai.com/v1";

struct OpenAi;

/// The POST of `body` to `path` under the API base, with the key as a bearer token.
fn post(ctx: &CallContext, path: &str, body: &serde_json::Value) -> Request {
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
        openai::chat(&req, |body| Ok(post(&ctx, "/chat/completions", body)))
    }

    fn chat_stream(ctx: CallContext, req: ChatRequest) -> Result<OpenedStream, ProviderError> {
        openai::chat_stream(&req, |body| Ok(post(&ctx, "/chat/completions", body)))
    }

    fn embed(ctx: CallContext, req: EmbeddingRequest) -> Result<EmbeddingResponse, ProviderError> {
        openai::embed(&req, |body| Ok(post(&ctx, "/embeddings", body)))
    }
}

wasmgate_guest::export_adapter!(OpenAi);
