//! wasmgate: an OpenAI-compatible LLM gateway whose provider adapters are sandboxed WebAssembly
//! components, run by [`wasmgate_runtime`].
//!
//! The binary is a thin layer over this library: [`cli`] parses arguments, [`config`] reads
//! LiteLLM-style YAML, [`registry`] loads adapters and resolves model names, [`router`] picks
//! deployments, retries and falls back, [`server`] speaks the
//! OpenAI HTTP API, and [`wire`] converts between OpenAI JSON and the WIT contract. Each other
//! client API has its own module over the same routing: [`anthropic`] (Messages),
//! [`responses`] (OpenAI Responses) and [`completions`] (legacy text completions).

pub mod admin;
pub mod answer_json;
pub mod anthropic;
pub mod builtin;
pub mod cache;
pub mod chunk_json;
pub mod cli;
pub mod completions;
pub mod config;
pub mod error;
pub mod front;
pub mod gateway;
pub mod headers;
pub mod keys;
pub mod logging;
pub mod observe;
pub mod pricing;
pub mod registry;
pub mod reload;
pub mod responses;
pub mod router;
pub mod scaffold;
pub mod server;
pub mod shared_store;
pub mod testkit;
pub mod wire;

pub use gateway::{Gateway, GatewayOptions};
