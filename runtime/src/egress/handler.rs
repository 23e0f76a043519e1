//! The runtime's own `wasi:http/outgoing-handler.handle`, linked in place of
//! wasmtime-wasi-http's.
//!
//! wasmtime-wasi-http's `handle` spawns a task to send each request (and another for the
//! connection's "io done" future) and hands hyper a body fed through a channel, so that the
//! guest may go on writing the body after `handle` returns. When the guest wrote and finished
//! the whole body before `handle` (as the guest SDK does for any body that fits the stream's
//! buffer), none of that is needed: this `handle` sends the request inline, on the task that
//! runs the call, with the body as one buffer, and returns a response future that is already
//! resolved. A request whose body is still open takes wasmtime-wasi-http's path unchanged
//! (a spawned send, the body streamed as the guest writes it).
//!
//! Either way the request goes through the same [`WasiHttpHooks::send_request`]: the allow-list,
//! the SSRF guard, the credential swap, the timeouts and the size caps do not change.

use super::{Sent, WasiBody};
use crate::state::CallState;
use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, Empty, Full};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use wasmtime::component::{Linker, Resource};
use wasmtime::StoreContextMut;
use wasmtime_wasi::runtime::{spawn, AbortOnDropJoinHandle};
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Method, Scheme};
use wasmtime_wasi_http::p2::types::{HostFutureIncomingResponse, HostOutgoingRequest};
use wasmtime_wasi_http::{Error, RequestOptions, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

/// The `wasi:http` version wasmtime-wasi-http defines (components asking for any 0.2.x are
/// matched to it).
const HTTP: &str = "0.2.12";

type SendFuture = Pin<Box<dyn Future<Output = Sent> + Send>>;

/// Replaces `handle` in `linker` (after wasmtime-wasi-http was added to it).
pub(crate) fn link_outgoing_handler(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    linker
        .instance(&format!("wasi:http/outgoing-handler@{HTTP}"))?
        .func_wrap_async(
            "handle",
            |mut store: StoreContextMut<'_, CallState>,
             (request, options): (
                Resource<HostOutgoingRequest>,
                Option<Resource<RequestOptions>>,
            )| {
                Box::new(async move {
                    let started = start(&mut store.data_mut().http(), request, options);
                    let sending = match started {
                        Ok(Started::Pushed(future)) => return Ok((Ok(future),)),
                        Ok(Started::Inline(sending)) => sending,
                        Err(Refused::Code(code)) => return Ok((Err(code),)),
                        Err(Refused::Trap(trap)) => return Err(trap),
                    };
                    let outcome = with_io_task(sending.await);
                    let future = store
                        .data_mut()
                        .http()
                        .table
                        .push(HostFutureIncomingResponse::Ready(outcome))?;
                    Ok((Ok(future),))
                })
            },
        )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// How `handle` goes on after building the request.
enum Started {
    /// The body was complete: the send, for the caller to await before it returns.
    Inline(SendFuture),
    /// The response future is already in the table: the body is still open and the send runs
    /// on its own task, as in wasmtime-wasi-http, or the body failed and nothing is sent.
    Pushed(Resource<HostFutureIncomingResponse>),
}

/// Why `handle` returns no response future.
enum Refused {
    /// The request is malformed: the guest gets this error code.
    Code(ErrorCode),
    /// A resource handle was invalid: the call traps.
    Trap(wasmtime::Error),
}

impl From<wasmtime::component::ResourceTableError> for Refused {
    fn from(e: wasmtime::component::ResourceTableError) -> Self {
        Refused::Trap(e.into())
    }
}

fn internal(message: impl Into<String>) -> Refused {
    Refused::Code(ErrorCode::InternalError(Some(message.into())))
}

/// Takes the request out of the table, builds the `http::Request` the hooks send (with the same
/// checks as wasmtime-wasi-http's `handle`) and starts the send.
fn start(
    http: &mut WasiHttpCtxView<'_>,
    request: Resource<HostOutgoingRequest>,
    options: Option<Resource<RequestOptions>>,
) -> Result<Started, Refused> {
    let options = match options {
        Some(options) => Some(http.table.delete(options)?),
        None => None,
    };
    let request = http.table.delete(request)?;
    let content_length = content_length(&request.headers)?;
    if request.body.is_none() && content_length.is_some_and(|n| n != 0) {
        return Err(Refused::Code(ErrorCode::HttpRequestBodySize(Some(0))));
    }
    let uri = uri(http.hooks, &request)?;
    let mut head = http::Request::new(());
    *head.method_mut() = method(&request.method)?;
    *head.uri_mut() = uri;
    let mut headers = http::HeaderMap::clone(&request.headers);
    if http.hooks.set_host_header() {
        if let Some(authority) = head.uri().authority() {
            let host = http::HeaderValue::from_str(authority.as_str())
                .map_err(|_| Refused::Code(ErrorCode::HttpRequestUriInvalid))?;
            headers.insert(http::header::HOST, host);
        }
    }
    *head.headers_mut() = headers;

    let (body, complete) = match request.body {
        None => (empty(), true),
        Some(body) => match take_finished(body) {
            Taken::Finished(bytes) => (full(bytes), true),
            Taken::Failed(error) => {
                let future = HostFutureIncomingResponse::Ready(Err(error));
                return Ok(Started::Pushed(http.table.push(future)?));
            }
            Taken::Open(body) => (body, false),
        },
    };
    let sending = http
        .hooks
        .send_request(head.map(|()| body), options, Box::new(async { Ok(()) }));
    let sending = Pin::from(sending);
    if complete {
        return Ok(Started::Inline(sending));
    }
    let task = spawn(async move { with_io_task(sending.await) });
    Ok(Started::Pushed(
        http.table.push(HostFutureIncomingResponse::Pending(task))?,
    ))
}

/// A sent request's response with its "io done" future running on its own task, as
/// wasmtime-wasi-http keeps it (the response body holds the task).
fn with_io_task(
    sent: Sent,
) -> Result<(http::Response<WasiBody>, AbortOnDropJoinHandle<()>), Error> {
    let (response, io) = sent?;
    let io = spawn(async move {
        if let Err(e) = Pin::from(io).await {
            tracing::warn!("outgoing request's connection failed after the response: {e}");
        }
    });
    Ok((response, io))
}

/// The request's `content-length`, checked as wasmtime-wasi-http checks it (one value, digits
/// only), since neither `outgoing-request.body` nor `outgoing-body.finish` has to be called.
fn content_length(headers: &http::HeaderMap) -> Result<Option<u64>, Refused> {
    let mut values = headers.get_all(http::header::CONTENT_LENGTH).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(internal("multiple `content-length` header values"));
    }
    let digits = value.as_bytes();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(internal("invalid `content-length` header value"));
    }
    std::str::from_utf8(digits)
        .ok()
        .and_then(|d| d.parse().ok())
        .map(Some)
        .ok_or_else(|| internal("invalid `content-length` header value"))
}

