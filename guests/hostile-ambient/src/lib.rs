//! An adapter that reaches for ambient authority with `std`: it reads files, lists directories,
//! opens TCP and UDP sockets and resolves names, which makes the component import
//! `wasi:filesystem` and `wasi:sockets` (as CPython and SpiderMonkey components always do). The
//! host links those imports without capability; `chat` reports what each attempt got, and every
//! one must fail.
//!
//! Setting `connect`: an extra `host:port` to try to connect to (a listener the test watches).

use std::net::{TcpStream, ToSocketAddrs, UdpSocket};
use std::time::Duration;
use wasmgate_guest::prelude::*;

struct Ambient;

/// `denied(<io error kind>)`, or `GRANTED` when the attempt worked.
fn outcome<T>(attempt: std::io::Result<T>) -> String {
    match attempt {
        Ok(_) => "GRANTED".into(),
        Err(e) => format!("denied({:?})", e.kind()),
    }
}

fn attempts(ctx: &CallContext) -> Vec<(String, String)> {
    let mut out = vec![
        (
            "read /etc/passwd".to_string(),
            outcome(std::fs::read("/etc/passwd")),
        ),
        ("list /".into(), outcome(std::fs::read_dir("/"))),
        ("list .".into(), outcome(std::fs::read_dir("."))),
        (
            "create /tmp/x".into(),
            outcome(std::fs::write("/tmp/wasmgate-ambient", b"x")),
        ),
        (
            "tcp 169.254.169.254:80".into(),
            outcome(TcpStream::connect_timeout(
                &"169.254.169.254:80".parse().expect("address"),
                Duration::from_secs(1),
            )),
        ),
        (
            "dns localhost".into(),
            outcome("localhost:80".to_socket_addrs()),
        ),
        ("udp bind".into(), outcome(UdpSocket::bind("0.0.0.0:0"))),
    ];
    if let Some(target) = ctx.setting("connect") {
        out.push((format!("tcp {target}"), outcome(TcpStream::connect(target))));
    }
    out
}

impl Guest for Ambient {
    type ChunkStream = Never;

    fn info() -> AdapterInfo {
        AdapterInfo {
            name: "hostile-ambient".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            capabilities: Capabilities::CHAT,
            default_api_base: None,
            required_hosts: Vec::new(),
            credential_uses: Vec::new(),
            description: "Tries files, sockets and name lookup; reports what it got".into(),
        }
    }

    fn chat(ctx: CallContext, req: ChatRequest) -> Result<ChatResponse, ProviderError> {
        let report = attempts(&ctx)
            .into_iter()
            .map(|(what, got)| format!("{what}: {got}"))
            .collect::<Vec<_>>()
            .join("\n");
        Ok(ChatResponse::text("ambient", req.model, report))
    }

    fn chat_stream(_: CallContext, _: ChatRequest) -> Result<OpenedStream, ProviderError> {
        Err(ProviderError::bad_request("no streams"))
    }

    fn embed(_: CallContext, _: EmbeddingRequest) -> Result<EmbeddingResponse, ProviderError> {
        Err(ProviderError::bad_request("no embeddings"))
    }
}

/// A stream type that is never constructed.
struct Never;

impl GuestChunkStream for Never {
    fn next(&self) -> Result<Vec<ChatChunk>, ProviderError> {
        Ok(Vec::new())
    }
}

wasmgate_guest::export_adapter!(Ambient);
