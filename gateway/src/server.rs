//! The OpenAI-compatible HTTP API over the registry: routes, auth, body limits, the overhead
//! header, SSE streaming, and graceful shutdown.

use crate::error::ApiError;
use crate::headers::{add_upstream_headers, ForwardRule};
use crate::keys::Caller;
use crate::registry::{Deployment, Registry};
use crate::router::{AttemptFuture, Failed, Lease, Routed, Router as ModelRouter, Trace};
use crate::wire;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument;
use wasmgate_runtime::types::{ChatChunk, ChatRequest, ChatResponse, EmbeddingRequest};
use wasmgate_runtime::{CallError, CallMetrics, CallOptions, ChatStream, Secret};

/// The response header carrying the gateway's own share of the request time.
pub const OVERHEAD_HEADER: &str = "x-wasmgate-overhead-duration-ms";

/// Default largest request body.
pub const DEFAULT_MAX_BODY: usize = 16 << 20;

/// What every handler shares.
pub struct AppState {
    /// Adapters and routes.
    pub registry: Arc<Registry>,
    /// When set, requests need `Authorization: Bearer <key>`.
    pub master_key: Option<Secret>,
    /// Largest request body.
    pub max_body: usize,
    /// Which client headers reach adapters.
    pub forward_headers: ForwardRule,
    /// Picks deployments, retries, falls back.
    pub router: Arc<ModelRouter>,
    /// A request body must arrive whole within this.
    pub body_timeout: Duration,
    /// Responses kept for `previous_response_id` and `GET /v1/responses/{id}`.
    pub responses: Arc<crate::responses::ResponseStore>,
    /// Prometheus metrics.
    pub metrics: Arc<crate::observe::Metrics>,
    /// Virtual keys issued under the master key.
    pub keys: Arc<crate::keys::KeyService>,
    /// The response cache, when configured.
    pub cache: Option<Arc<crate::cache::ResponseCache>>,
}

type Shared = State<Arc<AppState>>;

/// The state the server serves from, swapped whole by a reload: each request takes the state
/// current when it starts and keeps it to its end (streams included).
#[derive(Clone)]
pub struct Live(Arc<std::sync::RwLock<Arc<AppState>>>);

impl Live {
    /// Serving `state`.
    pub fn new(state: Arc<AppState>) -> Live {
        Live(Arc::new(std::sync::RwLock::new(state)))
    }

    /// The current state.
    pub fn get(&self) -> Arc<AppState> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Serves `state` from now on; requests in flight keep the one they started with.
    pub fn swap(&self, state: Arc<AppState>) -> Arc<AppState> {
        let mut current = self.0.write().unwrap_or_else(|e| e.into_inner());
        std::mem::replace(&mut *current, state)
    }
}

impl axum::extract::FromRef<Live> for Arc<AppState> {
    fn from_ref(live: &Live) -> Arc<AppState> {
        live.get()
    }
}

/// The response headers with a request's cost in USD (ours and LiteLLM's name).
pub const COST_HEADERS: [http::HeaderName; 2] = [
    http::HeaderName::from_static("x-wasmgate-response-cost"),
    http::HeaderName::from_static("x-litellm-response-cost"),
];

/// The router with every route, serving whatever `live` holds.
pub fn router(live: Live) -> Router {
    let observed = live.get().metrics.clone();
    Router::new()
        .route("/metrics", get(metrics))
        .route("/admin/adapters", get(crate::admin::adapters))
        .route("/admin/deployments", get(crate::admin::deployments))
        .route("/key/generate", post(crate::keys::routes::generate))
        .route("/key/update", post(crate::keys::routes::update))
        .route("/key/delete", post(crate::keys::routes::delete))
        .route("/key/info", get(crate::keys::routes::info))
        .route("/key/list", get(crate::keys::routes::list))
        .route("/spend/logs", get(crate::keys::routes::spend_logs))
        .route("/v1/chat/completions", post(chat))
        .route("/chat/completions", post(chat))
        .route("/v1/messages", post(crate::anthropic::messages))
        .route(
            "/v1/messages/count_tokens",
            post(crate::anthropic::count_tokens),
        )
        .route("/v1/responses", post(crate::responses::create))
        .route("/responses", post(crate::responses::create))
        .route(
            "/v1/responses/{id}",
            get(crate::responses::retrieve).delete(crate::responses::delete),
        )
        .route(
            "/responses/{id}",
            get(crate::responses::retrieve).delete(crate::responses::delete),
        )
        .route(
            "/v1/responses/{id}/input_items",
            get(crate::responses::input_items),
        )
        .route(
            "/responses/{id}/input_items",
            get(crate::responses::input_items),
        )
        .route("/v1/completions", post(crate::completions::completions))
        .route("/completions", post(crate::completions::completions))
        .route("/v1/models/{*model}", get(model_info))
        .route("/models/{*model}", get(model_info))
        .route("/v1/embeddings", post(embeddings))
        .route("/embeddings", post(embeddings))
        .route("/v1/models", get(models))
        .route("/models", get(models))
        .route("/health", get(health))
        .route("/health/liveliness", get(liveliness))
        .route("/health/liveness", get(liveliness))
        .route("/health/readiness", get(readiness))
        .fallback(|method: http::Method, uri: http::Uri| async move {
            ApiError::not_found(format!(
                "no route for {method} {}; the API is POST /v1/chat/completions, /v1/responses, /v1/messages, /v1/completions, /v1/embeddings, GET /v1/models",
                uri.path()
            ))
        })
        .method_not_allowed_fallback(|method: http::Method, uri: http::Uri| async move {
            ApiError::method_not_allowed(format!(
                "{} does not take {method}",
                uri.path()
            ))
        })
        .layer(axum::middleware::from_fn_with_state(
            observed,
            crate::observe::observe_requests,
        ))
        .with_state(live)
}

