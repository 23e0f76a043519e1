//! A key lends the adapter only the requests it declared: methods and paths under its API base
//! (`credential-uses`), and a bounded number of requests per call. Each refusal names its rule,
//! and nothing carrying the key reaches the upstream, which records every request it gets.

mod common;

use common::{call_with, load, runtime, user};
use wasmgate_runtime::egress::{CredentialUse, Refusal};
use wasmgate_runtime::{AdapterPolicy, CallError, CallOptions, Limits, Secret, PLACEHOLDER_PREFIX};
use wasmgate_test_support::Upstream;

const KEY: &str = "sk-scope-0123456789abcdef";

fn with_key(upstream: &Upstream, settings: &[(&str, &str)]) -> CallOptions {
    CallOptions {
        api_base: Some(upstream.url()),
        credential: Some(Secret::new(KEY)),
        ..call_with(settings)
    }
}

fn refusal(result: Result<wasmgate_runtime::types::ChatResponse, CallError>) -> Refusal {
    match result {
        Err(CallError::Refused(r)) => r,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn answer(result: Result<wasmgate_runtime::types::ChatResponse, CallError>) -> String {
    let answer = result.expect("the call succeeds");
    answer.choices[0]
        .message
        .content
        .clone()
        .unwrap_or_default()
}

#[tokio::test]
async fn undeclared_methods_and_paths_never_get_the_key() {
    let upstream = Upstream::start().await;
    let rt = runtime();
    let hostile = load(&rt, "hostile", AdapterPolicy::default()).await;
    for (method, path) in [
        ("GET", "/files"),
        ("DELETE", "/files/x"),
        ("GET", "/chat/completions"),
    ] {
        let call = with_key(
            &upstream,
            &[
                ("attack", "misuse-credential"),
                ("method", method),
                ("path", path),
            ],
        );
        assert_eq!(
            refusal(hostile.chat(&call, &user("m", "x")).await),
            Refusal::CredentialUse {
                method: method.into(),
                path: path.into()
            },
            "{method} {path}"
        );
    }
    // A path that walks out of a declared prefix is refused as the path it names.
    let call = with_key(
        &upstream,
        &[
            ("attack", "misuse-credential"),
            ("method", "POST"),
            ("path", "/chat/completions/%2e%2e/files"),
        ],
    );
    assert!(matches!(
        refusal(hostile.chat(&call, &user("m", "x")).await),
        Refusal::CredentialUse { .. }
    ));
    assert!(
        upstream.requests().is_empty(),
        "nothing reached the upstream: {:?}",
        upstream
            .requests()
            .iter()
            .map(|r| &r.path)
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn the_operator_widens_or_narrows_an_adapters_uses() {
    let upstream = Upstream::start().await;
    let rt = runtime();
    let widened = AdapterPolicy {
        credential_uses: Some(vec![CredentialUse::parse("GET /files").unwrap()]),
        ..Default::default()
    };
    let hostile = load(&rt, "hostile", widened).await;
    assert_eq!(
        hostile
            .credential_uses()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["GET /files"]
    );
    let get = with_key(
        &upstream,
        &[("attack", "misuse-credential"), ("path", "/files")],
    );
    assert!(answer(hostile.chat(&get, &user("m", "x")).await).starts_with("misuse succeeded"));
    let sent = upstream.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].method.as_str(), sent[0].path.as_str()),
        ("GET", "/v1/files")
    );
    assert_eq!(
        sent[0].header("authorization").as_deref(),
        Some(format!("Bearer {KEY}").as_str())
    );
    // The operator's list replaces the adapter's own: its declared POST is no longer covered.
    let post = with_key(&upstream, &[("attack", "request-loop"), ("count", "1")]);
    assert_eq!(
        answer(hostile.chat(&post, &user("m", "x")).await),
        "the host let 0 of 1 requests through"
    );
    assert_eq!(upstream.requests().len(), 1, "the refused POST never left");
}

#[tokio::test]
async fn a_call_makes_at_most_its_request_limit() {
    let upstream = Upstream::start().await;
    let rt = runtime();
    let hostile = load(&rt, "hostile", AdapterPolicy::default()).await;
    let call = with_key(&upstream, &[("attack", "request-loop"), ("count", "100")]);
    let default_limit = Limits::default().max_requests_per_call;
    assert_eq!(
        answer(hostile.chat(&call, &user("m", "x")).await),
        format!("the host let {default_limit} of 100 requests through")
    );
    assert_eq!(upstream.requests().len(), default_limit as usize);
    // The next call starts its own count.
    assert_eq!(
        answer(hostile.chat(&call, &user("m", "x")).await),
        format!("the host let {default_limit} of 100 requests through")
    );

    let upstream = Upstream::start().await;
    let tight = AdapterPolicy {
        limits: Limits {
            max_requests_per_call: 2,
            ..Limits::default()
        },
        ..Default::default()
    };
    let hostile = load(&rt, "hostile", tight).await;
    let call = with_key(&upstream, &[("attack", "request-loop"), ("count", "100")]);
    assert_eq!(
        answer(hostile.chat(&call, &user("m", "x")).await),
        "the host let 2 of 100 requests through"
    );
    assert_eq!(upstream.requests().len(), 2);
}

#[tokio::test]
async fn a_context_dump_holds_placeholders_never_secrets() {
    let upstream = Upstream::start().await;
    let rt = runtime();
    let hostile = load(&rt, "hostile", AdapterPolicy::default()).await;
    let header_secret = "hdr-secret-fedcba9876543210";
    let call = CallOptions {
        headers: vec![("x-team".into(), "blue".into())],
        secret_headers: vec![("x-upstream-token".into(), Secret::new(header_secret))],
        ..with_key(&upstream, &[("attack", "dump-context")])
    };
    let dump = answer(hostile.chat(&call, &user("m", "x")).await);
    assert!(
        !dump.contains(KEY) && !dump.contains(header_secret),
        "{dump}"
    );
    assert_eq!(dump.matches(PLACEHOLDER_PREFIX).count(), 2, "{dump}");
    assert!(dump.contains("x-team") && dump.contains("blue"), "{dump}");
    assert!(
        dump.contains("ApiKey"),
        "the credential kind is passed: {dump}"
    );
}
