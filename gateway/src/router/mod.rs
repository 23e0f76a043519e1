//! The router: which deployment of a model group serves a request, what happens when it fails
//! (retries with backoff, other deployments, fallback groups), and what it learns for the next
//! request (latency, usage, cooldowns). LiteLLM's router settings keep their meaning; see
//! docs/routing.md.

mod settings;
pub mod shared;
mod state;
mod strategy;

pub use settings::{ErrorClass, RouterSettings, Strategy};
pub use state::{Clock, DeploymentLoad, ManualClock, MemoryState, RouterState, SystemClock};
use strategy::thread_random;
pub use strategy::{pick, Candidate};

use crate::error::ApiError;
use crate::registry::{Deployment, Registry};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wasmgate_runtime::CallOptions;

/// How a request was routed: for response headers and logs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trace {
    /// The id of the deployment tried last (the one that served, on success).
    pub deployment: Option<String>,
    /// Calls made, across groups.
    pub attempts: u32,
    /// The fallback group that served, when it was not the requested one.
    pub fallback: Option<String>,
    /// Fallback groups tried.
    pub fallbacks_tried: u32,
}

/// A served request's hold on its deployment: counted in flight until dropped (keep it with
/// a stream until the stream ends); usage is recorded through it.
pub struct Lease {
    state: Arc<dyn RouterState>,
    clock: Arc<dyn Clock>,
    id: String,
    deployment: Arc<Deployment>,
}

impl Lease {
    /// The deployment that serves.
    pub fn deployment(&self) -> &Arc<Deployment> {
        &self.deployment
    }

    /// Records tokens the request used (for `tpm` and usage-based routing).
    pub fn add_tokens(&self, tokens: u64) {
        self.state.add_tokens(&self.id, tokens, self.clock.now());
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.state.finish(&self.id);
    }
}

/// One call to a deployment, as the router makes it: the future borrows the deployment and
/// the request.
pub type AttemptFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ApiError>> + Send + 'a>>;

/// A successful routing.
pub struct Routed<T> {
    /// What the deployment answered.
    pub value: T,
    /// How it was routed.
    pub trace: Trace,
    /// The deployment's lease.
    pub lease: Lease,
}

/// A failed routing: the last error, and how far it got.
#[derive(Debug)]
pub struct Failed {
    /// The error to answer.
    pub error: ApiError,
    /// How it was routed.
    pub trace: Trace,
}

/// What the router needs besides its settings: where it keeps state, its clock, and (for
/// reproducible tests) a seed for its random choices.
#[derive(Clone)]
pub struct RouterParts {
    /// Router state.
    pub state: Arc<dyn RouterState>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// A fixed seed instead of system randomness.
    pub seed: Option<u64>,
    /// Cooldowns started, by deployment id (kept across config reloads, for metrics).
    pub cooldowns: Arc<Mutex<std::collections::BTreeMap<String, u64>>>,
}

impl Default for RouterParts {
    fn default() -> Self {
        RouterParts {
            state: Arc::new(MemoryState::default()),
            clock: Arc::new(SystemClock),
            seed: None,
            cooldowns: Arc::default(),
        }
    }
}

impl std::fmt::Debug for RouterParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouterParts")
            .field("seed", &self.seed)
            .finish_non_exhaustive()
    }
}

/// Routes requests over a registry's deployments.
pub struct Router {
    /// Cooldowns started, by deployment id (for metrics).
    cooldowns: Arc<Mutex<std::collections::BTreeMap<String, u64>>>,
    settings: RouterSettings,
    state: Arc<dyn RouterState>,
    clock: Arc<dyn Clock>,
    /// xorshift state when seeded.
    seeded: Option<Mutex<u64>>,
}

impl Router {
    /// A router with `settings` over `parts`.
    pub fn new(settings: RouterSettings, parts: RouterParts) -> Router {
        Router {
            cooldowns: parts.cooldowns,
            settings,
            state: parts.state,
            clock: parts.clock,
            seeded: parts.seed.map(|s| Mutex::new(s.max(1))),
        }
    }

    /// The settings.
    pub fn settings(&self) -> &RouterSettings {
        &self.settings
    }

    fn random(&self) -> u64 {
        match &self.seeded {
            Some(seed) => {
                let mut s = seed.lock().unwrap_or_else(|e| e.into_inner());
                *s ^= *s << 13;
                *s ^= *s >> 7;
                *s ^= *s << 17;
                *s
            }
            None => thread_random(),
        }
    }

    /// The load of `d` now, and how long its cooldown still runs (zero when it is not cooling
    /// down).
    pub fn status_of(&self, d: &Deployment) -> (DeploymentLoad, Duration) {
        let now = self.clock.now();
        let load = self.load(d, now);
        let left = load
            .cooling_until
            .map_or(Duration::ZERO, |until| until.saturating_sub(now));
        (load, left)
    }

    /// Cooldowns this router started, by deployment id.
    pub fn cooldowns(&self) -> Vec<(String, u64)> {
        self.cooldowns
            .lock()
            .map(|c| c.iter().map(|(k, v)| (k.clone(), *v)).collect())
            .unwrap_or_default()
    }

