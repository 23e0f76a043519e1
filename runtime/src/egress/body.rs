//! Body wrappers on the egress path: a response body with an idle timeout and a size cap, and a
//! request body that fails if it carries the sealed-credential placeholder.

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
pub(crate) struct GuardedResponseBody {
    inner: hyper::body::Incoming,
    idle: Duration,
    timer: Pin<Box<Sleep>>,
    remaining: u64,
    limit: u64,
    /// Where the time until the body ends is recorded, once.
    metrics: Option<Arc<CallMetrics>>,
    since: std::time::Instant,
}

impl GuardedResponseBody {
    pub(crate) fn new(
        inner: hyper::body::Incoming,
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

impl Drop for GuardedResponseBody {
    fn drop(&mut self) {
        self.record_end();
    }
}

impl Body for GuardedResponseBody {
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
            Poll::Ready(Some(Err(e))) if e.is_timeout() => {
                Poll::Ready(Some(Err(Error::ConnectionReadTimeout)))
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
        }
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
}
