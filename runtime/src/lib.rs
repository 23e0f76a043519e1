//! wasmgate's embeddable runtime: load LLM provider adapters (WebAssembly components of the
//! `wasmgate:provider` world) and call them under a sandbox.
//!
//! Each call gets a fresh instance from a pre-linked `InstancePre`, with nothing ambient: no
//! files, environment, arguments or sockets. Its only way out is `wasi:http`, which the host
//! filters: an allow-list per adapter, an SSRF guard that vets resolved addresses, sealed
//! credentials (the adapter sees a placeholder; the host swaps the real key in toward allowed
//! hosts only), timeouts and size caps, over one shared connection pool. Memory, CPU time
//! (epoch ticks), wall time and concurrency are bounded; a trap or a limit hit becomes a
//! [`CallError`] and the host keeps serving.
//!
//! ```
//! use wasmgate_runtime::{AdapterPolicy, CallOptions, Runtime, RuntimeConfig, Secret};
//! use wasmgate_runtime::types::{ChatRequest, Message, MessageContent, Role};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! # let upstream = wasmgate_test_support::upstream::Upstream::start().await;
//! # let api_base = upstream.url();
//! # let adapter_file = wasmgate_test_support::guest_wasm("openai");
//! let runtime = Runtime::new(RuntimeConfig::default())?;
//! // The adapter may reach each call's api_base and nothing else.
//! let openai = runtime.load_file(&adapter_file, AdapterPolicy::default()).await?;
//! let call = CallOptions {
//!     deployment_model: "gpt-4o-mini".into(),
//!     api_base: Some(api_base), // e.g. "https://api.openai.com/v1"
//!     // Sealed: the adapter sees a placeholder the host swaps for the key on the way out.
//!     credential: Some(Secret::new("sk-...")),
//!     ..Default::default()
//! };
//! let request = ChatRequest {
//!     messages: vec![Message {
//!         role: Role::User,
//!         content: Some(MessageContent::Text("Hello!".into())),
//!         ..wasmgate_runtime::empty_message()
//!     }],
//!     ..wasmgate_runtime::chat_request("gpt-4o-mini")
//! };
//! let answer = openai.chat(&call, &request).await?;
//! println!("{:?}", answer.choices[0].message.content);
//! # assert!(answer.choices[0].message.content.is_some());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! `examples/embed-rust` is a whole program: streaming, embeddings, and what to do about each
//! kind of failure.

mod adapter;
mod ambient;
mod bindings;
mod cache;
mod credential;
pub mod egress;
mod error;
mod exports;
mod imports;
mod output;
mod policy;
mod runtime;
mod state;
pub mod stats;
mod stream;

pub use adapter::{Adapter, CallMetrics, CallOptions};
pub use cache::sha256_hex;
pub use credential::{
    AwsCredentials, Grant, Secret, SignError, TokenError, TokenSource, GOOGLE_CLOUD_SCOPE,
    GOOGLE_TOKEN_URL, PLACEHOLDER_PREFIX,
};
pub use error::{CallError, RuntimeError};
pub use imports::{ComponentShape, CONTRACT_VERSION};
pub use policy::{AdapterPolicy, Limits};
pub use runtime::{default_cache_dir, EmbeddedComponent, Runtime, RuntimeConfig};
pub use stats::{AdapterStats, StatsSnapshot};
pub use stream::ChatStream;

/// The WIT types of the `wasmgate:provider` contract, as host Rust types.
pub mod types {
    pub use crate::bindings::types::*;
}

use types::{ChatRequest, Message, Role};

/// A chat request for `model` with every optional field unset and no messages.
pub fn chat_request(model: &str) -> ChatRequest {
    ChatRequest {
        model: model.to_string(),
        messages: Vec::new(),
        tools: Vec::new(),
        tool_choice: None,
        parallel_tool_calls: None,
        response_format: None,
        temperature: None,
        top_p: None,
        top_k: None,
        max_tokens: None,
        max_completion_tokens: None,
        stop: Vec::new(),
        seed: None,
        presence_penalty: None,
        frequency_penalty: None,
        n: None,
        user: None,
        logprobs: None,
        top_logprobs: None,
        reasoning_effort: None,
        include_usage: false,
        extra: None,
    }
}

/// A chat request for `model` holding one user message, `text`.
pub fn user_request(model: &str, text: &str) -> ChatRequest {
    ChatRequest {
        messages: vec![Message {
            role: Role::User,
            content: Some(types::MessageContent::Text(text.to_string())),
            ..empty_message()
        }],
        ..chat_request(model)
    }
}

/// A user message with every optional field unset and no content.
pub fn empty_message() -> Message {
    Message {
        role: Role::User,
        content: None,
        name: None,
        tool_calls: Vec::new(),
        tool_call_id: None,
        reasoning: Vec::new(),
        extra: None,
    }
}

impl From<&str> for types::EmbeddingInput {
    fn from(text: &str) -> Self {
        types::EmbeddingInput::Text(text.to_string())
    }
}

impl types::EmbeddingVector {
    /// The vector's floats, when it is in the float encoding.
    pub fn as_floats(&self) -> Option<&[f32]> {
        match self {
            types::EmbeddingVector::Float(v) => Some(v),
            _ => None,
        }
    }
}
