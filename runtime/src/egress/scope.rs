//! Credential scope: the requests an adapter may send with the credential, by method and path.
//!
//! An adapter declares its uses in `info()` (`POST /chat/completions`); the operator may narrow
//! or widen them per adapter. Paths are prefixes relative to the path of the API base, `*`
//! matches within one segment, and a path with `.`/`..` segments (plain or percent-encoded) is
//! never admitted, so a declared prefix cannot be walked out of.

use std::fmt;

/// One kind of request that may carry the credential.
#[derive(Clone, PartialEq, Eq)]
pub struct CredentialUse {
    /// Upper-case method, or `*`.
    method: String,
    /// Path prefix pattern, starting with `/`.
    path: String,
}

/// Why a credential use did not parse.
#[derive(Debug, thiserror::Error)]
#[error("invalid credential use `{spec}`: {reason}")]
pub struct CredentialUseError {
    spec: String,
    reason: &'static str,
}

const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "*"];

impl CredentialUse {
    /// A use from a method (`POST`, `*`, ...) and a path prefix (`/chat/completions`).
    pub fn new(method: &str, path: &str) -> Result<CredentialUse, CredentialUseError> {
        let err = |reason| CredentialUseError {
            spec: format!("{method} {path}"),
            reason,
        };
        let method = method.trim().to_ascii_uppercase();
        if !METHODS.contains(&method.as_str()) {
            return Err(err(
                "the method must be GET, POST, PUT, PATCH, DELETE, HEAD or *",
            ));
        }
        let path = path.trim();
        if !path.starts_with('/') || path.contains(['?', '#', ' ']) {
            return Err(err("the path must start with `/` and hold no query"));
        }
        if !is_normal(path) {
            return Err(err("the path may not hold `.` or `..` segments"));
        }
        Ok(CredentialUse {
            method,
            path: path.to_string(),
        })
    }

    /// Parses `METHOD /path`, the form the config and `wasmgate adapters` use.
    pub fn parse(spec: &str) -> Result<CredentialUse, CredentialUseError> {
        match spec.trim().split_once(char::is_whitespace) {
            Some((method, path)) => CredentialUse::new(method, path),
            None => Err(CredentialUseError {
                spec: spec.to_string(),
                reason: "expected `METHOD /path`, e.g. `POST /chat/completions`",
            }),
        }
    }

    /// Whether a request with `method` to `path` (relative to the API base, no query) is this
    /// use.
    pub fn admits(&self, method: &str, path: &str) -> bool {
        (self.method == "*" || self.method.eq_ignore_ascii_case(method))
            && is_normal(path)
            && prefix_matches(self.path.as_bytes(), path.as_bytes())
    }
}

impl fmt::Display for CredentialUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

impl fmt::Debug for CredentialUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// `false` when a segment is `.` or `..`, also percent-encoded, or holds an encoded `/` or `\`.
fn is_normal(path: &str) -> bool {
    path.split('/').all(|segment| {
        let lower = segment.to_ascii_lowercase();
        if lower.contains("%2f") || lower.contains("%5c") || lower.contains('\\') {
            return false;
        }
        let decoded = lower.replace("%2e", ".");
        decoded != "." && decoded != ".."
    })
}

/// Whether `pattern` matches a prefix of `path` that ends at a segment boundary (the end, `/`
/// or, after a pattern ending in `/`, anywhere).
fn prefix_matches(pattern: &[u8], path: &[u8]) -> bool {
    match pattern.split_first() {
        None => false,
        Some((b'*', rest)) => {
            // `*` takes a non-empty run of non-`/` bytes, shortest first: `/files/*` names a
            // file, never the listing at `/files/`.
            let segment_end = path.iter().position(|&b| b == b'/').unwrap_or(path.len());
            (1..=segment_end).any(|n| match rest.is_empty() {
                true => n == segment_end,
                false => prefix_matches(rest, &path[n..]),
            })
        }
        Some((&p, rest)) => match path.split_first() {
            Some((&c, tail)) if c == p => {
                if rest.is_empty() {
                    p == b'/' || tail.is_empty() || tail[0] == b'/'
                } else {
                    prefix_matches(rest, tail)
                }
            }
            _ => false,
        },
    }
}

