//! A real OpenAI-compatible HTTP server on 127.0.0.1 for tests and benchmarks. It records every
//! request, and the request's `model` picks a scripted behaviour:
//!
//! | model | answer |
//! |---|---|
//! | anything else | a three-word reply (JSON or SSE; usage chunk with `include_usage`) |
//! | `tool-call` | a `get_weather` tool call (streamed as id/name then argument fragments) |
//! | `error-400`, `error-401`, `error-403`, `error-404`, `error-500`, `error-503` | that status with an OpenAI error body (400 is a context-length error) |
//! | `error-429` | 429 with `retry-after: 7` |
//! | `error-401-echo` | 401 whose message repeats the `authorization` header it got (as some providers do) |
//! | `error-echo-code` | 400 whose message and error code repeat the `authorization` header |
//! | `stream-error-echo` | streamed: one chunk, then an SSE error event whose message and code repeat the `authorization` header |
//! | `gated-stream` | one chunk, then waits for [`Upstream::release_gate`], then the rest |
//! | `paced-stream` | 5 chunks 50 ms apart |
//! | `words-<n>` | streamed: `n` content chunks (`n` ≤ 1000) between the role chunk and the finish chunk; unstreamed, the three-word reply |
//! | `paced-50` | 50 content chunks 20 ms apart, each `" w<i>@<unix µs when sent>"` (for measuring the delay a proxy adds to each chunk) |
//! | `stream-error` | one chunk, then an SSE error event |
//! | `drip` | a JSON body sent one byte per second |
//! | `enriched` | what the OpenAI shape leaves to extras: a signed thinking block, a tool call with a Gemini-style `extra_content.google.thought_signature`, `annotations`, `content_filter_results`, usage details, and `x-ratelimit-remaining-requests` / `x-request-id` headers; streamed as signature and annotation deltas |
//! | `endless` | a body that never ends |

use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use serde_json::{json, Value};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// One request the upstream received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `GET`, `POST`, ...
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Request headers.
    pub headers: HeaderMap,
    /// Request body: as much as arrived when the client aborted it.
    pub body: Vec<u8>,
    /// Whether the body arrived whole.
    pub complete: bool,
}

impl Recorded {
    /// The body parsed as JSON (`null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

#[derive(Default)]
struct State {
    requests: Mutex<Vec<Recorded>>,
    gate: Notify,
    /// Benchmarks turn recording off so memory stays flat.
    quiet: bool,
}

/// A running upstream; stops when dropped.
pub struct Upstream {
    /// The listening address.
    pub addr: SocketAddr,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

impl Upstream {
    /// Starts on an ephemeral loopback port, recording requests.
    pub async fn start() -> Upstream {
        Self::start_on("127.0.0.1:0".parse().unwrap(), true).await
    }

    /// Starts on `addr`; `record` keeps every request for [`Upstream::requests`].
    pub async fn start_on(addr: SocketAddr, record: bool) -> Upstream {
        let listener = TcpListener::bind(addr).await.expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(State {
            quiet: !record,
            ..State::default()
        });
        let serving = state.clone();
        let task = crate::serve::serve_listener(listener, move |req| handle(serving.clone(), req));
        Upstream { addr, state, task }
    }

    /// The base URL, `http://127.0.0.1:PORT/v1`.
    pub fn url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The origin, `http://127.0.0.1:PORT`.
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().unwrap().clone()
    }

    /// Lets a waiting `gated-stream` continue.
    pub fn release_gate(&self) {
        self.state.gate.notify_one();
    }
}

fn full(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(body.into()).boxed())
        .unwrap()
}

fn json_response(status: StatusCode, v: &Value) -> Response<Body> {
    full(status, "application/json", v.to_string())
}

fn error_response(status: u16, message: &str, kind: &str, code: &str) -> Response<Body> {
    let body = json!({"error": {"message": message, "type": kind, "param": null, "code": code}});
    json_response(StatusCode::from_u16(status).unwrap(), &body)
}

/// A body made of `parts`, each sent after its delay.
fn paced(parts: Vec<(Duration, Bytes)>) -> Body {
    let stream = futures::stream::iter(parts).then(|(delay, bytes)| async move {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        Ok::<_, Infallible>(Frame::data(bytes))
    });
    BodyExt::boxed(StreamBody::new(stream))
}