fn method(method: &Method) -> Result<http::Method, Refused> {
    Ok(match method {
        Method::Get => http::Method::GET,
        Method::Head => http::Method::HEAD,
        Method::Post => http::Method::POST,
        Method::Put => http::Method::PUT,
        Method::Delete => http::Method::DELETE,
        Method::Connect => http::Method::CONNECT,
        Method::Options => http::Method::OPTIONS,
        Method::Trace => http::Method::TRACE,
        Method::Patch => http::Method::PATCH,
        Method::Other(m) => http::Method::from_bytes(m.as_bytes())
            .map_err(|_| Refused::Code(ErrorCode::HttpRequestMethodInvalid))?,
    })
}

fn uri(hooks: &mut dyn WasiHttpHooks, request: &HostOutgoingRequest) -> Result<http::Uri, Refused> {
    let scheme = match &request.scheme {
        Some(scheme) => {
            let scheme = match scheme {
                Scheme::Http => http::uri::Scheme::HTTP,
                Scheme::Https => http::uri::Scheme::HTTPS,
                Scheme::Other(other) => http::uri::Scheme::try_from(other.as_str())
                    .map_err(|_| Refused::Code(ErrorCode::HttpProtocolError))?,
            };
            if !hooks.is_supported_scheme(&scheme) {
                return Err(Refused::Code(ErrorCode::HttpProtocolError));
            }
            scheme
        }
        None => hooks
            .default_scheme()
            .ok_or(Refused::Code(ErrorCode::HttpProtocolError))?,
    };
    let mut uri = http::Uri::builder()
        .scheme(scheme)
        .authority(request.authority.as_deref().unwrap_or_default());
    if let Some(path) = &request.path_with_query {
        uri = uri.path_and_query(path.as_str());
    }
    uri.build()
        .map_err(|e| Refused::Code(wasmtime_wasi_http::p2::http_request_error(e)))
}

/// What [`take_finished`] found in an outgoing body.
enum Taken {
    /// The guest finished the body (without trailers): all of it.
    Finished(Bytes),
    /// The body ended in an error (the guest aborted it, or wrote more than it declared).
    Failed(Error),
    /// The body is still open: what was read is put back in front of the rest.
    Open(WasiBody),
}