/// `GET /metrics`: Prometheus metrics (no key needed, like LiteLLM's; they carry no secret).
async fn metrics(State(state): Shared) -> Response {
    let adapters = state
        .registry
        .adapters
        .iter()
        .map(|(name, loaded)| (name.clone(), loaded.adapter.stats()))
        .collect();
    let scraped = crate::observe::metrics::Scraped {
        adapters,
        cooldowns: state.router.cooldowns(),
        shared_state: state.keys.shared_state(),
    };
    (
        [(
            http::header::CONTENT_TYPE,
            crate::observe::metrics::CONTENT_TYPE,
        )],
        state.metrics.render(scraped),
    )
        .into_response()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The key a client presented: `Authorization: Bearer <key>`, or `x-api-key: <key>` as
/// Anthropic's clients send it.
fn presented_key(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()))
        .map(str::trim)
}

/// Who is calling: anyone when no master key is set; else the master key, or a virtual key
/// issued under it (unknown or expired keys get 401).
pub(crate) async fn authorize(state: &AppState, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let Some(master) = &state.master_key else {
        return Ok(Caller::Open);
    };
    match presented_key(headers) {
        Some(p) if constant_time_eq(p.as_bytes(), master.expose().as_bytes()) => Ok(Caller::Master),
        Some(p) if !p.is_empty() => state.keys.authenticate(p).await.map(Caller::Key),
        _ => Err(ApiError::unauthorized(
            "missing API key: send `Authorization: Bearer <key>`",
        )),
    }
}

/// How much of a refused body is read and dropped before answering.
const DISCARD_AT_MOST: usize = 16 << 20;

/// Reads and drops up to `limit` bytes of a body the gateway refuses (for at most a second), so
/// a client still sending it reads the answer instead of a reset: closing a socket with unread
/// data resets the connection, and the answer with it.
async fn discard(body: Body, limit: usize) {
    let mut body = http_body_util::Limited::new(body, limit);
    let drain = async { while let Some(Ok(_)) = body.frame().await {} };
    let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
}

/// The request body as JSON, bounded in size and in time.
pub(crate) async fn read_json(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Value, ApiError> {
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if let Some(declared) = declared.filter(|n| *n > state.max_body) {
        discard(body, declared.min(DISCARD_AT_MOST)).await;
        return Err(ApiError::too_large(state.max_body));
    }
    let collect = http_body_util::Limited::new(body, state.max_body).collect();
    let collected = tokio::time::timeout(state.body_timeout, collect)
        .await
        .map_err(|_| ApiError::body_timeout(state.body_timeout))?;
    let bytes = collected
        .map_err(|e| {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                ApiError::too_large(state.max_body)
            } else {
                ApiError::bad_request(format!("could not read the request body: {e}"))
            }
        })?
        .to_bytes();
    // Checked as UTF-8 once and parsed as text: parsed as bytes, every string would be checked
    // on its own. Invalid UTF-8 is parsed as bytes for the error that says where it is.
    let parsed = match std::str::from_utf8(&bytes) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(&bytes),
    };
    parsed.map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))
}

/// Turns a handler's result into the response with the overhead header; a failure's message is
/// logged (the access line has the status).
fn finish(
    route: &str,
    result: Result<Response, ApiError>,
    started: Instant,
    metrics: &CallMetrics,
) -> Response {
    finish_with(route, result, started, metrics, ApiError::into_response)
}

