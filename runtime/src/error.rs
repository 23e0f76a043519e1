//! Errors of the runtime: loading adapters, and calls that did not produce an answer.

use crate::bindings::types::{ErrorKind, ProviderError};
use crate::credential::{drop_leaking, redact};
use std::time::Duration;

/// A failure to set up the runtime or load an adapter.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// Invalid configuration.
    #[error("configuration error: {0}")]
    Config(String),
    /// Reading a component file failed.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The bytes are not a valid component, or it does not fit the provider world.
    #[error("adapter {name} cannot be loaded: {message}")]
    Load {
        /// The adapter's name (file name for files).
        name: String,
        /// What is wrong.
        message: String,
    },
}

/// Why a call to an adapter produced no answer.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The adapter reported a provider error (its own, or the upstream's).
    #[error("{}", .0.message)]
    Provider(ProviderError),
    /// The guest ran longer than its CPU budget and was stopped.
    #[error("the adapter exceeded its CPU time limit of {0:?} and was stopped")]
    CpuLimit(Duration),
    /// The guest tried to grow its memory past its cap and was stopped.
    #[error("the adapter exceeded its memory limit of {limit} bytes and was stopped")]
    MemoryLimit {
        /// The cap, in bytes.
        limit: usize,
    },
    /// The call did not finish in time and was cancelled.
    #[error("the adapter did not answer within {0:?}")]
    Timeout(Duration),
    /// The guest trapped (a panic, an invalid operation, a resource limit).
    #[error("the adapter failed: {0}")]
    Trap(String),
    /// The adapter returned more data than its output limit.
    #[error("the adapter returned {size} bytes, more than its output limit of {limit} bytes")]
    OutputTooLarge {
        /// The limit.
        limit: usize,
        /// What it returned.
        size: usize,
    },
    /// All instance slots of the adapter stayed busy for the whole queue timeout.
    #[error("the adapter is at its concurrency limit of {0}; try again later")]
    Overloaded(usize),
    /// Every instance slot of the runtime is in use (all adapters together).
    #[error("the runtime has no free instance slot ({0}); try again later")]
    RuntimeFull(String),
    /// The call's options are invalid (e.g. an `api_base` that is not a URL).
    #[error("invalid call: {0}")]
    InvalidCall(String),
    /// The adapter does not offer what was asked (e.g. token counting).
    #[error("{0}")]
    Unsupported(String),
    /// The host could not obtain the deployment's credential (its token endpoint failed).
    #[error("deployment `{deployment}`: could not obtain an access token: {error}")]
    Credential {
        /// The deployment (`CallOptions::deployment_model`).
        deployment: String,
        /// Why.
        error: crate::credential::TokenError,
    },
    /// The call failed after the host refused one of the adapter's outgoing requests.
    #[error("the host refused the adapter's outgoing request: {0}")]
    Refused(crate::egress::Refusal),
}

impl CallError {
    /// The error kind a client should see; sandbox failures are the adapter's fault (internal)
    /// except timeouts and overload.
    pub fn kind(&self) -> ErrorKind {
        match self {
            CallError::Provider(e) => e.kind,
            CallError::Timeout(_) => ErrorKind::Timeout,
            CallError::Overloaded(_) | CallError::RuntimeFull(_) => ErrorKind::Unavailable,
            CallError::InvalidCall(_) | CallError::Unsupported(_) => ErrorKind::BadRequest,
            CallError::Credential { .. } => ErrorKind::Authentication,
            CallError::CpuLimit(_)
            | CallError::MemoryLimit { .. }
            | CallError::Trap(_)
            | CallError::OutputTooLarge { .. }
            | CallError::Refused(_) => ErrorKind::Internal,
        }
    }

    /// How long the provider asked callers to wait, when it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            CallError::Provider(e) => e.retry_after_ms.map(Duration::from_millis),
            _ => None,
        }
    }
}

impl CallError {
    /// Replaces every occurrence of the call's secrets in a provider error's text with
    /// `[redacted]` and drops headers that hold one, so a key an upstream echoed back never
    /// reaches clients or logs.
    pub(crate) fn scrubbed<'a>(
        self,
        secrets: impl IntoIterator<Item = &'a crate::Secret> + Clone,
    ) -> CallError {
        match self {
            CallError::Provider(mut e) => {
                e.message = redact(&e.message, secrets.clone());
                e.provider_code = e.provider_code.map(|c| redact(&c, secrets.clone()));
                drop_leaking(&mut e.headers, secrets);
                CallError::Provider(e)
            }
            other => other,
        }
    }
}

/// Raised by the epoch callback when the guest's CPU budget is spent.
#[derive(Debug, thiserror::Error)]
#[error("CPU time limit exceeded")]
pub(crate) struct CpuBudgetExceeded;

/// Raised by the resource limiter when the guest grows memory past its cap.
#[derive(Debug, thiserror::Error)]
#[error("memory limit of {limit} bytes exceeded (asked for {desired})")]
pub(crate) struct MemoryLimitExceeded {
    pub(crate) limit: usize,
    pub(crate) desired: usize,
}

/// Classifies a failure raised while running guest code.
pub(crate) fn from_guest_failure(err: wasmtime::Error, cpu: Duration) -> CallError {
    if err.downcast_ref::<CpuBudgetExceeded>().is_some() {
        return CallError::CpuLimit(cpu);
    }
    if let Some(m) = err.downcast_ref::<MemoryLimitExceeded>() {
        return CallError::MemoryLimit { limit: m.limit };
    }
    if let Some(full) = err.downcast_ref::<wasmtime::PoolConcurrencyLimitError>() {
        return CallError::RuntimeFull(full.to_string());
    }
    // The outer context of a wasmtime error is often only "error while executing at wasm
    // backtrace:"; the trap code or the root cause says what happened.
    let message = match err.downcast_ref::<wasmtime::Trap>() {
        Some(trap) => trap.to_string(),
        None => err.root_cause().to_string(),
    };
    CallError::Trap(
        message
            .lines()
            .next()
            .unwrap_or("unknown failure")
            .to_string(),
    )
}
