//! The OpenAI adapter, driven through the runtime against a real OpenAI-compatible server on
//! 127.0.0.1: JSON and SSE answers, tool-call deltas, usage, embeddings and error bodies.

mod common;

use common::{load, runtime, user};
use futures::StreamExt;
use std::time::Duration;
use wasmgate_runtime::types::{EmbeddingRequest, ErrorKind, FinishReason};
use wasmgate_runtime::{AdapterPolicy, CallError, CallOptions, Secret};
use wasmgate_test_support::Upstream;

fn call(upstream: &Upstream) -> CallOptions {
    CallOptions {
        deployment_model: "gpt-test".into(),
        api_base: Some(upstream.url()),
        credential: Some(Secret::new("sk-test-123")),
        timeout: Some(Duration::from_secs(20)),
        ..Default::default()
    }
}

#[tokio::test]
async fn chat_answers_whole() {
    let upstream = Upstream::start().await;
    let rt = runtime();
    let openai = load(&rt, "openai", AdapterPolicy::default()).await;
    assert_eq!(openai.info().name, "openai");

    let mut req = user("gpt-4o-mini", "Hi");
    req.temperature = Some(0.25);
    req.stop = vec!["END".into()];
    req.extra = Some(r#"{"service_tier":"flex"}"#.into());
    let answer = openai.chat(&call(&upstream), &req).await.expect("chat");

    assert_eq!(
        answer.choices[0].message.content.as_deref(),
        Some("Hello from upstream")
    );
    assert_eq!(answer.choices[0].finish_reason, Some(FinishReason::Stop));
    let usage = answer.usage.expect("usage");
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.total_tokens
        ),
        (9, 3, 12)
    );
    assert_eq!(usage.cached_tokens, Some(2));
    assert_eq!(answer.system_fingerprint.as_deref(), Some("fp_test"));
    assert!(answer.extra.unwrap().contains("service_tier"));

    let sent = &upstream.requests()[0];
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(
        sent.header("authorization").as_deref(),
        Some("Bearer sk-test-123")
    );
    assert_eq!(
        sent.header("content-length"),
        Some(sent.body.len().to_string())
    );
    let body = sent.json();
    assert_eq!(body["model"], "gpt-4o-mini");
    assert_eq!(body["messages"][0]["content"], "Hi");
    assert_eq!(body["temperature"], 0.25);
    assert_eq!(body["stop"][0], "END");
    assert_eq!(body["service_tier"], "flex");
    assert!(body.get("stream").is_none());
}

/// The guest SDK writes a body the host buffers (up to about 2 MiB) before `handle`, and a
/// larger one partly after it, as it is sent. Both reach the upstream whole.
#[tokio::test]
async fn bodies_below_and_above_the_stream_buffer_arrive_whole() {
    let upstream = Upstream::start().await;
    let rt = runtime();
    let openai = load(&rt, "openai", AdapterPolicy::default()).await;
    for size in [100, 3 * 1024 * 1024 + 17] {
        let text: String = "wasmgate é ".chars().cycle().take(size).collect();
        let answer = openai
            .chat(&call(&upstream), &user("gpt-4o-mini", &text))
            .await
            .expect("chat");
        assert_eq!(
            answer.choices[0].message.content.as_deref(),
            Some("Hello from upstream")
        );
        let sent = upstream.requests().pop().expect("a request");
        assert_eq!(
            sent.header("content-length"),
            Some(sent.body.len().to_string())
        );
        assert_eq!(sent.json()["messages"][0]["content"], text.as_str());
    }
}

