//! wasmgate adapter for Google AI Studio's Gemini API: `models/{model}:generateContent`,
//! `:streamGenerateContent?alt=sse` and `:batchEmbedContents`. The key travels in the
//! `x-goog-api-key` header, never in the URL.

use wasmgate_guest::gemini::{self, GenerateEvents};
use wasmgate_guest::prelude::*;

const DEFAULT_API_BASE: &str = "https://generativelanguage.googleapis.com/v1beta";

struct Gemini;

/// The POST of `body` to `models/{model}:{method}` under the API base (`/v1beta` is added to a
/// bare host, as LiteLLM's bases are written either way).
fn post(ctx: &CallContext, model: &str, method: &str, body: &serde_json::Value) -> Request {
    let base = ctx.api_base_or(DEFAULT_API_BASE);
    let mut url = UrlBuilder::new(base);
    if !base.ends_with("/v1beta") && !base.ends_with("/v1") {
        url = url.raw("/v1beta");
    }
    let mut url = url
        .raw("/models/")
        .raw(&wasmgate_guest::url::encode(model))
        .raw(":")
        .raw(method);
    if method == "streamGenerateContent" {
        url = url.query("alt", "sse");
    }
    let mut req = Request::post_json(url.build(), body).timeout_ms(ctx.timeout_ms);
    if let Some(key) = ctx.credential.as_deref().filter(|k| !k.is_empty()) {
        req = req.header("x-goog-api-key", key);
    }
    req.call_headers(&ctx.headers)
}

impl Guest for Gemini {
    type ChunkStream = PumpStream<SseStream, GenerateEvents>;

    fn info() -> AdapterInfo {
        AdapterInfo {
            name: "gemini".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            capabilities: Capabilities::CHAT
                | Capabilities::STREAMING
                | Capabilities::EMBEDDINGS
                | Capabilities::TOOLS
                | Capabilities::VISION
                | Capabilities::REASONING,
            default_api_base: Some(DEFAULT_API_BASE.into()),
            required_hosts: vec!["https://generativelanguage.googleapis.com".into()],
            credential_uses: [
                "generateContent",
                "streamGenerateContent",
                "batchEmbedContents",
            ]
            .iter()
            .flat_map(|m| {
                ["/models/*:", "/v1beta/models/*:"].map(|prefix| CredentialUse {
                    method: "POST".into(),
                    path: format!("{prefix}{m}"),
                })
            })
            .collect(),
            description: "Google AI Studio's Gemini API: chat, streaming, tools, embeddings".into(),
        }
    }

    fn chat(ctx: CallContext, req: ChatRequest) -> Result<ChatResponse, ProviderError> {
        let body = gemini::generate_request_body(&req)?;
        let (json, headers) = post(&ctx, &req.model, "generateContent", &body).fetch_json()?;
        let mut answer = gemini::parse_generate_response(&json, &req.model)?;
        answer.headers = headers;
        Ok(answer)
    }

    fn chat_stream(ctx: CallContext, req: ChatRequest) -> Result<OpenedStream, ProviderError> {
        let body = gemini::generate_request_body(&req)?;
        let (stream, headers) = post(&ctx, &req.model, "streamGenerateContent", &body)
            .header("accept", "text/event-stream")
            .open_stream()?;
        Ok(PumpStream::open(
            SseStream::new(stream),
            GenerateEvents::new(&req.model, req.include_usage),
            headers,
        ))
    }

    fn embed(ctx: CallContext, req: EmbeddingRequest) -> Result<EmbeddingResponse, ProviderError> {
        let body = gemini::embed_request_body(&req, &req.model)?;
        let (json, headers) = post(&ctx, &req.model, "batchEmbedContents", &body).fetch_json()?;
        let mut answer = gemini::parse_embed_response(&json, &req.model)?;
        answer.headers = headers;
        Ok(answer)
    }
}

wasmgate_guest::export_adapter!(Gemini);
