//! A loaded adapter: its compiled `InstancePre`, its policy and its instance slots. Every call
//! runs in a fresh store and instance, so nothing leaks between calls.

use crate::bindings::counting::TokenCounterIndices;
use crate::bindings::types::{
    AdapterInfo, CallContext, ChatRequest, ChatResponse, CredentialKind, EmbeddingRequest,
    EmbeddingResponse,
};
use crate::bindings::ProviderIndices;
use crate::credential::{drop_leaking, AwsCredentials, Secret, TokenSource, Vault};
use crate::egress::{ApiBase, CallEgress, CredentialUse, ParsedApiBase, Refusal};
use crate::error::{from_guest_failure, CallError, RuntimeError};
use crate::exports::{Bound, Exports};
use crate::imports::ComponentShape;
use crate::output::OutputSize;
use crate::policy::AdapterPolicy;
use crate::runtime::RuntimeInner;
use crate::state::CallState;
use crate::stats::{AdapterStats, StatsSnapshot};
use crate::stream::ChatStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasmtime::component::InstancePre;
use wasmtime::Store;

/// What the embedder tells the adapter about one call.
#[derive(Clone, Debug, Default)]
pub struct CallOptions {
    /// The operator's name for the deployment's model.
    pub deployment_model: String,
    /// The provider base URL; its origin becomes reachable for this call, private addresses
    /// included, and may receive the credential.
    pub api_base: Option<String>,
    /// The API key or token. Sealed unless the policy grants raw credentials.
    pub credential: Option<Secret>,
    /// What `credential` is; `api-key` when unset and there is a credential.
    pub credential_kind: Option<CredentialKind>,
    /// Where the call's access token comes from: the runtime asks it for a current token
    /// (cached, refreshed before expiry) and hands the adapter a placeholder for it, of kind
    /// `access-token`. Takes the place of `credential`.
    pub token_source: Option<Arc<TokenSource>>,
    /// AWS credentials the host signs with (SigV4) when the adapter asks for it by the
    /// `x-wasmgate-aws-sigv4` header; the adapter sees credential kind `aws-sigv4` and no secret.
    pub aws: Option<Arc<AwsCredentials>>,
    /// Operator settings passed to the adapter.
    pub settings: Vec<(String, String)>,
    /// Settings whose values are secrets: the adapter sees placeholders, sealed like the
    /// credential (usable in request headers toward hosts that may receive the credential).
    pub secret_settings: Vec<(String, Secret)>,
    /// Headers for the adapter to send upstream (the deployment's and forwarded client ones).
    pub headers: Vec<(String, String)>,
    /// Headers whose values are secrets: the adapter sees placeholders, sealed like the
    /// credential.
    pub secret_headers: Vec<(String, Secret)>,
    /// Wall-clock bound on the call, capped by the policy's `call_timeout`. For streams it
    /// bounds opening the stream and each wait for the next chunk.
    pub timeout: Option<Duration>,
    /// Where the runtime records measurements of the call (time spent waiting on upstreams).
    pub metrics: Option<Arc<CallMetrics>>,
    /// The runtime's parse of `api_base`, made at the first call and shared by this value's
    /// clones. Leave it at its default.
    pub parsed_api_base: ParsedApiBase,
}

/// Measurements of one call, filled in by the runtime as the call runs.
#[derive(Debug, Default)]
pub struct CallMetrics {
    upstream_nanos: AtomicU64,
}

impl CallOptions {
    /// Every secret of the call, for scrubbing errors and passed-on headers.
    pub(crate) fn secrets(&self) -> impl Iterator<Item = &Secret> + Clone {
        self.credential
            .iter()
            .chain(self.secret_headers.iter().map(|(_, s)| s))
            .chain(self.secret_settings.iter().map(|(_, s)| s))
            .chain(self.aws.iter().flat_map(|a| a.secrets()))
    }
}

