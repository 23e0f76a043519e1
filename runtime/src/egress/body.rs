//! Body wrappers on the egress path: a response body with an idle timeout and a size cap, one
//! that joins the frames that arrive together, and a request body that fails if it carries the
//! sealed-credential placeholder.

use super::hooks::Refusal;
use crate::adapter::CallMetrics;
use http_body::{Body, Frame, SizeHint};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};
use wasmtime_wasi_http::Error;

/// An upstream response body that errors when it stalls longer than `idle` between frames or
/// grows beyond `limit` bytes.
pub(crate) struct GuardedResponseBody<B = hyper::body::Incoming> {
    inner: B,
    idle: Duration,
    timer: Pin<Box<Sleep>>,
    remaining: u64,
    limit: u64,
    /// Where the time until the body ends is recorded, once.
    metrics: Option<Arc<CallMetrics>>,
    since: std::time::Instant,
}

impl<B> GuardedResponseBody<B> {
    pub(crate) fn new(
        inner: B,
        idle: Duration,
        limit: u64,
        metrics: Option<Arc<CallMetrics>>,
    ) -> Self {
        GuardedResponseBody {
            inner,
            idle,
            timer: Box::pin(tokio::time::sleep(idle)),
            remaining: limit,
            limit,
            metrics,
            since: std::time::Instant::now(),
        }
    }

    fn record_end(&mut self) {
        if let Some(m) = self.metrics.take() {
            m.add_upstream(self.since.elapsed());
        }
    }
}

impl<B> Drop for GuardedResponseBody<B> {
    fn drop(&mut self) {
        self.record_end();
    }
}