/// `count` content chunks `interval` apart, each carrying the wall-clock time it was sent (Unix
/// microseconds, a clock every process on the machine shares), then a stop chunk and `[DONE]`.
fn stamped(model: String, count: usize, interval: Duration) -> Body {
    let stream = futures::stream::iter(0..=count).then(move |i| {
        let model = model.clone();
        async move {
            let bytes = if i < count {
                tokio::time::sleep(interval).await;
                let sent = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_micros();
                event(&chunk(
                    &model,
                    json!({"content": format!(" w{i}@{sent}")}),
                    None,
                ))
            } else {
                let mut end = event(&chunk(&model, json!({}), Some("stop"))).to_vec();
                end.extend_from_slice(b"data: [DONE]\n\n");
                Bytes::from(end)
            };
            Ok::<_, Infallible>(Frame::data(bytes))
        }
    });
    BodyExt::boxed(StreamBody::new(stream))
}

fn sse(body: Body) -> Response<Body> {
    Response::builder()
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(body)
        .unwrap()
}

fn event(v: &Value) -> Bytes {
    Bytes::from(format!("data: {v}\n\n"))
}

const REPLY: [&str; 3] = ["Hello", " from", " upstream"];

fn chunk(model: &str, delta: Value, finish: Option<&str>) -> Value {
    json!({"id": "chatcmpl-up", "object": "chat.completion.chunk", "created": 1_700_000_000u64,
           "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
}

fn usage() -> Value {
    json!({"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12,
           "prompt_tokens_details": {"cached_tokens": 2},
           "completion_tokens_details": {"reasoning_tokens": 0}})
}

/// The `n` of a `words-<n>` model.
fn word_count(model: &str) -> Option<usize> {
    let n: usize = model.strip_prefix("words-")?.parse().ok()?;
    (n <= 1000).then_some(n)
}

fn chat_chunks(model: &str, include_usage: bool) -> Vec<Bytes> {
    let mut out = vec![event(&chunk(
        model,
        json!({"role": "assistant", "content": ""}),
        None,
    ))];
    if model == "tool-call" {
        out.push(event(&chunk(
            model,
            json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                    "function": {"name": "get_weather", "arguments": ""}}]}),
            None,
        )));
        for frag in ["{\"city\":", "\"Paris\"}"] {
            out.push(event(&chunk(
                model,
                json!({"tool_calls": [{"index": 0, "function": {"arguments": frag}}]}),
                None,
            )));
        }
        out.push(event(&chunk(model, json!({}), Some("tool_calls"))));
    } else if let Some(n) = word_count(model) {
        for i in 0..n {
            out.push(event(&chunk(
                model,
                json!({"content": format!(" w{i}")}),
                None,
            )));
        }
        out.push(event(&chunk(model, json!({}), Some("stop"))));
    } else {
        for word in REPLY {
            out.push(event(&chunk(model, json!({"content": word}), None)));
        }
        out.push(event(&chunk(model, json!({}), Some("stop"))));
    }
    if include_usage {
        out.push(event(
            &json!({"id": "chatcmpl-up", "object": "chat.completion.chunk",
                               "created": 1_700_000_000u64, "model": model, "choices": [],
                               "usage": usage()}),
        ));
    }
    out.push(Bytes::from_static(b"data: [DONE]\n\n"));
    out
}

fn chat_json(model: &str) -> Value {
    let message = if model == "tool-call" {
        json!({"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
               "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]})
    } else {
        json!({"role": "assistant", "content": REPLY.concat()})
    };
    let finish = if model == "tool-call" {
        "tool_calls"
    } else {
        "stop"
    };
    json!({"id": "chatcmpl-up", "object": "chat.completion", "created": 1_700_000_000u64,
           "model": model, "system_fingerprint": "fp_test", "service_tier": "default",
           "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": null}],
           "usage": usage()})
}

/// The headers an `enriched` answer carries.
fn with_rate_limits(mut response: Response<Body>) -> Response<Body> {
    let headers = response.headers_mut();
    headers.insert("x-ratelimit-remaining-requests", "99".parse().unwrap());
    headers.insert("x-request-id", "req_enriched".parse().unwrap());
    response
}

