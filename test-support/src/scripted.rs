//! An OpenAI-compatible upstream that answers by script, for router tests: each request takes
//! the next [`Step`] (200, an error status with Retry-After, a slow answer, a hang, a reset, a
//! stream cut after its first chunk), then the script's tail repeats.

use bytes::Bytes;
use futures::StreamExt;
use http::{Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the upstream does with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// 200: a chat completion (SSE when the request streams) or an embedding; its content names
    /// the upstream.
    Ok,
    /// An error status with an OpenAI error body carrying `code`, and `retry-after` seconds.
    Status {
        /// The HTTP status.
        status: u16,
        /// The error body's `code`.
        code: &'static str,
        /// The `retry-after` header, in seconds.
        retry_after: Option<u64>,
    },
    /// 200 after a delay.
    Slow(Duration),
    /// Never answers; the client has to give up.
    Hang,
    /// Drops the connection without an answer.
    Reset,
    /// Streams one chunk, waits 200 ms (so it reaches the client), then drops the connection
    /// (a non-streaming request gets a reset).
    DropMidStream,
}

impl Step {
    /// An error status without a retry-after.
    pub fn status(status: u16) -> Step {
        let code = match status {
            429 => "rate_limit_exceeded",
            401 => "invalid_api_key",
            _ => "scripted",
        };
        Step::Status {
            status,
            code,
            retry_after: None,
        }
    }
}

struct Script {
    steps: Vec<Step>,
    /// Where the repeating tail starts.
    tail: usize,
    next: usize,
    taken: Vec<Step>,
    bodies: Vec<Value>,
}

impl Script {
    fn take(&mut self) -> Step {
        let step = self.steps[self.next].clone();
        self.next += 1;
        if self.next == self.steps.len() {
            self.next = self.tail;
        }
        self.taken.push(step.clone());
        step
    }
}

/// A scripted upstream on 127.0.0.1.
pub struct ScriptedUpstream {
    addr: SocketAddr,
    script: Arc<Mutex<Script>>,
    task: tokio::task::JoinHandle<()>,
}

type Body = http_body_util::combinators::BoxBody<Bytes, std::io::Error>;

impl ScriptedUpstream {
    /// Plays `steps`, then answers [`Step::Ok`] forever.
    pub async fn start(name: &str, steps: Vec<Step>) -> ScriptedUpstream {
        let tail = steps.len();
        let mut steps = steps;
        steps.push(Step::Ok);
        Self::with_script(name, steps, tail).await
    }

    /// Plays `pattern` over and over.
    pub async fn cycling(name: &str, pattern: Vec<Step>) -> ScriptedUpstream {
        assert!(!pattern.is_empty());
        Self::with_script(name, pattern, 0).await
    }

    async fn with_script(name: &str, steps: Vec<Step>, tail: usize) -> ScriptedUpstream {
        let script = Arc::new(Mutex::new(Script {
            steps,
            tail,
            next: 0,
            taken: Vec::new(),
            bodies: Vec::new(),
        }));
        let name: Arc<str> = name.into();
        let shared = script.clone();
        let (addr, task) = crate::serve::serve(move |req| {
            let step = shared.lock().unwrap().take();
            let name = name.clone();
            let recorder = shared.clone();
            async move {
                let path = req.uri().path().to_string();
                let body = req
                    .into_body()
                    .collect()
                    .await
                    .map_err(std::io::Error::other)?;
                let json: Value = serde_json::from_slice(&body.to_bytes()).unwrap_or(Value::Null);
                recorder.lock().unwrap().bodies.push(json.clone());
                answer(&name, step, &path, &json).await
            }
        })
        .await;
        ScriptedUpstream { addr, script, task }
    }

    /// The base URL, `http://127.0.0.1:PORT/v1`.
    pub fn url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Requests received so far.
    pub fn hits(&self) -> usize {
        self.script.lock().unwrap().taken.len()
    }