/// [`finish`] with errors rendered by `render` (another API's error shape).
pub(crate) fn finish_with(
    route: &str,
    result: Result<Response, ApiError>,
    started: Instant,
    metrics: &CallMetrics,
    render: fn(ApiError) -> Response,
) -> Response {
    let response = match result {
        Ok(response) => response,
        Err(e) => {
            if let Some(record) = crate::observe::current() {
                record.failed(&e);
            }
            let status = e.status.as_u16();
            match status {
                500.. => tracing::warn!(route, status, "{}", e.message),
                _ => tracing::info!(route, status, "{}", e.message),
            }
            render(e)
        }
    };
    with_overhead(response, started, metrics)
}

/// Adds the overhead header: total time minus time spent waiting on upstreams.
fn with_overhead(mut response: Response, started: Instant, metrics: &CallMetrics) -> Response {
    let overhead = started.elapsed().saturating_sub(metrics.upstream_time());
    let ms = format!("{:.3}", overhead.as_secs_f64() * 1000.0);
    if let Ok(v) = HeaderValue::from_str(&ms) {
        response.headers_mut().insert(OVERHEAD_HEADER, v);
    }
    response
}

/// A request whose `model` names the provider's model of the deployment it is sent to.
pub(crate) trait ProviderRequest {
    /// The GenAI operation name (`chat`, `embeddings`).
    const OPERATION: &'static str;
    fn set_model(&mut self, model: &str);
    /// The input as JSON text, for traces that capture content.
    fn content(&self) -> String;
}

impl ProviderRequest for ChatRequest {
    const OPERATION: &'static str = "chat";

    fn set_model(&mut self, model: &str) {
        self.model.clear();
        self.model.push_str(model);
    }

    fn content(&self) -> String {
        let messages: Vec<Value> = self
            .messages
            .iter()
            .map(|m| json!({"role": wire::role_name(m.role), "content": wire::message_text(m)}))
            .collect();
        Value::Array(messages).to_string()
    }
}

impl ProviderRequest for EmbeddingRequest {
    const OPERATION: &'static str = "embeddings";

    fn set_model(&mut self, model: &str) {
        self.model.clear();
        self.model.push_str(model);
    }

    fn content(&self) -> String {
        let inputs: Vec<Value> = self
            .input
            .iter()
            .map(|i| match i {
                wasmgate_runtime::types::EmbeddingInput::Text(t) => json!(t),
                _ => json!("(non-text input)"),
            })
            .collect();
        Value::Array(inputs).to_string()
    }
}

/// The span of one call to a deployment (a disabled one when traces are off).
fn adapter_span<R: ProviderRequest>(d: &Deployment, request: &R) -> tracing::Span {
    if !crate::observe::otel::enabled() {
        return tracing::Span::none();
    }
    let span = tracing::info_span!(
        "adapter call",
        otel.name = %format!("{} {}", R::OPERATION, d.provider_model),
        otel.kind = "client",
        gen_ai.operation.name = R::OPERATION,
        gen_ai.request.model = %d.provider_model,
        gen_ai.provider.name = %d.adapter.info().name,
        wasmgate.deployment.id = %d.id,
    );
    if crate::observe::otel::capture_content() {
        crate::observe::otel::set(&span, "gen_ai.input.messages", request.content());
    }
    span
}

/// Routes one request through the router: each attempt gets the deployment's options with the
/// call's metrics and the client's forwarded headers, and `request` with the deployment's
/// provider model name; failures name the model and deployment.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn with_router<R: ProviderRequest + Send, T: 'static, F>(
    state: &AppState,
    model: &str,
    stream: bool,
    fallbacks: Option<Vec<String>>,
    metrics: &Arc<CallMetrics>,
    client_headers: &[(String, String)],
    request: &mut R,
    mut attempt: F,
) -> Result<Routed<T>, Failed>
where
    F: for<'a> FnMut(&'a Deployment, CallOptions, &'a mut R) -> AttemptFuture<'a, T>,
{
    let record = crate::observe::current();
    if let Some(r) = &record {
        r.attach(metrics);
    }
    let wrapped = attempt_fn(|d: &Deployment, mut call: CallOptions, request: &mut R| {
        call.metrics = Some(metrics.clone());
        add_client_headers(&mut call, client_headers);
        request.set_model(&d.provider_model);
        let span = adapter_span(d, &*request);
        if let Some(parent) = crate::observe::otel::traceparent(&span) {
            // The provider's own tracing (when it has any) continues this trace.
            call.headers
                .retain(|(n, _)| !n.eq_ignore_ascii_case("traceparent"));
            call.headers.push(("traceparent".into(), parent));
        }
        let call_made = attempt(d, call, request).instrument(span);
        // Owned: the future may outlive this borrow of the model name.
        let model = model.to_string();
        Box::pin(async move {
            call_made
                .await
                .map_err(|e| e.in_deployment(&model, &d.label))
        })
    });
    let result = state
        .router
        .route(&state.registry, model, stream, fallbacks, request, wrapped)
        .await;
    if let Some(r) = &record {
        let trace = match &result {
            Ok(routed) => &routed.trace,
            Err(failed) => &failed.trace,
        };
        r.routed(model, trace);
    }
    result
}

