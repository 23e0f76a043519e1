//! What an adapter is allowed to do: where it may connect, where its credential may go, and how
//! much memory, CPU and time it gets. Every default is safe for an untrusted adapter.

use crate::egress::{AllowedHost, CredentialUse};
use std::time::Duration;

/// Resource limits of one adapter.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Linear memory an instance may grow to, in bytes.
    pub memory_bytes: usize,
    /// CPU time the guest may run per call (per `next` for streams), measured in epoch ticks of
    /// guest execution; waits for the network do not count.
    pub cpu_time: Duration,
    /// Wall-clock bound on a whole call (instantiation, upstream round trips, answer).
    pub call_timeout: Duration,
    /// Wall-clock bound on one `next` of a stream.
    pub stream_next_timeout: Duration,
    /// Wall-clock bound on a whole stream, however steadily it produces chunks.
    pub stream_timeout: Duration,
    /// Largest answer (text, tool arguments, vectors) an adapter may return from one call or
    /// one stream chunk, in bytes.
    pub max_output_bytes: usize,
    /// Instances of this adapter that may run at once.
    pub max_concurrency: usize,
    /// How long a call may wait for a free slot before failing as overloaded.
    pub queue_timeout: Duration,
    /// Bound on waiting for an upstream's response head.
    pub first_byte_timeout: Duration,
    /// Bound on an upstream's silence between body bytes.
    pub between_bytes_timeout: Duration,
    /// Largest upstream response body, in bytes.
    pub max_response_bytes: u64,
    /// Live resource handles (streams, requests, ...) one instance may hold.
    pub max_resources: usize,
    /// Bytes the guest may pass to the host in one host call.
    pub hostcall_fuel: usize,
    /// Size budget of the headers of one request or response the guest builds.
    pub max_header_bytes: usize,
    /// Table elements an instance may grow to.
    pub max_table_elements: usize,
    /// Outgoing requests one call (or one whole stream) may make.
    pub max_requests_per_call: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 128 << 20,
            cpu_time: Duration::from_millis(1000),
            call_timeout: Duration::from_secs(600),
            stream_next_timeout: Duration::from_secs(300),
            stream_timeout: Duration::from_secs(1800),
            max_output_bytes: 16 << 20,
            max_concurrency: 512,
            queue_timeout: Duration::from_secs(5),
            first_byte_timeout: Duration::from_secs(600),
            between_bytes_timeout: Duration::from_secs(300),
            max_response_bytes: 64 << 20,
            max_resources: 1024,
            hostcall_fuel: 16 << 20,
            max_header_bytes: 64 << 10,
            max_table_elements: 100_000,
            max_requests_per_call: 4,
        }
    }
}

/// The sandbox policy of one adapter.
#[derive(Clone, Debug, Default)]
pub struct AdapterPolicy {
    /// Origins the adapter may reach. A call's `api_base` origin is always reachable as well.
    pub allowed_hosts: Vec<AllowedHost>,
    /// Origins that may receive the sealed credential; `None` means the same as
    /// `allowed_hosts`. A call's `api_base` origin may always receive it.
    pub credential_hosts: Option<Vec<AllowedHost>>,
    /// Lets `allowed_hosts` resolve to private and local addresses (the SSRF guard is off for
    /// them). A call's `api_base` may always be private: the operator wrote it.
    pub allow_private_networks: bool,
    /// Hands the real credential to the adapter instead of a placeholder (for adapters that must
    /// sign requests themselves).
    pub raw_credentials: bool,
    /// The requests that may carry the credential; `None` means those the adapter declares in
    /// `info()`. The operator narrows or widens an adapter's own list with this.
    pub credential_uses: Option<Vec<CredentialUse>>,
    /// Resource limits.
    pub limits: Limits,
}

impl AdapterPolicy {
    /// A policy with the given allow-list entries and default limits.
    pub fn allowing<I, S>(hosts: I) -> Result<Self, crate::egress::AllowedHostError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Ok(AdapterPolicy {
            allowed_hosts: hosts
                .into_iter()
                .map(|h| AllowedHost::parse(h.as_ref()))
                .collect::<Result<_, _>>()?,
            ..Default::default()
        })
    }
}
