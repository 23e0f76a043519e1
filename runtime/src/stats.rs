//! Counters of what an adapter's sandbox did, for an embedder's metrics: instances created,
//! calls the sandbox stopped (by cause), and outgoing requests the host refused (by reason).
//! Shared by every policy variant of one loaded adapter ([`crate::Adapter::with_policy`]).

use crate::egress::Refusal;
use crate::error::CallError;
use std::sync::atomic::{AtomicU64, Ordering};

/// Why the host refused an outgoing request, as a short metric label.
pub const REFUSAL_REASONS: &[&str] = &[
    "not_allowed",
    "request_limit",
    "credential_in_url",
    "credential_host",
    "credential_use",
    "credential_in_body",
    "no_signing_credential",
    "bad_signing_request",
    "ssrf",
    "socket",
];

/// Why the sandbox stopped a call, as a short metric label.
pub const STOP_CAUSES: &[&str] = &["cpu", "memory", "timeout", "trap"];

/// The label of a refusal.
pub fn refusal_reason(r: &Refusal) -> &'static str {
    match r {
        Refusal::NotAllowed => "not_allowed",
        Refusal::RequestLimit(_) => "request_limit",
        Refusal::CredentialInUrl => "credential_in_url",
        Refusal::CredentialHost => "credential_host",
        Refusal::CredentialUse { .. } => "credential_use",
        Refusal::CredentialInBody => "credential_in_body",
        Refusal::NoSigningCredential => "no_signing_credential",
        Refusal::BadSigningRequest(_) => "bad_signing_request",
    }
}

/// Live counters of one adapter.
#[derive(Debug, Default)]
pub struct AdapterStats {
    instantiations: AtomicU64,
    stops: [AtomicU64; STOP_CAUSES.len()],
    refusals: [AtomicU64; REFUSAL_REASONS.len()],
}

/// The counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Instances created (one per call, plus load-time and health-check instances).
    pub instantiations: u64,
    /// Calls the sandbox stopped, by cause ([`STOP_CAUSES`] order).
    pub stops: Vec<(&'static str, u64)>,
    /// Outgoing requests refused, by reason ([`REFUSAL_REASONS`] order).
    pub refusals: Vec<(&'static str, u64)>,
}

impl AdapterStats {
    pub(crate) fn instantiated(&self) {
        self.instantiations.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a call's failure when the sandbox stopped it.
    pub(crate) fn failed(&self, e: &CallError) {
        let cause = match e {
            CallError::CpuLimit(_) => 0,
            CallError::MemoryLimit { .. } => 1,
            CallError::Timeout(_) => 2,
            CallError::Trap(_) => 3,
            _ => return,
        };
        self.stops[cause].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one refused outgoing request.
    pub(crate) fn refused(&self, reason: &str) {
        if let Some(i) = REFUSAL_REASONS.iter().position(|r| *r == reason) {
            self.refusals[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        let read = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            instantiations: read(&self.instantiations),
            stops: STOP_CAUSES
                .iter()
                .zip(&self.stops)
                .map(|(n, c)| (*n, read(c)))
                .collect(),
            refusals: REFUSAL_REASONS
                .iter()
                .zip(&self.refusals)
                .map(|(n, c)| (*n, read(c)))
                .collect(),
        }
    }
}
