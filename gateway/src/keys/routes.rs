//! LiteLLM's key management routes, under the master key: `POST /key/generate`, `/key/update`,
//! `/key/delete`, `GET /key/info`, `/key/list`, and `GET /spend/logs`. A virtual key may read
//! its own `/key/info`. The key itself is in the `/key/generate` answer only; everything else
//! names keys by their SHA-256 (`token`) or alias.

use super::spec::{format_rfc3339, KeySpec, ParsedSpec, SpecError};
use super::store::{KeyRecord, SpendEntry, StoreError};
use super::{generate_key, preview_of, token_of, Caller};
use crate::error::ApiError;
use crate::server::{read_json, AppState};
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::HeaderMap;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

type Shared = State<Arc<AppState>>;

/// The most keys one `/key/list` page holds.
const MAX_PAGE: usize = 1000;

fn spec_error(e: SpecError) -> ApiError {
    match e.param {
        Some(param) => ApiError::invalid_param(param, e.message),
        None => ApiError::bad_request(e.message),
    }
}

fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::AliasTaken(alias) => ApiError {
            code: Some("key_alias_taken".into()),
            ..ApiError::invalid_param(
                "key_alias",
                format!("a key with the alias `{alias}` already exists; aliases are unique"),
            )
        },
        other => {
            tracing::warn!("key database: {other}");
            ApiError::new(
                http::StatusCode::SERVICE_UNAVAILABLE,
                "service_unavailable_error",
                "the key database is unavailable",
            )
        }
    }
}

fn time(t: Option<i64>) -> Value {
    t.map_or(Value::Null, |t| json!(format_rfc3339(t)))
}

/// A key as the routes show it; `spend` is the live figure when this replica has one.
fn key_json(record: &KeyRecord, live_spend: Option<f64>) -> Value {
    json!({
        "token": record.token,
        "key_name": record.key_preview,
        "key_alias": record.key_alias,
        "models": record.models,
        "spend": live_spend.unwrap_or(record.spend),
        "max_budget": record.max_budget,
        "budget_duration": record.budget_duration,
        "budget_reset_at": time(record.budget_reset_at),
        "rpm_limit": record.rpm_limit,
        "tpm_limit": record.tpm_limit,
        "max_parallel_requests": record.max_parallel_requests,
        "metadata": record.metadata,
        "expires": time(record.expires),
        "created_at": time(Some(record.created_at)),
        "updated_at": time(Some(record.updated_at)),
    })
}

/// The token of a key named by its value or its hash.
fn token_for(named: &str) -> String {
    let named = named.trim();
    if named.len() == 64 && named.bytes().all(|b| b.is_ascii_hexdigit()) {
        named.to_ascii_lowercase()
    } else {
        token_of(named)
    }
}

/// The routes need the master key (and one must be configured).
async fn master(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    crate::admin::authorize_admin(state, headers).await
}

