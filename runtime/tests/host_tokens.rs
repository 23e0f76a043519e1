//! OAuth2 access tokens the runtime holds for a deployment, tested at the runtime's own API:
//! fetched once for concurrent calls, refreshed before they expire, a failing endpoint answered
//! from a back-off without another exchange, a failed refresh answered with the current token
//! until it expires, secrets the endpoint echoes scrubbed, a service account's signed assertion
//! and its refusal, and the adapter seeing only a placeholder while the upstream gets the token.

mod common;

use common::{load, runtime, user};
use std::sync::Arc;
use std::time::Duration;
use wasmgate_runtime::{
    AdapterPolicy, CallError, CallOptions, Grant, Secret, TokenSource, GOOGLE_CLOUD_SCOPE,
};
use wasmgate_test_support::auth::{service_account_json, TokenEndpoint};
use wasmgate_test_support::Upstream;

fn refresh_grant(tokens: &TokenEndpoint) -> Grant {
    Grant::RefreshToken {
        token_url: tokens.url(),
        client_id: "runtime-client".into(),
        client_secret: Some(Secret::new("cs-runtime-9f1")),
        refresh_token: Secret::new("rt-runtime-7c2"),
        scopes: vec!["inference".into()],
    }
}

fn bearer_tokens(upstream: &Upstream) -> Vec<String> {
    upstream
        .requests()
        .iter()
        .filter_map(|r| r.header("authorization"))
        .map(|a| a.trim_start_matches("Bearer ").to_string())
        .collect()
}

