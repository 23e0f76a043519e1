//! OpenAI's Responses API (`POST /v1/responses`, which the OpenAI SDKs and agent tools such as
//! Codex default to) over any adapter: input items are translated to the chat contract, the
//! answer comes back as output items (reasoning, message, function_call) or as the API's typed
//! event stream. Responses are kept in the gateway's [`ResponseStore`] (unless `store: false`)
//! for `previous_response_id` and `GET` / `DELETE /v1/responses/{id}`.

mod events;
mod output;
mod request;
pub mod store;

pub use store::ResponseStore;

use crate::error::ApiError;
use crate::server::{authorize, finish_with, read_json, route_chat, AppState, ChatApi, StreamStep};
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::HeaderMap;
use output::{new_id, now_secs, output_items, response_json, status_of, Echo, ResponseParts};
use request::{responses_call, ResponsesCall};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Instant;
use store::Stored;
use wasmgate_runtime::types::ChatResponse;
use wasmgate_runtime::CallMetrics;

/// `POST /v1/responses`.
pub async fn create(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let metrics = Arc::new(CallMetrics::default());
    let result = async {
        let caller = authorize(&state, &headers).await?;
        let json = read_json(&state, &headers, body).await?;
        let ResponsesCall {
            call,
            echo,
            input,
            store,
            previous,
        } = responses_call(&json, &state.responses, caller.owner().as_deref())?;
        let id = new_id("resp");
        let api = Responses {
            events: events::ResponseEvents::new(&id, &call.model, echo.clone()),
            id,
            model: call.model.clone(),
            echo,
            keep: store.then(|| Keep {
                owner: caller.owner(),
                store: state.responses.clone(),
                input,
                previous,
            }),
        };
        route_chat(&state, &caller, &headers, call, &metrics, api).await
    }
    .await;
    finish_with(
        "responses",
        result,
        started,
        &metrics,
        ApiError::into_response,
    )
}

/// What storing a response needs.
struct Keep {
    store: Arc<ResponseStore>,
    owner: Option<String>,
    input: Vec<Value>,
    previous: Option<String>,
}

/// One response being answered.
struct Responses {
    id: String,
    model: String,
    echo: Echo,
    events: events::ResponseEvents,
    keep: Option<Keep>,
}

impl Responses {
    fn store(&mut self, response: &Value) {
        if let Some(keep) = self.keep.take() {
            let stored =
                Stored::new(response.clone(), keep.input, keep.previous).owned_by(keep.owner);
            keep.store.put(&self.id, stored);
        }
    }
}

impl ChatApi for Responses {
    fn error_response(e: ApiError) -> Response {
        e.into_response()
    }

    fn answer(&mut self, answer: &ChatResponse) -> Value {
        let output = output_items(answer);
        let finish = answer
            .choices
            .iter()
            .find(|c| c.index == 0)
            .and_then(|c| c.finish_reason.as_ref());
        let (status, incomplete) = status_of(finish);
        let response = response_json(
            ResponseParts {
                id: &self.id,
                model: &self.model,
                created_at: now_secs(),
                status,
                output: &output,
                usage: answer.usage.as_ref(),
                incomplete,
                error: Value::Null,
            },
            &self.echo,
        );
        self.store(&response);
        response
    }

    fn step(&mut self, step: StreamStep<'_>, out: &mut Vec<u8>) {
        match step {
            StreamStep::Batch(batch) => {
                for chunk in batch {
                    self.events.chunk(out, chunk);
                }
            }
            StreamStep::Failed(error) => {
                let code = error.code.as_deref().unwrap_or(error.kind);
                self.events.failed(out, code, &error.message);
            }
            StreamStep::Done => {
                let response = self.events.end(out);
                self.store(&response);
            }
        }
    }
}

fn not_found(id: &str) -> ApiError {
    ApiError {
        code: Some("not_found".into()),
        ..ApiError::not_found(format!(
            "response with id '{id}' not found (not stored, expired or deleted)"
        ))
    }
}

/// `GET /v1/responses/{id}`.
pub async fn retrieve(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let viewer = match authorize(&state, &headers).await {
        Ok(caller) => caller.owner(),
        Err(e) => return e.into_response(),
    };
    match state.responses.get(&id, viewer.as_deref()) {
        Some(stored) => Json(stored.response.clone()).into_response(),
        None => not_found(&id).into_response(),
    }
}

/// `DELETE /v1/responses/{id}`.
pub async fn delete(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let viewer = match authorize(&state, &headers).await {
        Ok(caller) => caller.owner(),
        Err(e) => return e.into_response(),
    };
    if state.responses.delete(&id, viewer.as_deref()) {
        Json(json!({"id": id, "object": "response", "deleted": true})).into_response()
    } else {
        not_found(&id).into_response()
    }
}

/// `GET /v1/responses/{id}/input_items`: the input items of that turn, newest first unless
/// `order=asc`, `limit` (1 to 100, default 20) per page after the item `after`.
pub async fn input_items(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let viewer = match authorize(&state, &headers).await {
        Ok(caller) => caller.owner(),
        Err(e) => return e.into_response(),
    };
    let Some(stored) = state.responses.get(&id, viewer.as_deref()) else {
        return not_found(&id).into_response();
    };
    let param = |name: &str| {
        form_urlencoded::parse(query.as_deref().unwrap_or_default().as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let limit = match param("limit").map(|l| l.parse::<usize>()) {
        None => 20,
        Some(Ok(n)) => n,
        Some(Err(_)) => 0,
    };
    if !(1..=100).contains(&limit) {
        return ApiError::invalid_param("limit", "`limit` must be between 1 and 100")
            .into_response();
    }
    let mut items: Vec<&Value> = stored.input.iter().collect();
    match param("order").as_deref() {
        None | Some("desc") => items.reverse(),
        Some("asc") => {}
        Some(_) => {
            return ApiError::invalid_param("order", "`order` must be asc or desc").into_response()
        }
    }
    if let Some(after) = &param("after") {
        match items.iter().position(|i| i["id"] == after.as_str()) {
            Some(at) => items.drain(..=at).for_each(drop),
            None => {
                return ApiError::invalid_param("after", format!("no input item `{after}`"))
                    .into_response()
            }
        }
    }
    let has_more = items.len() > limit;
    items.truncate(limit);
    Json(json!({
        "object": "list",
        "data": items,
        "first_id": items.first().map(|i| &i["id"]),
        "last_id": items.last().map(|i| &i["id"]),
        "has_more": has_more,
    }))
    .into_response()
}
