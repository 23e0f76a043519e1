//! The record of one request. The access middleware makes it and keeps it in a task-local for
//! the handler; the request path adds what it learns (model, deployment, attempts, usage,
//! cost, upstream time, first token); [`RequestRecord::finish`] turns it into [`Finished`].

use crate::error::ApiError;
use crate::registry::Deployment;
use crate::router::Trace;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wasmgate_runtime::types::Usage;
use wasmgate_runtime::CallMetrics;

tokio::task_local! {
    static CURRENT: Arc<RequestRecord>;
}

/// The record of the request this task serves, when there is one.
pub fn current() -> Option<Arc<RequestRecord>> {
    CURRENT.try_with(Arc::clone).ok()
}

/// A request in progress.
#[derive(Debug)]
pub struct RequestRecord {
    started: Instant,
    method: String,
    route: String,
    path: String,
    inner: Mutex<Learned>,
}

#[derive(Debug, Default)]
struct Learned {
    model: Option<String>,
    deployment: Option<String>,
    attempts: u32,
    fallback: Option<String>,
    usage: Option<Usage>,
    cost: Option<f64>,
    calls: Option<Arc<CallMetrics>>,
    first_token: Option<Duration>,
    stream: bool,
    error: Option<&'static str>,
    /// The virtual key's admission, settled when the request ends.
    admission: Option<crate::keys::Admission>,
}

/// A finished request, as the access log and the metrics see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The route that matched (`/v1/chat/completions`), or `unmatched`.
    pub route: String,
    /// The request's path (logged; never a metric label).
    pub path: String,
    /// HTTP status of the response head.
    pub status: u16,
    /// The model name the client asked for, once it resolved to deployments.
    pub model: Option<String>,
    /// The id of the deployment that served (or was tried last).
    pub deployment: Option<String>,
    /// Calls made to deployments.
    pub attempts: u32,
    /// The fallback group that served.
    pub fallback: Option<String>,
    /// Tokens in and out, when the provider reported them.
    pub usage: Option<(u32, u32)>,
    /// USD, when the deployment has a price.
    pub cost: Option<f64>,
    /// From the request's arrival to the end of its response body.
    pub total: Duration,
    /// Time spent waiting on upstreams.
    pub upstream: Duration,
    /// Streams: from arrival to the first chunk.
    pub first_token: Option<Duration>,
    /// Whether the answer was streamed.
    pub stream: bool,
    /// The error type (OpenAI's `type`) when the request failed, or failed mid-stream.
    pub error: Option<&'static str>,
}

impl RequestRecord {
    /// A record of a request for `path`, matched by `route`, that arrived now.
    pub fn new(method: &str, route: &str, path: &str) -> RequestRecord {
        RequestRecord {
            started: Instant::now(),
            method: method.to_string(),
            route: route.to_string(),
            path: path.to_string(),
            inner: Mutex::new(Learned::default()),
        }
    }

    /// Runs `f` with this record as the task's current one.
    pub async fn scope<F: std::future::Future>(self: Arc<Self>, f: F) -> F::Output {
        CURRENT.scope(self, f).await
    }

    fn learn(&self, f: impl FnOnce(&mut Learned)) {
        if let Ok(mut l) = self.inner.lock() {
            f(&mut l);
        }
    }

    /// The call's upstream-time counter.
    pub fn attach(&self, calls: &Arc<CallMetrics>) {
        self.learn(|l| l.calls = Some(calls.clone()));
    }

    /// How the router served (or failed) `model`; the model counts only once it resolved.
    pub fn routed(&self, model: &str, trace: &Trace) {
        self.learn(|l| {
            if trace.attempts > 0 {
                l.model = Some(model.to_string());
            }
            l.deployment.clone_from(&trace.deployment);
            l.attempts = trace.attempts;
            l.fallback.clone_from(&trace.fallback);
        });
    }

    /// The answer's usage, priced by `deployment`; returns the cost.
    pub fn used(&self, usage: &Usage, deployment: &Deployment) -> Option<f64> {
        let cost = deployment.price.map(|p| p.cost(usage));
        self.learn(|l| {
            l.usage = Some(usage.clone());
            l.cost = cost;
        });
        cost
    }

    /// Keeps a virtual key's admission until the response ends, when the request's cost and
    /// tokens are added to the key. Returns it back if it could not be kept.
    pub fn admit(
        &self,
        admission: Option<crate::keys::Admission>,
    ) -> Option<crate::keys::Admission> {
        let admission = admission?;
        match self.inner.lock() {
            Ok(mut l) => {
                l.admission = Some(admission);
                None
            }
            Err(_) => Some(admission),
        }
    }

    /// The answer is streamed.
    pub fn streaming(&self) {
        self.learn(|l| l.stream = true);
    }

    /// The first chunk went out now (the first call counts).
    pub fn first_token(&self) {
        let at = self.started.elapsed();
        self.learn(|l| {
            l.first_token.get_or_insert(at);
        });
    }

    /// The request failed with `e` (before its answer or during its stream).
    pub fn failed(&self, e: &ApiError) {
        self.learn(|l| l.error = Some(e.kind));
    }

    /// The record once the response (status `status`) is complete.
    pub fn finish(&self, status: u16) -> Finished {
        let total = self.started.elapsed();
        let l = self
            .inner
            .lock()
            .map(|mut l| std::mem::take(&mut *l))
            .unwrap_or_default();
        let finished = Finished {
            method: self.method.clone(),
            route: self.route.clone(),
            path: self.path.clone(),
            status,
            model: l.model,
            deployment: l.deployment,
            attempts: l.attempts,
            fallback: l.fallback,
            usage: l.usage.map(|u| (u.prompt_tokens, u.completion_tokens)),
            cost: l.cost,
            total,
            upstream: l.calls.map(|c| c.upstream_time()).unwrap_or_default(),
            first_token: l.first_token,
            stream: l.stream,
            error: l.error.or((status >= 400).then_some("error")),
        };
        if let Some(admission) = l.admission {
            let model = finished.model.as_deref().unwrap_or("");
            admission.settle(model, finished.cost, finished.usage);
        }
        finished
    }
}