    /// Serves `model` (or its `model_group_alias` target): picks deployments by the strategy,
    /// retries and moves on as the settings say, then tries the fallback groups
    /// (`request_fallbacks` from the body, else the configured ones). `attempt` makes one call
    /// with the deployment's options, its timeout set for `stream` or not.
    pub async fn route<R, T, F>(
        &self,
        registry: &Registry,
        model: &str,
        stream: bool,
        request_fallbacks: Option<Vec<String>>,
        request: &mut R,
        mut attempt: F,
    ) -> Result<Routed<T>, Failed>
    where
        F: for<'a> FnMut(&'a Deployment, CallOptions, &'a mut R) -> AttemptFuture<'a, T>,
    {
        let mut trace = Trace::default();
        let requested = self.group_of(model);
        let mut group = requested.clone();
        let mut queue: Option<VecDeque<String>> = None;
        loop {
            let outcome = match registry.resolve(&group) {
                Ok(deployments) => {
                    self.try_group(
                        &group,
                        &deployments,
                        stream,
                        request,
                        &mut attempt,
                        &mut trace,
                    )
                    .await
                }
                Err(e) if queue.is_none() => return Err(Failed { error: e, trace }),
                Err(e) => Err((e, ErrorClass::NotFound)),
            };
            let (error, class) = match outcome {
                Ok((value, lease)) => {
                    if group != requested {
                        trace.fallback = Some(group);
                    }
                    return Ok(Routed {
                        value,
                        trace,
                        lease,
                    });
                }
                Err(failure) => failure,
            };
            let queue = queue.get_or_insert_with(|| {
                let list = match &request_fallbacks {
                    Some(list) if class != ErrorClass::BadRequest => list.clone(),
                    _ => self.settings.fallbacks_for(&requested, class),
                };
                list.into_iter()
                    .map(|g| self.group_of(&g))
                    .filter(|g| *g != requested)
                    .take(self.settings.max_fallbacks)
                    .collect()
            });
            match queue.pop_front() {
                Some(next) => {
                    tracing::warn!(
                        model,
                        status = error.status.as_u16(),
                        "model group `{group}` failed, falling back to `{next}`: {}",
                        error.message
                    );
                    trace.fallbacks_tried += 1;
                    group = next;
                }
                None => return Err(Failed { error, trace }),
            }
        }
    }

    fn group_of(&self, name: &str) -> String {
        self.settings
            .model_group_alias
            .get(name)
            .cloned()
            .unwrap_or_else(|| name.to_string())
    }

    /// The load of `d` as the strategy should see it (stale latency forgotten).
    fn load(&self, d: &Deployment, now: Duration) -> DeploymentLoad {
        let mut load = self.state.load(&d.id, now);
        if load
            .latency_at
            .is_some_and(|at| now.saturating_sub(at) > self.settings.latency_ttl)
        {
            load.latency = None;
        }
        load
    }

    async fn try_group<R, T, F>(
        &self,
        group: &str,
        deployments: &[Arc<Deployment>],
        stream: bool,
        request: &mut R,
        attempt: &mut F,
        trace: &mut Trace,
    ) -> Result<(T, Lease), (ApiError, ErrorClass)>
    where
        F: for<'a> FnMut(&'a Deployment, CallOptions, &'a mut R) -> AttemptFuture<'a, T>,
    {
        let keyed: Vec<&Arc<Deployment>> = deployments
            .iter()
            .filter(|d| d.missing_key.is_none())
            .collect();
        if keyed.is_empty() {
            let d = &deployments[0];
            let var = d.missing_key.as_deref().unwrap_or_default();
            return Err((
                ApiError::missing_key(group, &d.label, var),
                ErrorClass::Authentication,
            ));
        }
        let mut tried: Vec<&str> = Vec::new();
        let mut attempts = 0u32;
        let mut allowed = keyed.len() as u32;
        let mut retries = 0u32;
        let mut hint: Option<Duration> = None;
        loop {
            let now = self.clock.now();
            let loads: Vec<DeploymentLoad> = keyed.iter().map(|d| self.load(d, now)).collect();
            let within: Vec<usize> = (0..keyed.len())
                .filter(|i| has_capacity(keyed[*i], &loads[*i]))
                .collect();
            if within.is_empty() {
                return Err((no_capacity(group, now), ErrorClass::RateLimit));
            }
            let healthy: Vec<usize> = within
                .iter()
                .copied()
                .filter(|i| loads[*i].cooling_until.is_none())
                .collect();
            // Every deployment cooling down: the one whose cooldown ends first is tried anyway
            // (see docs/routing.md).
            let pool = if healthy.is_empty() {
                within
                    .iter()
                    .copied()
                    .min_by_key(|i| loads[*i].cooling_until)
                    .into_iter()
                    .collect()
            } else {
                healthy
            };
            let fresh: Vec<usize> = pool
                .iter()
                .copied()
                .filter(|i| !tried.contains(&keyed[*i].id.as_str()))
                .collect();
            let again = fresh.is_empty();
            let choices = if again { pool } else { fresh };
            let candidates: Vec<Candidate> = choices
                .iter()
                .map(|i| Candidate {
                    weight: keyed[*i].weight,
                    rpm: keyed[*i].rpm,
                    tpm: keyed[*i].tpm,
                    load: loads[*i],
                })
                .collect();
            let mut random = || self.random();
            let picked = pick(
                self.settings.strategy,
                self.settings.latency_buffer,
                &candidates,
                &mut random,
            );
            let d = keyed[choices[picked]];
            if again {
                let wait = self.backoff(retries, hint);
                retries += 1;
                if !wait.is_zero() {
                    tracing::info!(
                        group,
                        deployment = d.id,
                        "retrying in {:.3} s",
                        wait.as_secs_f64()
                    );
                    self.clock.sleep(wait).await;
                }
            }
            attempts += 1;
            trace.attempts += 1;
            trace.deployment = Some(d.id.clone());
            self.state.start(&d.id, self.clock.now());
            let lease = Lease {
                state: self.state.clone(),
                clock: self.clock.clone(),
                id: d.id.clone(),
                deployment: Arc::clone(d),
            };
            let started = Instant::now();
            match attempt(d, self.call_options(d, stream), request).await {
                Ok(value) => {
                    self.state
                        .record_latency(&d.id, started.elapsed(), self.clock.now());
                    return Ok((value, lease));
                }
                Err(error) => {
                    drop(lease);
                    let class = ErrorClass::of(error.status.as_u16(), error.code.as_deref());
                    self.note_failure(group, d, class);
                    if !tried.contains(&d.id.as_str()) {
                        tried.push(&d.id);
                    }
                    if !self.settings.tries_others_after(class) {
                        return Err((error, class));
                    }
                    allowed = allowed.max(1 + self.settings.retries_for(class));
                    hint = error.retry_after;
                    let too_long = hint.is_some_and(|h| h > self.settings.max_backoff);
                    if attempts >= allowed || too_long {
                        return Err((error, class));
                    }
                    tracing::warn!(
                        group,
                        deployment = d.id,
                        status = error.status.as_u16(),
                        "deployment failed, trying again: {}",
                        error.message
                    );
                }
            }
        }
    }