impl CallMetrics {
    /// Time spent waiting on upstream servers: from sending each request to its response head,
    /// plus the time its body was being received.
    pub fn upstream_time(&self) -> Duration {
        Duration::from_nanos(self.upstream_nanos.load(Ordering::Relaxed))
    }

    pub(crate) fn add_upstream(&self, elapsed: Duration) {
        self.upstream_nanos
            .fetch_add(elapsed.as_nanos() as u64, Ordering::Relaxed);
    }
}

/// A loaded adapter. Cheap to clone; calls may run concurrently up to its concurrency limit.
#[derive(Clone)]
pub struct Adapter {
    inner: Arc<AdapterInner>,
}

pub(crate) struct AdapterInner {
    runtime: Arc<RuntimeInner>,
    name: Arc<str>,
    sha256: String,
    info: AdapterInfo,
    pre: InstancePre<CallState>,
    /// Where its contract functions are (their types checked once, at load).
    exports: Exports,
    /// Where the optional `tokens` export is, when the adapter has one.
    tokens: Option<TokenCounterIndices>,
    pub(crate) policy: Arc<AdapterPolicy>,
    slots: Arc<Semaphore>,
    cpu_budget_ticks: u64,
    /// The adapter's default API base, for credential-use paths when a call has none.
    default_base: Option<Arc<ApiBase>>,
    /// The requests that may carry the credential (the policy's, else the adapter's own).
    credential_uses: Arc<[CredentialUse]>,
    /// What its sandbox did (shared with its other policy variants).
    stats: Arc<AdapterStats>,
    /// Its imports and exports.
    shape: Arc<ComponentShape>,
}

/// A running instance of an adapter. Its store holds the instance slot, so the slot is freed
/// exactly when the store is dropped.
pub(crate) struct Instance {
    pub(crate) store: Store<CallState>,
    /// Where its contract functions are.
    pub(crate) exports: Exports,
    /// The instance itself.
    component: wasmtime::component::Instance,
    pub(crate) context: CallContext,
    /// The last outgoing request the host refused in this call.
    pub(crate) refusal: Arc<Mutex<Option<Refusal>>>,
    /// The adapter's counters.
    pub(crate) stats: Arc<AdapterStats>,
}

impl Instance {
    /// The store and instance, to call an export on.
    pub(crate) fn bound(&mut self) -> Bound<'_> {
        self.parts().1
    }

    /// Its exports, [`Instance::bound`], and the call's context.
    pub(crate) fn parts(&mut self) -> (Exports, Bound<'_>, &CallContext) {
        let on = Bound {
            store: &mut self.store,
            instance: &self.component,
        };
        (self.exports, on, &self.context)
    }

    /// The error a failed call reports: the host's refusal when one explains it, else `err`.
    /// An error carrying an upstream status is the upstream's answer, not the refusal's echo.
    pub(crate) fn explain(refusal: &Mutex<Option<Refusal>>, err: CallError) -> CallError {
        let explains = match &err {
            CallError::Provider(e) => e.status.is_none(),
            CallError::Trap(_) => true,
            _ => false,
        };
        match refusal.lock().ok().and_then(|r| r.clone()) {
            Some(refusal) if explains => CallError::Refused(refusal),
            _ => err,
        }
    }
}

