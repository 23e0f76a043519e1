//! Sealed credentials: the adapter gets a random placeholder, and the host swaps the real key in
//! on the way out, only toward hosts allowed to receive it.

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

/// A fresh placeholder for one call: the prefix and 128 random bits in hex.
pub(crate) fn new_placeholder() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    format!("{PLACEHOLDER_PREFIX}{}", hex::encode(bytes))
}

/// How one call's credential reaches the upstream.
#[derive(Clone, Debug)]
pub(crate) enum SealedCredential {
    /// No credential for this call.
    None,
    /// The adapter holds `placeholder`; the host substitutes `secret` for it.
    Sealed { placeholder: String, secret: Secret },
    /// The adapter was granted the real key.
    Raw,
}

impl SealedCredential {
    /// The value handed to the adapter, and the host-side record of it.
    pub(crate) fn seal(secret: Option<&Secret>, raw: bool) -> (Option<String>, SealedCredential) {
        match secret {
            None => (None, SealedCredential::None),
            Some(s) if raw => (Some(s.expose().to_string()), SealedCredential::Raw),
            Some(s) => {
                let placeholder = new_placeholder();
                (
                    Some(placeholder.clone()),
                    SealedCredential::Sealed {
                        placeholder,
                        secret: s.clone(),
                    },
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_print() {
        let s = Secret::new("sk-live-123");
        assert!(!format!("{s:?} {s}").contains("sk-live"));
    }

    #[test]
    fn placeholders_are_fresh_and_sealed() {
        let key = Secret::new("sk-live-123");
        let (a, sealed) = SealedCredential::seal(Some(&key), false);
        let (b, _) = SealedCredential::seal(Some(&key), false);
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!(a.starts_with(PLACEHOLDER_PREFIX) && a != b && !a.contains("sk-live"));
        assert!(matches!(sealed, SealedCredential::Sealed { .. }));
        assert!(!format!("{sealed:?}").contains("sk-live"));
        let (raw, _) = SealedCredential::seal(Some(&key), true);
        assert_eq!(raw.as_deref(), Some("sk-live-123"));
    }
}
