//! OpenAI's legacy text completions (`POST /v1/completions`), still used by evaluation tools:
//! the prompt is sent as one user message to the chat contract, and the answer (or stream) comes
//! back as `text_completion` objects.

use crate::error::ApiError;
use crate::server::{
    authorize, finish_with, read_json, route_chat, write_sse_event, AppState, ChatApi, StreamStep,
};
use crate::wire;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::Instant;
use wasmgate_runtime::types::{ChatChunk, ChatResponse, FinishReason};
use wasmgate_runtime::CallMetrics;

/// Fields of a completions request that mean the same in a chat request.
const SHARED_FIELDS: &[&str] = &[
    "model",
    "max_tokens",
    "temperature",
    "top_p",
    "n",
    "stop",
    "seed",
    "user",
    "presence_penalty",
    "frequency_penalty",
    "stream",
    "stream_options",
];

/// The chat request body a completions body stands for.
fn as_chat(body: &Value) -> Result<Value, ApiError> {
    let body = body
        .as_object()
        .ok_or_else(|| ApiError::bad_request("the request body must be a JSON object"))?;
    let prompt = match body.get("prompt") {
        Some(Value::String(p)) => p.clone(),
        Some(Value::Array(items)) if items.len() == 1 && items[0].is_string() => {
            items[0].as_str().unwrap_or_default().to_string()
        }
        Some(Value::Array(_)) => {
            return Err(ApiError::invalid_param(
                "prompt",
                "send one prompt per request (a list of several prompts is not supported)",
            ))
        }
        _ => {
            return Err(ApiError::invalid_param(
                "prompt",
                "`prompt` must be a string",
            ))
        }
    };
    for unsupported in ["echo", "suffix", "best_of", "logprobs"] {
        if body
            .get(unsupported)
            .is_some_and(|v| !v.is_null() && v != &Value::Bool(false))
        {
            return Err(ApiError::invalid_param(
                unsupported,
                format!("`{unsupported}` is not supported by the gateway's completions"),
            ));
        }
    }
    let mut chat: Map<String, Value> = body
        .iter()
        .filter(|(k, _)| SHARED_FIELDS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    chat.insert(
        "messages".into(),
        json!([{"role": "user", "content": prompt}]),
    );
    Ok(Value::Object(chat))
}

fn finish_name(reason: Option<&FinishReason>) -> Value {
    match reason {
        None => Value::Null,
        Some(FinishReason::Length) => json!("length"),
        Some(FinishReason::ContentFilter) => json!("content_filter"),
        Some(_) => json!("stop"),
    }
}

fn completion_json(r: &ChatResponse, model: &str) -> Value {
    let choices: Vec<Value> = r
        .choices
        .iter()
        .map(|c| {
            json!({"text": c.message.content.clone().unwrap_or_default(), "index": c.index,
                   "logprobs": null, "finish_reason": finish_name(c.finish_reason.as_ref())})
        })
        .collect();
    let mut out = json!({"id": format!("cmpl-{}", r.id.trim_start_matches("chatcmpl-")),
        "object": "text_completion", "created": r.created, "model": model, "choices": choices});
    if let Some(u) = &r.usage {
        out["usage"] = json!({"prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens,
                              "total_tokens": u.total_tokens});
    }
    out
}

fn chunk_json(c: &ChatChunk, model: &str) -> Value {
    let choices: Vec<Value> = c
        .choices
        .iter()
        .map(|d| {
            json!({"text": d.content.clone().unwrap_or_default(), "index": d.index,
                   "logprobs": null, "finish_reason": finish_name(d.finish_reason.as_ref())})
        })
        .collect();
    let mut out = json!({"id": format!("cmpl-{}", c.id.trim_start_matches("chatcmpl-")),
        "object": "text_completion", "created": c.created, "model": model, "choices": choices});
    if let Some(u) = &c.usage {
        out["usage"] = json!({"prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens,
                              "total_tokens": u.total_tokens});
    }
    out
}

/// `POST /v1/completions`.
pub async fn completions(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let metrics = Arc::new(CallMetrics::default());
    let result = completions_response(&state, &headers, body, &metrics).await;
    finish_with(
        "completions",
        result,
        started,
        &metrics,
        ApiError::into_response,
    )
}

async fn completions_response(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    metrics: &Arc<CallMetrics>,
) -> Result<Response, ApiError> {
    let caller = authorize(state, headers).await?;
    let json = read_json(state, headers, body).await?;
    let call = wire::chat_call(&as_chat(&json)?)?;
    let api = TextCompletions {
        model: call.model.clone(),
    };
    route_chat(state, &caller, headers, call, metrics, api).await
}

/// `text_completion` answers and stream events, ending in `data: [DONE]`.
struct TextCompletions {
    model: String,
}

impl ChatApi for TextCompletions {
    fn error_response(e: ApiError) -> Response {
        e.into_response()
    }

    fn answer(&mut self, answer: &ChatResponse) -> Value {
        completion_json(answer, &self.model)
    }

    fn step(&mut self, step: StreamStep<'_>, out: &mut Vec<u8>) {
        match step {
            StreamStep::Batch(batch) => {
                for chunk in batch {
                    write_sse_event(out, &chunk_json(chunk, &self.model));
                }
            }
            StreamStep::Failed(error) => write_sse_event(out, &error.body()),
            StreamStep::Done => out.extend_from_slice(b"data: [DONE]\n\n"),
        }
    }
}