/// The credential uses in force: the policy's when it sets them, else the adapter's own.
fn credential_uses(
    policy: &AdapterPolicy,
    info: &AdapterInfo,
) -> Result<Arc<[CredentialUse]>, String> {
    if let Some(uses) = &policy.credential_uses {
        return Ok(uses.clone().into());
    }
    info.credential_uses
        .iter()
        .map(|u| CredentialUse::new(&u.method, &u.path).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()
        .map(Into::into)
}

fn default_base(info: &AdapterInfo) -> Option<Arc<ApiBase>> {
    info.default_api_base
        .as_deref()
        .and_then(|b| ApiBase::parse(b).ok())
        .map(Arc::new)
}

/// Fails when `value` is larger than `limit` bytes.
pub(crate) fn check_output<T: OutputSize>(value: &T, limit: usize) -> Result<(), CallError> {
    let size = value.output_size();
    if size > limit {
        return Err(CallError::OutputTooLarge { limit, size });
    }
    Ok(())
}

/// The policy's CPU time in epoch ticks of `runtime`.
fn cpu_budget_ticks(runtime: &RuntimeInner, policy: &AdapterPolicy) -> u64 {
    let tick = runtime.epoch_tick.as_nanos().max(1);
    policy.limits.cpu_time.as_nanos().div_ceil(tick).max(1) as u64
}

impl AdapterInner {
    pub(crate) async fn load(
        runtime: Arc<RuntimeInner>,
        name: &str,
        sha256: String,
        pre: InstancePre<CallState>,
        policy: AdapterPolicy,
        shape: ComponentShape,
    ) -> Result<AdapterInner, RuntimeError> {
        let load_err = |message: String| RuntimeError::Load {
            name: name.to_string(),
            message,
        };
        let not_a_provider = |e: &dyn std::fmt::Display| {
            load_err(format!("it does not export the provider world: {e}"))
        };
        let indices = ProviderIndices::new(&pre).map_err(|e| not_a_provider(&e))?;
        let exports = Exports::find(&pre).map_err(|e| not_a_provider(&e))?;
        // Absent is fine; present with the wrong shape is refused below, on the first instance.
        let tokens = TokenCounterIndices::new(&pre).ok();
        let cpu_budget_ticks = cpu_budget_ticks(&runtime, &policy);
        let slots = Arc::new(Semaphore::new(policy.limits.max_concurrency.max(1)));
        let mut adapter = AdapterInner {
            runtime,
            name: Arc::from(name),
            sha256,
            info: AdapterInfo {
                name: name.to_string(),
                version: String::new(),
                capabilities: crate::bindings::types::Capabilities::empty(),
                default_api_base: None,
                required_hosts: Vec::new(),
                credential_uses: Vec::new(),
                description: String::new(),
            },
            pre,
            exports,
            tokens,
            policy: Arc::new(policy),
            slots,
            cpu_budget_ticks,
            default_base: None,
            credential_uses: Arc::from([]),
            stats: Arc::default(),
            shape: Arc::new(shape),
        };
        let mut instance = adapter
            .instantiate(&CallOptions::default())
            .await
            .map_err(|e| load_err(format!("instantiation failed: {e}")))?;
        Exports::check(&indices, &mut instance.store, &instance.component)
            .map_err(|e| not_a_provider(&from_guest_failure(e, adapter.policy.limits.cpu_time)))?;
        let info = instance.exports.info(instance.bound()).await.map_err(|e| {
            load_err(format!(
                "info() failed: {}",
                from_guest_failure(e, adapter.policy.limits.cpu_time)
            ))
        })?;
        if let Some(tokens) = &adapter.tokens {
            tokens
                .load(&mut instance.store, &instance.component)
                .map_err(|e| load_err(format!("its `tokens` export does not fit: {e}")))?;
        }
        if info.name.is_empty()
            || !info
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(load_err(format!(
                "info() gave an invalid adapter name {:?}",
                info.name
            )));
        }
        adapter.credential_uses = credential_uses(&adapter.policy, &info)
            .map_err(|e| load_err(format!("info() declares {e}")))?;
        adapter.default_base = default_base(&info);
        adapter.name = Arc::from(info.name.as_str());
        adapter.info = info;
        Ok(adapter)
    }

    async fn acquire_slot(&self) -> Result<OwnedSemaphorePermit, CallError> {
        let limits = &self.policy.limits;
        match tokio::time::timeout(limits.queue_timeout, self.slots.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(CallError::Overloaded(limits.max_concurrency)),
        }
    }

    /// A fresh instance for one call, with the call's egress rules and context.
    pub(crate) async fn instantiate(&self, call: &CallOptions) -> Result<Instance, CallError> {
        let slot = self.acquire_slot().await?;
        let api_base = match call.api_base.as_deref().filter(|b| !b.is_empty()) {
            Some(base) => Some(
                call.parsed_api_base
                    .parse(base)
                    .map_err(|e| CallError::InvalidCall(e.to_string()))?,
            ),
            None => None,
        };
        let mut vault = Vault::default();
        let credential = call
            .credential
            .as_ref()
            .map(|secret| vault.seal(secret, self.policy.raw_credentials));
        let mut headers = call.headers.clone();
        for (name, secret) in &call.secret_headers {
            headers.push((name.clone(), vault.seal(secret, false)));
        }
        let mut settings = call.settings.clone();
        for (name, secret) in &call.secret_settings {
            settings.push((name.clone(), vault.seal(secret, false)));
        }
        let credential_kind = match (&credential, call.credential_kind) {
            (None, _) if call.aws.is_some() => CredentialKind::AwsSigv4,
            (None, _) => CredentialKind::None,
            (Some(_), Some(kind)) => kind,
            (Some(_), None) => CredentialKind::ApiKey,
        };
        let refusal = Arc::new(Mutex::new(None));
        let egress = CallEgress {
            adapter: self.name.clone(),
            policy: self.policy.clone(),
            api_base,
            default_base: self.default_base.clone(),
            credential_uses: self.credential_uses.clone(),
            vault,
            aws: call.aws.clone(),
            client: self.runtime.egress.clone(),
            metrics: call.metrics.clone(),
            requests: 0,
            refusal: refusal.clone(),
            stats: self.stats.clone(),
        };
        let limits = &self.policy.limits;
        let state = CallState::new(
            self.name.clone(),
            limits,
            self.cpu_budget_ticks,
            egress,
            slot,
        );
        let mut store = Store::new(&self.runtime.engine, state);
        CallState::install(&mut store, limits.hostcall_fuel);
        let component = self
            .pre
            .instantiate_async(&mut store)
            .await
            .map_err(|e| from_guest_failure(e, limits.cpu_time))?;
        self.stats.instantiated();
        let context = CallContext {
            deployment_model: call.deployment_model.clone(),
            api_base: call.api_base.clone(),
            credential,
            credential_kind,
            settings,
            headers,
            timeout_ms: Some(self.call_timeout(call).as_millis() as u64),
        };
        Ok(Instance {
            store,
            exports: self.exports,
            component,
            context,
            refusal,
            stats: self.stats.clone(),
        })
    }

    /// The call with its access token in place when it has a token source.
    async fn with_token(&self, call: &CallOptions) -> Result<Option<CallOptions>, CallError> {
        let Some(source) = call.token_source.clone() else {
            return Ok(None);
        };
        let token = source
            .token(&self.runtime.egress.pool(true))
            .await
            .map_err(|error| CallError::Credential {
                deployment: call.deployment_model.clone(),
                error,
            })?;
        let mut call = call.clone();
        call.credential = Some(token);
        call.credential_kind = Some(CredentialKind::AccessToken);
        Ok(Some(call))
    }

    pub(crate) fn call_timeout(&self, call: &CallOptions) -> Duration {
        let cap = self.policy.limits.call_timeout;
        call.timeout.map_or(cap, |t| t.min(cap))
    }
}

