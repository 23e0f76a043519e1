//! Everything an adapter's outgoing HTTP passes through: the allow-list, the SSRF guard, the
//! credential swap, timeouts and size caps, and the shared connection pool.

mod address;
mod allow;
mod body;
mod client;
mod hooks;
mod pool;
mod scope;

pub use address::is_public;
pub use allow::{AllowedHost, AllowedHostError, Destination};
pub use client::ClientConfig;
pub(crate) use client::{EgressClient, PooledClient};
pub(crate) use hooks::{ApiBase, CallEgress};
pub use hooks::{ParsedApiBase, Refusal, AWS_SIGV4_HEADER};
pub use scope::{CredentialUse, CredentialUseError};

/// The body type of requests and responses on the wasi-http path.
pub(crate) type WasiBody = wasmtime_wasi_http::WasiBody;