/// Admits `caller`'s request for `model`: a virtual key's models, budget and limits. The
/// admission is held by the request's record until its response ends (streams included).
pub(crate) async fn admit(state: &AppState, caller: &Caller, model: &str) -> Result<(), ApiError> {
    if let Some(admission) = state.keys.admit(caller, model).await? {
        if let Some(record) = crate::observe::current() {
            // Given back only if the record cannot keep it: then it ends here.
            drop(record.admit(Some(admission)));
        }
    }
    Ok(())
}

/// The cache and the key for a whole answer of `model` to `request` in client API `api`,
/// when the cache covers the model and the request lets it answer.
fn cache_slot<R: std::fmt::Debug>(
    state: &AppState,
    api: &str,
    model: &str,
    request: &R,
) -> Option<(Arc<crate::cache::ResponseCache>, String)> {
    let cache = state.cache.as_ref().filter(|c| c.covers(model))?;
    let key = cache.key(api, model, &format!("{request:?}"));
    Some((cache.clone(), key))
}

/// A whole answer from the cache.
fn cached_response(body: &Value, key: &str) -> Response {
    let mut response = Json(body).into_response();
    set_cache_headers(response.headers_mut(), "hit", key);
    response
}

fn set_cache_headers(headers: &mut HeaderMap, outcome: &'static str, key: &str) {
    headers.insert(
        crate::cache::CACHE_HEADER,
        HeaderValue::from_static(outcome),
    );
    if let Ok(v) = HeaderValue::from_str(key) {
        headers.insert(crate::cache::LITELLM_CACHE_KEY, v);
    }
}

/// Adds the client's forwarded headers to a call; the deployment's own headers win.
pub(crate) fn add_client_headers(call: &mut CallOptions, client_headers: &[(String, String)]) {
    for (name, value) in client_headers {
        if !call
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            call.headers.push((name.clone(), value.clone()));
        }
    }
}

/// One chat call, answered whole.
fn chat_attempt() -> impl for<'a> FnMut(
    &'a Deployment,
    CallOptions,
    &'a mut ChatRequest,
) -> AttemptFuture<'a, ChatResponse> {
    attempt_fn(|d, opts, req| {
        Box::pin(async move { d.adapter.chat(&opts, req).await.map_err(ApiError::from) })
    })
}

/// A streamed chat call, opened and read up to its first batch: a failure before the first
/// chunk is answered with its own status code (and may move on to another deployment or a
/// fallback); after it, the stream is the client's.
fn stream_attempt(
) -> impl for<'a> FnMut(&'a Deployment, CallOptions, &'a mut ChatRequest) -> AttemptFuture<'a, FirstBatch>
{
    attempt_fn(|d, opts, req| {
        Box::pin(async move {
            let mut stream = d
                .adapter
                .chat_stream(&opts, req)
                .await
                .map_err(ApiError::from)?;
            match stream.next_batch().await {
                Some(Err(e)) => Err(ApiError::from(e)),
                first => Ok((first, stream)),
            }
        })
    })
}

/// A stream's first batch (or its end) and the rest of it.
pub(crate) type FirstBatch = (Option<Result<Vec<ChatChunk>, CallError>>, ChatStream);

/// Pins down the higher-ranked signature of an attempt closure.
pub(crate) fn attempt_fn<R, T, F>(f: F) -> F
where
    F: for<'a> FnMut(&'a Deployment, CallOptions, &'a mut R) -> AttemptFuture<'a, T>,
{
    f
}

/// The routing headers: which deployment served (by id), attempts, the fallback taken; with
/// LiteLLM's names for the same facts.
pub(crate) fn add_trace_headers(headers: &mut HeaderMap, trace: &Trace) {
    if let Some(id) = text_header(trace.deployment.as_deref()) {
        headers.insert(trace_header::DEPLOYMENT, id.clone());
        headers.insert(trace_header::LITELLM_MODEL_ID, id);
    }
    headers.insert(trace_header::ATTEMPTS, HeaderValue::from(trace.attempts));
    headers.insert(
        trace_header::LITELLM_RETRIES,
        HeaderValue::from(trace.attempts.saturating_sub(1)),
    );
    headers.insert(
        trace_header::LITELLM_FALLBACKS,
        HeaderValue::from(trace.fallbacks_tried),
    );
    if let Some(group) = text_header(trace.fallback.as_deref()) {
        headers.insert(trace_header::FALLBACK, group);
    }
}

/// `text` as a header value, if it is one (an id or a group name from the operator's config).
fn text_header(text: Option<&str>) -> Option<HeaderValue> {
    text.and_then(|t| HeaderValue::from_str(t).ok())
}

