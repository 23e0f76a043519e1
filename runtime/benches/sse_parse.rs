//! Throughput of the guest SDK's SSE parser (`guests/sdk/src/sse.rs`, compiled for the host):
//! a realistic OpenAI chat stream fed whole, in 1 KiB network-sized reads, and in 7-byte reads.
//! Run with `cargo bench -p wasmgate-runtime --bench sse_parse`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use wasmgate_guest::sse::SseParser;

/// 2,000 chunk events like OpenAI sends them, and the end marker.
fn stream() -> Vec<u8> {
    let mut out = String::new();
    for i in 0..2000 {
        out += &format!(
            "data: {{\"id\":\"chatcmpl-9x\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\
             \"model\":\"gpt-4o-mini\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\" word{i}\"}},\
             \"logprobs\":null,\"finish_reason\":null}}]}}\n\n"
        );
    }
    out += "data: [DONE]\n\n";
    out.into_bytes()
}

fn parse(input: &[u8], piece: usize) -> usize {
    let mut parser = SseParser::new();
    let mut events = 0;
    for chunk in input.chunks(piece) {
        parser.push(chunk);
        while let Some(event) = parser.next_event() {
            events += black_box(event.data.len()).min(1);
        }
    }
    events
}

fn bench(c: &mut Criterion) {
    let input = stream();
    let mut group = c.benchmark_group("sse_parse");
    group.throughput(Throughput::Bytes(input.len() as u64));
    for (name, piece) in [
        ("whole", input.len()),
        ("1 KiB reads", 1024),
        ("7-byte reads", 7),
    ] {
        group.bench_function(name, |b| b.iter(|| assert_eq!(parse(&input, piece), 2001)));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
