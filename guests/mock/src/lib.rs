//! An offline adapter with no network access: deterministic answers derived from the request,
//! for demos and tests (like LiteLLM's `mock_response`).
//!
//! Each knob is read from the request's extra fields first, then from the deployment's settings:
//! - `mock_response`: the reply text (default: an echo of the last user message);
//! - `mock_latency_ms`: wait before answering; `mock_chunk_delay_ms`: wait between chunks;
//! - `mock_chunks`: how many content chunks a stream has (default: one per word);
//! - `mock_tool_call`: `true` to answer with a call to the requested (or first) tool;
//! - `mock_error`: an error kind (`rate-limited`, `authentication`, ...) to fail with, and
//!   `mock_retry_after_ms` for its Retry-After;
//! - `mock_error_after_chunks`: fail a stream after this many chunks.

use std::cell::RefCell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use wasmgate_guest::prelude::*;

struct Mock;

/// The knobs of one call.
struct Knobs {
    extra: serde_json::Map<String, serde_json::Value>,
    ctx: CallContext,
}

impl Knobs {
    fn new(ctx: CallContext, extra: Option<&str>) -> Result<Knobs, ProviderError> {
        let extra = match extra {
            None => Default::default(),
            Some(text) => match serde_json::from_str(text) {
                Ok(serde_json::Value::Object(map)) => map,
                _ => return Err(ProviderError::bad_request("`extra` must be a JSON object")),
            },
        };
        Ok(Knobs { extra, ctx })
    }

    fn text(&self, key: &str) -> Option<String> {
        match self.extra.get(key) {
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(serde_json::Value::Null) | None => self.ctx.setting(key).map(str::to_string),
            Some(other) => Some(other.to_string()),
        }
    }

    fn number(&self, key: &str) -> Option<u64> {
        self.text(key).and_then(|v| v.trim().parse().ok())
    }

    fn flag(&self, key: &str) -> bool {
        matches!(self.text(key).as_deref(), Some("true" | "1" | "yes" | "on"))
    }

    fn sleep(&self, key: &str) {
        if let Some(ms) = self.number(key).filter(|ms| *ms > 0) {
            std::thread::sleep(Duration::from_millis(ms.min(600_000)));
        }
    }