impl Adapter {
    pub(crate) fn from_inner(inner: AdapterInner) -> Adapter {
        Adapter {
            inner: Arc::new(inner),
        }
    }

    /// The adapter's description of itself, read at load time.
    pub fn info(&self) -> &AdapterInfo {
        &self.inner.info
    }

    /// The same compiled adapter under another policy (its own instance slots), without
    /// recompiling; e.g. to grant the hosts its `info()` declares.
    pub fn with_policy(&self, policy: AdapterPolicy) -> Adapter {
        let inner = &self.inner;
        let uses = credential_uses(&policy, &inner.info).unwrap_or_else(|_| Arc::from([]));
        Adapter::from_inner(AdapterInner {
            credential_uses: uses,
            default_base: inner.default_base.clone(),
            runtime: inner.runtime.clone(),
            name: inner.name.clone(),
            sha256: inner.sha256.clone(),
            info: inner.info.clone(),
            pre: inner.pre.clone(),
            exports: inner.exports,
            tokens: inner.tokens.clone(),
            stats: inner.stats.clone(),
            shape: inner.shape.clone(),
            slots: Arc::new(Semaphore::new(policy.limits.max_concurrency.max(1))),
            cpu_budget_ticks: cpu_budget_ticks(&inner.runtime, &policy),
            policy: Arc::new(policy),
        })
    }

