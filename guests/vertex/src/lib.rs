//! wasmgate adapter for Vertex AI: Gemini models (`generateContent`, `streamGenerateContent`,
//! embeddings through `predict`) and Anthropic's Claude models (`rawPredict`,
//! `streamRawPredict`) under `projects/{project}/locations/{location}/publishers/...`, on the
//! location's host (`{location}-aiplatform.googleapis.com`, or `aiplatform.googleapis.com` for
//! `global`). The wire formats are the guest SDK's Gemini and Anthropic translations; the OAuth
//! access token is the host's (from `vertex_credentials`), sent as a bearer token.
//!
//! Settings: `vertex_project` (required), `vertex_location` (default `us-central1`).

use wasmgate_guest::anthropic::{self, MessagesEvents, Shape};
use wasmgate_guest::gemini::{self, GenerateEvents};
use wasmgate_guest::prelude::*;

const DEFAULT_LOCATION: &str = "us-central1";
/// The `anthropic_version` Claude on Vertex takes in the body.
const ANTHROPIC_ON_VERTEX: &str = "vertex-2023-10-16";

struct Vertex;

/// Which publisher's API a model speaks.
#[derive(Clone, Copy, PartialEq)]
enum Publisher {
    Google,
    Anthropic,
}

fn publisher(model: &str) -> Publisher {
    if model.starts_with("claude") {
        Publisher::Anthropic
    } else {
        Publisher::Google
    }
}

/// The POST of `body` to the model's `method` on the location's host (or the operator's base).
fn post(
    ctx: &CallContext,
    model: &str,
    method: &str,
    body: &serde_json::Value,
) -> ProviderResult<Request> {
    let project = ctx.setting("vertex_project").ok_or_else(|| {
        ProviderError::bad_request("Vertex AI needs the Google Cloud project: set `vertex_project`")
    })?;
    let location = ctx.setting("vertex_location").unwrap_or(DEFAULT_LOCATION);
    let host = match location {
        "global" => "https://aiplatform.googleapis.com".to_string(),
        l => format!("https://{l}-aiplatform.googleapis.com"),
    };
    let base = ctx
        .api_base
        .as_deref()
        .filter(|b| !b.is_empty())
        .unwrap_or(&host);
    let publisher = match publisher(model) {
        Publisher::Google => "google",
        Publisher::Anthropic => "anthropic",
    };
    let mut url = UrlBuilder::new(base)
        .raw("/v1/projects")
        .segment(project)
        .raw("/locations")
        .segment(location)
        .raw("/publishers/")
        .raw(publisher)
        .raw("/models/")
        .raw(&wasmgate_guest::url::encode(model))
        .raw(":")
        .raw(method);
    if method == "streamGenerateContent" {
        url = url.query("alt", "sse");
    }
    Ok(Request::post_json(url.build(), body)
        .bearer(ctx.credential.as_deref())
        .timeout_ms(ctx.timeout_ms)
        .call_headers(&ctx.headers))
}

/// Claude's Messages body as Vertex takes it: the model in the URL, the version in the body.
fn claude_body(req: &ChatRequest, stream: bool) -> ProviderResult<serde_json::Value> {
    let mut body = anthropic::messages_request_body(req, stream)?;
    if let Some(map) = body.as_object_mut() {
        map.remove("model");
        map.insert("anthropic_version".into(), ANTHROPIC_ON_VERTEX.into());
    }
    Ok(body)
}

/// Either publisher's stream, behind one resource type.
pub enum VertexEvents {
    /// Gemini's partial answers.
    Gemini(GenerateEvents),
    /// Claude's Messages events.
    Claude(MessagesEvents),
}

impl Translate<SseEvent> for VertexEvents {
    fn translate(&mut self, event: SseEvent, out: &mut Vec<ChatChunk>) -> ProviderResult<Flow> {
        match self {
            VertexEvents::Gemini(t) => t.translate(event, out),
            VertexEvents::Claude(t) => t.translate(event, out),
        }
    }
}

impl Guest for Vertex {
    type ChunkStream = PumpStream<SseStream, VertexEvents>;