    fn error(&self) -> Option<ProviderError> {
        let name = self.text("mock_error")?;
        let (kind, status) = match name.as_str() {
            "bad-request" => (ErrorKind::BadRequest, 400),
            "authentication" => (ErrorKind::Authentication, 401),
            "permission-denied" => (ErrorKind::PermissionDenied, 403),
            "not-found" => (ErrorKind::NotFound, 404),
            "rate-limited" => (ErrorKind::RateLimited, 429),
            "context-window-exceeded" => (ErrorKind::ContextWindowExceeded, 400),
            "content-policy" => (ErrorKind::ContentPolicy, 400),
            "timeout" => (ErrorKind::Timeout, 408),
            "unavailable" => (ErrorKind::Unavailable, 503),
            "upstream-error" => (ErrorKind::UpstreamError, 502),
            _ => (ErrorKind::Internal, 500),
        };
        Some(ProviderError {
            kind,
            status: Some(status),
            message: format!("mock error: {name}"),
            retry_after_ms: self.number("mock_retry_after_ms"),
            provider_code: Some(format!("mock_{}", name.replace('-', "_"))),
            headers: Vec::new(),
        })
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn text_of(content: &Option<MessageContent>) -> String {
    match content {
        None => String::new(),
        Some(MessageContent::Text(t)) => t.clone(),
        Some(MessageContent::Parts(parts)) => parts
            .iter()
            .filter_map(|p| match &p.body {
                PartBody::Text(t) => Some(t.as_str()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join(" "),
    }
}

fn word_count(text: &str) -> u32 {
    text.split_whitespace().count() as u32
}

/// FNV-1a, for ids and embeddings that depend only on the input.
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

/// The answer a request gets, before it is shaped as a response or a stream.
struct Answer {
    id: String,
    model: String,
    words: Vec<String>,
    tool_call: Option<ToolCall>,
    usage: Usage,
}

fn answer(knobs: &Knobs, req: &ChatRequest) -> Answer {
    let last_user = req
        .messages
        .iter()
        .rev()
        .find(|m| m.role == Role::User)
        .map(|m| text_of(&m.content))
        .unwrap_or_default();
    let reply = knobs
        .text("mock_response")
        .unwrap_or_else(|| format!("This is a mock response to: {last_user}"));
    let limit = req
        .max_completion_tokens
        .or(req.max_tokens)
        .unwrap_or(u32::MAX) as usize;
    let mut words: Vec<String> = reply.split_inclusive(' ').map(str::to_string).collect();
    words.truncate(limit);
    let tool_call = knobs.flag("mock_tool_call").then(|| {
        let name = match &req.tool_choice {
            Some(ToolChoice::Function(name)) => name.clone(),
            _ => req
                .tools
                .first()
                .map(|t| t.name.clone())
                .unwrap_or_else(|| "mock_tool".into()),
        };
        ToolCall {
            id: format!("call_{:016x}", fnv(&last_user)),
            function: FunctionCall {
                name,
                arguments: serde_json::json!({ "input": last_user }).to_string(),
            },
            signature: None,
            extra: None,
        }
    });
    let prompt: u32 = req
        .messages
        .iter()
        .map(|m| word_count(&text_of(&m.content)))
        .sum();
    let completion = if tool_call.is_some() {
        1
    } else {
        words.len() as u32
    };
    Answer {
        id: format!(
            "chatcmpl-mock-{:016x}",
            fnv(&format!("{}{last_user}", req.model))
        ),
        model: req.model.clone(),
        words: if tool_call.is_some() {
            Vec::new()
        } else {
            words
        },
        tool_call,
        usage: Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: prompt + completion,
            cached_tokens: None,
            cache_write_tokens: None,
            reasoning_tokens: None,
            extra: None,
        },
    }
}

impl Guest for Mock {
    type ChunkStream = MockStream;

    fn info() -> AdapterInfo {
        AdapterInfo {
            name: "mock".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            capabilities: Capabilities::CHAT
                | Capabilities::STREAMING
                | Capabilities::EMBEDDINGS
                | Capabilities::TOOLS
                | Capabilities::VISION,
            default_api_base: None,
            required_hosts: Vec::new(),
            credential_uses: Vec::new(),
            description: "Offline mock provider: deterministic answers, no network".into(),
        }
    }

    fn chat(ctx: CallContext, req: ChatRequest) -> Result<ChatResponse, ProviderError> {
        let knobs = Knobs::new(ctx, req.extra.as_deref())?;
        knobs.sleep("mock_latency_ms");
        if let Some(err) = knobs.error() {
            return Err(err);
        }
        let a = answer(&knobs, &req);
        let finish = if a.tool_call.is_some() {
            FinishReason::ToolCalls
        } else {
            FinishReason::Stop
        };
        Ok(ChatResponse {
            id: a.id,
            model: a.model,
            created: now(),
            choices: vec![Choice {
                index: 0,
                message: AssistantMessage {
                    content: a.tool_call.is_none().then(|| a.words.concat()),
                    reasoning: Vec::new(),
                    tool_calls: a.tool_call.into_iter().collect(),
                    refusal: None,
                    extra: None,
                },
                finish_reason: Some(finish),
                logprobs: None,
                extra: None,
            }],
            usage: Some(a.usage),
            system_fingerprint: None,
            extra: None,
            headers: Vec::new(),
        })
    }

    fn chat_stream(ctx: CallContext, req: ChatRequest) -> Result<OpenedStream, ProviderError> {
        let knobs = Knobs::new(ctx, req.extra.as_deref())?;
        knobs.sleep("mock_latency_ms");
        let error_after = knobs.number("mock_error_after_chunks");
        if error_after.is_none() {
            if let Some(err) = knobs.error() {
                return Err(err);
            }
        }
        let a = answer(&knobs, &req);
        let pieces = match knobs.number("mock_chunks") {
            Some(n) if n > 0 => split_even(&a.words, n as usize),
            _ => a.words.clone(),
        };
        let mut chunks = Vec::new();
        let chunk = |delta: ChoiceDelta, usage: Option<Usage>| ChatChunk {
            id: a.id.clone(),
            model: a.model.clone(),
            created: now(),
            choices: vec![delta],
            usage,
            system_fingerprint: None,
            extra: None,
        };
        let delta = |content: Option<String>| ChoiceDelta {
            index: 0,
            role: None,
            content,
            reasoning: Vec::new(),
            tool_calls: Vec::new(),
            refusal: None,
            finish_reason: None,
            logprobs: None,
            extra: None,
        };
        chunks.push(chunk(
            ChoiceDelta {
                role: Some(Role::Assistant),
                ..delta(Some(String::new()))
            },
            None,
        ));
        for piece in pieces {
            chunks.push(chunk(delta(Some(piece)), None));
        }
        if let Some(call) = &a.tool_call {
            chunks.push(chunk(
                ChoiceDelta {
                    tool_calls: vec![ToolCallDelta {
                        index: 0,
                        id: Some(call.id.clone()),
                        name: Some(call.function.name.clone()),
                        arguments: Some(String::new()),
                        signature: None,
                        extra: None,
                    }],
                    ..delta(None)
                },
                None,
            ));
            chunks.push(chunk(
                ChoiceDelta {
                    tool_calls: vec![ToolCallDelta {
                        index: 0,
                        id: None,
                        name: None,
                        arguments: Some(call.function.arguments.clone()),
                        signature: None,
                        extra: None,
                    }],
                    ..delta(None)
                },
                None,
            ));
        }
        let finish = if a.tool_call.is_some() {
            FinishReason::ToolCalls
        } else {
            FinishReason::Stop
        };
        chunks.push(chunk(
            ChoiceDelta {
                finish_reason: Some(finish),
                ..delta(None)
            },
            None,
        ));
        if req.include_usage {
            let mut last = chunk(delta(None), Some(a.usage));
            last.choices.clear();
            chunks.push(last);
        }
        chunks.reverse();
        Ok(OpenedStream {
            chunks: ChunkStream::new(MockStream {
                state: RefCell::new(StreamState {
                    chunks,
                    sent: 0,
                    error_after,
                    knobs,
                }),
            }),
            headers: Vec::new(),
        })
    }

    fn embed(ctx: CallContext, req: EmbeddingRequest) -> Result<EmbeddingResponse, ProviderError> {
        let knobs = Knobs::new(ctx, req.extra.as_deref())?;
        knobs.sleep("mock_latency_ms");
        if let Some(err) = knobs.error() {
            return Err(err);
        }
        let dims = req.dimensions.unwrap_or(16).clamp(1, 8192) as usize;
        let encoding = req.encoding_format.unwrap_or(EncodingFormat::Float);
        let texts: Vec<String> = req.input.iter().map(input_text).collect();
        let data = texts
            .iter()
            .enumerate()
            .map(|(i, text)| Embedding {
                index: i as u32,
                vector: encode(unit_vector(text, dims), encoding),
            })
            .collect();
        let tokens: u32 = texts.iter().map(|t| word_count(t)).sum();
        Ok(EmbeddingResponse {
            model: req.model,
            data,
            usage: Some(Usage {
                prompt_tokens: tokens,
                completion_tokens: 0,
                total_tokens: tokens,
                cached_tokens: None,
                cache_write_tokens: None,
                reasoning_tokens: None,
                extra: None,
            }),
            extra: None,
            headers: Vec::new(),
        })
    }
}

/// The text an input stands for (token ids and image URLs are hashed as written).
fn input_text(input: &EmbeddingInput) -> String {
    match input {
        EmbeddingInput::Text(t) => t.clone(),
        EmbeddingInput::Tokens(ids) => ids.iter().map(u32::to_string).collect::<Vec<_>>().join(" "),
        EmbeddingInput::Image(img) => img.url.clone(),
    }
}

/// `v` (unit length) in `encoding`: floats, or quantized the way providers do (scaled to the
/// byte range; binary packs the signs, eight to a byte).
fn encode(v: Vec<f32>, encoding: EncodingFormat) -> EmbeddingVector {
    let bits = || {
        v.chunks(8)
            .map(|c| {
                c.iter()
                    .enumerate()
                    .fold(0u8, |b, (i, x)| b | (((*x > 0.0) as u8) << (7 - i)))
            })
            .collect::<Vec<u8>>()
    };
    match encoding {
        EncodingFormat::Float | EncodingFormat::Base64 => EmbeddingVector::Float(v),
        EncodingFormat::Int8 => {
            EmbeddingVector::Int8(v.iter().map(|x| (x * 127.0).round() as i8).collect())
        }
        EncodingFormat::Uint8 => EmbeddingVector::Uint8(
            v.iter()
                .map(|x| ((x + 1.0) * 127.5).round() as u8)
                .collect(),
        ),
        EncodingFormat::Binary => {
            EmbeddingVector::Binary(bits().into_iter().map(|b| (b as i16 - 128) as i8).collect())
        }
        EncodingFormat::Ubinary => EmbeddingVector::Ubinary(bits()),
    }
}

/// Joins `words` into `n` pieces of nearly equal size.
fn split_even(words: &[String], n: usize) -> Vec<String> {
    let n = n.min(words.len()).max(1);
    let per = words.len().div_ceil(n).max(1);
    words.chunks(per).map(|c| c.concat()).collect()
}

/// A deterministic unit vector for `text` (xorshift seeded by its hash).
fn unit_vector(text: &str, dims: usize) -> Vec<f32> {
    let mut state = fnv(text) | 1;
    let mut v: Vec<f32> = (0..dims)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect();
    let norm = v
        .iter()
        .map(|x| x * x)
        .sum::<f32>()
        .sqrt()
        .max(f32::EPSILON);
    v.iter_mut().for_each(|x| *x /= norm);
    v
}

struct StreamState {
    /// Remaining chunks, last first.
    chunks: Vec<ChatChunk>,
    sent: u64,
    error_after: Option<u64>,
    knobs: Knobs,
}

/// A stream replaying prepared chunks, with the configured delays and failure.
struct MockStream {
    state: RefCell<StreamState>,
}

impl GuestChunkStream for MockStream {
    fn next(&self) -> Result<Vec<ChatChunk>, ProviderError> {
        let mut s = self.state.borrow_mut();
        if s.error_after == Some(s.sent) {
            s.chunks.clear();
            return Err(s
                .knobs
                .error()
                .unwrap_or_else(|| ProviderError::internal("mock stream failure")));
        }
        let Some(chunk) = s.chunks.pop() else {
            return Ok(Vec::new());
        };
        if s.sent > 0 {
            s.knobs.sleep("mock_chunk_delay_ms");
        }
        s.sent += 1;
        // One chunk per call: the mock plays a provider that sends each token on its own.
        Ok(vec![chunk])
    }
}

wasmgate_guest::export_adapter!(Mock);