fn enriched_json(model: &str) -> Value {
    json!({"id": "chatcmpl-enriched", "object": "chat.completion", "created": 1_700_000_000u64,
           "model": model, "service_tier": "priority",
           "choices": [{"index": 0, "finish_reason": "tool_calls", "logprobs": null,
                        "content_filter_results": {"hate": {"filtered": false}},
                        "message": {"role": "assistant", "content": "Let me look.",
                                    "annotations": [{"type": "url_citation", "url": "https://example.com"}],
                                    "reasoning_content": "The user wants weather.",
                                    "thinking_blocks": [{"type": "thinking", "thinking": "The user wants weather.",
                                                         "signature": "sig-thinking-1"}],
                                    "tool_calls": [{"id": "call_e1", "type": "function",
                                                    "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"},
                                                    "extra_content": {"google": {"thought_signature": "sig-call-1"}}}]}}],
           "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12,
                     "cache_creation_input_tokens": 4,
                     "prompt_tokens_details": {"cached_tokens": 2, "audio_tokens": 1}}})
}

fn enriched_chunks(model: &str) -> Vec<Bytes> {
    let mut top = chunk(
        model,
        json!({"role": "assistant", "reasoning_content": "The user "}),
        None,
    );
    top["service_tier"] = json!("priority");
    vec![
        event(&top),
        event(&chunk(
            model,
            json!({"reasoning_content": "wants weather."}),
            None,
        )),
        event(&chunk(
            model,
            json!({"thinking_blocks": [{"index": 0, "type": "thinking", "thinking": "", "signature": "sig-thinking-1"}]}),
            None,
        )),
        event(&chunk(
            model,
            json!({"content": "Let me look.", "annotations": [{"type": "url_citation", "url": "https://example.com"}]}),
            None,
        )),
        event(&chunk(
            model,
            json!({"tool_calls": [{"index": 0, "id": "call_e1", "type": "function",
                                   "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"},
                                   "extra_content": {"google": {"thought_signature": "sig-call-1"}}}]}),
            None,
        )),
        event(&chunk(model, json!({}), Some("tool_calls"))),
    ]
}

async fn chat(state: Arc<State>, body: &Value, headers: &HeaderMap) -> Response<Body> {
    let model = body["model"].as_str().unwrap_or_default().to_string();
    // What the echoing models repeat back.
    let sent = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    match model.as_str() {
        "enriched" if body["stream"] == json!(true) => {
            let parts = enriched_chunks(&model)
                .into_iter()
                .chain([Bytes::from_static(b"data: [DONE]\n\n")])
                .map(|b| (Duration::ZERO, b))
                .collect();
            return with_rate_limits(sse(paced(parts)));
        }
        "enriched" => {
            return with_rate_limits(json_response(StatusCode::OK, &enriched_json(&model)))
        }
        "error-echo-code" => {
            return error_response(
                400,
                &format!("bad key {sent}"),
                "invalid_request_error",
                sent,
            );
        }
        "stream-error-echo" if body["stream"] == json!(true) => {
            let err = json!({"error": {"message": format!("key {sent} was revoked mid-stream"), "type": "server_error", "code": sent}});
            let first = chat_chunks(&model, false)[1].clone();
            return sse(paced(vec![
                (Duration::ZERO, first),
                (Duration::ZERO, event(&err)),
            ]));
        }
        "error-401-echo" => {
            return error_response(
                401,
                &format!("Incorrect API key provided: {sent}"),
                "invalid_request_error",
                "invalid_api_key",
            );
        }
        "error-400" => {
            return error_response(
                400,
                "This model's maximum context length is 8192 tokens",
                "invalid_request_error",
                "context_length_exceeded",
            )
        }
        "error-401" => {
            return error_response(
                401,
                "Incorrect API key provided",
                "invalid_request_error",
                "invalid_api_key",
            )
        }
        "error-403" => {
            return error_response(
                403,
                "You are not allowed to use this model",
                "invalid_request_error",
                "forbidden",
            )
        }
        "error-404" => {
            return error_response(
                404,
                "The model does not exist",
                "invalid_request_error",
                "model_not_found",
            )
        }
        "error-500" => {
            return error_response(500, "The server had an error", "server_error", "internal")
        }
        "error-503" => {
            return error_response(
                503,
                "The engine is currently overloaded",
                "server_error",
                "overloaded",
            )
        }
        "error-429" => {
            let mut r = error_response(
                429,
                "Rate limit reached for requests",
                "requests",
                "rate_limit_exceeded",
            );
            r.headers_mut().insert("retry-after", "7".parse().unwrap());
            return r;
        }
        "drip" => {
            let text = chat_json(&model).to_string();
            let parts = text
                .bytes()
                .map(|b| (Duration::from_secs(1), Bytes::from(vec![b])))
                .collect();
            return Response::builder()
                .header("content-type", "application/json")
                .body(paced(parts))
                .unwrap();
        }
        "endless" => {
            let stream = futures::stream::repeat_with(|| {
                Ok::<_, Infallible>(Frame::data(Bytes::from(vec![b' '; 64 * 1024])))
            });
            return Response::builder()
                .header("content-type", "application/json")
                .body(BodyExt::boxed(StreamBody::new(stream)))
                .unwrap();
        }
        _ => {}
    }
    if body["stream"] != json!(true) {
        return json_response(StatusCode::OK, &chat_json(&model));
    }
    let include_usage = body["stream_options"]["include_usage"] == json!(true);
    let chunks = chat_chunks(&model, include_usage);
    match model.as_str() {
        "gated-stream" => {
            let (first, rest) = chunks
                .split_first()
                .map(|(f, r)| (f.clone(), r.to_vec()))
                .unwrap();
            let gate_wait = async move {
                let _ = tokio::time::timeout(Duration::from_secs(10), state.gate.notified()).await;
            };
            let head =
                futures::stream::once(async move { Ok::<_, Infallible>(Frame::data(first)) });
            let tail = futures::stream::once(gate_wait).flat_map(move |_| {
                futures::stream::iter(rest.clone().into_iter().map(|b| Ok(Frame::data(b))))
            });
            sse(BodyExt::boxed(StreamBody::new(head.chain(tail))))
        }
        "paced-stream" => sse(paced(
            chunks
                .into_iter()
                .map(|b| (Duration::from_millis(50), b))
                .collect(),
        )),
        "paced-50" => sse(stamped(model.to_string(), 50, Duration::from_millis(20))),
        "stream-error" => {
            let err = json!({"error": {"message": "upstream failed mid-stream", "type": "server_error", "code": 503}});
            let parts = vec![
                (Duration::ZERO, chunks[1].clone()),
                (Duration::ZERO, event(&err)),
            ];
            sse(paced(parts))
        }
        _ => sse(paced(
            chunks.into_iter().map(|b| (Duration::ZERO, b)).collect(),
        )),
    }
}

