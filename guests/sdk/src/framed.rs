//! Items framed in an HTTP response body (SSE events, NDJSON lines, AWS event-stream messages),
//! read one at a time: one loop over the body for every wire format, which only says how bytes
//! become items ([`Framing`]).

use crate::error::ProviderResult;
use crate::http::BodyReader;

/// How a wire format turns body bytes into items.
pub trait Framing {
    /// One item (an event, a line's value, a message).
    type Item;
    /// Takes the next bytes of the body.
    fn push(&mut self, bytes: &[u8]) -> ProviderResult<()>;
    /// The next complete item, if any.
    fn next_item(&mut self) -> ProviderResult<Option<Self::Item>>;
    /// The body has ended: completes or refuses what is left.
    fn finish(&mut self) -> ProviderResult<()> {
        Ok(())
    }
}

/// Items read from a response body; it can be kept in an adapter's stream state and driven
/// across many `next` calls.
pub struct FramedBody<F> {
    body: BodyReader,
    framing: F,
    ended: bool,
}

impl<F: Framing> FramedBody<F> {
    /// Reads items from `body` with `framing`.
    pub fn with(body: BodyReader, framing: F) -> Self {
        FramedBody {
            body,
            framing,
            ended: false,
        }
    }

    /// The next item; `None` when the body has ended.
    pub fn next_item(&mut self) -> ProviderResult<Option<F::Item>> {
        loop {
            if let Some(item) = self.framing.next_item()? {
                return Ok(Some(item));
            }
            if self.ended {
                return Ok(None);
            }
            match self.body.read_chunk()? {
                Some(bytes) => self.framing.push(&bytes)?,
                None => {
                    self.ended = true;
                    self.framing.finish()?;
                }
            }
        }
    }
}

impl<F: Framing> crate::stream::EventReader for FramedBody<F> {
    type Event = F::Item;

    /// Every item complete after the next read (reading until there is one); empty at the end
    /// of the body.
    fn read_batch(&mut self) -> ProviderResult<Vec<F::Item>> {
        let Some(first) = self.next_item()? else {
            return Ok(Vec::new());
        };
        let mut batch = vec![first];
        while let Some(item) = self.framing.next_item()? {
            batch.push(item);
        }
        Ok(batch)
    }
}