/// The routing headers' names, parsed once.
mod trace_header {
    use http::HeaderName;

    pub(super) const DEPLOYMENT: HeaderName = HeaderName::from_static("x-wasmgate-deployment");
    pub(super) const LITELLM_MODEL_ID: HeaderName = HeaderName::from_static("x-litellm-model-id");
    pub(super) const ATTEMPTS: HeaderName = HeaderName::from_static("x-wasmgate-attempts");
    pub(super) const LITELLM_RETRIES: HeaderName =
        HeaderName::from_static("x-litellm-attempted-retries");
    pub(super) const LITELLM_FALLBACKS: HeaderName =
        HeaderName::from_static("x-litellm-attempted-fallbacks");
    pub(super) const FALLBACK: HeaderName = HeaderName::from_static("x-wasmgate-fallback");
}

/// An error answer with the routing headers.
fn failed_response(failed: Failed) -> Result<Response, ApiError> {
    failed_response_with(failed, ApiError::into_response)
}

/// [`failed_response`] in another API's error shape.
pub(crate) fn failed_response_with(
    failed: Failed,
    render: fn(ApiError) -> Response,
) -> Result<Response, ApiError> {
    let mut response = render(failed.error.clone());
    add_trace_headers(response.headers_mut(), &failed.trace);
    if let Some(record) = crate::observe::current() {
        record.failed(&failed.error);
    }
    if failed.trace.attempts == 0 {
        return Err(failed.error);
    }
    tracing::info!(
        status = failed.error.status.as_u16(),
        "{}",
        failed.error.message
    );
    Ok(response)
}

/// A routed call's JSON answer: its usage counted for the deployment, the upstream's and the
/// routing headers added.
pub(crate) fn routed_json<T>(
    body: Value,
    usage: &Option<wasmgate_runtime::types::Usage>,
    upstream_headers: &[(String, String)],
    routed: &Routed<T>,
) -> Response {
    routed_answer(Json(body).into_response(), usage, upstream_headers, routed)
}

/// [`routed_json`] for an answer already written as JSON bytes.
fn routed_json_bytes<T>(
    body: Vec<u8>,
    usage: &Option<wasmgate_runtime::types::Usage>,
    upstream_headers: &[(String, String)],
    routed: &Routed<T>,
) -> Response {
    let json = [(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    )];
    routed_answer(
        (json, body).into_response(),
        usage,
        upstream_headers,
        routed,
    )
}

fn routed_answer<T>(
    mut response: Response,
    usage: &Option<wasmgate_runtime::types::Usage>,
    upstream_headers: &[(String, String)],
    routed: &Routed<T>,
) -> Response {
    if let Some(tokens) = usage_tokens(usage) {
        routed.lease.add_tokens(tokens);
    }
    add_upstream_headers(response.headers_mut(), upstream_headers);
    add_trace_headers(response.headers_mut(), &routed.trace);
    let cost = usage
        .as_ref()
        .and_then(|u| crate::observe::current().and_then(|r| r.used(u, routed.lease.deployment())));
    if let Some(cost) = cost {
        add_cost_headers(response.headers_mut(), cost);
    }
    response
}

/// The cost headers for `cost` USD (to a millionth of a micro-dollar, without float noise).
fn add_cost_headers(headers: &mut HeaderMap, cost: f64) {
    let rounded = (cost * 1e12).round() / 1e12;
    if let Ok(v) = HeaderValue::from_str(&format!("{rounded}")) {
        for name in COST_HEADERS {
            headers.insert(name, v.clone());
        }
    }
}

fn usage_tokens(usage: &Option<wasmgate_runtime::types::Usage>) -> Option<u64> {
    usage.as_ref().map(|u| u64::from(u.total_tokens))
}

async fn chat(State(state): Shared, headers: HeaderMap, body: Body) -> Response {
    let started = Instant::now();
    let metrics = Arc::new(CallMetrics::default());
    let result = async {
        let caller = authorize(&state, &headers).await?;
        let json = read_json(&state, &headers, body).await?;
        let mut call = wire::chat_call(&json)?;
        // Usage is always asked of the adapter (for cost and limits); the client gets the
        // usage chunk only when it asked for it.
        let api = ChatCompletions {
            model: call.model.clone(),
            usage: call.request.include_usage,
            head: Default::default(),
        };
        call.request.include_usage = call.stream;
        route_chat(&state, &caller, &headers, call, &metrics, api).await
    }
    .await;
    finish("chat", result, started, &metrics)
}

/// OpenAI's chat completions: `chat.completion` answers and `chat.completion.chunk` events
/// ending in `data: [DONE]`.
struct ChatCompletions {
    model: String,
    /// The client asked for usage (`stream_options.include_usage`).
    usage: bool,
    /// The stream's chunk head, written once.
    head: crate::chunk_json::ChunkHead,
}

