//! AWS event-stream framing (`application/vnd.amazon.eventstream`), as Bedrock's
//! `ConverseStream` and `InvokeModelWithResponseStream` send it: each message is a 12-byte
//! prelude (total length, headers length, CRC32 of the two), typed headers, the payload and a
//! CRC32 of everything before it. Both checksums are verified; messages may be split across reads
//! or share one.

use crate::bindings::wasmgate::provider::types::ProviderError;
use crate::http::BodyReader;

/// The largest message accepted (AWS caps messages at 16 MiB).
pub const MAX_MESSAGE: usize = 16 << 20;
const PRELUDE: usize = 12;
const MIN_MESSAGE: usize = PRELUDE + 4;

/// A header value, by the event-stream type tag it was sent with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderValue {
    /// Types 0 and 1.
    Bool(bool),
    /// Type 2.
    Byte(i8),
    /// Type 3.
    Short(i16),
    /// Type 4.
    Int(i32),
    /// Type 5.
    Long(i64),
    /// Type 6.
    Bytes(Vec<u8>),
    /// Type 7.
    String(String),
    /// Type 8: milliseconds since the Unix epoch.
    Timestamp(i64),
    /// Type 9.
    Uuid([u8; 16]),
}

/// One decoded message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The headers in the order sent.
    pub headers: Vec<(String, HeaderValue)>,
    /// The payload (JSON for Bedrock).
    pub payload: Vec<u8>,
}

impl Message {
    /// A string header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find_map(|(n, v)| match v {
            HeaderValue::String(s) if n == name => Some(s.as_str()),
            _ => None,
        })
    }

    /// `:message-type`: `event`, `exception` or `error`.
    pub fn message_type(&self) -> Option<&str> {
        self.header(":message-type")
    }

    /// `:event-type` (e.g. `contentBlockDelta`, `chunk`), or `:exception-type` for exceptions.
    pub fn event_type(&self) -> Option<&str> {
        self.header(":event-type")
            .or_else(|| self.header(":exception-type"))
    }

    /// The payload as JSON.
    pub fn json(&self) -> Result<serde_json::Value, ProviderError> {
        crate::wire::json_from_bytes(&self.payload).map_err(|e| {
            ProviderError::upstream(format!("an event-stream payload is not JSON: {e}"))
        })
    }

    /// An upstream error for an `exception` or `error` message, `None` for an event.
    pub fn error(&self) -> Option<ProviderError> {
        let kind = self.message_type()?;
        if kind == "event" {
            return None;
        }
        let name = self
            .event_type()
            .or_else(|| self.header(":error-code"))
            .unwrap_or("unknown");
        let detail = self
            .json()
            .ok()
            .and_then(|v| {
                v.get("message")
                    .and_then(|m| m.as_str())
                    .map(str::to_string)
            })
            .or_else(|| self.header(":error-message").map(str::to_string))
            .unwrap_or_else(|| crate::error::snippet(&self.payload));
        let mut e = ProviderError::upstream(format!("the stream failed: {name}: {detail}"));
        if name.to_ascii_lowercase().contains("throttl") {
            e.kind = crate::bindings::wasmgate::provider::types::ErrorKind::RateLimited;
        }
        e.provider_code = Some(name.to_string());
        Some(e)
    }
}

fn bad(message: impl Into<String>) -> ProviderError {
    ProviderError::upstream(format!("malformed event stream: {}", message.into()))
}

fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Decodes one whole message (`bytes` is exactly its length).
fn decode(bytes: &[u8]) -> Result<Message, ProviderError> {
    let total = bytes.len();
    let headers_len = be_u32(&bytes[4..8]) as usize;
    if crc32fast::hash(&bytes[..8]) != be_u32(&bytes[8..12]) {
        return Err(bad("prelude checksum mismatch"));
    }
    if crc32fast::hash(&bytes[..total - 4]) != be_u32(&bytes[total - 4..]) {
        return Err(bad("message checksum mismatch"));
    }
    if PRELUDE + headers_len > total - 4 {
        return Err(bad("headers longer than the message"));
    }
    let mut rest = &bytes[PRELUDE..PRELUDE + headers_len];
    let mut headers = Vec::new();
    let take = |rest: &mut &[u8], n: usize| -> Result<Vec<u8>, ProviderError> {
        if rest.len() < n {
            return Err(bad("a header runs past the headers"));
        }
        let (head, tail) = rest.split_at(n);
        *rest = tail;
        Ok(head.to_vec())
    };
    while !rest.is_empty() {
        let name_len = take(&mut rest, 1)?[0] as usize;
        let name = String::from_utf8(take(&mut rest, name_len)?)
            .map_err(|_| bad("a header name is not UTF-8"))?;
        let tag = take(&mut rest, 1)?[0];
        let int = |b: Vec<u8>| b.iter().fold(0i64, |acc, &x| (acc << 8) | x as i64);
        let value = match tag {
            0 => HeaderValue::Bool(true),
            1 => HeaderValue::Bool(false),
            2 => HeaderValue::Byte(take(&mut rest, 1)?[0] as i8),
            3 => HeaderValue::Short(int(take(&mut rest, 2)?) as i16),
            4 => HeaderValue::Int(int(take(&mut rest, 4)?) as i32),
            5 => HeaderValue::Long(int(take(&mut rest, 8)?)),
            6 | 7 => {
                let len = int(take(&mut rest, 2)?) as usize;
                let data = take(&mut rest, len)?;
                if tag == 6 {
                    HeaderValue::Bytes(data)
                } else {
                    HeaderValue::String(
                        String::from_utf8(data).map_err(|_| bad("a string header is not UTF-8"))?,
                    )
                }
            }
            8 => HeaderValue::Timestamp(int(take(&mut rest, 8)?)),
            9 => {
                let mut id = [0u8; 16];
                id.copy_from_slice(&take(&mut rest, 16)?);
                HeaderValue::Uuid(id)
            }
            other => return Err(bad(format!("unknown header type {other}"))),
        };
        headers.push((name, value));
    }
    Ok(Message {
        headers,
        payload: bytes[PRELUDE + headers_len..total - 4].to_vec(),
    })
}

/// An incremental decoder: feed bytes as they arrive, take messages as they complete.
#[derive(Debug, Default)]
pub struct EventStreamParser {
    buffer: Vec<u8>,
}

impl EventStreamParser {
    /// An empty decoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes from the body.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// The next complete message, `Ok(None)` until more bytes arrive, or an error for a frame
    /// that is malformed or fails its checksum (the stream cannot continue after one).
    pub fn next_message(&mut self) -> Result<Option<Message>, ProviderError> {
        if self.buffer.len() < PRELUDE {
            return Ok(None);
        }
        let total = be_u32(&self.buffer[..4]) as usize;
        if !(MIN_MESSAGE..=MAX_MESSAGE).contains(&total) {
            return Err(bad(format!("a message of {total} bytes")));
        }
        if crc32fast::hash(&self.buffer[..8]) != be_u32(&self.buffer[8..12]) {
            return Err(bad("prelude checksum mismatch"));
        }
        if self.buffer.len() < total {
            return Ok(None);
        }
        let message = decode(&self.buffer[..total]);
        self.buffer.drain(..total);
        message.map(Some)
    }

    /// Whether bytes of an unfinished message are buffered.
    pub fn has_partial(&self) -> bool {
        !self.buffer.is_empty()
    }
}

