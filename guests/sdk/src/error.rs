//! Provider errors: constructors, and the mapping from an upstream HTTP status plus error body
//! (OpenAI, Anthropic and most other JSON shapes) to a WIT error kind.

use crate::bindings::wasmgate::provider::types::{ErrorKind, ProviderError};

/// The result type of every adapter operation.
pub type ProviderResult<T> = Result<T, ProviderError>;

impl ProviderError {
    /// An error of `kind` with no upstream status.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ProviderError {
            kind,
            status: None,
            message: message.into(),
            retry_after_ms: None,
            provider_code: None,
            headers: Vec::new(),
        }
    }

    /// The adapter's own failure (500).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    /// The request cannot be served by this provider (400).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadRequest, message)
    }

    /// The provider answered with something unusable (502).
    pub fn upstream(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::UpstreamError, message)
    }
}

/// A printable, bounded excerpt of a body for error messages.
pub fn snippet(body: &[u8]) -> String {
    const MAX: usize = 512;
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text.to_string(),
    }
}

/// Maps a non-2xx upstream answer to a provider error.
pub fn from_http(status: u16, headers: &[(String, String)], body: &[u8]) -> ProviderError {
    let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let (message, code) = json.as_ref().map(error_fields).unwrap_or((None, None));
    let message = message.unwrap_or_else(|| {
        let s = snippet(body);
        if s.is_empty() {
            format!("the provider answered HTTP {status}")
        } else {
            s
        }
    });
    let kind = kind_for(status, &message, code.as_deref());
    ProviderError {
        kind,
        status: Some(status),
        message,
        retry_after_ms: retry_after_ms(headers).or_else(|| json.as_ref().and_then(retry_delay_ms)),
        provider_code: code,
        headers: crate::http::passed_on(headers),
    }
}

/// Reads `message` and a code from `{"error": {...}}`, `{"error": "..."}`, `{"message": ...}`.
fn error_fields(v: &serde_json::Value) -> (Option<String>, Option<String>) {
    let err = v.get("error").unwrap_or(v);
    if let Some(s) = err.as_str() {
        return (Some(s.to_string()), None);
    }
    let text = |key: &str| {
        err.get(key).and_then(|x| match x {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    };
    let message = text("message").or_else(|| text("detail"));
    let code = text("code").or_else(|| text("type"));
    (message, code)
}

fn kind_for(status: u16, message: &str, code: Option<&str>) -> ErrorKind {
    let lower = message.to_ascii_lowercase();
    let code = code.unwrap_or("").to_ascii_lowercase();
    let context_window = code.contains("context_length")
        || [
            "context length",
            "context window",
            "maximum context",
            "prompt is too long",
            "too many tokens",
            "exceeds the maximum number of tokens",
        ]
        .iter()
        .any(|p| lower.contains(p));
    let content_policy = code.contains("content_policy")
        || code.contains("content_filter")
        || lower.contains("content management policy")
        || lower.contains("content policy");
    // Google answers a wrong key with 400 INVALID_ARGUMENT.
    let bad_key = lower.contains("api key not valid");
    match status {
        400 if bad_key => ErrorKind::Authentication,
        400 | 413 | 422 if context_window => ErrorKind::ContextWindowExceeded,
        400 | 422 if content_policy => ErrorKind::ContentPolicy,
        401 => ErrorKind::Authentication,
        403 => ErrorKind::PermissionDenied,
        404 => ErrorKind::NotFound,
        408 | 504 => ErrorKind::Timeout,
        429 => ErrorKind::RateLimited,
        503 | 529 => ErrorKind::Unavailable,
        500..=599 => ErrorKind::UpstreamError,
        _ => ErrorKind::BadRequest,
    }
}

/// Google's `RetryInfo` in an error body (`{"error": {"details": [{"retryDelay": "7s"}]}}`), in
/// milliseconds.
fn retry_delay_ms(v: &serde_json::Value) -> Option<u64> {
    v["error"]["details"]
        .as_array()?
        .iter()
        .find_map(|d| d["retryDelay"].as_str())
        .and_then(|s| s.strip_suffix('s'))
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| (s * 1000.0) as u64)
}

/// `retry-after-ms`, or `retry-after` in seconds or as an HTTP date.
fn retry_after_ms(headers: &[(String, String)]) -> Option<u64> {
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    };
    if let Some(ms) = get("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        return (ms.is_finite() && ms >= 0.0).then_some(ms as u64);
    }
    let value = get("retry-after")?;
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then_some((secs * 1000.0) as u64);
    }
    let at = parse_http_date(value)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    Some(at.saturating_sub(now) * 1000)
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) to Unix seconds.
fn parse_http_date(s: &str) -> Option<u64> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = months.iter().position(|m| m == month)? as u64 + 1;
    let day: u64 = day.parse().ok()?;
    let year: u64 = year.parse().ok()?;
    let hms: Vec<u64> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, sec] = hms.as_slice() else {
        return None;
    };
    // Days from civil date (Howard Hinnant's algorithm).
    let (y, mo) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * mo + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + m * 60 + sec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn maps_openai_errors() {
        let body = br#"{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}"#;
        let e = from_http(429, &h(&[("retry-after", "2")]), body);
        assert_eq!(e.kind, ErrorKind::RateLimited);
        assert_eq!(e.retry_after_ms, Some(2000));
        assert_eq!(e.message, "Rate limit reached");
        assert_eq!(e.provider_code.as_deref(), Some("rate_limit_exceeded"));

        let body = br#"{"error":{"message":"This model's maximum context length is 8192 tokens","code":"context_length_exceeded"}}"#;
        assert_eq!(
            from_http(400, &[], body).kind,
            ErrorKind::ContextWindowExceeded
        );
        assert_eq!(from_http(401, &[], b"nope").kind, ErrorKind::Authentication);
        assert_eq!(from_http(401, &[], b"nope").message, "nope");
        assert_eq!(from_http(503, &[], b"").kind, ErrorKind::Unavailable);
        assert_eq!(
            from_http(500, &[], b"").message,
            "the provider answered HTTP 500"
        );
    }

    #[test]
    fn maps_anthropic_errors() {
        let body =
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        let e = from_http(529, &h(&[("retry-after-ms", "1500")]), body);
        assert_eq!(e.kind, ErrorKind::Unavailable);
        assert_eq!(e.retry_after_ms, Some(1500));
        assert_eq!(e.provider_code.as_deref(), Some("overloaded_error"));
    }

    #[test]
    fn maps_google_errors() {
        let body = br#"{"error":{"code":429,"message":"Resource has been exhausted","status":"RESOURCE_EXHAUSTED",
            "details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"7s"}]}}"#;
        let e = from_http(429, &[], body);
        assert_eq!(e.kind, ErrorKind::RateLimited);
        assert_eq!(e.retry_after_ms, Some(7000));
        let body = br#"{"error":{"code":400,"message":"The input token count (250000) exceeds the maximum number of tokens allowed (1048576).","status":"INVALID_ARGUMENT"}}"#;
        assert_eq!(
            from_http(400, &[], body).kind,
            ErrorKind::ContextWindowExceeded
        );
        let body = br#"{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT"}}"#;
        assert_eq!(from_http(400, &[], body).kind, ErrorKind::Authentication);
    }

    #[test]
    fn parses_http_dates() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(parse_http_date("yesterday"), None);
        let e = from_http(
            429,
            &h(&[("retry-after", "Sun, 06 Nov 1994 08:49:37 GMT")]),
            b"",
        );
        assert_eq!(e.retry_after_ms, Some(0));
    }
}
