//! wasmgate adapter for Amazon Bedrock: chat through the Converse API (`/model/{id}/converse`,
//! and `/converse-stream` in AWS event-stream framing) for every model Converse serves (Claude
//! with thinking and signatures, Nova, Llama, Mistral, ...), and embeddings through InvokeModel
//! for Amazon Titan and Cohere Embed models. Requests are signed with AWS SigV4 by the host,
//! which holds the keys (`aws_access_key_id` / `aws_secret_access_key` / `aws_session_token`);
//! a Bedrock API key (`api_key`) is sent as a bearer token instead.
//!
//! Model names as LiteLLM takes them: `bedrock/{model id, inference profile or ARN}`, with an
//! optional `converse/` or `invoke/` route prefix (both are served through Converse).
//! Settings: `aws_region_name` (default `us-east-1`; picks the regional endpoint and the
//! signing region), `input_type` for Cohere embeddings (default `search_document`).

use wasmgate_guest::bedrock::{self, ConverseEvents, EmbedFamily};
use wasmgate_guest::eventstream::EventStream;
use wasmgate_guest::prelude::*;

const DEFAULT_REGION: &str = "us-east-1";

struct Bedrock;

/// The model id without LiteLLM's route prefix.
fn model_id(model: &str) -> &str {
    model
        .strip_prefix("converse/")
        .or_else(|| model.strip_prefix("invoke/"))
        .unwrap_or(model)
}

/// The POST of `body` to the model's `action` on the region's endpoint (or the operator's base),
/// signed by the host or carrying the Bedrock API key.
fn post(ctx: &CallContext, model: &str, action: &str, body: &serde_json::Value) -> Request {
    let region = ctx.setting("aws_region_name");
    let endpoint = format!(
        "https://bedrock-runtime.{}.amazonaws.com",
        region.unwrap_or(DEFAULT_REGION)
    );
    let url = UrlBuilder::new(ctx.api_base_or(&endpoint))
        .raw("/model")
        .segment(model_id(model))
        .raw("/")
        .raw(action)
        .build();
    let http = Request::post_json(url, body).timeout_ms(ctx.timeout_ms);
    let http = match (ctx.credential_kind, region) {
        (CredentialKind::AwsSigv4, Some(region)) => http.aws_sigv4_in("bedrock", region),
        (CredentialKind::AwsSigv4, None) => http.aws_sigv4("bedrock"),
        _ => http.bearer(ctx.credential.as_deref()),
    };
    http.call_headers(&ctx.headers)
}

/// The request id Bedrock answers with, as the answer's id.
fn request_id(headers: &[(String, String)]) -> String {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("x-amzn-requestid"))
        .map(|(_, v)| format!("chatcmpl-{v}"))
        .unwrap_or_else(|| "chatcmpl-bedrock".to_string())
}

impl Guest for Bedrock {
    type ChunkStream = PumpStream<EventStream, ConverseEvents>;

    fn info() -> AdapterInfo {
        AdapterInfo {
            name: "bedrock".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            capabilities: Capabilities::CHAT
                | Capabilities::STREAMING
                | Capabilities::EMBEDDINGS
                | Capabilities::TOOLS
                | Capabilities::VISION
                | Capabilities::REASONING,
            default_api_base: None,
            // Every region has its own endpoint under amazonaws.com; the signature or key goes
            // only to the model paths below.
            required_hosts: vec!["https://*.amazonaws.com".into()],
            credential_uses: ["converse", "converse-stream", "invoke"]
                .iter()
                .map(|action| CredentialUse {
                    method: "POST".into(),
                    path: format!("/model/*/{action}"),
                })
                .collect(),
            description: "Amazon Bedrock: Converse chat and streaming, Titan and Cohere embeddings"
                .into(),
        }
    }

    fn chat(ctx: CallContext, req: ChatRequest) -> Result<ChatResponse, ProviderError> {
        let body = bedrock::converse_request_body(&req)?;
        let (json, headers) = post(&ctx, &req.model, "converse", &body)
            .fetch_json()
            .map_err(bedrock::refine_error)?;
        let mut answer =
            bedrock::parse_converse_response(&json, &req.model, &request_id(&headers))?;
        answer.headers = headers;
        Ok(answer)
    }

    fn chat_stream(ctx: CallContext, req: ChatRequest) -> Result<OpenedStream, ProviderError> {
        let body = bedrock::converse_request_body(&req)?;
        let (stream, headers) = post(&ctx, &req.model, "converse-stream", &body)
            .header("accept", "application/vnd.amazon.eventstream")
            .open_stream()
            .map_err(bedrock::refine_error)?;
        let events = ConverseEvents::new(&req.model, &request_id(&headers), req.include_usage);
        Ok(PumpStream::open(EventStream::new(stream), events, headers))
    }

    fn embed(ctx: CallContext, req: EmbeddingRequest) -> Result<EmbeddingResponse, ProviderError> {
        let model = model_id(&req.model);
        let family = EmbedFamily::of(model).ok_or_else(|| {
            ProviderError::bad_request(format!(
                "`{model}` is not an embedding model the bedrock adapter speaks (Amazon Titan \
                 `amazon.titan-embed-*` and Cohere `cohere.embed-*` are)"
            ))
        })?;
        let input_type = ctx.setting("input_type").unwrap_or("search_document");
        let mut answers = Vec::new();
        let mut headers = Vec::new();
        for body in bedrock::embed_request_bodies(&req, family, input_type)? {
            let (json, h) = post(&ctx, model, "invoke", &body)
                .fetch_json()
                .map_err(bedrock::refine_error)?;
            answers.push(json);
            headers = h;
        }
        let mut answer = bedrock::parse_embed_responses(&answers, family, &req)?;
        answer.headers = headers;
        Ok(answer)
    }
}

wasmgate_guest::export_adapter!(Bedrock);
