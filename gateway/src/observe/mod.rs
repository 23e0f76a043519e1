//! What operators see of each request: a record filled in along the request path
//! ([`RequestRecord`]), finished once the response body is done (streams included) into one
//! access-log line and the Prometheus metrics ([`metrics`]).

mod access;
pub mod metrics;
pub mod otel;
mod record;

pub use access::observe_requests;
pub use metrics::Metrics;
pub use record::{current, Finished, RequestRecord};
