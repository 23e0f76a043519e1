//! Server-sent events, parsed as the HTML standard says: `LF`, `CR` and `CRLF` line ends (also
//! split across reads), comments, `event:`/`data:`/`id:`/`retry:` fields, multi-line `data`, an
//! optional single space after the colon, a leading byte-order mark, and no dispatch of an event
//! that was not ended by a blank line.

use crate::bindings::wasmgate::provider::types::ProviderError;
use crate::http::BodyReader;

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` name, if the event had one.
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
    /// The last event id seen on the stream so far.
    pub id: Option<String>,
}

impl SseEvent {
    /// `true` for OpenAI's end-of-stream sentinel `data: [DONE]`.
    pub fn is_done(&self) -> bool {
        self.data.trim() == "[DONE]"
    }
}

/// An incremental parser: feed bytes as they arrive, take events as they complete.
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    after_cr: bool,
    at_start: bool,
    event: Option<String>,
    data: String,
    has_data: bool,
    last_id: Option<String>,
    retry_ms: Option<u64>,
    ready: std::collections::VecDeque<SseEvent>,
}

impl SseParser {
    /// A parser at the start of a stream.
    pub fn new() -> Self {
        SseParser {
            at_start: true,
            ..Default::default()
        }
    }

    /// The reconnection time the server last asked for, in milliseconds.
    pub fn retry_ms(&self) -> Option<u64> {
        self.retry_ms
    }

    /// Feeds bytes; completed events become available from [`SseParser::next_event`].
    pub fn push(&mut self, mut bytes: &[u8]) {
        if self.at_start {
            let bom = [0xEF, 0xBB, 0xBF];
            let need = bom.len().saturating_sub(self.line.len());
            let take = need.min(bytes.len());
            // Hold back a possible BOM prefix until it is complete or disproved.
            if bom[self.line.len()..self.line.len() + take] == bytes[..take] {
                self.line.extend_from_slice(&bytes[..take]);
                bytes = &bytes[take..];
                if self.line.len() < bom.len() {
                    return;
                }
                self.line.clear();
            } else {
                let held = std::mem::take(&mut self.line);
                self.at_start = false;
                self.push_lines(&held);
            }
            self.at_start = false;
        }
        self.push_lines(bytes);
    }

    fn push_lines(&mut self, bytes: &[u8]) {
        let mut rest = bytes;
        while !rest.is_empty() {
            if self.after_cr {
                self.after_cr = false;
                if rest[0] == b'\n' {
                    rest = &rest[1..];
                    continue;
                }
            }
            match memchr::memchr2(b'\n', b'\r', rest) {
                Some(i) => {
                    self.after_cr = rest[i] == b'\r';
                    if self.line.is_empty() {
                        self.process_line(&rest[..i]);
                    } else {
                        // A line split across reads: finish it in the buffer, keep the buffer.
                        self.line.extend_from_slice(&rest[..i]);
                        let mut line = std::mem::take(&mut self.line);
                        self.process_line(&line);
                        line.clear();
                        self.line = line;
                    }
                    rest = &rest[i + 1..];
                }
                None => {
                    self.line.extend_from_slice(rest);
                    rest = &[];
                }
            }
        }
    }

    fn process_line(&mut self, line: &[u8]) {
        if line.is_empty() {
            self.dispatch();
            return;
        }
        if line[0] == b':' {
            return;
        }
        // The field name is ASCII when it is one we know, so it is compared as bytes; only values
        // are decoded, with invalid UTF-8 replaced as the standard says.
        let (field, value) = match memchr::memchr(b':', line) {
            Some(i) => {
                let value = &line[i + 1..];
                (&line[..i], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"event" => self.event = Some(utf8_text(value).into_owned()),
            b"data" => {
                if self.data.is_empty() {
                    self.data.reserve(value.len() + 1);
                }
                self.data.push_str(&utf8_text(value));
                self.data.push('\n');
                self.has_data = true;
            }
            b"id" if !value.contains(&0) => self.last_id = Some(utf8_text(value).into_owned()),
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                self.retry_ms = utf8_text(value).parse().ok();
            }
            _ => {}
        }
    }

    fn dispatch(&mut self) {
        let event = self.event.take();
        if !self.has_data {
            return;
        }
        self.has_data = false;
        let mut data = std::mem::take(&mut self.data);
        data.pop();
        self.ready.push_back(SseEvent {
            event: event.filter(|e| !e.is_empty()),
            data,
            id: self.last_id.clone(),
        });
    }

    /// The next completed event, if any.
    pub fn next_event(&mut self) -> Option<SseEvent> {
        self.ready.pop_front()
    }
}

/// `bytes` as text: borrowed when it is valid UTF-8 (checked with the standard library's fast
/// path), with U+FFFD for each invalid sequence otherwise.
fn utf8_text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

impl crate::framed::Framing for SseParser {
    type Item = SseEvent;

    fn push(&mut self, bytes: &[u8]) -> Result<(), ProviderError> {
        SseParser::push(self, bytes);
        Ok(())
    }

    fn next_item(&mut self) -> Result<Option<SseEvent>, ProviderError> {
        Ok(self.next_event())
    }
}

/// Events read from an HTTP response body, pulled one at a time. It can be kept in an adapter's
/// stream state and driven across many `next` calls.
pub type SseStream = crate::framed::FramedBody<SseParser>;

impl SseStream {
    /// Reads events from `body`.
    pub fn new(body: BodyReader) -> Self {
        Self::with(body, SseParser::new())
    }

    /// The next event; `None` when the body has ended.
    pub fn next_event(&mut self) -> Result<Option<SseEvent>, ProviderError> {
        self.next_item()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_in_pieces(input: &[u8], piece: usize) -> Vec<SseEvent> {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        for chunk in input.chunks(piece) {
            p.push(chunk);
            while let Some(e) = p.next_event() {
                out.push(e);
            }
        }
        out
    }

    fn every_split(input: &[u8]) -> Vec<SseEvent> {
        let whole = parse_in_pieces(input, input.len().max(1));
        for piece in 1..input.len() {
            assert_eq!(parse_in_pieces(input, piece), whole, "piece size {piece}");
        }
        whole
    }

    #[test]
    fn parses_openai_stream() {
        let ev = every_split(b"data: {\"a\":1}\n\ndata: [DONE]\n\n");
        assert_eq!(ev.len(), 2);
        assert_eq!(ev[0].data, "{\"a\":1}");
        assert!(ev[1].is_done());
    }

    #[test]
    fn handles_crlf_cr_and_multiline_data() {
        let ev = every_split(b"data: a\r\ndata:b\r\rdata:  c\r\n\r\n");
        assert_eq!(ev.len(), 2);
        assert_eq!(ev[0].data, "a\nb");
        assert_eq!(ev[1].data, " c");
    }

    #[test]
    fn comments_events_ids_and_retry() {
        let mut p = SseParser::new();
        p.push(b": keep-alive\n\nevent: message_start\nid: 7\nretry: 150\ndata: x\n\n");
        let e = p.next_event().unwrap();
        assert_eq!(e.event.as_deref(), Some("message_start"));
        assert_eq!(e.id.as_deref(), Some("7"));
        assert_eq!(e.data, "x");
        assert_eq!(p.retry_ms(), Some(150));
        assert!(p.next_event().is_none());
    }

    #[test]
    fn event_name_without_data_is_not_dispatched() {
        let ev = every_split(b"event: ping\n\ndata\n\n");
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].event, None);
        assert_eq!(ev[0].data, "");
    }

    #[test]
    fn strips_bom_and_discards_unterminated_event() {
        let ev = every_split(b"\xEF\xBB\xBFdata: first\n\ndata: partial");
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].data, "first");
    }

    #[test]
    fn invalid_utf8_in_a_value_is_replaced_and_valid_text_kept() {
        let ev = every_split(b"event: \xC3\xA9t\xE9\ndata: a\xFFb\ndata: \xE2\x82\xAC\n\n");
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].event.as_deref(), Some("\u{e9}t\u{FFFD}"));
        assert_eq!(ev[0].data, "a\u{FFFD}b\n\u{20AC}");
    }

    #[test]
    fn a_field_name_with_invalid_utf8_is_ignored() {
        let ev = every_split(b"dat\xFFa: x\ndata: y\n\n");
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].data, "y");
    }

    #[test]
    fn bom_prefix_that_is_not_a_bom_is_kept() {
        // The stray byte makes the first field name unknown, so that line is ignored.
        let ev = every_split(b"\xEFdata: x\n\ndata: y\n\n");
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].data, "y");
    }
}
