//! Failures as they cross into Python: one exception type each for calls and loads, carrying the
//! error as JSON that the Python half turns into its typed exceptions.

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::PyErr;
use serde_json::json;
use wasmgate::error::ApiError;
use wasmgate_runtime::types::ErrorKind;
use wasmgate_runtime::CallError;

create_exception!(
    _native,
    CallFailed,
    PyException,
    "A call failed; its one argument is the error as JSON."
);
create_exception!(
    _native,
    LoadFailed,
    PyException,
    "An adapter could not be loaded."
);

fn kind_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::BadRequest => "bad_request",
        ErrorKind::Authentication => "authentication",
        ErrorKind::PermissionDenied => "permission_denied",
        ErrorKind::NotFound => "not_found",
        ErrorKind::RateLimited => "rate_limited",
        ErrorKind::ContextWindowExceeded => "context_window_exceeded",
        ErrorKind::ContentPolicy => "content_policy",
        ErrorKind::Timeout => "timeout",
        ErrorKind::Unavailable => "unavailable",
        ErrorKind::UpstreamError => "upstream_error",
        ErrorKind::Internal => "internal",
    }
}

/// What stopped the call, besides the provider's own answer.
fn reason(e: &CallError) -> &'static str {
    match e {
        CallError::Provider(_) => "provider",
        CallError::CpuLimit(_) => "cpu_limit",
        CallError::MemoryLimit { .. } => "memory_limit",
        CallError::Timeout(_) => "timeout",
        CallError::Trap(_) => "trap",
        CallError::OutputTooLarge { .. } => "output_too_large",
        CallError::Overloaded(_) | CallError::RuntimeFull(_) => "overloaded",
        CallError::InvalidCall(_) => "invalid_call",
        CallError::Unsupported(_) => "unsupported",
        CallError::Credential { .. } => "credential",
        CallError::Refused(_) => "egress_refused",
    }
}

fn raise(reason: &str, kind: &str, error: ApiError) -> PyErr {
    let body = json!({
        "reason": reason,
        "kind": kind,
        "status": error.status.as_u16(),
        "type": error.kind,
        "code": error.code,
        "param": error.param,
        "message": error.message,
        "retry_after": error.retry_after.map(|d| d.as_secs_f64()),
    });
    CallFailed::new_err(body.to_string())
}

/// A failed call (the runtime has already scrubbed secrets from it).
pub(crate) fn call_failed(e: CallError) -> PyErr {
    let (reason, kind) = (reason(&e), kind_name(e.kind()));
    raise(reason, kind, ApiError::from(e))
}

/// A request the adapter never saw because it is not a valid OpenAI request.
pub(crate) fn invalid_request(e: ApiError) -> PyErr {
    raise("invalid_request", kind_name(ErrorKind::BadRequest), e)
}