    /// The hex sha256 of the component bytes.
    pub fn sha256(&self) -> &str {
        &self.inner.sha256
    }

    /// The policy the adapter runs under.
    pub fn policy(&self) -> &AdapterPolicy {
        &self.inner.policy
    }

    /// The requests that may carry the credential: the policy's list, else the adapter's own.
    pub fn credential_uses(&self) -> &[CredentialUse] {
        &self.inner.credential_uses
    }

    /// Runs `f` on a fresh instance under the call's wall-clock bound.
    async fn run<T, F, Fut>(&self, call: &CallOptions, f: F) -> Result<T, CallError>
    where
        F: FnOnce(Instance) -> Fut,
        Fut: std::future::Future<Output = Result<T, CallError>>,
    {
        let timeout = self.inner.call_timeout(call);
        let work = async {
            let instance = self.inner.instantiate(call).await?;
            let refusal = instance.refusal.clone();
            f(instance)
                .await
                .map_err(|e| Instance::explain(&refusal, e))
        };
        let result = tokio::time::timeout(timeout, work)
            .await
            .map_err(|_| CallError::Timeout(timeout))
            .and_then(|r| r);
        if let Err(e) = &result {
            self.inner.stats.failed(e);
        }
        result.map_err(|e| e.scrubbed(call.secrets()))
    }

    fn cpu_time(&self) -> Duration {
        self.inner.policy.limits.cpu_time
    }

    /// Refuses answers larger than the policy's output limit.
    fn bounded<T: OutputSize>(&self, value: T) -> Result<T, CallError> {
        check_output(&value, self.inner.policy.limits.max_output_bytes)?;
        Ok(value)
    }

    /// Instantiates the adapter and asks for its `info()`: a cheap liveness probe of the whole
    /// path (slot, store, instance, guest code) that makes no network call.
    pub async fn health_check(&self) -> Result<(), CallError> {
        let cpu = self.cpu_time();
        self.run(&CallOptions::default(), |mut i| async move {
            i.exports
                .info(i.bound())
                .await
                .map(drop)
                .map_err(|e| from_guest_failure(e, cpu))
        })
        .await
    }

    /// A chat completion, answered whole.
    pub async fn chat(
        &self,
        call: &CallOptions,
        request: &ChatRequest,
    ) -> Result<ChatResponse, CallError> {
        let resolved = self.inner.with_token(call).await?;
        let call = resolved.as_ref().unwrap_or(call);
        let cpu = self.cpu_time();
        self.run(call, |mut i| async move {
            let (exports, on, context) = i.parts();
            exports
                .chat(on, context, request)
                .await
                .map_err(|e| from_guest_failure(e, cpu))?
                .map_err(CallError::Provider)
        })
        .await
        .and_then(|r| self.bounded(r))
        .map(|mut r| {
            drop_leaking(&mut r.headers, call.secrets());
            r
        })
    }

