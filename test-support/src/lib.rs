//! Helpers for wasmgate's tests and benchmarks: the guest adapters built from `guests/`, a real
//! OpenAI-compatible HTTP upstream on 127.0.0.1 (and provider-shaped ones: [`anthropic`], [`azure`], [`gemini`],
//! [`ollama`], [`vertex`], [`cohere`]), and a
//! small HTTP client.

pub mod anthropic;
pub mod auth;
pub mod azure;
pub mod bedrock;
pub mod client;
pub mod cohere;
pub mod fixture;
pub mod gemini;
pub mod guests;
pub mod ollama;
pub mod pki;
pub mod scripted;
mod serve;
pub mod upstream;
pub mod vertex;

pub use guests::{example_wasm, guest_wasm, workspace_root};
pub use scripted::{ScriptedUpstream, Step};
pub use upstream::{Recorded, Upstream};