    /// The JSON bodies received so far, in order.
    pub fn bodies(&self) -> Vec<Value> {
        self.script.lock().unwrap().bodies.clone()
    }

    /// The steps played so far, in order.
    pub fn played(&self) -> Vec<Step> {
        self.script.lock().unwrap().taken.clone()
    }
}

impl Drop for ScriptedUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn full(status: StatusCode, v: &Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(
            http_body_util::Full::new(Bytes::from(v.to_string()))
                .map_err(|never| match never {})
                .boxed(),
        )
        .expect("valid response")
}

fn completion(name: &str) -> Value {
    json!({
        "id": "chatcmpl-scripted", "object": "chat.completion", "created": 1, "model": "scripted",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": format!("served by {name}")}}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}
    })
}

fn chunk(delta: Value, finish: Option<&str>, usage: Option<Value>) -> Bytes {
    let mut c = json!({"id": "chatcmpl-scripted", "object": "chat.completion.chunk", "created": 1,
        "model": "scripted", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
    if let Some(u) = usage {
        c["usage"] = u;
    }
    Bytes::from(format!("data: {c}\n\n"))
}

fn sse(name: &str, cut: bool) -> Response<Body> {
    let first = chunk(
        json!({"role": "assistant", "content": "served "}),
        None,
        None,
    );
    if cut {
        let frames = futures::stream::once(async { Ok(Frame::data(first)) }).chain(
            futures::stream::once(async {
                tokio::time::sleep(Duration::from_millis(200)).await;
                Err(std::io::Error::other(
                    "the scripted upstream drops the stream",
                ))
            }),
        );
        return Response::builder()
            .header("content-type", "text/event-stream")
            .body(BodyExt::boxed(StreamBody::new(frames)))
            .expect("valid response");
    }
    let mut events = vec![Ok(first)];
    {
        events.push(Ok(chunk(
            json!({"content": format!("by {name}")}),
            None,
            None,
        )));
        events.push(Ok(chunk(
            json!({}),
            Some("stop"),
            Some(json!({"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12})),
        )));
        events.push(Ok(Bytes::from_static(b"data: [DONE]\n\n")));
    }
    let frames = futures::stream::iter(events).map(|e| e.map(Frame::data));
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(BodyExt::boxed(StreamBody::new(frames)))
        .expect("valid response")
}

async fn answer(
    name: &str,
    step: Step,
    path: &str,
    request: &Value,
) -> Result<Response<Body>, std::io::Error> {
    let streaming = request["stream"] == true;
    let ok = || {
        if path.ends_with("/embeddings") {
            full(
                StatusCode::OK,
                &json!({"object": "list", "model": "scripted",
                        "data": [{"object": "embedding", "index": 0, "embedding": [0.5, 0.25]}],
                        "usage": {"prompt_tokens": 3, "total_tokens": 3}}),
            )
        } else if streaming {
            sse(name, false)
        } else {
            full(StatusCode::OK, &completion(name))
        }
    };
    match step {
        Step::Ok => Ok(ok()),
        Step::Slow(delay) => {
            tokio::time::sleep(delay).await;
            Ok(ok())
        }
        Step::Status {
            status,
            code,
            retry_after,
        } => {
            let status = StatusCode::from_u16(status).expect("a valid status");
            let body = json!({"error": {"message": format!("{name} answers {}", status.as_u16()),
                                        "type": "scripted", "code": code}});
            let mut response = full(status, &body);
            if let Some(secs) = retry_after {
                response
                    .headers_mut()
                    .insert("retry-after", secs.to_string().parse().expect("digits"));
            }
            Ok(response)
        }
        Step::Hang => {
            std::future::pending::<()>().await;
            unreachable!()
        }
        Step::Reset => Err(std::io::Error::other("the scripted upstream resets")),
        Step::DropMidStream if streaming => Ok(sse(name, true)),
        Step::DropMidStream => Err(std::io::Error::other("the scripted upstream resets")),
    }
}
