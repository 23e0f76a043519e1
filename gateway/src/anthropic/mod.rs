//! The Anthropic Messages API (`POST /v1/messages`) over any adapter: requests are translated to
//! the contract, answers and streams back to Anthropic's shapes, errors in Anthropic's error
//! shape with its status codes (529 when overloaded). Coding agents built on the Anthropic SDK
//! (Claude Code and others) can use any provider through it.

mod events;
mod request;
mod response;

pub use request::{count_tokens_call, messages_call, MessagesCall};

use crate::error::ApiError;
use crate::server::{authorize, finish_with, read_json, route_chat, AppState, ChatApi, StreamStep};
use crate::wire::ChatCall;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Instant;
use wasmgate_runtime::types::ChatResponse;
use wasmgate_runtime::CallMetrics;

/// Anthropic's error `type` and status for an error.
fn error_kind(e: &ApiError) -> (StatusCode, &'static str) {
    match e.status.as_u16() {
        400 | 405 | 408 => (e.status, "invalid_request_error"),
        401 => (e.status, "authentication_error"),
        403 => (e.status, "permission_error"),
        404 => (e.status, "not_found_error"),
        413 => (e.status, "request_too_large"),
        429 => (e.status, "rate_limit_error"),
        503 | 529 => (
            StatusCode::from_u16(529).expect("529 is a status"),
            "overloaded_error",
        ),
        _ => (e.status, "api_error"),
    }
}

/// `{"type": "error", "error": {"type", "message"}}`.
fn error_body(e: &ApiError) -> Value {
    json!({"type": "error", "error": {"type": error_kind(e).1, "message": e.message}})
}

/// An error answered in Anthropic's shape, keeping `retry-after` and the upstream's headers.
pub fn error_response(e: ApiError) -> Response {
    let (status, _) = error_kind(&e);
    let body = error_body(&e).to_string();
    let mut response = e.into_response();
    *response.status_mut() = status;
    *response.body_mut() = Body::from(body);
    response
}

/// Anthropic's model list: `{data: [{type, id, display_name, created_at}], has_more, first_id,
/// last_id}`.
pub fn models_json(names: &[String]) -> Value {
    let data: Vec<Value> = names
        .iter()
        .map(|n| json!({"type": "model", "id": n, "display_name": n, "created_at": "1970-01-01T00:00:00Z"}))
        .collect();
    json!({"data": data, "has_more": false, "first_id": names.first(), "last_id": names.last()})
}

/// `POST /v1/messages/count_tokens`: answered by the first deployment of the model whose adapter
/// can count (the `anthropic` adapter asks the provider), with the deployment's credential and
/// the client's forwarded headers; a clear error in Anthropic's shape when none can.
pub async fn count_tokens(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let metrics = Arc::new(CallMetrics::default());
    let result = count_tokens_response(&state, &headers, body, &metrics).await;
    finish_with("count_tokens", result, started, &metrics, error_response)
}

async fn count_tokens_response(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    metrics: &Arc<CallMetrics>,
) -> Result<Response, ApiError> {
    let caller = authorize(state, headers).await?;
    let json = read_json(state, headers, body).await?;
    let MessagesCall {
        model, mut request, ..
    } = count_tokens_call(&json)?;
    // Counting is free: the key's models apply, its budget and rate limits do not.
    state.keys.check_model(&caller, &model)?;
    let deployments = state.registry.resolve(&model)?;
    let Some(counter) = deployments.iter().find(|d| d.adapter.can_count_tokens()) else {
        return Err(ApiError::invalid_param(
            "model",
            format!(
                "counting tokens is not available for `{model}`: none of its adapters can count \
                 tokens (the `anthropic` adapter can)"
            ),
        ));
    };
    if let Some(var) = &counter.missing_key {
        return Err(ApiError::missing_key(&model, &counter.label, var));
    }
    let mut call = counter.call.clone();
    call.metrics = Some(metrics.clone());
    crate::server::add_client_headers(&mut call, &state.forward_headers.select(headers));
    request.model.clone_from(&counter.provider_model);
    let tokens = counter
        .adapter
        .count_tokens(&call, &request)
        .await
        .map_err(|e| ApiError::from(e).in_deployment(&model, &counter.label))?;
    Ok(axum::Json(json!({"input_tokens": tokens})).into_response())
}

/// `POST /v1/messages`.
pub async fn messages(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let metrics = Arc::new(CallMetrics::default());
    let result = messages_response(&state, &headers, body, &metrics).await;
    finish_with("messages", result, started, &metrics, error_response)
}

async fn messages_response(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    metrics: &Arc<CallMetrics>,
) -> Result<Response, ApiError> {
    let caller = authorize(state, headers).await?;
    let json = read_json(state, headers, body).await?;
    let MessagesCall {
        model,
        stream,
        request,
    } = messages_call(&json)?;
    let api = Messages {
        model: model.clone(),
        events: events::EventWriter::new(&model),
    };
    let call = ChatCall {
        model,
        stream,
        request,
        fallbacks: None,
        cache: Default::default(),
    };
    route_chat(state, &caller, headers, call, metrics, api).await
}

/// Messages answers, their event sequence, and Anthropic's error shape.
struct Messages {
    model: String,
    events: events::EventWriter,
}

impl ChatApi for Messages {
    fn error_response(e: ApiError) -> Response {
        error_response(e)
    }

    fn answer(&mut self, answer: &ChatResponse) -> Value {
        response::message_json(answer, &self.model)
    }

    fn step(&mut self, step: StreamStep<'_>, out: &mut Vec<u8>) {
        match step {
            StreamStep::Batch(batch) => {
                for chunk in batch {
                    self.events.chunk(out, chunk);
                }
            }
            StreamStep::Failed(error) => self.events.error(out, &error_body(error)),
            StreamStep::Done => self.events.end(out),
        }
    }
}