/// Under the master key, the key spec a `/key/generate` or `/key/update` body holds, and the
/// time it was read.
async fn read_spec(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<(ParsedSpec, i64), ApiError> {
    master(state, headers).await?;
    let body = read_json(state, headers, body).await?;
    let now = super::unix_now();
    let parsed = KeySpec::parse(&body, now).map_err(spec_error)?;
    Ok((parsed, now))
}

/// `POST /key/generate`.
pub async fn generate(State(state): Shared, headers: HeaderMap, body: Body) -> Response {
    answer(generate_key_response(&state, &headers, body).await)
}

async fn generate_key_response(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Value, ApiError> {
    let (parsed, now) = read_spec(state, headers, body).await?;
    let key = match parsed.key {
        Some(custom) => {
            if !custom.starts_with("sk-") || custom.len() < 20 || custom.len() > 256 {
                return Err(ApiError::invalid_param(
                    "key",
                    "a chosen `key` must start with `sk-` and have 20 to 256 characters",
                ));
            }
            if custom.chars().any(|c| c.is_control() || c.is_whitespace()) {
                return Err(ApiError::invalid_param(
                    "key",
                    "a chosen `key` may not hold spaces or control characters",
                ));
            }
            if state
                .master_key
                .as_ref()
                .is_some_and(|m| m.expose() == custom)
            {
                return Err(ApiError::invalid_param(
                    "key",
                    "a virtual key may not be the master key",
                ));
            }
            custom
        }
        None => generate_key(),
    };
    let store = state.keys.store().await?;
    let record = store
        .insert(&token_of(&key), &preview_of(&key), &parsed.spec, now)
        .await
        .map_err(store_error)?;
    state.keys.forget(&record.token);
    tracing::info!(key = %record.key_preview, alias = record.key_alias.as_deref(), "key generated");
    let mut out = key_json(&record, None);
    out["key"] = json!(key);
    Ok(out)
}

/// `POST /key/update`: `key` (the key or its token) and the fields to change.
pub async fn update(State(state): Shared, headers: HeaderMap, body: Body) -> Response {
    answer(update_response(&state, &headers, body).await)
}

async fn update_response(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Value, ApiError> {
    let (parsed, now) = read_spec(state, headers, body).await?;
    let Some(named) = parsed.key else {
        return Err(ApiError::invalid_param(
            "key",
            "`key` is required: the key to update, or its token",
        ));
    };
    let token = token_for(&named);
    let store = state.keys.store().await?;
    let record = store
        .update(&token, &parsed.spec, now)
        .await
        .map_err(store_error)?
        .ok_or_else(|| no_such_key("key"))?;
    state.keys.updated(&record);
    tracing::info!(key = %record.key_preview, "key updated");
    Ok(key_json(&record, None))
}

fn no_such_key(param: &str) -> ApiError {
    ApiError {
        param: Some(param.into()),
        code: Some("key_not_found".into()),
        ..ApiError::not_found("no such key")
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeleteBody {
    #[serde(default)]
    keys: Vec<String>,
    #[serde(default)]
    key_aliases: Vec<String>,
}

/// `POST /key/delete`: `keys` (keys or tokens) and/or `key_aliases`. Every named key must
/// exist, or nothing is deleted.
pub async fn delete(State(state): Shared, headers: HeaderMap, body: Body) -> Response {
    answer(delete_response(&state, &headers, body).await)
}

async fn delete_response(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Value, ApiError> {
    master(state, headers).await?;
    let body = read_json(state, headers, body).await?;
    let body: DeleteBody = serde_json::from_value(body)
        .map_err(|e| ApiError::bad_request(format!("invalid key delete request: {e}")))?;
    if body.keys.is_empty() && body.key_aliases.is_empty() {
        return Err(ApiError::invalid_param(
            "keys",
            "name the keys to delete in `keys` (keys or tokens) or `key_aliases`",
        ));
    }
    let store = state.keys.store().await?;
    let mut tokens = Vec::new();
    for named in &body.keys {
        let token = token_for(named);
        if store.get(&token).await.map_err(store_error)?.is_none() {
            return Err(no_such_key("keys"));
        }
        tokens.push(token);
    }
    for alias in &body.key_aliases {
        match store.by_alias(alias).await.map_err(store_error)? {
            Some(record) => tokens.push(record.token),
            None => {
                return Err(ApiError {
                    param: Some("key_aliases".into()),
                    code: Some("key_not_found".into()),
                    ..ApiError::not_found(format!("no key has the alias `{alias}`"))
                })
            }
        }
    }
    tokens.dedup();
    for token in &tokens {
        store.delete(token).await.map_err(store_error)?;
        state.keys.forget(token);
    }
    tracing::info!(count = tokens.len(), "keys deleted");
    Ok(json!({"deleted_keys": tokens}))
}

/// `GET /key/info?key=...`: the master key may ask about any key; a virtual key about itself.
pub async fn info(State(state): Shared, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    answer(info_response(&state, &headers, &query_map(query)).await)
}

async fn info_response(
    state: &AppState,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Result<Value, ApiError> {
    let token = match crate::server::authorize(state, headers).await? {
        Caller::Key(own) => {
            let own = own.record().token.clone();
            if query.get("key").is_some_and(|k| token_for(k) != own) {
                return Err(ApiError::new(
                    http::StatusCode::FORBIDDEN,
                    "permission_error",
                    "a virtual key may read only its own /key/info",
                ));
            }
            own
        }
        Caller::Open => return Err(crate::admin::no_master_key()),
        Caller::Master => match query.get("key") {
            Some(k) => token_for(k),
            None => {
                return Err(ApiError::invalid_param(
                    "key",
                    "`key` is required: /key/info?key=<key or token>",
                ))
            }
        },
    };
    let store = state.keys.store().await?;
    let record = store
        .get(&token)
        .await
        .map_err(store_error)?
        .ok_or_else(|| no_such_key("key"))?;
    let info = key_json(&record, state.keys.live_spend(&record).await);
    Ok(json!({"key": token, "info": info}))
}

/// `GET /key/list?page=1&size=100&key_alias=...&return_full_object=true`: tokens (or whole
/// keys), oldest first.
pub async fn list(State(state): Shared, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    answer(list_response(&state, &headers, &query_map(query)).await)
}

fn number(query: &HashMap<String, String>, name: &str, default: usize) -> Result<usize, ApiError> {
    match query.get(name) {
        None => Ok(default),
        Some(v) => v.parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(|| {
            ApiError::invalid_param(name, format!("`{name}` must be a positive integer"))
        }),
    }
}

async fn list_response(
    state: &AppState,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Result<Value, ApiError> {
    master(state, headers).await?;
    let page = number(query, "page", 1)?;
    let size = number(query, "size", 100)?.min(MAX_PAGE);
    let full = query
        .get("return_full_object")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let store = state.keys.store().await?;
    let mut keys = store.list().await.map_err(store_error)?;
    if let Some(alias) = query.get("key_alias") {
        keys.retain(|k| k.key_alias.as_deref() == Some(alias.as_str()));
    }
    let total = keys.len();
    let mut shown = Vec::new();
    for k in keys.iter().skip((page - 1).saturating_mul(size)).take(size) {
        shown.push(if full {
            key_json(k, state.keys.live_spend(k).await)
        } else {
            json!(k.token)
        });
    }
    Ok(json!({
        "keys": shown,
        "total_count": total,
        "current_page": page,
        "total_pages": total.div_ceil(size),
    }))
}

/// `GET /spend/logs?api_key=...&limit=100`: the latest requests' spend, of one key or of all.
pub async fn spend_logs(
    State(state): Shared,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    answer(spend_logs_response(&state, &headers, &query_map(query)).await)
}

fn spend_json(e: &SpendEntry) -> Value {
    json!({
        "request_id": e.request_id,
        "api_key": e.token,
        "model": e.model,
        "spend": e.spend,
        "prompt_tokens": e.prompt_tokens,
        "completion_tokens": e.completion_tokens,
        "total_tokens": e.prompt_tokens + e.completion_tokens,
        "startTime": format_rfc3339(e.started_at),
    })
}

async fn spend_logs_response(
    state: &AppState,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Result<Value, ApiError> {
    master(state, headers).await?;
    let limit = number(query, "limit", 100)?.min(MAX_PAGE);
    let token = query.get("api_key").map(|k| token_for(k));
    let store = state.keys.store().await?;
    // What was served before this request is in the log it answers.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), state.keys.flush()).await;
    let entries = store
        .spend_logs(token.as_deref(), limit as i64)
        .await
        .map_err(store_error)?;
    Ok(Value::Array(entries.iter().map(spend_json).collect()))
}

/// The query string's parameters (the last of a repeated name wins).
fn query_map(query: Option<String>) -> HashMap<String, String> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn answer(result: Result<Value, ApiError>) -> Response {
    match result {
        Ok(body) => Json(body).into_response(),
        Err(e) => {
            if e.status.is_server_error() {
                tracing::warn!(status = e.status.as_u16(), "{}", e.message);
            }
            e.into_response()
        }
    }
}
