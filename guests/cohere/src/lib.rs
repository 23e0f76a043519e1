//! wasmgate adapter for Cohere's v2 API: `/v2/chat` (whole and SSE, tools with the model's tool
//! plan as reasoning, citations in the message's extras) and `/v2/embed` (float, int8, uint8,
//! binary, ubinary). The key travels as a bearer token.
//!
//! Settings: `input_type` for embeddings (default `search_document`).

use wasmgate_guest::cohere::{self, ChatEvents};
use wasmgate_guest::prelude::*;

const DEFAULT_API_BASE: &str = "https://api.cohere.com";

struct Cohere;

/// The POST of `body` to `path` under the API base (a base ending in `/v2` works too).
fn post(ctx: &CallContext, path: &str, body: &serde_json::Value) -> Request {
    let base = ctx.api_base_or(DEFAULT_API_BASE);
    let root = base.strip_suffix("/v2").unwrap_or(base);
    Request::post_json(format!("{root}{path}"), body)
        .bearer(ctx.credential.as_deref())
        .timeout_ms(ctx.timeout_ms)
        .call_headers(&ctx.headers)
}

impl Guest for Cohere {
    type ChunkStream = PumpStream<SseStream, ChatEvents>;

    fn info() -> AdapterInfo {
        AdapterInfo {
            name: "cohere".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            capabilities: Capabilities::CHAT
                | Capabilities::STREAMING
                | Capabilities::EMBEDDINGS
                | Capabilities::TOOLS
                | Capabilities::VISION,
            default_api_base: Some(DEFAULT_API_BASE.into()),
            required_hosts: vec![DEFAULT_API_BASE.into()],
            credential_uses: ["/v2/chat", "/v2/embed"]
                .iter()
                .map(|path| CredentialUse {
                    method: "POST".into(),
                    path: path.to_string(),
                })
                .collect(),
            description: "Cohere's v2 Chat and Embed APIs".into(),
        }
    }

    fn chat(ctx: CallContext, req: ChatRequest) -> Result<ChatResponse, ProviderError> {
        let body = cohere::chat_request_body(&req, false)?;
        let (json, headers) = post(&ctx, "/v2/chat", &body).fetch_json()?;
        let mut answer = cohere::parse_chat_response(&json, &req.model)?;
        answer.headers = headers;
        Ok(answer)
    }

    fn chat_stream(ctx: CallContext, req: ChatRequest) -> Result<OpenedStream, ProviderError> {
        let body = cohere::chat_request_body(&req, true)?;
        let (stream, headers) = post(&ctx, "/v2/chat", &body)
            .header("accept", "text/event-stream")
            .open_stream()?;
        Ok(PumpStream::open(
            SseStream::new(stream),
            ChatEvents::new(&req.model, req.include_usage),
            headers,
        ))
    }

    fn embed(ctx: CallContext, req: EmbeddingRequest) -> Result<EmbeddingResponse, ProviderError> {
        let input_type = ctx.setting("input_type").unwrap_or("search_document");
        let body = cohere::embed_request_body(&req, input_type)?;
        let (json, headers) = post(&ctx, "/v2/embed", &body).fetch_json()?;
        let encoding = req.encoding_format.unwrap_or(EncodingFormat::Float);
        let mut answer = cohere::parse_embed_response(&json, &req.model, encoding)?;
        answer.headers = headers;
        Ok(answer)
    }
}

wasmgate_guest::export_adapter!(Cohere);