/// The part of `path` under `base` (the API base's path), or `None` when it is not under it.
pub(crate) fn under_base<'a>(base: &str, path: &'a str) -> Option<&'a str> {
    let base = base.trim_end_matches('/');
    let rest = path.strip_prefix(base)?;
    if rest.is_empty() {
        Some("/")
    } else if rest.starts_with('/') {
        Some(rest)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admits(spec: &str, method: &str, path: &str) -> bool {
        CredentialUse::parse(spec).unwrap().admits(method, path)
    }

    #[test]
    fn method_and_path_prefix() {
        assert!(admits(
            "POST /chat/completions",
            "POST",
            "/chat/completions"
        ));
        assert!(admits(
            "post /chat/completions",
            "POST",
            "/chat/completions"
        ));
        assert!(!admits(
            "POST /chat/completions",
            "GET",
            "/chat/completions"
        ));
        assert!(!admits(
            "POST /chat/completions",
            "DELETE",
            "/chat/completions"
        ));
        assert!(!admits(
            "POST /chat/completions",
            "POST",
            "/chat/completionsX"
        ));
        assert!(admits(
            "POST /chat/completions",
            "POST",
            "/chat/completions/x"
        ));
        assert!(!admits("POST /chat/completions", "POST", "/files"));
        assert!(!admits(
            "POST /chat/completions",
            "POST",
            "/chat/xompletions"
        ));
        assert!(!admits("POST /chat/completions", "POST", "/"));
        assert!(admits("* /files/", "DELETE", "/files/abc"));
        assert!(!admits("* /files/", "DELETE", "/files"));
    }

    #[test]
    fn wildcards_stay_in_one_segment() {
        let gen = "POST /models/*:generateContent";
        assert!(admits(gen, "POST", "/models/gemini-3-pro:generateContent"));
        assert!(!admits(gen, "POST", "/models/a/b:generateContent"));
        assert!(!admits(gen, "POST", "/models/x:countTokens"));
        let azure = "POST /openai/deployments/*/chat/completions";
        assert!(admits(
            azure,
            "POST",
            "/openai/deployments/gpt4/chat/completions"
        ));
        assert!(!admits(azure, "POST", "/openai/deployments/gpt4/files"));
        // `*` never matches an empty segment.
        assert!(admits("GET /files/*", "GET", "/files/abc"));
        assert!(admits("GET /files/*", "GET", "/files/a"));
        assert!(admits("GET /files/*", "GET", "/files/a/content"));
        assert!(!admits("GET /files/*", "GET", "/files/"));
        assert!(!admits("GET /files/*", "GET", "/files"));
        assert!(!admits(
            azure,
            "POST",
            "/openai/deployments//chat/completions"
        ));
    }

    #[test]
    fn encoded_separators_each_make_a_path_abnormal() {
        for path in ["/a%2fb", "/a%2Fb", "/a%5cb", "/a\\b", "/%2e%2e/x", "/./x"] {
            assert!(!is_normal(path), "{path}");
            assert!(!admits("* /", "GET", path), "{path}");
        }
        assert!(is_normal("/v1/chat.completions/%41"));
    }

    #[test]
    fn uses_print_as_written() {
        let u = CredentialUse::parse("post /chat/completions").unwrap();
        assert_eq!(format!("{u}"), "POST /chat/completions");
        assert_eq!(format!("{u:?}"), "POST /chat/completions");
    }

    #[test]
    fn dot_segments_never_match() {
        let spec = "POST /chat/completions";
        for path in [
            "/chat/completions/../../files",
            "/chat/completions/%2e%2e/files",
            "/chat/completions/%2E%2e/x",
            "/chat/completions/.",
            "/chat/completions%2f..%2ffiles",
            "/chat/completions\\..\\files",
        ] {
            assert!(!admits(spec, "POST", path), "{path}");
        }
        assert!(CredentialUse::parse("POST /a/../b").is_err());
    }

    #[test]
    fn bad_specs_are_refused() {
        for spec in ["POST", "FETCH /x", "POST x", "POST /x?y=1", ""] {
            assert!(CredentialUse::parse(spec).is_err(), "{spec}");
        }
    }

    #[test]
    fn paths_are_taken_relative_to_the_base() {
        assert_eq!(under_base("/v1", "/v1/chat"), Some("/chat"));
        assert_eq!(under_base("/v1/", "/v1/chat"), Some("/chat"));
        assert_eq!(under_base("", "/v1/chat"), Some("/v1/chat"));
        assert_eq!(under_base("/", "/v1/chat"), Some("/v1/chat"));
        assert_eq!(under_base("/v1", "/v10/chat"), None);
        assert_eq!(under_base("/v1", "/other"), None);
        assert_eq!(under_base("/v1", "/v1"), Some("/"));
    }
}
