//! A streamed chat answer: the adapter's `chunk-stream` resource pulled chunk by chunk, each
//! `next` with its own CPU budget and wall-clock bound, the whole stream with an overall bound.

use crate::adapter::{check_output, Instance};
use crate::bindings::types::ChatChunk;
use crate::error::{from_guest_failure, CallError};
use crate::policy::Limits;
use crate::Secret;
use futures::Stream;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Instant;
use wasmtime::component::ResourceAny;

type ChunkResult = Result<ChatChunk, CallError>;

/// Chunks of a streamed answer. Ends after the last chunk or after the first error.
pub struct ChatStream {
    inner: Pin<Box<dyn Stream<Item = ChunkResult> + Send>>,
}

struct Pull {
    instance: Instance,
    handle: ResourceAny,
    next_timeout: Duration,
    stream_timeout: Duration,
    deadline: Instant,
    cpu: Duration,
    max_output_bytes: usize,
    secret: Option<Secret>,
}

impl Pull {
    async fn next(&mut self) -> Option<ChunkResult> {
        let i = &mut self.instance;
        i.store.data_mut().reset_cpu();
        let adapter = i.provider.wasmgate_provider_adapter();
        let chunks = adapter.chunk_stream();
        let call = chunks.call_next(&mut i.store, self.handle);
        let next_deadline = (Instant::now() + self.next_timeout).min(self.deadline);
        let result = match tokio::time::timeout_at(next_deadline, call).await {
            Err(_) if next_deadline == self.deadline => {
                Err(CallError::Timeout(self.stream_timeout))
            }
            Err(_) => Err(CallError::Timeout(self.next_timeout)),
            Ok(Err(trap)) => Err(from_guest_failure(trap, self.cpu)),
            Ok(Ok(Err(e))) => Err(CallError::Provider(e)),
            Ok(Ok(Ok(None))) => return None,
            Ok(Ok(Ok(Some(chunk)))) => check_output(&chunk, self.max_output_bytes).map(|()| chunk),
        };
        Some(result.map_err(|e| e.scrubbed(self.secret.as_ref())))
    }
}

impl ChatStream {
    pub(crate) fn new(
        instance: Instance,
        handle: ResourceAny,
        limits: &Limits,
        secret: Option<Secret>,
    ) -> Self {
        let pull = Pull {
            instance,
            handle,
            next_timeout: limits.stream_next_timeout,
            stream_timeout: limits.stream_timeout,
            deadline: Instant::now() + limits.stream_timeout,
            cpu: limits.cpu_time,
            max_output_bytes: limits.max_output_bytes,
            secret,
        };
        let inner = futures::stream::unfold(Some(pull), |state| async move {
            let mut pull = state?;
            match pull.next().await? {
                Ok(chunk) => Some((Ok(chunk), Some(pull))),
                Err(e) => Some((Err(e), None)),
            }
        });
        ChatStream {
            inner: Box::pin(inner),
        }
    }
}

impl Stream for ChatStream {
    type Item = ChunkResult;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<ChunkResult>> {
        self.inner.as_mut().poll_next(cx)
    }
}