    /// The deployment's options with the timeout for this kind of call.
    fn call_options(&self, d: &Deployment, stream: bool) -> CallOptions {
        let mut call = d.call.clone();
        call.timeout = if stream {
            d.stream_timeout
                .or(d.call.timeout)
                .or(self.settings.stream_timeout)
                .or(self.settings.timeout)
        } else {
            d.call.timeout.or(self.settings.timeout)
        };
        call
    }

    /// The wait before retry number `retry` (0-based) of a deployment already tried: the
    /// upstream's retry-after when it gave one, else exponential backoff from 0.5 s with jitter
    /// (between half and all of `0.5 s x 2^retry`, at most `max_backoff`); never less than
    /// `retry_after`.
    fn backoff(&self, retry: u32, hint: Option<Duration>) -> Duration {
        let wait = match hint {
            Some(h) => h,
            None => {
                let base = Duration::from_millis(500)
                    .saturating_mul(1 << retry.min(16))
                    .min(self.settings.max_backoff);
                let jitter = 0.5 + 0.5 * ((self.random() >> 11) as f64 / (1u64 << 53) as f64);
                base.mul_f64(jitter)
            }
        };
        wait.max(self.settings.retry_after)
    }

    /// Counts a failure and cools the deployment down when the settings say so. Failures that
    /// are the request's fault count only when `allowed_fails_policy` names their class.
    fn note_failure(&self, group: &str, d: &Deployment, class: ErrorClass) {
        if self.settings.disable_cooldowns {
            return;
        }
        let client_fault = matches!(
            class,
            ErrorClass::BadRequest | ErrorClass::ContextWindow | ErrorClass::ContentPolicy
        );
        if client_fault && !self.settings.allowed_fails_policy.contains_key(&class) {
            return;
        }
        let now = self.clock.now();
        let fails = self.state.record_failure(&d.id, now);
        if class.cools_down_at_once() || fails > self.settings.allowed_fails_for(class) {
            self.state
                .cool_down(&d.id, now + self.settings.cooldown_time);
            if let Ok(mut counts) = self.cooldowns.lock() {
                *counts.entry(d.id.clone()).or_default() += 1;
            }
            tracing::warn!(
                group,
                deployment = d.id,
                "deployment cools down for {:?} after {fails} failures this minute ({})",
                self.settings.cooldown_time,
                class.litellm_name()
            );
        }
    }
}

fn has_capacity(d: &Deployment, load: &DeploymentLoad) -> bool {
    d.rpm.is_none_or(|rpm| load.requests_this_minute < rpm)
        && d.tpm.is_none_or(|tpm| load.tokens_this_minute < tpm)
}

/// 429 for a group whose deployments are all at their rpm/tpm limit, until the minute ends.
fn no_capacity(group: &str, now: Duration) -> ApiError {
    let left = 60 - now.as_secs() % 60;
    let mut e = ApiError::rate_limited(format!(
        "model group `{group}`: every deployment is at its rpm/tpm limit for this minute"
    ));
    e.retry_after = Some(Duration::from_secs(left));
    e
}