    fn info() -> AdapterInfo {
        let methods = [
            "generateContent",
            "streamGenerateContent",
            "predict",
            "rawPredict",
            "streamRawPredict",
        ];
        AdapterInfo {
            name: "vertex_ai".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            capabilities: Capabilities::CHAT
                | Capabilities::STREAMING
                | Capabilities::EMBEDDINGS
                | Capabilities::TOOLS
                | Capabilities::VISION
                | Capabilities::REASONING,
            default_api_base: None,
            // Every location has its own host under googleapis.com; the token goes only to the
            // model paths below.
            required_hosts: vec!["https://*.googleapis.com".into()],
            credential_uses: methods
                .iter()
                .map(|m| CredentialUse {
                    method: "POST".into(),
                    path: format!("/v1/projects/*/locations/*/publishers/*/models/*:{m}"),
                })
                .collect(),
            description: "Vertex AI: Gemini and Claude models, embeddings".into(),
        }
    }

    fn chat(ctx: CallContext, req: ChatRequest) -> Result<ChatResponse, ProviderError> {
        let claude = publisher(&req.model) == Publisher::Anthropic;
        let (method, body) = if claude {
            ("rawPredict", claude_body(&req, false)?)
        } else {
            ("generateContent", gemini::generate_request_body(&req)?)
        };
        let (json, headers) = post(&ctx, &req.model, method, &body)?.fetch_json()?;
        let mut answer = if claude {
            anthropic::parse_messages_response(&json, Shape::of(&req))?
        } else {
            gemini::parse_generate_response(&json, &req.model)?
        };
        answer.headers = headers;
        Ok(answer)
    }

    fn chat_stream(ctx: CallContext, req: ChatRequest) -> Result<OpenedStream, ProviderError> {
        let claude = publisher(&req.model) == Publisher::Anthropic;
        let (method, body, events) = if claude {
            let events = VertexEvents::Claude(MessagesEvents::new(Shape::of(&req)));
            ("streamRawPredict", claude_body(&req, true)?, events)
        } else {
            let events = VertexEvents::Gemini(GenerateEvents::new(&req.model, req.include_usage));
            (
                "streamGenerateContent",
                gemini::generate_request_body(&req)?,
                events,
            )
        };
        let (stream, headers) = post(&ctx, &req.model, method, &body)?
            .header("accept", "text/event-stream")
            .open_stream()?;
        Ok(PumpStream::open(SseStream::new(stream), events, headers))
    }

    fn embed(ctx: CallContext, req: EmbeddingRequest) -> Result<EmbeddingResponse, ProviderError> {
        let instances = req
            .input
            .iter()
            .map(|i| match i {
                EmbeddingInput::Text(t) => Ok(serde_json::json!({"content": t})),
                _ => Err(ProviderError::bad_request(
                    "Vertex AI's text embeddings take text inputs only",
                )),
            })
            .collect::<ProviderResult<Vec<_>>>()?;
        let mut body = serde_json::json!({"instances": instances});
        if let Some(d) = req.dimensions {
            body["parameters"] = serde_json::json!({"outputDimensionality": d});
        }
        let (json, headers) = post(&ctx, &req.model, "predict", &body)?.fetch_json()?;
        let mut answer = parse_predictions(&json, &req.model)?;
        answer.headers = headers;
        Ok(answer)
    }
}

/// A text-embedding `predict` answer: `predictions[].embeddings.values`, with token counts.
fn parse_predictions(v: &serde_json::Value, model: &str) -> ProviderResult<EmbeddingResponse> {
    let predictions = v["predictions"]
        .as_array()
        .ok_or_else(|| ProviderError::upstream("the provider's answer has no `predictions`"))?;
    let mut tokens = 0u32;
    let data = predictions
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let e = &p["embeddings"];
            tokens += wasmgate_guest::wire::count(&e["statistics"], "token_count").unwrap_or(0);
            let values = e["values"]
                .as_array()
                .and_then(|a| a.iter().map(|x| x.as_f64().map(|f| f as f32)).collect())
                .ok_or_else(|| ProviderError::upstream("an embedding has no `values`"))?;
            Ok(Embedding {
                index: i as u32,
                vector: EmbeddingVector::Float(values),
            })
        })
        .collect::<ProviderResult<Vec<_>>>()?;
    Ok(EmbeddingResponse {
        model: model.to_string(),
        data,
        usage: Some(Usage::prompt_only(tokens)),
        extra: None,
        headers: Vec::new(),
    })
}

wasmgate_guest::export_adapter!(Vertex);