fn call(upstream: &Upstream, source: &Arc<TokenSource>) -> CallOptions {
    CallOptions {
        deployment_model: "tokens".into(),
        api_base: Some(upstream.url()),
        token_source: Some(source.clone()),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_exchange_serves_concurrent_calls_and_refreshes_before_expiry() {
    // Tokens live 2 s (refreshed after 1 s); each exchange takes 100 ms.
    let tokens =
        TokenEndpoint::start(Duration::from_secs(2), Duration::from_millis(100), false).await;
    let upstream = Upstream::start().await;
    let rt = runtime();
    let openai = load(&rt, "openai", AdapterPolicy::default()).await;
    let source = Arc::new(TokenSource::new(refresh_grant(&tokens)));
    let options = call(&upstream, &source);
    let request = user("gpt-ok", "hi");

    let first = futures::future::join_all((0..6).map(|_| openai.chat(&options, &request))).await;
    assert!(first.iter().all(Result::is_ok), "{first:?}");
    assert_eq!((tokens.requests(), source.fetches()), (1, 1));
    assert_eq!(bearer_tokens(&upstream), vec!["tok-1"; 6]);
    let issued = &tokens.issued()[0];
    assert_eq!(issued.grant_type, "refresh_token");
    assert_eq!(issued.form["refresh_token"], "rt-runtime-7c2");
    assert_eq!(issued.form["scope"], "inference");

    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(openai.chat(&options, &request).await.is_ok());
    assert_eq!(source.fetches(), 2, "refreshed past half its lifetime");
    assert_eq!(bearer_tokens(&upstream)[6], "tok-2");
    assert!(
        tokens.issued()[1].at.duration_since(issued.at) < Duration::from_secs(2),
        "before the old token expired"
    );
    assert!(openai.chat(&options, &request).await.is_ok());
    assert_eq!(source.fetches(), 2, "the fresh token is cached");

    let debug = format!("{source:?}");
    assert!(debug.contains(&tokens.url()), "{debug}");
    assert!(
        !debug.contains("rt-runtime-7c2") && !debug.contains("cs-runtime-9f1"),
        "{debug}"
    );
}

#[tokio::test]
async fn a_failing_endpoint_is_a_credential_error_from_a_back_off_with_secrets_scrubbed() {
    let tokens = TokenEndpoint::start(Duration::from_secs(3600), Duration::ZERO, true).await;
    let upstream = Upstream::start().await;
    let rt = runtime();
    let openai = load(&rt, "openai", AdapterPolicy::default()).await;
    let source = Arc::new(TokenSource::new(Grant::ClientCredentials {
        token_url: tokens.url(),
        client_id: "app".into(),
        client_secret: Secret::new("cs-echoed-4b8"),
        scopes: vec![],
    }));
    let options = call(&upstream, &source);
    let request = user("gpt-ok", "hi");
    let error = match openai.chat(&options, &request).await {
        Err(CallError::Credential { deployment, error }) => {
            assert_eq!(deployment, "tokens");
            error.to_string()
        }
        other => panic!("expected a credential error, got {other:?}"),
    };
    assert!(
        error.starts_with(&format!("the token endpoint {} failed", tokens.url())),
        "{error}"
    );
    assert!(error.contains("invalid_client"), "{error}");
    assert!(
        !error.contains("cs-echoed-4b8"),
        "the echoed secret is scrubbed: {error}"
    );
    assert!(
        upstream.requests().is_empty(),
        "nothing went out without a token"
    );

    let again = openai.chat(&options, &request).await;
    assert!(matches!(again, Err(CallError::Credential { .. })));
    assert_eq!(
        tokens.requests(),
        1,
        "the back-off answers without another exchange"
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert!(openai.chat(&options, &request).await.is_err());
    assert_eq!(
        tokens.requests(),
        2,
        "after the back-off the endpoint is asked again"
    );
}

fn credential_error(result: Result<impl std::fmt::Debug, CallError>) -> String {
    match result {
        Err(CallError::Credential { error, .. }) => error.to_string(),
        other => panic!("expected a credential error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_current_token_until_it_expires() {
    // Tokens live 6 s: refreshed after 3 s, expired after 6 s.
    let tokens = TokenEndpoint::start(Duration::from_secs(6), Duration::ZERO, false).await;
    let upstream = Upstream::start().await;
    let rt = runtime();
    let openai = load(&rt, "openai", AdapterPolicy::default()).await;
    let source = Arc::new(TokenSource::new(refresh_grant(&tokens)));
    let options = call(&upstream, &source);
    let request = user("gpt-ok", "hi");
    assert!(openai.chat(&options, &request).await.is_ok());
    // The source dated its token before this instant, so its refresh and expiry are due by
    // these deadlines.
    let issued_at = std::time::Instant::now();

    tokens.set_failing(true);
    tokio::time::sleep_until((issued_at + Duration::from_millis(3100)).into()).await;
    let kept = openai.chat(&options, &request).await;
    assert!(kept.is_ok(), "the unexpired token still serves: {kept:?}");
    assert_eq!(tokens.requests(), 2, "the refresh was tried");
    assert_eq!(bearer_tokens(&upstream), vec!["tok-1"; 2]);

    tokio::time::sleep_until((issued_at + Duration::from_millis(6100)).into()).await;
    let error = credential_error(openai.chat(&options, &request).await);
    assert!(error.contains("invalid_client"), "{error}");
    assert_eq!(tokens.requests(), 3);
    assert_eq!(
        upstream.requests().len(),
        2,
        "an expired token is never sent"
    );
}

#[tokio::test]
async fn a_service_account_signs_its_assertion_and_a_refusal_names_the_error() {
    let tokens = TokenEndpoint::start(Duration::from_secs(3600), Duration::ZERO, true).await;
    let upstream = Upstream::start().await;
    let rt = runtime();
    let openai = load(&rt, "openai", AdapterPolicy::default()).await;
    let grant = || {
        Grant::from_google_json(
            &service_account_json(&tokens.url()),
            vec![GOOGLE_CLOUD_SCOPE.into()],
        )
        .unwrap()
    };
    let request = user("gpt-ok", "hi");

    let refused = Arc::new(TokenSource::new(grant()));
    let error = credential_error(openai.chat(&call(&upstream, &refused), &request).await);
    assert!(
        error.starts_with(&format!("the token endpoint {} failed", tokens.url()))
            && error.contains("invalid_client (client authentication failed"),
        "the endpoint's own error, not a misread answer: {error}"
    );
    assert!(!error.contains("PRIVATE KEY"), "{error}");
    assert!(upstream.requests().is_empty());

    tokens.set_failing(false);
    let accepted = Arc::new(TokenSource::new(grant()));
    let answer = openai.chat(&call(&upstream, &accepted), &request).await;
    assert!(answer.is_ok(), "{answer:?}");
    let issued = &tokens.issued()[0];
    assert_eq!(
        issued.grant_type, "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "the endpoint verified the RS256 assertion against the account's public key"
    );
    assert_eq!(bearer_tokens(&upstream), vec!["tok-1"]);
}