/// Encodes a message with string headers (for tests and fixtures).
pub fn encode(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut head = Vec::new();
    for (name, value) in headers {
        head.push(name.len() as u8);
        head.extend_from_slice(name.as_bytes());
        head.push(7);
        head.extend_from_slice(&(value.len() as u16).to_be_bytes());
        head.extend_from_slice(value.as_bytes());
    }
    let total = (PRELUDE + head.len() + payload.len() + 4) as u32;
    let mut out = Vec::with_capacity(total as usize);
    out.extend_from_slice(&total.to_be_bytes());
    out.extend_from_slice(&(head.len() as u32).to_be_bytes());
    let prelude_crc = crc32fast::hash(&out);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    out.extend_from_slice(&head);
    out.extend_from_slice(payload);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

impl crate::framed::Framing for EventStreamParser {
    type Item = Message;

    fn push(&mut self, bytes: &[u8]) -> Result<(), ProviderError> {
        EventStreamParser::push(self, bytes);
        Ok(())
    }

    fn next_item(&mut self) -> Result<Option<Message>, ProviderError> {
        self.next_message()
    }

    fn finish(&mut self) -> Result<(), ProviderError> {
        if self.has_partial() {
            return Err(bad("the body ended inside a message"));
        }
        Ok(())
    }
}

/// Messages read from an HTTP response body.
pub type EventStream = crate::framed::FramedBody<EventStreamParser>;

impl EventStream {
    /// Reads messages from `body`.
    pub fn new(body: BodyReader) -> Self {
        Self::with(body, EventStreamParser::new())
    }

    /// The next message; `None` when the body has ended cleanly.
    pub fn next_message(&mut self) -> Result<Option<Message>, ProviderError> {
        self.next_item()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_messages_split_and_joined_across_reads() {
        let a = encode(
            &[
                (":message-type", "event"),
                (":event-type", "contentBlockDelta"),
            ],
            br#"{"delta":{"text":"Hi"}}"#,
        );
        let b = encode(
            &[(":message-type", "event"), (":event-type", "messageStop")],
            b"{}",
        );
        let mut all = a.clone();
        all.extend_from_slice(&b);
        for split in [1, 5, 12, 13, a.len() - 1, a.len(), a.len() + 3] {
            let mut p = EventStreamParser::new();
            p.push(&all[..split]);
            let mut got = Vec::new();
            while let Some(m) = p.next_message().unwrap() {
                got.push(m);
            }
            p.push(&all[split..]);
            while let Some(m) = p.next_message().unwrap() {
                got.push(m);
            }
            assert_eq!(got.len(), 2, "split at {split}");
            assert_eq!(got[0].event_type(), Some("contentBlockDelta"));
            assert_eq!(got[0].json().unwrap()["delta"]["text"], "Hi");
            assert_eq!(got[1].event_type(), Some("messageStop"));
            assert!(!p.has_partial());
        }
    }

    #[test]
    fn the_published_empty_message_vector_decodes() {
        // aws-c-event-stream's `empty_message`: no headers, no payload.
        let bytes = [
            0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x05, 0xc2, 0x48, 0xeb, 0x7d, 0x98,
            0xc8, 0xff,
        ];
        let mut p = EventStreamParser::new();
        p.push(&bytes);
        let m = p.next_message().unwrap().unwrap();
        assert!(m.headers.is_empty() && m.payload.is_empty());
        assert_eq!(encode(&[], b""), bytes);
    }

    #[test]
    fn corrupted_frames_and_exceptions_are_errors() {
        let mut frame = encode(&[(":message-type", "event")], b"{}");
        let last = frame.len() - 5;
        frame[last] ^= 0xff;
        let mut p = EventStreamParser::new();
        p.push(&frame);
        let e = p.next_message().unwrap_err();
        assert!(e.message.contains("message checksum"), "{}", e.message);

        let mut frame = encode(&[], b"");
        frame[9] ^= 1;
        let mut p = EventStreamParser::new();
        p.push(&frame);
        assert!(p
            .next_message()
            .unwrap_err()
            .message
            .contains("prelude checksum"));

        let exception = encode(
            &[
                (":message-type", "exception"),
                (":exception-type", "throttlingException"),
            ],
            br#"{"message":"Too many requests"}"#,
        );
        let mut p = EventStreamParser::new();
        p.push(&exception);
        let e = p.next_message().unwrap().unwrap().error().unwrap();
        assert_eq!(e.provider_code.as_deref(), Some("throttlingException"));
        assert!(e.message.contains("Too many requests"));
    }
}
