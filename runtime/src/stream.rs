//! A streamed chat answer: the adapter's `chunk-stream` resource pulled batch by batch, each
//! `next` with its own CPU budget and wall-clock bound, the whole stream with an overall bound.

use crate::adapter::{check_output, Instance};
use crate::bindings::exports::wasmgate::provider::adapter::OpenedStream;
use crate::bindings::types::ChatChunk;
use crate::credential::drop_leaking;
use crate::error::{from_guest_failure, CallError};
use crate::policy::Limits;
use crate::Secret;
use futures::{Stream, StreamExt};
use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::time::Instant;
use wasmtime::component::ResourceAny;

/// What one pull yields: the chunks the adapter made from one upstream read (never empty).
type BatchResult = Result<Vec<ChatChunk>, CallError>;

/// A streamed answer. As a [`Stream`] it yields chunk by chunk; [`ChatStream::next_batch`]
/// yields what the adapter made from one upstream read, and [`ChatStream::next_ready_batches`]
/// joins the batches that follow without waiting, for one write per batch. Ends after the last
/// chunk or after the first error.
pub struct ChatStream {
    headers: Vec<(String, String)>,
    buffered: VecDeque<ChatChunk>,
    /// A failure met while joining batches, reported after the chunks that preceded it.
    held: Option<CallError>,
    inner: futures::stream::Fuse<Pin<Box<dyn Stream<Item = BatchResult> + Send>>>,
}

struct Pull {
    instance: Instance,
    handle: ResourceAny,
    next_timeout: Duration,
    stream_timeout: Duration,
    deadline: Instant,
    cpu: Duration,
    max_output_bytes: usize,
    secrets: Vec<Secret>,
}

impl Pull {
    async fn next(&mut self) -> Option<BatchResult> {
        let i = &mut self.instance;
        i.store.data_mut().reset_cpu();
        let exports = i.exports;
        let now = Instant::now();
        let next_deadline = (now + self.next_timeout).min(self.deadline);
        // A timeout looks at its clock only when the call it bounds is not ready, so an adapter
        // whose `next` always answers at once would never reach the stream's bound: checked here.
        let outcome = if now < self.deadline {
            let call = exports.next(i.bound(), self.handle);
            tokio::time::timeout_at(next_deadline, call).await.ok()
        } else {
            None
        };
        let result = match outcome {
            None if next_deadline == self.deadline => Err(CallError::Timeout(self.stream_timeout)),
            None => Err(CallError::Timeout(self.next_timeout)),
            Some(Err(trap)) => Err(from_guest_failure(trap, self.cpu)),
            Some(Ok(Err(e))) => Err(CallError::Provider(e)),
            Some(Ok(Ok(batch))) if batch.is_empty() => return None,
            Some(Ok(Ok(batch))) => check_output(&batch, self.max_output_bytes).map(|()| batch),
        };
        if let Err(e) = &result {
            i.stats.failed(e);
        }
        Some(result.map_err(|e| Instance::explain(&i.refusal, e).scrubbed(&self.secrets)))
    }
}

impl ChatStream {
    pub(crate) fn new(
        instance: Instance,
        opened: OpenedStream,
        limits: &Limits,
        secrets: Vec<Secret>,
    ) -> Self {
        let mut headers = opened.headers;
        drop_leaking(&mut headers, &secrets);
        let pull = Pull {
            instance,
            handle: opened.chunks,
            next_timeout: limits.stream_next_timeout,
            stream_timeout: limits.stream_timeout,
            deadline: Instant::now() + limits.stream_timeout,
            cpu: limits.cpu_time,
            max_output_bytes: limits.max_output_bytes,
            secrets,
        };
        let inner = futures::stream::unfold(Some(pull), |state| async move {
            let mut pull = state?;
            match pull.next().await? {
                Ok(batch) => Some((Ok(batch), Some(pull))),
                Err(e) => Some((Err(e), None)),
            }
        });
        let inner: Pin<Box<dyn Stream<Item = BatchResult> + Send>> = Box::pin(inner);
        ChatStream {
            headers,
            buffered: VecDeque::new(),
            held: None,
            inner: inner.fuse(),
        }
    }

    /// The next batch: the chunks the adapter made from one upstream read (never empty), the
    /// stream's error, or `None` at its end.
    pub async fn next_batch(&mut self) -> Option<BatchResult> {
        if !self.buffered.is_empty() {
            return Some(Ok(self.buffered.drain(..).collect()));
        }
        if let Some(e) = self.held.take() {
            return Some(Err(e));
        }
        self.inner.next().await
    }

    /// The next batch joined with the batches ready right after it, up to `max_chunks` chunks:
    /// after a batch, the adapter's next one is taken only if it comes without waiting (the
    /// adapter reads what its upstream connection has received in the same poll). An upstream
    /// that sent many events at once costs one write instead of one per event, also with an
    /// adapter that makes fewer chunks per `next` than it could; one that sends them apart
    /// waits no longer for this. An error after some chunks comes on the next call.
    pub async fn next_ready_batches(&mut self, max_chunks: usize) -> Option<BatchResult> {
        let mut batch = match self.next_batch().await? {
            Ok(batch) => batch,
            Err(e) => return Some(Err(e)),
        };
        while batch.len() < max_chunks {
            match futures::poll!(self.inner.next()) {
                Poll::Ready(Some(Ok(more))) => batch.extend(more),
                Poll::Ready(Some(Err(e))) => {
                    self.held = Some(e);
                    break;
                }
                Poll::Ready(None) | Poll::Pending => break,
            }
        }
        Some(Ok(batch))
    }

    /// The upstream response headers the adapter passed on when the stream opened.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }
}

impl Stream for ChatStream {
    type Item = Result<ChatChunk, CallError>;

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<ChatChunk, CallError>>> {
        loop {
            if let Some(chunk) = self.buffered.pop_front() {
                return Poll::Ready(Some(Ok(chunk)));
            }
            if let Some(e) = self.held.take() {
                return Poll::Ready(Some(Err(e)));
            }
            match ready!(self.inner.poll_next_unpin(cx)) {
                Some(Ok(batch)) => self.buffered.extend(batch),
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => return Poll::Ready(None),
            }
        }
    }
}
