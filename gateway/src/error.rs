//! Errors as clients see them: OpenAI's `{"error": {"message", "type", "param", "code"}}` with
//! the status code LiteLLM's exception table uses.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode};
use serde_json::json;
use std::time::Duration;
use wasmgate_runtime::types::{ErrorKind, ProviderError};
use wasmgate_runtime::CallError;

/// An error answered to a client.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Human-readable message.
    pub message: String,
    /// OpenAI's error `type`.
    pub kind: &'static str,
    /// The request parameter at fault.
    pub param: Option<String>,
    /// A machine-readable code.
    pub code: Option<String>,
    /// Sent as `retry-after` (seconds) when set.
    pub retry_after: Option<Duration>,
    /// Upstream headers the adapter passed on (filtered by [`crate::headers`] when answered);
    /// `None` when there are none. Boxed: errors travel in every `Result` of the request path,
    /// so they stay small.
    pub upstream_headers: Option<Box<Vec<(String, String)>>>,
}

impl ApiError {
    /// An error with `status`, OpenAI`s error `kind` and `message`.
    pub(crate) fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            kind,
            param: None,
            code: None,
            retry_after: None,
            upstream_headers: None,
        }
    }

    /// 502: the provider's answer could not be used.
    pub fn upstream(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_GATEWAY, "api_error", message)
    }

    /// 400 invalid_request_error.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
    }

    /// 400 naming the parameter at fault.
    pub fn invalid_param(param: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError {
            param: Some(param.into()),
            ..Self::bad_request(message)
        }
    }

    /// 401.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError {
            code: Some("invalid_api_key".into()),
            ..Self::new(StatusCode::UNAUTHORIZED, "authentication_error", message)
        }
    }

    /// 404 for an unknown model.
    pub fn model_not_found(message: impl Into<String>) -> Self {
        ApiError {
            param: Some("model".into()),
            code: Some("model_not_found".into()),
            ..Self::new(StatusCode::NOT_FOUND, "invalid_request_error", message)
        }
    }

    /// 404 for an unknown route.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "invalid_request_error", message)
    }

    /// 405 for a route that exists with another method.
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        ApiError {
            code: Some("method_not_allowed".into()),
            ..Self::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "invalid_request_error",
                message,
            )
        }
    }

    /// 401 for a deployment whose key variable is not set: refused before any network attempt.
    pub fn missing_key(model: &str, label: &str, var: &str) -> Self {
        ApiError {
            code: Some("missing_api_key".into()),
            ..Self::new(
                StatusCode::UNAUTHORIZED,
                "authentication_error",
                format!(
                    "model `{model}` (deployment {label}) has no API key: set the environment variable {var} where the gateway runs (or `api_key` in its config) and restart it"
                ),
            )
        }
    }

    /// Names the model and deployment in a failure the gateway or the transport reported
    /// (timeouts, unreachable hosts, adapter failures); the provider's own 4xx answers are left
    /// as the provider worded them.
    pub fn in_deployment(mut self, model: &str, label: &str) -> Self {
        if self.status.is_server_error() || self.status == StatusCode::REQUEST_TIMEOUT {
            self.message = format!("model `{model}` (deployment {label}): {}", self.message);
        }
        self
    }

    /// 429 for limits the gateway enforces itself.
    pub fn rate_limited(message: impl Into<String>) -> Self {
        ApiError {
            code: Some("rate_limit_exceeded".into()),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limit_error", message)
        }
    }

    /// 408 for a request body that did not arrive in time.
    pub fn body_timeout(limit: Duration) -> Self {
        ApiError {
            code: Some("request_timeout".into()),
            ..Self::new(
                StatusCode::REQUEST_TIMEOUT,
                "invalid_request_error",
                format!(
                    "the request body did not arrive within {} s",
                    limit.as_secs_f64()
                ),
            )
        }
    }

    /// 413.
    pub fn too_large(limit: usize) -> Self {
        ApiError {
            code: Some("request_too_large".into()),
            ..Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request_error",
                format!("the request body is larger than {limit} bytes"),
            )
        }
    }

    /// 500 for the gateway's own failures.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_server_error",
            message,
        )
    }

    /// Whether another deployment might succeed where this one failed.
    pub fn is_retryable(&self) -> bool {
        matches!(self.status.as_u16(), 408 | 409 | 429 | 500..=599)
    }

    /// The `{"error": ...}` object.
    pub fn body(&self) -> serde_json::Value {
        json!({"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}})
    }
}

fn provider_status(kind: ErrorKind) -> (StatusCode, &'static str, Option<&'static str>) {
    use ErrorKind as K;
    match kind {
        K::BadRequest => (StatusCode::BAD_REQUEST, "invalid_request_error", None),
        K::ContextWindowExceeded => (
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            Some("context_length_exceeded"),
        ),
        K::ContentPolicy => (
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            Some("content_policy_violation"),
        ),
        K::Authentication => (StatusCode::UNAUTHORIZED, "authentication_error", None),
        K::PermissionDenied => (StatusCode::FORBIDDEN, "permission_error", None),
        K::NotFound => (StatusCode::NOT_FOUND, "not_found_error", None),
        K::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "rate_limit_error", None),
        K::Timeout => (
            StatusCode::REQUEST_TIMEOUT,
            "timeout_error",
            Some("timeout"),
        ),
        K::Unavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable_error",
            None,
        ),
        K::UpstreamError => (StatusCode::BAD_GATEWAY, "api_error", None),
        K::Internal => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_server_error",
            None,
        ),
    }
}

impl From<ProviderError> for ApiError {
    fn from(e: ProviderError) -> Self {
        let (status, kind, code) = provider_status(e.kind);
        ApiError {
            status,
            message: e.message,
            kind,
            param: None,
            code: code.map(str::to_string).or(e.provider_code),
            retry_after: e.retry_after_ms.map(Duration::from_millis),
            upstream_headers: (!e.headers.is_empty()).then(|| Box::new(e.headers)),
        }
    }
}

impl From<CallError> for ApiError {
    fn from(e: CallError) -> Self {
        let message = e.to_string();
        match e {
            CallError::Provider(p) => p.into(),
            CallError::Timeout(_) => ApiError {
                code: Some("timeout".into()),
                ..Self::new(StatusCode::GATEWAY_TIMEOUT, "timeout_error", message)
            },
            CallError::Overloaded(_) | CallError::RuntimeFull(_) => ApiError {
                retry_after: Some(Duration::from_secs(1)),
                ..Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "service_unavailable_error",
                    message,
                )
            },
            CallError::InvalidCall(_) => Self::internal(message),
            CallError::Unsupported(_) => ApiError {
                code: Some("unsupported".into()),
                ..Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
            },
            CallError::Credential { .. } => ApiError {
                code: Some("credential_unavailable".into()),
                ..Self::new(StatusCode::UNAUTHORIZED, "authentication_error", message)
            },
            CallError::Refused(_) => ApiError {
                code: Some("egress_refused".into()),
                ..Self::internal(message)
            },
            CallError::CpuLimit(_)
            | CallError::MemoryLimit { .. }
            | CallError::Trap(_)
            | CallError::OutputTooLarge { .. } => ApiError {
                code: Some("adapter_failure".into()),
                ..Self::internal(message)
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        if let Some(upstream) = &self.upstream_headers {
            crate::headers::add_upstream_headers(response.headers_mut(), upstream);
        }
        if let Some(after) = self.retry_after {
            let secs = after.as_secs_f64().ceil().max(1.0) as u64;
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                response.headers_mut().insert(http::header::RETRY_AFTER, v);
            }
        }
        response
    }
}
