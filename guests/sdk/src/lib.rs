//! Guest SDK for wasmgate provider adapters.
//!
//! An adapter is a WebAssembly component built for `wasm32-wasip2` that implements the
//! `wasmgate:provider/adapter` interface. This crate gives it everything that is not translation:
//!
//! - [`bindings`]: the generated WIT bindings, and [`export_adapter!`] to export an implementation;
//!   [`counting`] and [`export_token_counter!`] for the optional token counter;
//! - [`http`]: requests over `wasi:http/outgoing-handler` with JSON bodies and a body reader that
//!   can be kept across calls (for streams);
//! - [`sse`]: a spec-compliant server-sent-events parser;
//! - [`stream`]: streamed answers in batches, one per upstream read;
//! - [`error`]: HTTP status and provider error bodies mapped to WIT error kinds;
//! - [`openai`]: the OpenAI wire format, for every OpenAI-compatible API;
//! - [`anthropic`]: the Anthropic Messages wire format (Anthropic, Claude on Vertex AI);
//! - [`gemini`]: Google's Gemini wire format (AI Studio, Gemini on Vertex AI);
//! - [`ollama`]: Ollama's native `/api/chat` and `/api/embed`;
//! - [`cohere`]: Cohere's v2 Chat and Embed;
//! - [`bedrock`]: Amazon Bedrock's Converse API and its embedding models;
//! - [`log`]: logging through the host;
//! - [`arena`]: the adapter's allocator, a bump arena that a per-call instance never needs to free.
//!
//! ```text
//! use wasmgate_guest::prelude::*;
//!
//! struct MyAdapter;
//! impl Guest for MyAdapter { /* info, chat, chat_stream, embed */ }
//! wasmgate_guest::export_adapter!(MyAdapter);
//! ```

#![allow(clippy::too_many_arguments)]

/// Bytes of the adapter's bump arena (see [`arena`]): enough for a whole chat call, so its
/// allocations never reach wasi-libc's `malloc`.
pub const CALL_ARENA_BYTES: usize = 512 * 1024;

#[cfg(all(
    feature = "call-arena",
    target_family = "wasm",
    not(target_feature = "atomics")
))]
#[global_allocator]
static CALL_ARENA: arena::CallArena<CALL_ARENA_BYTES> = arena::CallArena::new();

/// Generated bindings of the `wasmgate:provider/provider` world (and the WASI interfaces it uses).
#[allow(missing_docs, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "wasmgate:provider/provider",
        generate_all,
        pub_export_macro: true,
        export_macro_name: "export_adapter",
        default_bindings_module: "wasmgate_guest::bindings",
    });
}

/// Generated bindings of the optional `wasmgate:provider/token-counter` world: an adapter whose
/// provider counts tokens implements its `Guest` and adds [`export_token_counter!`].
#[allow(missing_docs, clippy::all)]
pub mod counting {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "wasmgate:provider/token-counter",
        with: {
            "wasmgate:provider/types@0.2.0": crate::bindings::wasmgate::provider::types,
        },
        pub_export_macro: true,
        export_macro_name: "export_token_counter",
        default_bindings_module: "wasmgate_guest::counting",
    });
}

pub mod anthropic;
pub mod arena;
pub mod bedrock;
pub mod cohere;
pub mod context;
pub mod error;
pub mod eventstream;
pub mod framed;
pub mod gemini;
pub mod http;
pub mod log;
pub mod ndjson;
pub mod ollama;
pub mod openai;
mod openai_typed;
pub mod response;
pub mod sse;
pub mod stream;
pub mod transport;
pub mod url;
pub mod wire;

pub use bindings::export_adapter;
pub use counting::export_token_counter;

/// The names an adapter needs, in one import.
pub mod prelude {
    pub use crate::bindings::exports::wasmgate::provider::adapter::{
        ChunkStream, Guest, GuestChunkStream, OpenedStream,
    };
    pub use crate::bindings::wasmgate::provider::types::*;
    pub use crate::error::ProviderResult;
    pub use crate::http::{Method, Request, Response};
    pub use crate::sse::{SseEvent, SseStream};
    pub use crate::stream::{ChunkPump, EventReader, Flow, PumpStream, Translate};
    pub use crate::url::UrlBuilder;
}