impl<B> Body for GuardedResponseBody<B>
where
    B: Body<Data = bytes::Bytes, Error = hyper::Error> + Unpin,
{
    type Data = bytes::Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let len = data.len() as u64;
                    if len > this.remaining {
                        this.remaining = 0;
                        return Poll::Ready(Some(Err(Error::HttpResponseBodySize(Some(
                            this.limit,
                        )))));
                    }
                    this.remaining -= len;
                }
                let deadline = Instant::now() + this.idle;
                this.timer.as_mut().reset(deadline);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Error::Hyper(e)))),
            Poll::Ready(None) => {
                this.record_end();
                Poll::Ready(None)
            }
            Poll::Pending => {
                ready!(this.timer.as_mut().poll(cx));
                Poll::Ready(Some(Err(Error::ConnectionReadTimeout)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A request body that fails with `HttpRequestDenied` as soon as a placeholder appears in it,
/// also when the placeholder is split across frames.
pub(crate) struct PlaceholderScan<B> {
    inner: B,
    needles: Vec<Vec<u8>>,
    tail: Vec<u8>,
    refusal: Arc<Mutex<Option<Refusal>>>,
    stats: Option<Arc<crate::stats::AdapterStats>>,
}

impl<B> PlaceholderScan<B> {
    pub(crate) fn new(
        inner: B,
        placeholders: Vec<String>,
        refusal: Arc<Mutex<Option<Refusal>>>,
    ) -> Self {
        PlaceholderScan {
            inner,
            needles: placeholders.into_iter().map(String::into_bytes).collect(),
            tail: Vec::new(),
            refusal,
            stats: None,
        }
    }

    /// Counts a refusal in `stats` too.
    pub(crate) fn counted(mut self, stats: Arc<crate::stats::AdapterStats>) -> Self {
        self.stats = Some(stats);
        self
    }

    fn sees_needle(&mut self, data: &[u8]) -> bool {
        let mut window = std::mem::take(&mut self.tail);
        window.extend_from_slice(data);
        let found = self
            .needles
            .iter()
            .any(|n| window.windows(n.len()).any(|w| w == n.as_slice()));
        let longest = self.needles.iter().map(Vec::len).max().unwrap_or(0);
        let keep = longest.saturating_sub(1).min(window.len());
        self.tail = window.split_off(window.len() - keep);
        found
    }
}

impl<B> Body for PlaceholderScan<B>
where
    B: Body<Data = bytes::Bytes, Error = Error> + Unpin,
{
    type Data = bytes::Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        let frame = ready!(Pin::new(&mut this.inner).poll_frame(cx));
        if let Some(Ok(frame)) = &frame {
            if let Some(data) = frame.data_ref() {
                if this.sees_needle(data) {
                    tracing::warn!("outgoing request refused: {}", Refusal::CredentialInBody);
                    if let Some(stats) = &this.stats {
                        stats.refused("credential_in_body");
                    }
                    if let Ok(mut last) = this.refusal.lock() {
                        *last = Some(Refusal::CredentialInBody);
                    }
                    return Poll::Ready(Some(Err(Error::HttpRequestDenied)));
                }
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The most bytes [`JoinReady`] puts in one frame: what the adapters' SDK reads at once.
const JOIN_BYTES: usize = 64 * 1024;

/// A response body whose data frames are joined while more are there without waiting. hyper
/// hands a response over one frame at a time (one HTTP chunk each, which for a stream is one
/// event); read as they come, every event of an upstream that sent many at once would cost the
/// adapter its own read and the gateway its own `next` call and client write. Over a pooled body
/// (`super::pool::PooledBody`), which decodes what its connection has received in the same poll,
/// this gives the adapter everything received so far in one frame. The first data frame passes
/// at once: it is the one a streaming client waits for. At most [`JOIN_BYTES`] per frame; an
/// error, trailers or the end come after the data joined before them.
pub(crate) struct JoinReady<B: Body> {
    inner: B,
    /// Whether a data frame has passed (the first is not held back to join others).
    started: bool,
    /// The first frame joined, kept without a copy while it is the only one.
    first: Option<bytes::Bytes>,
    /// The joined data once there is more than one frame.
    more: bytes::BytesMut,
    /// What ended a join, due after the joined data.
    due: Option<Option<Result<Frame<bytes::Bytes>, B::Error>>>,
}

impl<B: Body<Data = bytes::Bytes>> JoinReady<B> {
    /// Joins `inner`'s data frames.
    pub(crate) fn new(inner: B) -> Self {
        JoinReady {
            inner,
            started: false,
            first: None,
            more: bytes::BytesMut::new(),
            due: None,
        }
    }

    fn joined_len(&self) -> usize {
        self.first.as_ref().map_or(0, bytes::Bytes::len) + self.more.len()
    }

    fn push(&mut self, data: bytes::Bytes) {
        match self.first.take() {
            None if self.more.is_empty() => self.first = Some(data),
            first => {
                if let Some(first) = first {
                    self.more.extend_from_slice(&first);
                }
                self.more.extend_from_slice(&data);
            }
        }
    }

    fn take(&mut self) -> bytes::Bytes {
        match self.first.take() {
            Some(first) => first,
            None => self.more.split().freeze(),
        }
    }

    /// The joined data now and `next` after it, or `next` now when nothing is joined.
    fn then(
        &mut self,
        next: Option<Result<Frame<bytes::Bytes>, B::Error>>,
    ) -> Poll<Option<Result<Frame<bytes::Bytes>, B::Error>>> {
        if self.joined_len() == 0 {
            return Poll::Ready(next);
        }
        self.due = Some(next);
        Poll::Ready(Some(Ok(Frame::data(self.take()))))
    }
}

// Nothing in it is pinned structurally: the inner body is polled through `Pin::new`.
impl<B: Body + Unpin> Unpin for JoinReady<B> {}

impl<B> Body for JoinReady<B>
where
    B: Body<Data = bytes::Bytes> + Unpin,
{
    type Data = bytes::Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        if let Some(due) = this.due.take() {
            return Poll::Ready(due);
        }
        loop {
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => {
                        this.push(data);
                        let full = this.joined_len() >= JOIN_BYTES;
                        if !this.started || full || this.inner.is_end_stream() {
                            this.started = true;
                            return Poll::Ready(Some(Ok(Frame::data(this.take()))));
                        }
                    }
                    Err(frame) => return this.then(Some(Ok(frame))),
                },
                Poll::Ready(other) => return this.then(other),
                Poll::Pending if this.joined_len() == 0 => return Poll::Pending,
                Poll::Pending => return Poll::Ready(Some(Ok(Frame::data(this.take())))),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.due {
            Some(due) => due.is_none(),
            None => self.joined_len() == 0 && self.inner.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        let joined = self.joined_len() as u64;
        let inner = self.inner.size_hint();
        let mut hint = SizeHint::new();
        hint.set_lower(inner.lower() + joined);
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper + joined);
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, StreamBody};

    async fn scan(chunks: Vec<&'static [u8]>) -> Result<Vec<u8>, Error> {
        let stream = futures::stream::iter(
            chunks
                .into_iter()
                .map(|c| Ok::<_, Error>(Frame::data(bytes::Bytes::from_static(c)))),
        );
        let refusal = Arc::new(Mutex::new(None));
        let body = PlaceholderScan::new(
            StreamBody::new(stream),
            vec!["SECRET".into(), "OTHER-PLACEHOLDER".into()],
            refusal.clone(),
        );
        let result = body.collect().await.map(|b| b.to_bytes().to_vec());
        let refused = refusal.lock().unwrap().clone();
        assert_eq!(result.is_err(), refused == Some(Refusal::CredentialInBody));
        result
    }

    #[tokio::test]
    async fn finds_placeholder_split_across_frames() {
        assert!(matches!(
            scan(vec![b"{\"k\":\"SEC", b"RET\"}"]).await,
            Err(Error::HttpRequestDenied)
        ));
        assert!(matches!(
            scan(vec![b"xxSECRET"]).await,
            Err(Error::HttpRequestDenied)
        ));
        assert_eq!(
            scan(vec![b"SECRE", b"xSECRE"]).await.unwrap(),
            b"SECRExSECRE"
        );
        assert!(matches!(
            scan(vec![b"a OTHER-PLACE", b"HOLDER b"]).await,
            Err(Error::HttpRequestDenied)
        ));
    }

    #[test]
    fn the_scan_keeps_only_a_needle_length_of_tail() {
        let refusal = Arc::new(Mutex::new(None));
        let mut scan = PlaceholderScan::new((), vec!["SECRET".into()], refusal);
        for _ in 0..200 {
            assert!(!scan.sees_needle(&[b'x'; 100]));
            assert_eq!(scan.tail.len(), "SECRET".len() - 1);
        }
        assert!(scan.sees_needle(b"SECRET"));
    }

    #[tokio::test]
    async fn the_scan_passes_on_length_and_end_of_body() {
        let refusal = Arc::new(Mutex::new(None));
        let full = http_body_util::Full::new(bytes::Bytes::from_static(b"0123456789"))
            .map_err(|never: std::convert::Infallible| match never {});
        let body = PlaceholderScan::new(full, vec!["SECRET".into()], refusal.clone());
        assert_eq!(body.size_hint().exact(), Some(10));
        assert!(!body.is_end_stream());
        let empty = http_body_util::Empty::<bytes::Bytes>::new()
            .map_err(|never: std::convert::Infallible| match never {});
        let body = PlaceholderScan::new(empty, vec!["SECRET".into()], refusal);
        assert!(body.is_end_stream());
    }

    /// A response body from a real HTTP/1 connection whose server writes `raw` after the head
    /// `head`, then waits for `release` before closing.
    async fn incoming(
        head: &'static str,
        raw: Vec<&'static [u8]>,
        release: tokio::sync::oneshot::Receiver<()>,
    ) -> hyper::body::Incoming {
        use tokio::io::AsyncWriteExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let _ = tokio::io::AsyncReadExt::read(&mut sock, &mut buf).await;
            sock.write_all(head.as_bytes()).await.unwrap();
            for part in raw {
                sock.write_all(part).await.unwrap();
                sock.flush().await.unwrap();
            }
            let _ = release.await;
        });
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (mut send, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .unwrap();
        tokio::spawn(conn);
        let request = http::Request::get("/")
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .unwrap();
        send.send_request(request).await.unwrap().into_body()
    }

    const CHUNKED: &str = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";

    async fn read_all(mut body: GuardedResponseBody) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        while let Some(frame) = body.frame().await {
            if let Some(data) = frame?.data_ref() {
                out.extend_from_slice(data);
            }
        }
        Ok(out)
    }

    fn guarded(inner: hyper::body::Incoming, limit: u64) -> GuardedResponseBody {
        GuardedResponseBody::new(inner, Duration::from_secs(30), limit, None)
    }

    #[tokio::test]
    async fn a_body_of_exactly_the_cap_passes_and_one_byte_more_does_not() {
        let (_hold, release) = tokio::sync::oneshot::channel();
        let parts = vec![&b"5\r\nhello\r\n"[..], b"5\r\nworld\r\n", b"0\r\n\r\n"];
        let body = guarded(incoming(CHUNKED, parts, release).await, 10);
        assert_eq!(read_all(body).await.unwrap(), b"helloworld");

        let (_hold, release) = tokio::sync::oneshot::channel();
        let parts = vec![&b"5\r\nhello\r\n"[..], b"6\r\nworld!\r\n", b"0\r\n\r\n"];
        let body = guarded(incoming(CHUNKED, parts, release).await, 10);
        assert!(matches!(
            read_all(body).await,
            Err(Error::HttpResponseBodySize(Some(10)))
        ));
    }

    #[tokio::test]
    async fn a_cut_body_is_a_transport_error_and_a_stalled_one_a_read_timeout() {
        let (hold, release) = tokio::sync::oneshot::channel();
        let head = "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n";
        let body = guarded(incoming(head, vec![b"hello"], release).await, 100);
        drop(hold);
        assert!(matches!(read_all(body).await, Err(Error::Hyper(_))));

        let (_hold, release) = tokio::sync::oneshot::channel();
        let inner = incoming(head, vec![b"hello"], release).await;
        let body = GuardedResponseBody::new(inner, Duration::from_millis(50), 100, None);
        assert!(matches!(
            read_all(body).await,
            Err(Error::ConnectionReadTimeout)
        ));
    }

    #[tokio::test]
    async fn the_body_passes_on_its_length_and_end() {
        let (_hold, release) = tokio::sync::oneshot::channel();
        let head = "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n";
        let body = guarded(incoming(head, vec![b"0123456789"], release).await, 100);
        assert_eq!(body.size_hint().exact(), Some(10));
        assert!(!body.is_end_stream());

        let (_hold, release) = tokio::sync::oneshot::channel();
        let head = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        let body = guarded(incoming(head, vec![], release).await, 100);
        assert!(body.is_end_stream());
    }

    #[tokio::test]
    async fn upstream_time_is_recorded_at_the_end_of_the_body_or_when_it_is_dropped() {
        let head = "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n";
        let (_hold, release) = tokio::sync::oneshot::channel();
        let metrics = Arc::new(CallMetrics::default());
        let inner = incoming(head, vec![b"hello"], release).await;
        let mut body =
            GuardedResponseBody::new(inner, Duration::from_secs(30), 100, Some(metrics.clone()));
        tokio::time::sleep(Duration::from_millis(20)).await;
        while body.frame().await.is_some() {}
        let at_end = metrics.upstream_time();
        assert!(at_end >= Duration::from_millis(20), "{at_end:?}");
        drop(body);
        assert_eq!(metrics.upstream_time(), at_end, "recorded once");

        let (_hold, release) = tokio::sync::oneshot::channel();
        let metrics = Arc::new(CallMetrics::default());
        let inner = incoming(head, vec![], release).await;
        let body =
            GuardedResponseBody::new(inner, Duration::from_secs(30), 100, Some(metrics.clone()));
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(body);
        assert!(metrics.upstream_time() >= Duration::from_millis(20));
    }

    /// The data frames of `body` as text, until its end or its first error.
    async fn texts<B>(mut body: B) -> (Vec<String>, Option<B::Error>)
    where
        B: Body<Data = bytes::Bytes> + Unpin,
    {
        let mut out = Vec::new();
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(frame) => out.extend(
                    frame
                        .data_ref()
                        .map(|d| String::from_utf8_lossy(d).into_owned()),
                ),
                Err(e) => return (out, Some(e)),
            }
        }
        (out, None)
    }

    #[tokio::test]
    async fn a_frame_still_to_come_is_not_waited_for() {
        let (tx, rx) = futures::channel::mpsc::unbounded::<Result<Frame<bytes::Bytes>, Error>>();
        tx.unbounded_send(Ok(Frame::data("first".into()))).unwrap();
        tx.unbounded_send(Ok(Frame::data("second".into()))).unwrap();
        let mut body = JoinReady::new(StreamBody::new(rx));
        for expected in ["first", "second"] {
            let frame = body.frame().await.unwrap().unwrap();
            assert_eq!(frame.data_ref().unwrap().as_ref(), expected.as_bytes());
        }
        tx.unbounded_send(Ok(Frame::data("third".into()))).unwrap();
        drop(tx);
        assert_eq!(texts(body).await.0, ["third"]);
    }

    #[tokio::test]
    async fn an_error_comes_after_the_data_joined_before_it() {
        let frames = futures::stream::iter([
            Ok(Frame::data(bytes::Bytes::from("a"))),
            Ok(Frame::data(bytes::Bytes::from("b"))),
            Ok(Frame::data(bytes::Bytes::from("c"))),
            Err(Error::HttpProtocolError),
        ]);
        let (frames, error) = texts(JoinReady::new(StreamBody::new(frames))).await;
        assert_eq!(frames, ["a", "bc"]);
        assert!(matches!(error, Some(Error::HttpProtocolError)));
    }

    #[tokio::test]
    async fn joined_frames_stop_at_the_size_cap() {
        let part = bytes::Bytes::from(vec![b'x'; 40 * 1024]);
        let frames = futures::stream::iter([
            Ok::<_, Error>(Frame::data("first".into())),
            Ok(Frame::data(part.clone())),
            Ok(Frame::data(part.clone())),
            Ok(Frame::data(part)),
        ]);
        let (frames, _) = texts(JoinReady::new(StreamBody::new(frames))).await;
        let sizes: Vec<usize> = frames.iter().map(String::len).collect();
        assert_eq!(sizes, [5, 80 * 1024, 40 * 1024]);
    }
}
