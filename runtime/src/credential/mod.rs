//! Sealed credentials: the adapter gets random placeholders, and the host swaps the real values
//! in on the way out, only toward hosts (and for requests) allowed to receive them.

mod aws;
mod token;

pub use aws::{AwsCredentials, SignError};
pub use token::{Grant, TokenError, TokenSource, GOOGLE_CLOUD_SCOPE, GOOGLE_TOKEN_URL};

use std::fmt;

/// A secret that never prints: `Debug` and `Display` show `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself. Call sites are the only places a key can leak: keep them few.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The prefix of every placeholder, so it is recognisable in logs and upstream captures.
pub const PLACEHOLDER_PREFIX: &str = "wasmgate-sealed-";

/// A fresh placeholder for one call: the prefix and 128 random bits in hex, from the thread's
/// cryptographically secure generator (ChaCha, reseeded from the operating system), so a call
/// costs no system call.
pub(crate) fn new_placeholder() -> String {
    use rand::Rng as _;
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    format!("{PLACEHOLDER_PREFIX}{}", hex::encode(bytes))
}

/// One sealed value: what the adapter holds, and what the host puts in its place.
#[derive(Clone, Debug)]
pub(crate) struct Sealed {
    pub(crate) placeholder: String,
    pub(crate) secret: Secret,
}

/// The secrets of one call, as the host keeps them.
#[derive(Clone, Debug, Default)]
pub(crate) struct Vault {
    /// Every sealed value of the call (the credential first, then secret headers).
    pub(crate) sealed: Vec<Sealed>,
}

impl Vault {
    /// Seals `secret`, returning what the adapter gets: a placeholder, or the secret itself
    /// when `raw` (the operator granted raw credentials; nothing is sealed then).
    pub(crate) fn seal(&mut self, secret: &Secret, raw: bool) -> String {
        if raw {
            return secret.expose().to_string();
        }
        let placeholder = new_placeholder();
        self.sealed.push(Sealed {
            placeholder: placeholder.clone(),
            secret: secret.clone(),
        });
        placeholder
    }

    /// Whether any placeholder of this call occurs in `text`.
    pub(crate) fn occurs_in(&self, text: &str) -> bool {
        self.next_placeholder(text).is_some()
    }

    /// `text` with every placeholder replaced by its secret.
    pub(crate) fn unseal(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some((at, sealed)) = self.next_placeholder(rest) {
            out.push_str(&rest[..at]);
            out.push_str(sealed.secret.expose());
            rest = &rest[at + sealed.placeholder.len()..];
        }
        out.push_str(rest);
        out
    }

    /// Where the first placeholder of this call in `text` starts, and whose it is. Every
    /// placeholder begins with [`PLACEHOLDER_PREFIX`], so one search for the prefix (its finder
    /// built once) rejects the usual text, which holds none.
    fn next_placeholder(&self, text: &str) -> Option<(usize, &Sealed)> {
        static PREFIX: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
            std::sync::LazyLock::new(|| memchr::memmem::Finder::new(PLACEHOLDER_PREFIX));
        let bytes = text.as_bytes();
        let mut from = 0;
        while let Some(found) = PREFIX.find(&bytes[from..]) {
            let at = from + found;
            let here = &bytes[at..];
            if let Some(sealed) = self
                .sealed
                .iter()
                .find(|s| here.starts_with(s.placeholder.as_bytes()))
            {
                return Some((at, sealed));
            }
            from = at + 1;
        }
        None
    }

    /// The placeholders, for scanning bodies.
    pub(crate) fn placeholders(&self) -> Vec<String> {
        self.sealed.iter().map(|s| s.placeholder.clone()).collect()
    }
}

/// `text` with every non-empty secret replaced by `[redacted]`.
pub(crate) fn redact<'a>(text: &str, secrets: impl IntoIterator<Item = &'a Secret>) -> String {
    secrets
        .into_iter()
        .map(Secret::expose)
        .filter(|s| !s.is_empty())
        .fold(text.to_string(), |t, s| t.replace(s, "[redacted]"))
}

/// Drops every header whose value holds one of `secrets` (an upstream that echoes a key).
pub(crate) fn drop_leaking<'a>(
    headers: &mut Vec<(String, String)>,
    secrets: impl IntoIterator<Item = &'a Secret> + Clone,
) {
    headers.retain(|(_, v)| {
        !secrets
            .clone()
            .into_iter()
            .any(|s| !s.expose().is_empty() && v.contains(s.expose()))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_print() {
        let s = Secret::new("sk-live-123");
        assert_eq!(format!("{s:?}"), "Secret([redacted])");
        assert_eq!(format!("{s}"), "[redacted]");
    }

    #[test]
    fn redaction_and_dropping_ignore_empty_secrets() {
        let key = Secret::new("sk-aaa");
        let empty = Secret::new("");
        assert_eq!(
            redact("x sk-aaa y sk-aaa", [&key, &empty]),
            "x [redacted] y [redacted]"
        );
        assert_eq!(redact("nothing here", [&empty]), "nothing here");
        let mut headers = vec![
            ("x-echo".to_string(), "Bearer sk-aaa".to_string()),
            ("x-request-id".to_string(), "req-1".to_string()),
        ];
        drop_leaking(&mut headers, [&key, &empty]);
        assert_eq!(
            headers,
            vec![("x-request-id".to_string(), "req-1".to_string())]
        );
        let mut untouched = vec![("a".to_string(), "b".to_string())];
        drop_leaking(&mut untouched, [&empty]);
        assert_eq!(untouched.len(), 1, "an empty secret drops nothing");
    }

    #[test]
    fn placeholders_are_fresh_and_sealed() {
        let key = Secret::new("sk-live-123");
        let mut vault = Vault::default();
        let a = vault.seal(&key, false);
        let b = vault.seal(&key, false);
        assert!(a.starts_with(PLACEHOLDER_PREFIX) && a != b && !a.contains("sk-live"));
        assert!(!format!("{vault:?}").contains("sk-live"));
        assert!(vault.occurs_in(&format!("Bearer {b}")) && !vault.occurs_in("Bearer x"));
        assert_eq!(vault.unseal(&format!("Bearer {a}")), "Bearer sk-live-123");
        let other = Secret::new("other");
        let c = vault.seal(&other, false);
        let near_miss = format!("{PLACEHOLDER_PREFIX}{PLACEHOLDER_PREFIX}x");
        assert!(!vault.occurs_in(&near_miss) && !vault.occurs_in(&a[..a.len() - 1]));
        assert_eq!(
            vault.unseal(&format!("{near_miss} {c},{a}{b}-{PLACEHOLDER_PREFIX}{c}")),
            format!("{near_miss} other,sk-live-123sk-live-123-{PLACEHOLDER_PREFIX}other")
        );
        assert_eq!(vault.sealed.len(), 3);
        vault.sealed.pop();
        assert_eq!(vault.sealed.len(), 2);
        assert_eq!(vault.seal(&key, true), "sk-live-123");
        assert_eq!(vault.sealed.len(), 2, "a raw credential is not sealed");
    }
}
