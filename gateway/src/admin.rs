//! The admin API under the master key (`GET /admin/adapters`, `GET /admin/deployments`) and
//! the adapter summaries `wasmgate adapters` prints: what each adapter is (digest, contract
//! version, grants, limits, what its sandbox did) and how each deployment is doing (cooldown,
//! load, this minute's error rate).

use crate::error::ApiError;
use crate::keys::Caller;
use crate::registry::{Deployment, LoadedAdapter};
use crate::router::Router;
use crate::server::{authorize, AppState};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::HeaderMap;
use serde::Serialize;
use serde_json::{json, Value};
use std::sync::Arc;
use wasmgate_runtime::types::Capabilities;
use wasmgate_runtime::Adapter;

/// What an adapter is and may do.
#[derive(Debug, Serialize)]
pub struct AdapterSummary {
    /// Its name.
    pub name: String,
    /// Its `info()` version.
    pub version: String,
    /// `builtin` or the file path.
    pub source: String,
    /// The component's SHA-256.
    pub sha256: String,
    /// The `wasmgate:provider` version it implements.
    pub contract: Option<String>,
    /// Capability flags from `info()`.
    pub capabilities: Vec<&'static str>,
    /// Origins its `info()` says it needs.
    pub declares: Vec<String>,
    /// Origins the operator granted (besides each deployment's `api_base`).
    pub egress: Vec<String>,
    /// Whether it may reach private addresses.
    pub private_networks: bool,
    /// Whether it sees the real credential (else a sealed placeholder).
    pub raw_credentials: bool,
    /// The requests that may carry the credential (`METHOD path`).
    pub credential_uses: Vec<String>,
    /// Whether the operator set those uses (else the adapter declared them).
    pub credential_uses_by_operator: bool,
    /// Whether it exports the optional token counter.
    pub counts_tokens: bool,
    /// Per-call limits.
    pub limits: Value,
    /// What its sandbox did so far.
    pub stats: Value,
}

const CAPABILITIES: [(Capabilities, &str); 6] = [
    (Capabilities::CHAT, "chat"),
    (Capabilities::STREAMING, "streaming"),
    (Capabilities::EMBEDDINGS, "embeddings"),
    (Capabilities::TOOLS, "tools"),
    (Capabilities::VISION, "vision"),
    (Capabilities::REASONING, "reasoning"),
];

impl AdapterSummary {
    /// The summary of adapter `name` from `source`.
    pub fn of(name: &str, source: &str, adapter: &Adapter) -> AdapterSummary {
        let info = adapter.info();
        let policy = adapter.policy();
        let stats = adapter.stats();
        let pairs = |list: &[(&str, u64)]| -> Value {
            list.iter()
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect()
        };
        AdapterSummary {
            name: name.to_string(),
            version: info.version.clone(),
            source: source.to_string(),
            sha256: adapter.sha256().to_string(),
            contract: adapter.shape().contract.clone(),
            capabilities: CAPABILITIES
                .iter()
                .filter(|(flag, _)| info.capabilities.contains(*flag))
                .map(|(_, n)| *n)
                .collect(),
            declares: info.required_hosts.clone(),
            egress: policy
                .allowed_hosts
                .iter()
                .map(ToString::to_string)
                .collect(),
            private_networks: policy.allow_private_networks,
            raw_credentials: policy.raw_credentials,
            credential_uses: adapter
                .credential_uses()
                .iter()
                .map(ToString::to_string)
                .collect(),
            credential_uses_by_operator: policy.credential_uses.is_some(),
            counts_tokens: adapter.can_count_tokens(),
            limits: json!({
                "memory_mb": policy.limits.memory_bytes >> 20,
                "cpu_ms": policy.limits.cpu_time.as_millis() as u64,
                "timeout_s": policy.limits.call_timeout.as_secs_f64(),
                "stream_timeout_s": policy.limits.stream_timeout.as_secs_f64(),
                "max_concurrency": policy.limits.max_concurrency,
                "requests_per_call": policy.limits.max_requests_per_call,
                "max_response_mb": policy.limits.max_response_bytes >> 20,
            }),
            stats: json!({
                "instantiations": stats.instantiations,
                "stops": pairs(&stats.stops),
                "refusals": pairs(&stats.refusals),
            }),
        }
    }