impl ChatApi for ChatCompletions {
    fn error_response(e: ApiError) -> Response {
        e.into_response()
    }

    fn answer(&mut self, answer: &ChatResponse) -> Value {
        wire::chat_response_json(answer, &self.model)
    }

    fn answer_bytes(&mut self, answer: &ChatResponse) -> Option<Vec<u8>> {
        crate::answer_json::chat_answer_bytes(answer, &self.model)
    }

    fn step(&mut self, step: StreamStep<'_>, out: &mut Vec<u8>) {
        match step {
            StreamStep::Batch(batch) => {
                for chunk in batch {
                    crate::chunk_json::write_client_chunk(
                        out,
                        chunk,
                        &self.model,
                        self.usage,
                        &mut self.head,
                    );
                }
            }
            StreamStep::Failed(error) => write_sse_event(out, &error.body()),
            StreamStep::Done => out.extend_from_slice(b"data: [DONE]\n\n"),
        }
    }
}

/// How one client API speaks a chat-shaped call: its whole answer, its stream events and its
/// errors. The routing, usage accounting and headers around them are [`route_chat`]'s.
pub(crate) trait ChatApi: Send + 'static {
    /// An error in the API's shape.
    fn error_response(e: ApiError) -> Response;
    /// The body of a whole answer.
    fn answer(&mut self, answer: &ChatResponse) -> Value;
    /// The body of a whole answer written as JSON without a `Value`, when the API can for
    /// this answer; [`ChatApi::answer`] otherwise. Used for answers that are not cached.
    fn answer_bytes(&mut self, _answer: &ChatResponse) -> Option<Vec<u8>> {
        None
    }
    /// Writes one step of a streamed answer in the API's event format.
    fn step(&mut self, step: StreamStep<'_>, out: &mut Vec<u8>);
}

/// Routes a chat-shaped call from any client API (with the client's forwarded headers, retries
/// and fallbacks) and answers it in that API's shape: whole, or as an SSE stream whose first
/// batch arrived before the response head, so a failure before it keeps its status code.
pub(crate) async fn route_chat<A: ChatApi>(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    mut call: wire::ChatCall,
    metrics: &Arc<CallMetrics>,
    mut api: A,
) -> Result<Response, ApiError> {
    let client_headers = state.forward_headers.select(headers);
    let model = call.model.clone();
    let fallbacks = call.fallbacks.take();
    admit(state, caller, &model).await?;
    if !call.stream {
        let cache = cache_slot(state, std::any::type_name::<A>(), &model, &call.request);
        if let Some((cache, key)) = cache.as_ref().filter(|_| !call.cache.no_cache) {
            if let Some(body) = cache.get(key).await {
                return Ok(cached_response(&body, key));
            }
        }
        let routed = match with_router(
            state,
            &model,
            false,
            fallbacks,
            metrics,
            &client_headers,
            &mut call.request,
            chat_attempt(),
        )
        .await
        {
            Ok(routed) => routed,
            Err(failed) => return failed_response_with(failed, A::error_response),
        };
        let answer = &routed.value;
        if crate::observe::otel::capture_content() {
            let text = answer
                .choices
                .first()
                .and_then(|c| c.message.content.clone())
                .unwrap_or_default();
            capture_output(&tracing::Span::current(), &text);
        }
        let Some((cache, key)) = cache else {
            if let Some(bytes) = api.answer_bytes(answer) {
                return Ok(routed_json_bytes(
                    bytes,
                    &answer.usage,
                    &answer.headers,
                    &routed,
                ));
            }
            let body = api.answer(answer);
            return Ok(routed_json(body, &answer.usage, &answer.headers, &routed));
        };
        let body = api.answer(answer);
        if !call.cache.no_store {
            cache.put(&key, &body, call.cache.ttl).await;
        }
        let mut response = routed_json(body, &answer.usage, &answer.headers, &routed);
        set_cache_headers(response.headers_mut(), "miss", &key);
        return Ok(response);
    }
    let routed = match with_router(
        state,
        &model,
        true,
        fallbacks,
        metrics,
        &client_headers,
        &mut call.request,
        stream_attempt(),
    )
    .await
    {
        Ok(routed) => routed,
        Err(failed) => return failed_response_with(failed, A::error_response),
    };
    let Routed {
        value,
        trace,
        lease,
    } = routed;
    let mut response = sse_stream(value, lease, &model, move |step, out| api.step(step, out));
    add_trace_headers(response.headers_mut(), &trace);
    Ok(response)
}

/// Puts the assistant's `text` on `span` as `gen_ai.output.messages`.
fn capture_output(span: &tracing::Span, text: &str) {
    let messages = json!([{"role": "assistant", "content": text}]).to_string();
    crate::observe::otel::set(span, "gen_ai.output.messages", messages);
}