    /// A chat completion as a stream of chunks. The instance lives as long as the stream;
    /// dropping the stream cancels the call and frees the instance.
    pub async fn chat_stream(
        &self,
        call: &CallOptions,
        request: &ChatRequest,
    ) -> Result<ChatStream, CallError> {
        let resolved = self.inner.with_token(call).await?;
        let call = resolved.as_ref().unwrap_or(call);
        let cpu = self.cpu_time();
        let mut limits = self.inner.policy.limits.clone();
        // A call's own timeout also bounds each wait for the next chunk (like an HTTP read
        // timeout), so a steady stream may run longer than it, a stalled one may not.
        limits.stream_next_timeout = limits
            .stream_next_timeout
            .min(self.inner.call_timeout(call));
        self.run(call, |mut i| async move {
            let (exports, on, context) = i.parts();
            let opened = exports
                .chat_stream(on, context, request)
                .await
                .map_err(|e| from_guest_failure(e, cpu))?
                .map_err(CallError::Provider)?;
            Ok(ChatStream::new(
                i,
                opened,
                &limits,
                call.secrets().cloned().collect(),
            ))
        })
        .await
    }

    /// What the component imports and exports, and its contract version.
    pub fn shape(&self) -> &ComponentShape {
        &self.inner.shape
    }

    /// What the adapter's sandbox has done so far: instances, stops, refused requests.
    pub fn stats(&self) -> StatsSnapshot {
        self.inner.stats.snapshot()
    }

    /// Whether the adapter exports the optional `tokens` interface.
    pub fn can_count_tokens(&self) -> bool {
        self.inner.tokens.is_some()
    }

    /// The number of input tokens `request` would use, as the adapter's provider counts them.
    /// [`CallError::Unsupported`] when the adapter has no `tokens` export.
    pub async fn count_tokens(
        &self,
        call: &CallOptions,
        request: &ChatRequest,
    ) -> Result<u32, CallError> {
        let Some(tokens) = &self.inner.tokens else {
            return Err(CallError::Unsupported(format!(
                "adapter `{}` cannot count tokens",
                self.inner.name
            )));
        };
        let resolved = self.inner.with_token(call).await?;
        let call = resolved.as_ref().unwrap_or(call);
        let cpu = self.cpu_time();
        self.run(call, |mut i| async move {
            let counter = tokens
                .load(&mut i.store, &i.component)
                .map_err(|e| from_guest_failure(e, cpu))?;
            counter
                .wasmgate_provider_tokens()
                .call_count_tokens(&mut i.store, &i.context, request)
                .await
                .map_err(|e| from_guest_failure(e, cpu))?
                .map_err(CallError::Provider)
        })
        .await
    }

    /// Embeddings for a list of inputs.
    pub async fn embed(
        &self,
        call: &CallOptions,
        request: &EmbeddingRequest,
    ) -> Result<EmbeddingResponse, CallError> {
        let resolved = self.inner.with_token(call).await?;
        let call = resolved.as_ref().unwrap_or(call);
        let cpu = self.cpu_time();
        self.run(call, |mut i| async move {
            let (exports, on, context) = i.parts();
            exports
                .embed(on, context, request)
                .await
                .map_err(|e| from_guest_failure(e, cpu))?
                .map_err(CallError::Provider)
        })
        .await
        .and_then(|r| self.bounded(r))
        .map(|mut r| {
            drop_leaking(&mut r.headers, call.secrets());
            r
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_secret_of_a_call_is_scrubbed() {
        let call = CallOptions {
            credential: Some(Secret::new("key")),
            secret_headers: vec![("h".into(), Secret::new("header"))],
            secret_settings: vec![("s".into(), Secret::new("setting"))],
            aws: Some(Arc::new(AwsCredentials {
                access_key_id: Secret::new("akid"),
                secret_access_key: Secret::new("sak"),
                session_token: Some(Secret::new("token")),
                region: "us-east-1".into(),
            })),
            ..Default::default()
        };
        let all: Vec<&str> = call.secrets().map(Secret::expose).collect();
        assert_eq!(all, ["key", "header", "setting", "akid", "sak", "token"]);
    }
}
