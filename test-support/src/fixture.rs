//! The recording server under every provider fixture ([`crate::anthropic`], [`crate::azure`],
//! [`crate::gemini`]): it reads each request whole, records it, and hands it to the fixture's
//! handler, which checks it against the provider's rules and answers in its wire format.

use bytes::Bytes;
use http::{HeaderMap, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::Value;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// A fixture's response body.
pub type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

/// One request a fixture received.
#[derive(Debug, Clone)]
pub struct Received {
    /// `POST`, `GET`, ...
    pub method: http::Method,
    /// Path and query.
    pub path: String,
    /// Request headers.
    pub headers: HeaderMap,
    /// The body, parsed (`null` when it was not JSON).
    pub body: Value,
    /// The body as received.
    pub raw: Bytes,
}

impl Received {
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The query string (empty when there is none).
    pub fn query(&self) -> &str {
        self.path.split_once('?').map_or("", |(_, q)| q)
    }
}

/// A provider fixture listening on 127.0.0.1.
pub struct Fixture {
    /// The listening address.
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Fixture {
    /// Serves `handle` until dropped; every request is recorded before `handle` sees it.
    pub async fn start<F, Fut>(handle: F) -> Fixture
    where
        F: Fn(Received) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Response<Body>> + Send + 'static,
    {
        let received = Arc::new(Mutex::new(Vec::new()));
        let recorded = received.clone();
        let (addr, task) = crate::serve::serve(move |req: http::Request<Incoming>| {
            let recorded = recorded.clone();
            let handle = handle.clone();
            async move {
                let (parts, body) = req.into_parts();
                let bytes = body
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                let request = Received {
                    method: parts.method,
                    path: parts
                        .uri
                        .path_and_query()
                        .map(|p| p.to_string())
                        .unwrap_or_default(),
                    headers: parts.headers,
                    body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
                    raw: bytes,
                };
                recorded.lock().unwrap().push(request.clone());
                Ok::<_, Infallible>(handle(request).await)
            }
        })
        .await;
        Fixture {
            addr,
            received,
            task,
        }
    }

    /// Serves `handle`, which checks each request against `credential` (a key or token the
    /// fixture accepts) and answers it.
    pub async fn with_credential(
        credential: &str,
        handle: fn(&Received, &str) -> Response<Body>,
    ) -> Fixture {
        let credential = credential.to_string();
        Fixture::start(move |r| {
            let answer = handle(&r, &credential);
            async move { answer }
        })
        .await
    }

    /// The base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

/// A JSON answer.
pub fn json_response(status: u16, v: &Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(Bytes::from(v.to_string())).boxed())
        .expect("a valid status")
}

/// An SSE answer whose body is `text`.
pub fn sse_response(text: String) -> Response<Body> {
    Response::builder()
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(http_body_util::Full::new(Bytes::from(text)).boxed())
        .expect("static headers are valid")
}
