//! A streamed chat answer: the adapter's `chunk-stream` resource pulled chunk by chunk, each
//! `next` with its own CPU budget and wall-clock bound.

use crate::adapter::Instance;
use crate::bindings::types::ChatChunk;
use crate::error::{from_guest_failure, CallError};
use crate::Secret;
use futures::Stream;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
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
    cpu: Duration,
    secret: Option<Secret>,
}

impl Pull {
    async fn next(&mut self) -> Option<ChunkResult> {
        let i = &mut self.instance;
        i.store.data_mut().reset_cpu();
        let adapter = i.provider.wasmgate_provider_adapter();
        let chunks = adapter.chunk_stream();
        let call = chunks.call_next(&mut i.store, self.handle);
        let result = match tokio::time::timeout(self.next_timeout, call).await {
            Err(_) => Err(CallError::Timeout(self.next_timeout)),
            Ok(Err(trap)) => Err(from_guest_failure(trap, self.cpu)),
            Ok(Ok(Err(e))) => Err(CallError::Provider(e)),
            Ok(Ok(Ok(chunk))) => return chunk.map(Ok),
        };
        Some(result.map_err(|e| e.scrubbed(self.secret.as_ref())))
    }
}

impl ChatStream {
    pub(crate) fn new(
        instance: Instance,
        handle: ResourceAny,
        next_timeout: Duration,
        cpu: Duration,
        secret: Option<Secret>,
    ) -> Self {
        let pull = Pull {
            instance,
            handle,
            next_timeout,
            cpu,
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
