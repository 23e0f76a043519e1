//! wasmgate adapter for Anthropic's Messages API (`/v1/messages`): chat, streaming, tools,
//! images and documents, thinking with signatures, prompt caching (`cache_control` from the
//! records' extras). The key travels as `x-api-key` (an OAuth access token the host holds, as a
//! bearer token); the client's `anthropic-version` and
//! `anthropic-beta` headers, when the gateway forwards them, replace the defaults. Token counts
//! come from `/v1/messages/count_tokens` (the optional `tokens` export).
//!
//! Settings: `max_tokens` (sent when a request gives none; default 4096).

use wasmgate_guest::anthropic::{self, MessagesEvents, Shape};
use wasmgate_guest::prelude::*;

const DEFAULT_API_BASE: &str = "https://api.anthropic.com";

struct Anthropic;

/// The Messages endpoint under the operator's base: `https://api.anthropic.com` and
/// `https://proxy/v1` both work, as LiteLLM takes either.
fn messages_url(ctx: &CallContext) -> String {
    let base = ctx.api_base_or(DEFAULT_API_BASE);
    if base.ends_with("/v1/messages") {
        base.to_string()
    } else if base.ends_with("/v1") {
        format!("{base}/messages")
    } else {
        format!("{base}/v1/messages")
    }
}

fn request(ctx: &CallContext, req: &ChatRequest, stream: bool) -> ProviderResult<Request> {
    let mut req = req.clone();
    if req.max_tokens.is_none() && req.max_completion_tokens.is_none() {
        req.max_tokens = ctx.setting_u64("max_tokens").map(|n| n as u32);
    }
    let body = anthropic::messages_request_body(&req, stream)?;
    let mut http = authorized(ctx, Request::post_json(messages_url(ctx), &body));
    if stream {
        http = http.header("accept", "text/event-stream");
    }
    Ok(http.call_headers(&ctx.headers))
}

/// `http` with the API version and the credential where Anthropic expects it.
fn authorized(ctx: &CallContext, http: Request) -> Request {
    let http = http
        .header("anthropic-version", anthropic::API_VERSION)
        .timeout_ms(ctx.timeout_ms);
    match (ctx.credential_kind, ctx.credential.as_deref()) {
        // An OAuth access token (the host's `oauth2_refresh_token` credential).
        (CredentialKind::AccessToken, token) => http.bearer(token),
        (_, Some(key)) if !key.is_empty() => http.header("x-api-key", key),
        _ => http,
    }
}

impl Guest for Anthropic {
    type ChunkStream = PumpStream<SseStream, MessagesEvents>;

    fn info() -> AdapterInfo {
        AdapterInfo {
            name: "anthropic".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            capabilities: Capabilities::CHAT
                | Capabilities::STREAMING
                | Capabilities::TOOLS
                | Capabilities::VISION
                | Capabilities::REASONING,
            default_api_base: Some(DEFAULT_API_BASE.into()),
            required_hosts: vec![DEFAULT_API_BASE.into()],
            credential_uses: ["/v1/messages", "/messages"]
                .iter()
                .map(|path| CredentialUse {
                    method: "POST".into(),
                    path: path.to_string(),
                })
                .collect(),
            description: "Anthropic's Messages API: Claude chat, streaming, tools, thinking".into(),
        }
    }

    fn chat(ctx: CallContext, req: ChatRequest) -> Result<ChatResponse, ProviderError> {
        let (json, headers) = request(&ctx, &req, false)?.fetch_json()?;
        let mut answer = anthropic::parse_messages_response(&json, Shape::of(&req))?;
        answer.headers = headers;
        Ok(answer)
    }

    fn chat_stream(ctx: CallContext, req: ChatRequest) -> Result<OpenedStream, ProviderError> {
        let (body, headers) = request(&ctx, &req, true)?.open_stream()?;
        Ok(PumpStream::open(
            SseStream::new(body),
            MessagesEvents::new(Shape::of(&req)),
            headers,
        ))
    }

    fn embed(_: CallContext, _: EmbeddingRequest) -> Result<EmbeddingResponse, ProviderError> {
        Err(ProviderError::new(
            ErrorKind::NotFound,
            "Anthropic has no embeddings API; use another provider's embedding model",
        ))
    }
}

impl wasmgate_guest::counting::exports::wasmgate::provider::tokens::Guest for Anthropic {
    fn count_tokens(ctx: CallContext, req: ChatRequest) -> Result<u32, ProviderError> {
        let body = anthropic::count_tokens_request_body(&req)?;
        let url = format!("{}/count_tokens", messages_url(&ctx));
        let http = authorized(&ctx, Request::post_json(url, &body));
        let (json, _) = http.call_headers(&ctx.headers).fetch_json()?;
        anthropic::parse_token_count(&json)
    }
}

wasmgate_guest::export_adapter!(Anthropic);
wasmgate_guest::export_token_counter!(Anthropic);