#[tokio::test]
async fn chat_returns_tool_calls() {
    let upstream = Upstream::start().await;
    let rt = runtime();
    let openai = load(&rt, "openai", AdapterPolicy::default()).await;
    let answer = openai
        .chat(&call(&upstream), &user("tool-call", "Weather?"))
        .await
        .unwrap();
    let msg = &answer.choices[0].message;
    assert_eq!(msg.content, None);
    assert_eq!(msg.tool_calls[0].id, "call_1");
    assert_eq!(msg.tool_calls[0].function.name, "get_weather");
    assert_eq!(msg.tool_calls[0].function.arguments, r#"{"city":"Paris"}"#);
    assert_eq!(
        answer.choices[0].finish_reason,
        Some(FinishReason::ToolCalls)
    );
}

#[tokio::test]
async fn stream_carries_tool_call_deltas_and_usage() {
    let upstream = Upstream::start().await;
    let rt = runtime();
    let openai = load(&rt, "openai", AdapterPolicy::default()).await;
    let mut req = user("tool-call", "Weather?");
    req.include_usage = true;
    let chunks: Vec<_> = openai
        .chat_stream(&call(&upstream), &req)
        .await
        .expect("stream")
        .collect()
        .await;
    let chunks: Vec<_> = chunks.into_iter().map(|c| c.expect("chunk")).collect();

    let deltas: Vec<_> = chunks
        .iter()
        .flat_map(|c| c.choices.iter())
        .flat_map(|c| c.tool_calls.iter())
        .collect();
    assert_eq!(deltas[0].id.as_deref(), Some("call_1"));
    assert_eq!(deltas[0].name.as_deref(), Some("get_weather"));
    let args: String = deltas.iter().filter_map(|d| d.arguments.clone()).collect();
    assert_eq!(args, r#"{"city":"Paris"}"#);
    assert!(chunks
        .iter()
        .any(|c| c.choices.first().and_then(|d| d.finish_reason.clone())
            == Some(FinishReason::ToolCalls)));
    let last = chunks.last().unwrap();
    assert!(last.choices.is_empty());
    assert_eq!(last.usage.as_ref().map(|u| u.total_tokens), Some(12));

    let body = upstream.requests()[0].json();
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"]["include_usage"], true);
}

#[tokio::test]
async fn stream_text_without_usage() {
    let upstream = Upstream::start().await;
    let rt = runtime();
    let openai = load(&rt, "openai", AdapterPolicy::default()).await;
    let stream = openai
        .chat_stream(&call(&upstream), &user("gpt", "Hi"))
        .await
        .unwrap();
    let chunks: Vec<_> = stream.map(|c| c.unwrap()).collect().await;
    let text: String = chunks
        .iter()
        .flat_map(|c| c.choices.iter())
        .filter_map(|d| d.content.clone())
        .collect();
    assert_eq!(text, "Hello from upstream");
    assert!(chunks.iter().all(|c| c.usage.is_none()));
    assert!(upstream.requests()[0]
        .json()
        .get("stream_options")
        .is_none());
}

#[tokio::test]
async fn stream_forwards_chunks_before_the_upstream_finishes() {
    let upstream = Upstream::start().await;
    let rt = runtime();
    let openai = load(&rt, "openai", AdapterPolicy::default()).await;
    let mut stream = openai
        .chat_stream(&call(&upstream), &user("gated-stream", "Hi"))
        .await
        .unwrap();
    // The upstream holds everything after its first chunk until the gate opens, so this chunk
    // can only arrive if the adapter forwards chunks as they come.
    let first = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("first chunk in time");
    assert!(first.unwrap().is_ok());
    upstream.release_gate();
    let rest: Vec<_> = stream.map(|c| c.unwrap()).collect().await;
    let text: String = rest
        .iter()
        .flat_map(|c| c.choices.iter())
        .filter_map(|d| d.content.clone())
        .collect();
    assert_eq!(text, "Hello from upstream");
}

#[tokio::test]
async fn paced_stream_delivers_every_chunk() {
    let upstream = Upstream::start().await;
    let rt = runtime();
    let openai = load(&rt, "openai", AdapterPolicy::default()).await;
    let stream = openai
        .chat_stream(&call(&upstream), &user("paced-stream", "Hi"))
        .await
        .unwrap();
    let chunks: Vec<_> = stream.map(|c| c.unwrap()).collect().await;
    assert_eq!(chunks.len(), 5);
}

/// A stream of `model` through a fresh OpenAI adapter, with what it runs on.
struct Opened {
    upstream: Upstream,
    stream: wasmgate_runtime::ChatStream,
    _runtime: wasmgate_runtime::Runtime,
    _adapter: wasmgate_runtime::Adapter,
}

async fn open_stream(model: &str) -> Opened {
    let upstream = Upstream::start().await;
    let runtime = runtime();
    let adapter = load(&runtime, "openai", AdapterPolicy::default()).await;
    let stream = adapter
        .chat_stream(&call(&upstream), &user(model, "Hi"))
        .await
        .unwrap();
    Opened {
        upstream,
        stream,
        _runtime: runtime,
        _adapter: adapter,
    }
}

/// Every chunk of a stream read with `next_ready_batches`, and how many calls it took.
async fn read_joined(stream: &mut wasmgate_runtime::ChatStream) -> (Vec<String>, usize) {
    let (mut texts, mut calls) = (Vec::new(), 0);
    while let Some(batch) = stream.next_ready_batches(64).await {
        calls += 1;
        assert!(calls <= 200, "the stream does not end");
        for chunk in batch.unwrap() {
            texts.extend(chunk.choices.iter().filter_map(|c| c.content.clone()));
        }
    }
    (texts, calls)
}

#[tokio::test]
async fn joined_batches_carry_what_the_upstream_sent_at_once_in_few_calls() {
    let mut opened = open_stream("words-40").await;
    let (texts, calls) = read_joined(&mut opened.stream).await;
    let words: Vec<String> = (0..40).map(|i| format!(" w{i}")).collect();
    let said: Vec<String> = texts.into_iter().filter(|t| !t.is_empty()).collect();
    assert_eq!(said, words);
    // 42 events, each its own frame on the wire, would be 42 calls one by one. Joined, whatever
    // arrived together is one call (a few, as the upstream's writes land).
    assert!(calls <= 10, "{calls} calls for 42 chunks");
}

#[tokio::test]
async fn events_received_together_reach_the_adapter_in_few_reads() {
    // The host joins the frames hyper hands over one by one (one per event here) while they
    // keep coming without a wait, so each `next` of the adapter gets many events.
    let mut opened = open_stream("words-40").await;
    let (mut batches, mut chunks) = (0, 0);
    while let Some(batch) = opened.stream.next_batch().await {
        batches += 1;
        assert!(batches <= 200, "the stream does not end");
        chunks += batch.unwrap().len();
    }
    assert_eq!(chunks, 42);
    assert!(batches <= 10, "{batches} batches for 42 chunks");
}

#[tokio::test]
async fn joined_batches_do_not_wait_for_chunks_still_to_come() {
    let mut opened = open_stream("gated-stream").await;
    // The upstream holds everything after its first chunk until the gate opens.
    let first = tokio::time::timeout(Duration::from_secs(5), opened.stream.next_ready_batches(64))
        .await
        .expect("the first batch without waiting for the rest");
    assert_eq!(first.unwrap().unwrap().len(), 1);
    opened.upstream.release_gate();
    let (texts, _) = read_joined(&mut opened.stream).await;
    assert_eq!(texts.concat(), "Hello from upstream");
}

#[tokio::test]
async fn a_joined_batch_reports_an_error_after_the_chunks_before_it() {
    let mut opened = open_stream("stream-error").await;
    let stream = &mut opened.stream;
    let first = stream.next_ready_batches(64).await.unwrap().unwrap();
    assert_eq!(first.len(), 1);
    match stream.next_ready_batches(64).await {
        Some(Err(CallError::Provider(e))) => {
            assert_eq!(e.message, "upstream failed mid-stream")
        }
        other => panic!("expected the provider error, got {other:?}"),
    }
    assert!(stream.next_ready_batches(64).await.is_none());
}

#[tokio::test]
async fn mid_stream_error_ends_the_stream() {
    let upstream = Upstream::start().await;
    let rt = runtime();
    let openai = load(&rt, "openai", AdapterPolicy::default()).await;
    let items: Vec<_> = openai
        .chat_stream(&call(&upstream), &user("stream-error", "Hi"))
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(items.len(), 2);
    assert!(items[0].is_ok());
    match &items[1] {
        Err(CallError::Provider(e)) => {
            assert_eq!(e.kind, ErrorKind::Unavailable);
            assert_eq!(e.message, "upstream failed mid-stream");
        }
        other => panic!("expected a provider error, got {other:?}"),
    }
}

#[tokio::test]
async fn upstream_errors_map_to_kinds() {
    let upstream = Upstream::start().await;
    let rt = runtime();
    let openai = load(&rt, "openai", AdapterPolicy::default()).await;
    let cases = [
        ("error-400", ErrorKind::ContextWindowExceeded, 400),
        ("error-401", ErrorKind::Authentication, 401),
        ("error-403", ErrorKind::PermissionDenied, 403),
        ("error-404", ErrorKind::NotFound, 404),
        ("error-429", ErrorKind::RateLimited, 429),
        ("error-500", ErrorKind::UpstreamError, 500),
        ("error-503", ErrorKind::Unavailable, 503),
    ];
    for (model, kind, status) in cases {
        for streaming in [false, true] {
            let req = user(model, "Hi");
            let err = if streaming {
                openai.chat_stream(&call(&upstream), &req).await.err()
            } else {
                openai.chat(&call(&upstream), &req).await.err()
            };
            let Some(CallError::Provider(e)) = err else {
                panic!("{model}: expected a provider error, got {err:?}");
            };
            assert_eq!(e.kind, kind, "{model}");
            assert_eq!(e.status, Some(status), "{model}");
            assert!(!e.message.is_empty());
            if model == "error-429" {
                assert_eq!(e.retry_after_ms, Some(7000));
                assert_eq!(e.provider_code.as_deref(), Some("rate_limit_exceeded"));
            }
        }
    }
}

#[tokio::test]
async fn embeddings_round_trip() {
    let upstream = Upstream::start().await;
    let rt = runtime();
    let openai = load(&rt, "openai", AdapterPolicy::default()).await;
    let req = EmbeddingRequest {
        model: "text-embedding-3-small".into(),
        input: vec!["a".into(), "bbb".into()],
        dimensions: Some(4),
        encoding_format: None,
        user: None,
        extra: None,
    };
    let answer = openai.embed(&call(&upstream), &req).await.unwrap();
    assert_eq!(answer.data.len(), 2);
    assert_eq!(answer.data[1].index, 1);
    assert_eq!(
        answer.data[1].vector.as_floats(),
        Some(&[1.0, 3.0, 0.5, 0.5][..])
    );
    assert_eq!(answer.usage.map(|u| u.prompt_tokens), Some(2));
    let sent = &upstream.requests()[0];
    assert_eq!(sent.path, "/v1/embeddings");
    assert_eq!(sent.json()["dimensions"], 4);
    assert_eq!(sent.json()["encoding_format"], "float");
}
