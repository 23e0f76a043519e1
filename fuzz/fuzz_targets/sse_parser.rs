//! The guest SDK's SSE parser: never panics, and the events do not depend on how the bytes are
//! split into reads.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wasmgate_guest::sse::{SseEvent, SseParser};

fn parse(pieces: &[&[u8]]) -> Vec<SseEvent> {
    let mut parser = SseParser::new();
    let mut events = Vec::new();
    for piece in pieces {
        parser.push(piece);
        while let Some(e) = parser.next_event() {
            events.push(e);
        }
    }
    events
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, body)) = data.split_first() else { return };
    let whole = parse(&[body]);
    let at = (split as usize).min(body.len());
    let (a, b) = body.split_at(at);
    assert_eq!(parse(&[a, b]), whole, "split at {at}");
    let bytes: Vec<&[u8]> = body.chunks(1).collect();
    assert_eq!(parse(&bytes), whole, "byte by byte");
});
