//! The optional `tokens` export: found when a component has it, called with the call's
//! credential under the same sandbox as any call, and a clear `Unsupported` when it is absent.

mod common;

use common::{call_with, load, runtime, user};
use wasmgate_runtime::types::ErrorKind;
use wasmgate_runtime::{AdapterPolicy, CallError, CallOptions, Secret};
use wasmgate_test_support::anthropic;

#[tokio::test]
async fn an_adapter_without_the_export_cannot_count() {
    let rt = runtime();
    let mock = load(&rt, "mock", AdapterPolicy::default()).await;
    assert!(!mock.can_count_tokens());
    let result = mock.count_tokens(&call_with(&[]), &user("m", "x")).await;
    match result {
        Err(e @ CallError::Unsupported(_)) => {
            assert_eq!(e.kind(), ErrorKind::BadRequest);
            assert!(e.to_string().contains("cannot count tokens"), "{e}");
        }
        other => panic!("expected Unsupported, got {other:?}"),
    }
}

#[tokio::test]
async fn the_anthropic_adapter_counts_through_the_provider() {
    let upstream = anthropic::start("sk-ant-count").await;
    let rt = runtime();
    let adapter = load(&rt, "anthropic", AdapterPolicy::default()).await;
    assert!(adapter.can_count_tokens());
    let call = |key: &str| CallOptions {
        api_base: Some(upstream.url()),
        credential: Some(Secret::new(key)),
        ..call_with(&[])
    };
    let count = adapter
        .count_tokens(
            &call("sk-ant-count"),
            &user("claude-text", "three little words"),
        )
        .await
        .unwrap();
    // The fixture counts the words of every string in the messages: the role and the text.
    assert_eq!(count, 4);
    let seen = upstream.received();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/v1/messages/count_tokens");
    assert!(seen[0].body.get("max_tokens").is_none(), "{}", seen[0].body);

    let wrong = adapter
        .count_tokens(&call("wrong"), &user("claude-text", "x"))
        .await;
    match wrong {
        Err(CallError::Provider(e)) => {
            assert_eq!((e.kind, e.status), (ErrorKind::Authentication, Some(401)))
        }
        other => panic!("expected a 401, got {other:?}"),
    }
}