/// Reads whatever the guest already wrote to `body`, without waiting.
fn take_finished(mut body: WasiBody) -> Taken {
    let mut cx = Context::from_waker(Waker::noop());
    let mut frames = VecDeque::new();
    loop {
        match Pin::new(&mut body).poll_frame(&mut cx) {
            Poll::Ready(None) => return Taken::Finished(concat(frames)),
            Poll::Ready(Some(Err(e))) => return Taken::Failed(e),
            Poll::Ready(Some(Ok(frame))) if frame.is_data() => frames.push_back(frame),
            Poll::Ready(Some(Ok(trailers))) => {
                frames.push_back(trailers);
                return Taken::Open(
                    Resumed {
                        read: frames,
                        rest: body,
                    }
                    .boxed_unsync(),
                );
            }
            Poll::Pending => {
                return Taken::Open(
                    Resumed {
                        read: frames,
                        rest: body,
                    }
                    .boxed_unsync(),
                )
            }
        }
    }
}

fn concat(mut frames: VecDeque<Frame<Bytes>>) -> Bytes {
    if frames.len() == 1 {
        return frames
            .pop_front()
            .and_then(|f| f.into_data().ok())
            .unwrap_or_default();
    }
    let mut all = BytesMut::new();
    for frame in frames {
        if let Ok(data) = frame.into_data() {
            all.extend_from_slice(&data);
        }
    }
    all.freeze()
}

fn empty() -> WasiBody {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

fn full(bytes: Bytes) -> WasiBody {
    Full::new(bytes)
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// A body whose first frames were already read: those, then the rest.
struct Resumed {
    read: VecDeque<Frame<Bytes>>,
    rest: WasiBody,
}

impl Body for Resumed {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        if let Some(frame) = self.read.pop_front() {
            return Poll::Ready(Some(Ok(frame)));
        }
        Pin::new(&mut self.rest).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.read.is_empty() && self.rest.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let read: u64 = self
            .read
            .iter()
            .filter_map(|f| f.data_ref().map(|d| d.len() as u64))
            .sum();
        let rest = self.rest.size_hint();
        let mut hint = SizeHint::new();
        hint.set_lower(rest.lower().saturating_add(read));
        if let Some(upper) = rest.upper() {
            hint.set_upper(upper.saturating_add(read));
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::StreamBody;

    fn open_body(
        sent: &[&'static str],
    ) -> (
        tokio::sync::mpsc::Sender<Result<Frame<Bytes>, Error>>,
        WasiBody,
    ) {
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        for part in sent {
            tx.try_send(Ok(Frame::data(Bytes::from_static(part.as_bytes()))))
                .unwrap();
        }
        let stream = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|frame| (frame, rx))
        });
        (tx, StreamBody::new(stream).boxed_unsync())
    }

    async fn read_all(body: WasiBody) -> Vec<u8> {
        body.collect().await.unwrap().to_bytes().to_vec()
    }

    #[test]
    fn a_finished_body_is_taken_whole() {
        let (tx, body) = open_body(&["{\"model\":", "\"m\"}"]);
        drop(tx);
        match take_finished(body) {
            Taken::Finished(bytes) => assert_eq!(&bytes[..], b"{\"model\":\"m\"}"),
            _ => panic!("a finished body was not taken"),
        }
        match take_finished(empty()) {
            Taken::Finished(bytes) => assert!(bytes.is_empty()),
            _ => panic!("an empty body was not taken"),
        }
    }

    #[tokio::test]
    async fn an_open_body_keeps_what_was_read_in_front_of_the_rest() {
        let (tx, body) = open_body(&["first ", "second "]);
        let Taken::Open(body) = take_finished(body) else {
            panic!("an open body was taken as finished");
        };
        assert_eq!(body.size_hint().lower(), 13);
        tx.send(Ok(Frame::data(Bytes::from_static(b"third"))))
            .await
            .unwrap();
        drop(tx);
        assert_eq!(read_all(body).await, b"first second third");
    }

    #[test]
    fn a_failed_body_gives_its_error() {
        let (tx, body) = open_body(&["part"]);
        tx.try_send(Err(Error::HttpRequestBodySize(Some(4))))
            .unwrap();
        match take_finished(body) {
            Taken::Failed(Error::HttpRequestBodySize(Some(4))) => {}
            _ => panic!("a failed body was not reported"),
        }
    }

    #[test]
    fn content_length_takes_one_run_of_digits() {
        let mut headers = http::HeaderMap::new();
        assert!(matches!(content_length(&headers), Ok(None)));
        headers.insert("content-length", "42".parse().unwrap());
        assert!(matches!(content_length(&headers), Ok(Some(42))));
        for bad in ["+1", "", "1e3", "-1", "99999999999999999999999"] {
            headers.insert("content-length", bad.parse().unwrap());
            assert!(content_length(&headers).is_err(), "{bad:?}");
        }
        headers.insert("content-length", "1".parse().unwrap());
        headers.append("content-length", "1".parse().unwrap());
        assert!(content_length(&headers).is_err());
    }
}
