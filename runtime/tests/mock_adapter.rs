//! The offline mock adapter: deterministic answers, streaming shape, tool calls, simulated
//! errors and embeddings, all without network access.

mod common;

use common::{call_with, load, runtime, user};
use futures::StreamExt;
use wasmgate_runtime::types::{EmbeddingRequest, ErrorKind, FinishReason, FunctionDefinition};
use wasmgate_runtime::{AdapterPolicy, CallError};

#[tokio::test]
async fn answers_deterministically() {
    let rt = runtime();
    let mock = load(&rt, "mock", AdapterPolicy::default()).await;
    assert_eq!(mock.info().name, "mock");
    let a = mock
        .chat(&call_with(&[]), &user("demo", "ping pong"))
        .await
        .unwrap();
    let b = mock
        .chat(&call_with(&[]), &user("demo", "ping pong"))
        .await
        .unwrap();
    assert_eq!(
        a.choices[0].message.content.as_deref(),
        Some("This is a mock response to: ping pong")
    );
    assert_eq!(a.id, b.id);
    assert_eq!(a.model, "demo");
    assert_eq!(a.usage.unwrap().prompt_tokens, 2);
    let custom = mock
        .chat(
            &call_with(&[("mock_response", "fixed")]),
            &user("demo", "x"),
        )
        .await
        .unwrap();
    assert_eq!(custom.choices[0].message.content.as_deref(), Some("fixed"));
}

