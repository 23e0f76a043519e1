//! Headers across the gateway: which upstream response headers reach the client (and under
//! which names), and which client request headers reach the adapter.

use http::{HeaderMap, HeaderName, HeaderValue};

/// Prefix under which every passed-on upstream header reaches the client (LiteLLM's name).
pub const UPSTREAM_PREFIX: &str = "llm_provider-";

/// Client headers forwarded to adapters unless the operator says otherwise.
pub const DEFAULT_FORWARDED: &[&str] = &["anthropic-beta", "anthropic-version", "openai-beta"];

/// Headers that never cross, in either direction: credentials, cookies, and what describes a
/// connection or a body.
const NEVER: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "api-key",
    "x-goog-api-key",
    "cookie",
    "set-cookie",
    "www-authenticate",
    "proxy-authenticate",
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "content-type",
    "content-encoding",
    "host",
    "te",
    "trailer",
    "upgrade",
];

/// Most upstream headers passed to one response.
const MAX_UPSTREAM_HEADERS: usize = 64;
/// Longest upstream header value passed on.
const MAX_VALUE_BYTES: usize = 1024;

/// Whether an upstream header also reaches the client under its own name: rate-limit counters
/// and retry hints, which clients and SDKs read by those names.
fn keeps_own_name(name: &str) -> bool {
    name.starts_with("x-ratelimit-")
        || name.starts_with("anthropic-ratelimit-")
        || name == "retry-after"
        || name == "retry-after-ms"
}

/// Adds the upstream headers an adapter passed on: each as `llm_provider-<name>`, rate-limit
/// and retry headers also as themselves.
pub fn add_upstream_headers(out: &mut HeaderMap, upstream: &[(String, String)]) {
    for (name, value) in upstream.iter().take(MAX_UPSTREAM_HEADERS) {
        let name = name.to_ascii_lowercase();
        if NEVER.contains(&name.as_str()) || value.len() > MAX_VALUE_BYTES {
            continue;
        }
        let Ok(value) = HeaderValue::from_str(value) else {
            continue;
        };
        if let Ok(prefixed) = HeaderName::try_from(format!("{UPSTREAM_PREFIX}{name}")) {
            out.append(prefixed, value.clone());
        }
        if keeps_own_name(&name) {
            if let Ok(own) = HeaderName::try_from(name.as_str()) {
                out.insert(own, value);
            }
        }
    }
}

/// Which client headers the operator forwards: exact names, or prefixes written `x-foo-*`.
#[derive(Debug, Clone)]
pub struct ForwardRule {
    patterns: Vec<String>,
}

impl Default for ForwardRule {
    fn default() -> Self {
        ForwardRule::new(DEFAULT_FORWARDED.iter().map(|s| s.to_string()))
    }
}

impl ForwardRule {
    /// A rule forwarding `patterns` (lower-cased).
    pub fn new(patterns: impl IntoIterator<Item = String>) -> Self {
        ForwardRule {
            patterns: patterns
                .into_iter()
                .map(|p| p.trim().to_ascii_lowercase())
                .collect(),
        }
    }

    fn admits(&self, name: &str) -> bool {
        !NEVER.contains(&name)
            && self.patterns.iter().any(|p| match p.strip_suffix('*') {
                Some(prefix) => name.starts_with(prefix),
                None => p == name,
            })
    }

    /// The client headers to hand the adapter.
    pub fn select(&self, headers: &HeaderMap) -> Vec<(String, String)> {
        headers
            .iter()
            .filter(|(name, _)| self.admits(name.as_str()))
            .filter_map(|(name, value)| {
                Some((name.as_str().to_string(), value.to_str().ok()?.to_string()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_headers_are_prefixed_and_rate_limits_kept() {
        let mut out = HeaderMap::new();
        let upstream = vec![
            (
                "x-ratelimit-remaining-requests".to_string(),
                "99".to_string(),
            ),
            ("x-request-id".to_string(), "req_1".to_string()),
            ("set-cookie".to_string(), "a=b".to_string()),
            ("bad name".to_string(), "x".to_string()),
        ];
        add_upstream_headers(&mut out, &upstream);
        assert_eq!(out["x-ratelimit-remaining-requests"], "99");
        assert_eq!(out["llm_provider-x-ratelimit-remaining-requests"], "99");
        assert_eq!(out["llm_provider-x-request-id"], "req_1");
        assert!(out.get("x-request-id").is_none());
        assert!(out.get("set-cookie").is_none() && out.get("llm_provider-set-cookie").is_none());
    }

    #[test]
    fn only_allowed_client_headers_are_forwarded() {
        let mut h = HeaderMap::new();
        h.insert("anthropic-beta", HeaderValue::from_static("tools-2024"));
        h.insert("x-team", HeaderValue::from_static("a"));
        h.insert("authorization", HeaderValue::from_static("Bearer sk"));
        h.insert("x-api-key", HeaderValue::from_static("sk"));
        let got = ForwardRule::default().select(&h);
        assert_eq!(got, vec![("anthropic-beta".into(), "tools-2024".into())]);
        let wide = ForwardRule::new(["x-*".to_string()]).select(&h);
        assert_eq!(wide, vec![("x-team".into(), "a".into())]);
    }
}
