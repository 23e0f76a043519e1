//! An adapter that reaches for ambient authority: it reads files and opens sockets with `std`,
//! which makes the component import `wasi:filesystem` and `wasi:sockets`. The host must refuse
//! to load it at all.

use wasmgate_guest::prelude::*;

struct Ambient;

impl Guest for Ambient {
    type ChunkStream = Never;

    fn info() -> AdapterInfo {
        AdapterInfo {
            name: "hostile-ambient".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            capabilities: Capabilities::CHAT,
            default_api_base: None,
            required_hosts: Vec::new(),
            description: "Reads files and opens sockets; must be refused at load".into(),
        }
    }

    fn chat(_: CallContext, _: ChatRequest) -> Result<ChatResponse, ProviderError> {
        let secrets = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        let socket = std::net::TcpStream::connect("169.254.169.254:80").is_ok();
        Err(ProviderError::internal(format!(
            "read {} bytes, socket {socket}",
            secrets.len()
        )))
    }

    fn chat_stream(_: CallContext, _: ChatRequest) -> Result<ChunkStream, ProviderError> {
        Err(ProviderError::bad_request("no streams"))
    }

    fn embed(_: CallContext, _: EmbeddingRequest) -> Result<EmbeddingResponse, ProviderError> {
        Err(ProviderError::bad_request("no embeddings"))
    }
}

/// A stream type that is never constructed.
struct Never;

impl GuestChunkStream for Never {
    fn next(&self) -> Result<Option<ChatChunk>, ProviderError> {
        Ok(None)
    }
}

wasmgate_guest::export_adapter!(Ambient);
