//! wasmgate adapter for Azure OpenAI: `{api_base}/openai/deployments/{deployment}/chat/completions
//! ?api-version=...` (and `/embeddings`), where the deployment is the model name after `azure/`.
//! The OpenAI wire format is the guest SDK's; only the URL and the auth differ. An API key
//! travels in the `api-key` header; an Entra ID token (the host obtains and refreshes it from
//! `tenant_id` / `client_id` / `client_secret`, or takes `azure_ad_token`) as a bearer token.
//!
//! Settings: `api_version` (default 2024-10-21, Azure OpenAI's current GA version).

use wasmgate_guest::openai::{self, OpenAiStream};
use wasmgate_guest::prelude::*;

const DEFAULT_API_VERSION: &str = "2024-10-21";

struct Azure;

/// The POST of `body` to the deployment's `operation` (`chat/completions`, `embeddings`).
fn post(
    ctx: &CallContext,
    model: &str,
    operation: &str,
    body: &serde_json::Value,
) -> ProviderResult<Request> {
    let base = ctx.api_base.as_deref().filter(|b| !b.is_empty()).ok_or_else(|| {
        ProviderError::bad_request(
            "Azure OpenAI needs the resource's endpoint as `api_base` (https://NAME.openai.azure.com)",
        )
    })?;
    let version = ctx.setting("api_version").unwrap_or(DEFAULT_API_VERSION);
    let url = UrlBuilder::new(base)
        .raw("/openai/deployments")
        .segment(model)
        .raw("/")
        .raw(operation)
        .query("api-version", version)
        .build();
    let mut req = Request::post_json(url, body).timeout_ms(ctx.timeout_ms);
    req = match (ctx.credential_kind, ctx.credential.as_deref()) {
        (CredentialKind::AccessToken, token) => req.bearer(token),
        (_, Some(key)) if !key.is_empty() => req.header("api-key", key),
        _ => req,
    };
    Ok(req.call_headers(&ctx.headers))
}

impl Guest for Azure {
    type ChunkStream = OpenAiStream;

    fn info() -> AdapterInfo {
        AdapterInfo {
            name: "azure".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            capabilities: Capabilities::CHAT
                | Capabilities::STREAMING
                | Capabilities::EMBEDDINGS
                | Capabilities::TOOLS
                | Capabilities::VISION,
            default_api_base: None,
            required_hosts: Vec::new(),
            credential_uses: ["chat/completions", "embeddings"]
                .iter()
                .map(|op| CredentialUse {
                    method: "POST".into(),
                    path: format!("/openai/deployments/*/{op}"),
                })
                .collect(),
            description: "Azure OpenAI deployments: chat, streaming, tools, embeddings".into(),
        }
    }

    fn chat(ctx: CallContext, req: ChatRequest) -> Result<ChatResponse, ProviderError> {
        openai::chat(&req, |body| {
            post(&ctx, &req.model, "chat/completions", body)
        })
    }

    fn chat_stream(ctx: CallContext, req: ChatRequest) -> Result<OpenedStream, ProviderError> {
        openai::chat_stream(&req, |body| {
            post(&ctx, &req.model, "chat/completions", body)
        })
    }

    fn embed(ctx: CallContext, req: EmbeddingRequest) -> Result<EmbeddingResponse, ProviderError> {
        openai::embed(&req, |body| post(&ctx, &req.model, "embeddings", body))
    }
}

wasmgate_guest::export_adapter!(Azure);