fn embeddings(body: &Value) -> Response<Body> {
    let inputs: Vec<String> = match &body["input"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .map(|v| v.as_str().unwrap_or_default().to_string())
            .collect(),
        _ => {
            return error_response(
                400,
                "input is required",
                "invalid_request_error",
                "invalid_input",
            )
        }
    };
    let dims = body["dimensions"].as_u64().unwrap_or(3) as usize;
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let mut v = vec![0.5f64; dims];
            v[0] = i as f64;
            if dims > 1 {
                v[1] = text.len() as f64;
            }
            json!({"object": "embedding", "index": i, "embedding": v})
        })
        .collect();
    json_response(
        StatusCode::OK,
        &json!({"object": "list", "data": data, "model": body["model"],
                                          "usage": {"prompt_tokens": inputs.len(), "total_tokens": inputs.len()}}),
    )
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let (parts, mut body) = req.into_parts();
    // Frame by frame, so a body the client aborts is recorded as far as it arrived.
    let mut bytes = Vec::new();
    let mut complete = true;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => bytes.extend_from_slice(frame.data_ref().map_or(&[][..], |d| d)),
            Err(_) => {
                complete = false;
                break;
            }
        }
    }
    if !state.quiet {
        let path = parts
            .uri
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default();
        state.requests.lock().unwrap().push(Recorded {
            method: parts.method.to_string(),
            path,
            headers: parts.headers.clone(),
            body: bytes.clone(),
            complete,
        });
    }
    let json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let route = parts.uri.path().trim_end_matches('/');
    Ok(match route {
        "/v1/chat/completions" => chat(state.clone(), &json, &parts.headers).await,
        "/v1/embeddings" => embeddings(&json),
        "/v1/models" => json_response(StatusCode::OK, &json!({"object": "list", "data": []})),
        _ => error_response(
            404,
            &format!("no route {route}"),
            "invalid_request_error",
            "not_found",
        ),
    })
}
