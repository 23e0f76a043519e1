//! Virtual keys: issued under the master key with LiteLLM's fields (models, budgets, rate
//! limits, expiry), stored hashed, with their spend.

pub mod limits;
pub mod routes;
pub mod service;
pub mod shared;
pub mod spec;
pub mod store;

pub use service::{unix_now, Admission, Caller, KeyService, LiveKey};
pub use spec::{KeySpec, SpecError};
pub use store::{KeyRecord, KeyStore, SpendEntry, StoreError};

use base64::Engine as _;

/// A new key: `sk-` and 32 random bytes, base64url.
pub fn generate_key() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    format!(
        "sk-{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// What the database holds for `key`: its SHA-256, hex.
pub fn token_of(key: &str) -> String {
    wasmgate_runtime::sha256_hex(key.as_bytes())
}

/// `sk-…` and the key's last four characters.
pub fn preview_of(key: &str) -> String {
    let tail: String = key
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("sk-…{tail}")
}