    /// The summary of a registry entry.
    pub fn of_loaded(name: &str, loaded: &LoadedAdapter) -> AdapterSummary {
        AdapterSummary::of(name, &loaded.source, &loaded.adapter)
    }

    /// The human-readable block `wasmgate adapters` prints.
    pub fn human(&self) -> String {
        let or = |list: &[String], none: &str| {
            if list.is_empty() {
                none.to_string()
            } else {
                list.join(", ")
            }
        };
        let limits = &self.limits;
        format!(
            "{name} {version}\n  source:        {source}\n  sha256:        {sha}\n  contract:      {contract}\n  capabilities:  {caps}\n  declares:      {declares}\n  egress:        {egress}\n  private nets:  {private}\n  credentials:   {credentials}\n  key used for:  {uses}{by_operator}\n  counts tokens: {counts}\n  requests/call: {requests}\n  memory / cpu:  {memory} MiB / {cpu} ms per call\n",
            name = self.name,
            version = self.version,
            source = self.source,
            sha = self.sha256,
            contract = self.contract.as_deref().unwrap_or("(none)"),
            caps = self.capabilities.join(", "),
            declares = self.declares.join(", "),
            egress = or(&self.egress, "(only each deployment's api_base)"),
            private = self.private_networks,
            credentials = if self.raw_credentials {
                "RAW (granted the real key)"
            } else {
                "sealed"
            },
            uses = or(&self.credential_uses, "(nothing)"),
            by_operator = if self.credential_uses_by_operator {
                " (set by the operator)"
            } else {
                ""
            },
            counts = self.counts_tokens,
            requests = limits["requests_per_call"],
            memory = limits["memory_mb"],
            cpu = limits["cpu_ms"],
        )
    }
}

/// How a deployment is doing, for `/admin/deployments`.
fn deployment_json(model: &str, d: &Deployment, router: &Router) -> Value {
    let (load, cooling_left) = router.status_of(d);
    let health = if d.missing_key.is_some() {
        "missing_key"
    } else if !cooling_left.is_zero() {
        "cooling_down"
    } else {
        "healthy"
    };
    let error_rate = match load.requests_this_minute {
        0 => 0.0,
        n => f64::from(load.failures_this_minute) / n as f64,
    };
    json!({
        "model_name": model,
        "id": d.id,
        "deployment": d.label,
        "adapter": d.adapter.info().name,
        "api_base": d.call.api_base,
        "health": health,
        "cooldown_remaining_s": cooling_left.as_secs_f64(),
        "in_flight": load.in_flight,
        "requests_this_minute": load.requests_this_minute,
        "failures_this_minute": load.failures_this_minute,
        "error_rate_this_minute": error_rate,
        "latency_ms": load.latency.map(|l| l.as_secs_f64() * 1000.0),
        "priced": d.price.is_some(),
    })
}

/// 403: a route that needs the master key on a gateway without one.
pub(crate) fn no_master_key() -> ApiError {
    ApiError::new(
        http::StatusCode::FORBIDDEN,
        "permission_error",
        "this route is available only with a master key: set general_settings.master_key",
    )
}

/// The admin and key routes need the master key (and a master key is set).
pub(crate) async fn authorize_admin(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    match authorize(state, headers).await? {
        Caller::Master => Ok(()),
        Caller::Open => Err(no_master_key()),
        Caller::Key(_) => Err(ApiError::new(
            http::StatusCode::FORBIDDEN,
            "permission_error",
            "this route needs the master key; a virtual key may not use it",
        )),
    }
}

/// `GET /admin/adapters`.
pub async fn adapters(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(e) = authorize_admin(&state, &headers).await {
        return e.into_response();
    }
    let data: Vec<AdapterSummary> = state
        .registry
        .adapters
        .iter()
        .map(|(name, loaded)| AdapterSummary::of_loaded(name, loaded))
        .collect();
    Json(json!({"object": "list", "data": data})).into_response()
}

/// `GET /admin/deployments`.
pub async fn deployments(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(e) = authorize_admin(&state, &headers).await {
        return e.into_response();
    }
    let data: Vec<Value> = state
        .registry
        .deployments()
        .iter()
        .map(|(model, d)| deployment_json(model, d, &state.router))
        .collect();
    Json(json!({"object": "list", "data": data})).into_response()
}
