//! wasmgate adapter for Ollama's native API: `/api/chat` (NDJSON streaming) and `/api/embed`,
//! with `keep_alive` and `options` passed through from the request's extras (and the
//! deployment's `keep_alive` setting). A base with Ollama's OpenAI-compatible `/v1` suffix is
//! read as the server's root.
//!
//! Settings: `keep_alive` (e.g. `30m`), sent when a request gives none.

use wasmgate_guest::ndjson::NdjsonStream;
use wasmgate_guest::ollama::{self, ChatLines};
use wasmgate_guest::prelude::*;

const DEFAULT_API_BASE: &str = "http://localhost:11434";

struct Ollama;

/// The POST of `body` to `path` under the server's root.
fn post(ctx: &CallContext, path: &str, mut body: serde_json::Value) -> Request {
    let base = ctx.api_base_or(DEFAULT_API_BASE);
    let root = base.strip_suffix("/v1").unwrap_or(base);
    if let (Some(keep), Some(map)) = (ctx.setting("keep_alive"), body.as_object_mut()) {
        map.entry("keep_alive").or_insert_with(|| keep.into());
    }
    Request::post_json(format!("{root}{path}"), &body)
        .bearer(ctx.credential.as_deref())
        .timeout_ms(ctx.timeout_ms)
        .call_headers(&ctx.headers)
}

impl Guest for Ollama {
    type ChunkStream = PumpStream<NdjsonStream, ChatLines>;

    fn info() -> AdapterInfo {
        AdapterInfo {
            name: "ollama".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            capabilities: Capabilities::CHAT
                | Capabilities::STREAMING
                | Capabilities::EMBEDDINGS
                | Capabilities::TOOLS
                | Capabilities::VISION,
            default_api_base: Some(DEFAULT_API_BASE.into()),
            required_hosts: Vec::new(),
            credential_uses: ["/api/chat", "/api/embed"]
                .iter()
                .map(|path| CredentialUse {
                    method: "POST".into(),
                    path: path.to_string(),
                })
                .collect(),
            description: "Ollama's native chat and embeddings API".into(),
        }
    }

    fn chat(ctx: CallContext, req: ChatRequest) -> Result<ChatResponse, ProviderError> {
        let body = ollama::chat_request_body(&req, false)?;
        let (json, headers) = post(&ctx, "/api/chat", body).fetch_json()?;
        let mut answer = ollama::parse_chat_response(&json)?;
        answer.headers = headers;
        Ok(answer)
    }

    fn chat_stream(ctx: CallContext, req: ChatRequest) -> Result<OpenedStream, ProviderError> {
        let body = ollama::chat_request_body(&req, true)?;
        let (stream, headers) = post(&ctx, "/api/chat", body).open_stream()?;
        Ok(PumpStream::open(
            NdjsonStream::new(stream),
            ChatLines::new(req.include_usage),
            headers,
        ))
    }

    fn embed(ctx: CallContext, req: EmbeddingRequest) -> Result<EmbeddingResponse, ProviderError> {
        let body = ollama::embed_request_body(&req)?;
        let (json, headers) = post(&ctx, "/api/embed", body).fetch_json()?;
        let mut answer = ollama::parse_embed_response(&json)?;
        answer.headers = headers;
        Ok(answer)
    }
}

wasmgate_guest::export_adapter!(Ollama);
