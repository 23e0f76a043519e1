//! Streams cross the boundary in batches: each `next` returns every chunk the adapter can make
//! from one upstream read. [`ChunkPump`] does the bookkeeping for any wire format: an
//! [`EventReader`] yields the events of one read, a [`Translate`] turns each into chunks, and an
//! error that follows chunks of the same read is held back until those chunks are delivered.

use crate::bindings::exports::wasmgate::provider::adapter::{
    ChunkStream, GuestChunkStream, OpenedStream,
};
use crate::bindings::wasmgate::provider::types::{ChatChunk, ProviderError};
use crate::error::ProviderResult;
use std::cell::RefCell;

/// A source of upstream events (SSE events, NDJSON lines, AWS event-stream messages).
pub trait EventReader {
    /// One event.
    type Event;
    /// The events complete after the next read of the body, reading until there is at least
    /// one; an empty list at the end of the body.
    fn read_batch(&mut self) -> ProviderResult<Vec<Self::Event>>;
}

/// Whether the stream goes on after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// More events may follow.
    Continue,
    /// The stream is complete (e.g. `data: [DONE]`, `message_stop`).
    End,
}

/// Turns a provider's stream events into chat chunks, keeping whatever state it needs.
pub trait Translate<E> {
    /// Appends the chunks `event` makes (none, one or several) to `out`.
    fn translate(&mut self, event: E, out: &mut Vec<ChatChunk>) -> ProviderResult<Flow>;

    /// Chunks to add once the body ends without an explicit end event.
    fn finish(&mut self, _out: &mut Vec<ChatChunk>) -> ProviderResult<()> {
        Ok(())
    }
}

/// Batches of chunks from a reader and a translation.
pub struct ChunkPump<R, T> {
    reader: Option<R>,
    translate: T,
    held_error: Option<ProviderError>,
}

impl<R: EventReader, T: Translate<R::Event>> ChunkPump<R, T> {
    /// A pump over `reader`.
    pub fn new(reader: R, translate: T) -> Self {
        ChunkPump {
            reader: Some(reader),
            translate,
            held_error: None,
        }
    }

    /// The next batch: at least one chunk while the stream goes on, empty at its end, or the
    /// stream's error (after every chunk that preceded it).
    pub fn next_batch(&mut self) -> ProviderResult<Vec<ChatChunk>> {
        if let Some(e) = self.held_error.take() {
            return Err(e);
        }
        let mut out = Vec::new();
        while out.is_empty() {
            let Some(reader) = self.reader.as_mut() else {
                return Ok(out);
            };
            let events = match reader.read_batch() {
                Ok(events) => events,
                Err(e) => return self.fail(e, out),
            };
            if events.is_empty() {
                self.reader = None;
                if let Err(e) = self.translate.finish(&mut out) {
                    return self.fail(e, out);
                }
                return Ok(out);
            }
            for event in events {
                match self.translate.translate(event, &mut out) {
                    Ok(Flow::Continue) => {}
                    Ok(Flow::End) => {
                        self.reader = None;
                        return Ok(out);
                    }
                    Err(e) => return self.fail(e, out),
                }
            }
        }
        Ok(out)
    }

    /// Ends the stream with `e`, after `delivered` when there is any.
    fn fail(
        &mut self,
        e: ProviderError,
        delivered: Vec<ChatChunk>,
    ) -> ProviderResult<Vec<ChatChunk>> {
        self.reader = None;
        if delivered.is_empty() {
            return Err(e);
        }
        self.held_error = Some(e);
        Ok(delivered)
    }
}

/// The chunk-stream resource most adapters return: a [`ChunkPump`] read one batch per `next`.
/// An adapter names it as its stream type (`type ChunkStream = PumpStream<SseStream, MyEvents>`)
/// and opens it with [`PumpStream::open`].
pub struct PumpStream<R, T>(RefCell<ChunkPump<R, T>>);

impl<R, T> PumpStream<R, T>
where
    R: EventReader + 'static,
    T: Translate<R::Event> + 'static,
{
    /// The opened stream over `reader`, translated by `translate`, with the upstream headers
    /// passed on.
    pub fn open(reader: R, translate: T, headers: Vec<(String, String)>) -> OpenedStream {
        OpenedStream {
            chunks: ChunkStream::new(PumpStream(RefCell::new(ChunkPump::new(reader, translate)))),
            headers,
        }
    }
}

impl<R, T> GuestChunkStream for PumpStream<R, T>
where
    R: EventReader + 'static,
    T: Translate<R::Event> + 'static,
{
    fn next(&self) -> ProviderResult<Vec<ChatChunk>> {
        self.0.borrow_mut().next_batch()
    }
}