/// Appends `data: {json}` and the blank line that ends an SSE event.
pub(crate) fn write_sse_event(out: &mut Vec<u8>, v: &Value) {
    out.extend_from_slice(b"data: ");
    serde_json::to_writer(&mut *out, v).expect("JSON values serialize");
    out.extend_from_slice(b"\n\n");
}

/// One step of a streamed answer, for a client API to write in its own event format.
pub(crate) enum StreamStep<'a> {
    /// The chunks the adapter made from one upstream read.
    Batch(&'a [ChatChunk]),
    /// The stream failed; nothing follows.
    Failed(&'a ApiError),
    /// The stream ended.
    Done,
}

/// The most chunks of a stream joined into one write (see [`ChatStream::next_ready_batches`]).
const JOINED_CHUNKS: usize = 64;

/// The SSE response over a routed stream: `render` writes each step in the client API's event
/// format, one write to the client per batch (batches after the first joined while ready, see
/// [`ChatStream::next_ready_batches`]). The lease travels with the stream (the deployment
/// counts as busy until it ends) and gets the stream's usage; upstream headers are passed on.
pub(crate) fn sse_stream<R>(
    (first, rest): FirstBatch,
    lease: Lease,
    model: &str,
    render: R,
) -> Response
where
    R: FnMut(StreamStep<'_>, &mut Vec<u8>) + Send + 'static,
{
    let upstream_headers = rest.headers().to_vec();
    let model = model.to_string();
    let record = crate::observe::current();
    if let Some(r) = &record {
        r.streaming();
    }
    let span = tracing::Span::current();
    let capture = crate::observe::otel::capture_content();
    let output = Arc::new(std::sync::Mutex::new(String::new()));
    let events = futures::stream::unfold(Some((Some(first), rest, lease, render)), move |state| {
        let model = model.clone();
        let record = record.clone();
        let (span, output) = (span.clone(), output.clone());
        async move {
            let (pending, mut stream, lease, mut render) = state?;
            let item = match pending {
                Some(item) => item,
                None => stream.next_ready_batches(JOINED_CHUNKS).await,
            };
            let mut out = Vec::with_capacity(512);
            let next = match item {
                Some(Ok(batch)) => {
                    if let Some(usage) = batch.iter().find_map(|c| c.usage.as_ref()) {
                        lease.add_tokens(u64::from(usage.total_tokens));
                        if let Some(r) = &record {
                            r.used(usage, lease.deployment());
                        }
                    }
                    if let Some(r) = &record {
                        r.first_token();
                    }
                    if capture {
                        if let Ok(mut text) = output.lock() {
                            for c in batch.iter().flat_map(|c| &c.choices) {
                                text.push_str(c.content.as_deref().unwrap_or_default());
                            }
                        }
                    }
                    render(StreamStep::Batch(&batch), &mut out);
                    Some((None, stream, lease, render))
                }
                Some(Err(e)) => {
                    let error = ApiError::from(e);
                    if let Some(r) = &record {
                        r.failed(&error);
                    }
                    tracing::warn!(
                        model,
                        status = error.status.as_u16(),
                        "stream failed: {}",
                        error.message
                    );
                    render(StreamStep::Failed(&error), &mut out);
                    None
                }
                None => {
                    render(StreamStep::Done, &mut out);
                    if capture {
                        capture_output(
                            &span,
                            &output.lock().map(|t| t.clone()).unwrap_or_default(),
                        );
                    }
                    None
                }
            };
            Some((Ok::<_, Infallible>(Bytes::from(out)), next))
        }
    });
    let mut response = Response::builder()
        .header(http::header::CONTENT_TYPE, "text/event-stream")
        .header(http::header::CACHE_CONTROL, "no-cache")
        .header("x-accel-buffering", "no")
        .body(Body::from_stream(events))
        .expect("static headers are valid");
    add_upstream_headers(response.headers_mut(), &upstream_headers);
    response
}

async fn embeddings(State(state): Shared, headers: HeaderMap, body: Body) -> Response {
    let started = Instant::now();
    let metrics = Arc::new(CallMetrics::default());
    let result = async {
        let caller = authorize(&state, &headers).await?;
        let json = read_json(&state, &headers, body).await?;
        let mut call = wire::embedding_call(&json)?;
        admit(&state, &caller, &call.model).await?;
        let cache = cache_slot(&state, "embeddings", &call.model, &call.request);
        if let Some((cache, key)) = cache.as_ref().filter(|_| !call.cache.no_cache) {
            if let Some(body) = cache.get(key).await {
                return Ok(cached_response(&body, key));
            }
        }
        let client_headers = state.forward_headers.select(&headers);
        let routed = match with_router(
            &state,
            &call.model,
            false,
            call.fallbacks.take(),
            &metrics,
            &client_headers,
            &mut call.request,
            attempt_fn(|d, opts, req| {
                Box::pin(async move { d.adapter.embed(&opts, req).await.map_err(ApiError::from) })
            }),
        )
        .await
        {
            Ok(routed) => routed,
            Err(failed) => return failed_response(failed),
        };
        let answer = &routed.value;
        let body = wire::embedding_response_json(answer, &call.model, call.encoding)?;
        if let Some((cache, key)) = &cache {
            if !call.cache.no_store {
                cache.put(key, &body, call.cache.ttl).await;
            }
        }
        let mut response = routed_json(body, &answer.usage, &answer.headers, &routed);
        if let Some((_, key)) = &cache {
            set_cache_headers(response.headers_mut(), "miss", key);
        }
        Ok::<_, ApiError>(response)
    }
    .await;
    finish("embeddings", result, started, &metrics)
}

/// `GET /v1/models`: OpenAI's list, or Anthropic's when the client sends `anthropic-version`.
async fn models(State(state): Shared, headers: HeaderMap) -> Response {
    let caller = match authorize(&state, &headers).await {
        Ok(caller) => caller,
        Err(e) => return e.into_response(),
    };
    let mut names = state.registry.model_names();
    names.retain(|name| caller.allows_model(name));
    if headers.contains_key("anthropic-version") {
        return Json(crate::anthropic::models_json(&names)).into_response();
    }
    let data: Vec<Value> = names
        .into_iter()
        .map(|id| json!({"id": id, "object": "model", "created": 0, "owned_by": "wasmgate"}))
        .collect();
    Json(json!({"object": "list", "data": data})).into_response()
}

/// LiteLLM's `/health`: a real one-token chat to every configured deployment, all at once,
/// each bounded by its timeout (30 s when unset). Wildcard routes are not probed.
async fn health(State(state): Shared, headers: HeaderMap) -> Response {
    if let Err(e) = authorize(&state, &headers).await {
        return e.into_response();
    }
    let probes = state
        .registry
        .deployments()
        .into_iter()
        .map(|(model, d)| async move {
            let result = probe(&model, &d).await;
            let mut entry =
                json!({"model": d.label, "model_name": model, "api_base": d.call.api_base});
            if let Err(e) = result {
                entry["error"] = json!(e.message);
            }
            entry
        });
    let (healthy, unhealthy): (Vec<Value>, Vec<Value>) = futures::future::join_all(probes)
        .await
        .into_iter()
        .partition(|e| e.get("error").is_none());
    Json(json!({
        "healthy_endpoints": healthy,
        "unhealthy_endpoints": unhealthy,
        "healthy_count": healthy.len(),
        "unhealthy_count": unhealthy.len(),
    }))
    .into_response()
}

async fn probe(model: &str, d: &Deployment) -> Result<(), ApiError> {
    if let Some(var) = &d.missing_key {
        return Err(ApiError::missing_key(model, &d.label, var));
    }
    let body = json!({"model": d.provider_model, "messages": [{"role": "user", "content": "ping"}], "max_tokens": 1});
    let call = wire::chat_call(&body)?;
    let bound = d.call.timeout.unwrap_or(Duration::from_secs(30));
    match tokio::time::timeout(bound, d.adapter.chat(&d.call, &call.request)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(ApiError::from(e)),
        Err(_) => Err(ApiError::internal(format!("no answer within {bound:?}"))),
    }
}

/// `GET /v1/models/{model}`: the model if this gateway serves that name (exactly, or through a
/// wildcard route), else 404 `model_not_found`.
async fn model_info(
    State(state): Shared,
    headers: HeaderMap,
    axum::extract::Path(model): axum::extract::Path<String>,
) -> Response {
    if let Err(e) = authorize(&state, &headers).await {
        return e.into_response();
    }
    match state.registry.resolve(&model) {
        Ok(_) => {
            Json(json!({"id": model, "object": "model", "created": 0, "owned_by": "wasmgate"}))
                .into_response()
        }
        Err(e) => e.into_response(),
    }
}

async fn liveliness() -> Response {
    Json(json!({"status": "alive"})).into_response()
}

async fn readiness(State(state): Shared) -> Response {
    let mut adapters = serde_json::Map::new();
    let mut healthy = true;
    for (name, loaded) in &state.registry.adapters {
        let status = match loaded.adapter.health_check().await {
            Ok(()) => "healthy".to_string(),
            Err(e) => {
                healthy = false;
                format!("unhealthy: {e}")
            }
        };
        adapters.insert(name.clone(), json!(status));
    }
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body =
        json!({"status": if healthy { "healthy" } else { "unhealthy" }, "adapters": adapters});
    (status, Json(body)).into_response()
}
