//! Newline-delimited JSON (Ollama's `/api/chat` and `/api/generate` streams): one JSON value per
//! line, `LF` or `CRLF` ends (also split across reads), blank lines skipped, a last line without
//! an end accepted, and a bound on how long one line may grow.

use crate::bindings::wasmgate::provider::types::ProviderError;
use crate::http::BodyReader;
use std::collections::VecDeque;

/// The longest line buffered before the stream is refused.
pub const MAX_LINE: usize = 16 << 20;

fn bad(message: String) -> ProviderError {
    ProviderError::upstream(message)
}

/// An incremental parser: feed bytes as they arrive, take values as their lines complete.
#[derive(Debug, Default)]
pub struct NdjsonParser {
    partial: Vec<u8>,
    ready: VecDeque<Vec<u8>>,
}

impl NdjsonParser {
    /// An empty parser.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes from the body; fails when a line grows past [`MAX_LINE`].
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), ProviderError> {
        let mut rest = bytes;
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            self.partial.extend_from_slice(&rest[..end]);
            let line = std::mem::take(&mut self.partial);
            self.keep(line);
            rest = &rest[end + 1..];
        }
        self.partial.extend_from_slice(rest);
        if self.partial.len() > MAX_LINE {
            return Err(bad(format!(
                "an NDJSON line is longer than {MAX_LINE} bytes"
            )));
        }
        Ok(())
    }

    /// Marks the end of the body: a last line without a newline is complete.
    pub fn finish(&mut self) {
        let line = std::mem::take(&mut self.partial);
        self.keep(line);
    }

    fn keep(&mut self, mut line: Vec<u8>) {
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if line.iter().any(|b| !b.is_ascii_whitespace()) {
            self.ready.push_back(line);
        }
    }

    /// The next complete value, or `None` until more bytes arrive.
    pub fn next_value(&mut self) -> Option<Result<serde_json::Value, ProviderError>> {
        let line = self.ready.pop_front()?;
        Some(
            crate::wire::json_from_bytes(&line)
                .map_err(|e| bad(format!("the upstream sent a line that is not JSON: {e}"))),
        )
    }
}

impl crate::framed::Framing for NdjsonParser {
    type Item = serde_json::Value;

    fn push(&mut self, bytes: &[u8]) -> Result<(), ProviderError> {
        NdjsonParser::push(self, bytes)
    }

    fn next_item(&mut self) -> Result<Option<serde_json::Value>, ProviderError> {
        self.next_value().transpose()
    }

    fn finish(&mut self) -> Result<(), ProviderError> {
        NdjsonParser::finish(self);
        Ok(())
    }
}

/// JSON values read from an HTTP response body, one per line.
pub type NdjsonStream = crate::framed::FramedBody<NdjsonParser>;

impl NdjsonStream {
    /// Reads lines from `body`.
    pub fn new(body: BodyReader) -> Self {
        Self::with(body, NdjsonParser::new())
    }

    /// The next value; `None` when the body has ended.
    pub fn next_value(&mut self) -> Result<Option<serde_json::Value>, ProviderError> {
        self.next_item()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(parts: &[&[u8]]) -> Vec<serde_json::Value> {
        let mut p = NdjsonParser::new();
        for part in parts {
            p.push(part).unwrap();
        }
        p.finish();
        std::iter::from_fn(|| p.next_value())
            .map(|v| v.unwrap())
            .collect()
    }

    #[test]
    fn lines_split_across_reads_crlf_blank_and_unterminated() {
        let got = values(&[b"{\"a\":", b"1}\r\n\n  \n{\"b\":2}\n{\"c\"", b":3}"]);
        assert_eq!(
            got,
            [
                serde_json::json!({"a": 1}),
                serde_json::json!({"b": 2}),
                serde_json::json!({"c": 3})
            ]
        );
    }

    #[test]
    fn a_bad_line_is_an_upstream_error() {
        let mut p = NdjsonParser::new();
        p.push(b"not json\n").unwrap();
        let e = p.next_value().unwrap().unwrap_err();
        assert!(e.message.contains("not JSON"), "{}", e.message);
    }
}