#[tokio::test]
async fn request_extra_overrides_settings() {
    let rt = runtime();
    let mock = load(&rt, "mock", AdapterPolicy::default()).await;
    let mut req = user("demo", "x");
    req.extra = Some(r#"{"mock_response": "from the request"}"#.into());
    let answer = mock
        .chat(&call_with(&[("mock_response", "from settings")]), &req)
        .await
        .unwrap();
    assert_eq!(
        answer.choices[0].message.content.as_deref(),
        Some("from the request")
    );
}

#[tokio::test]
async fn streams_openai_shaped_chunks() {
    let rt = runtime();
    let mock = load(&rt, "mock", AdapterPolicy::default()).await;
    let mut req = user("demo", "one two three");
    req.include_usage = true;
    let chunks: Vec<_> = mock
        .chat_stream(&call_with(&[("mock_chunks", "3")]), &req)
        .await
        .unwrap()
        .map(|c| c.unwrap())
        .collect()
        .await;
    // role chunk, 3 content chunks, finish chunk, usage chunk
    assert_eq!(chunks.len(), 6);
    assert_eq!(
        chunks[0].choices[0].role,
        Some(wasmgate_runtime::types::Role::Assistant)
    );
    let text: String = chunks
        .iter()
        .flat_map(|c| c.choices.iter())
        .filter_map(|d| d.content.clone())
        .collect();
    assert_eq!(text, "This is a mock response to: one two three");
    assert_eq!(chunks[4].choices[0].finish_reason, Some(FinishReason::Stop));
    assert!(chunks[5].choices.is_empty());
    assert_eq!(chunks[5].usage.as_ref().unwrap().prompt_tokens, 3);
}

#[tokio::test]
async fn simulates_tool_calls() {
    let rt = runtime();
    let mock = load(&rt, "mock", AdapterPolicy::default()).await;
    let mut req = user("demo", "weather in Paris");
    req.tools = vec![FunctionDefinition {
        name: "get_weather".into(),
        description: None,
        parameters: Some(r#"{"type":"object"}"#.into()),
        strict: None,
        extra: None,
    }];
    let answer = mock
        .chat(&call_with(&[("mock_tool_call", "true")]), &req)
        .await
        .unwrap();
    let call = &answer.choices[0].message.tool_calls[0];
    assert_eq!(call.function.name, "get_weather");
    assert_eq!(call.function.arguments, r#"{"input":"weather in Paris"}"#);
    assert_eq!(
        answer.choices[0].finish_reason,
        Some(FinishReason::ToolCalls)
    );

    let chunks: Vec<_> = mock
        .chat_stream(&call_with(&[("mock_tool_call", "true")]), &req)
        .await
        .unwrap()
        .map(|c| c.unwrap())
        .collect()
        .await;
    let args: String = chunks
        .iter()
        .flat_map(|c| c.choices.iter())
        .flat_map(|d| d.tool_calls.iter())
        .filter_map(|t| t.arguments.clone())
        .collect();
    assert_eq!(args, call.function.arguments);
}

#[tokio::test]
async fn joined_batches_take_every_chunk_an_adapter_makes_without_waiting() {
    // The mock makes one chunk per `next`, each at once: joined, they come in one batch.
    let rt = runtime();
    let mock = load(&rt, "mock", AdapterPolicy::default()).await;
    let call = call_with(&[("mock_chunks", "8")]);
    let one_by_one = mock.chat_stream(&call, &user("demo", "x")).await.unwrap();
    let count = one_by_one.count().await;
    assert!(count > 5, "{count}");
    let mut stream = mock.chat_stream(&call, &user("demo", "x")).await.unwrap();
    assert_eq!(
        stream.next_ready_batches(64).await.unwrap().unwrap().len(),
        count
    );
    assert!(stream.next_ready_batches(64).await.is_none());

    // At most `max_chunks` at a time; an error after chunks comes on the call after them.
    let call = call_with(&[
        ("mock_chunks", "8"),
        ("mock_error", "unavailable"),
        ("mock_error_after_chunks", "5"),
    ]);
    let mut stream = mock.chat_stream(&call, &user("demo", "x")).await.unwrap();
    assert_eq!(
        stream.next_ready_batches(3).await.unwrap().unwrap().len(),
        3
    );
    assert_eq!(
        stream.next_ready_batches(3).await.unwrap().unwrap().len(),
        2
    );
    assert!(matches!(
        stream.next_ready_batches(3).await,
        Some(Err(CallError::Provider(e))) if e.kind == ErrorKind::Unavailable
    ));
    assert!(stream.next_ready_batches(3).await.is_none());
}

#[tokio::test]
async fn simulates_errors_before_and_during_streams() {
    let rt = runtime();
    let mock = load(&rt, "mock", AdapterPolicy::default()).await;
    let call = call_with(&[
        ("mock_error", "rate-limited"),
        ("mock_retry_after_ms", "1500"),
    ]);
    match mock.chat(&call, &user("demo", "x")).await {
        Err(CallError::Provider(e)) => {
            assert_eq!(e.kind, ErrorKind::RateLimited);
            assert_eq!(e.status, Some(429));
            assert_eq!(e.retry_after_ms, Some(1500));
        }
        other => panic!("{other:?}"),
    }
    let call = call_with(&[
        ("mock_error", "unavailable"),
        ("mock_error_after_chunks", "2"),
    ]);
    let items: Vec<_> = mock
        .chat_stream(&call, &user("demo", "x"))
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(items.len(), 3);
    assert!(items[0].is_ok() && items[1].is_ok());
    assert!(matches!(&items[2], Err(CallError::Provider(e)) if e.kind == ErrorKind::Unavailable));
}

#[tokio::test]
async fn embeds_deterministic_unit_vectors() {
    let rt = runtime();
    let mock = load(&rt, "mock", AdapterPolicy::default()).await;
    let req = EmbeddingRequest {
        model: "embed".into(),
        input: vec!["alpha".into(), "beta".into(), "alpha".into()],
        dimensions: Some(8),
        encoding_format: None,
        user: None,
        extra: None,
    };
    let answer = mock.embed(&call_with(&[]), &req).await.unwrap();
    assert_eq!(answer.data.len(), 3);
    let floats = |i: usize| answer.data[i].vector.as_floats().unwrap();
    assert_eq!(floats(0).len(), 8);
    assert_eq!(floats(0), floats(2));
    assert_ne!(floats(0), floats(1));
    let norm: f32 = floats(1).iter().map(|x| x * x).sum();
    assert!((norm - 1.0).abs() < 1e-4);
}
