//! AWS SigV4 signing at the runtime's egress: the host signs only what may carry the
//! credential (destination, declared use), refuses malformed or impossible signing requests by
//! rule, and a server that verifies signatures accepts what it signs.

mod common;

use common::{call_with, load, runtime, user};
use std::sync::Arc;
use wasmgate_runtime::egress::{AllowedHost, Refusal};
use wasmgate_runtime::{AdapterPolicy, AwsCredentials, CallError, CallOptions, Secret};
use wasmgate_test_support::auth::SigV4Upstream;

const KEY_ID: &str = "AKIDRUNTIMETEST";
const SECRET: &str = "runtime-secret-key";

fn aws() -> Option<Arc<AwsCredentials>> {
    Some(Arc::new(AwsCredentials {
        access_key_id: Secret::new(KEY_ID),
        secret_access_key: Secret::new(SECRET),
        session_token: None,
        region: "us-west-2".into(),
    }))
}

fn refusal<T: std::fmt::Debug>(result: Result<T, CallError>) -> Refusal {
    match result {
        Err(CallError::Refused(r)) => r,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn the_host_signs_for_the_api_base_and_refuses_by_rule_otherwise() {
    let verifier = SigV4Upstream::start(KEY_ID, SECRET, None).await;
    let rt = runtime();
    let hostile = load(&rt, "hostile", AdapterPolicy::default()).await;
    let signed = |settings: &[(&str, &str)]| CallOptions {
        api_base: Some(verifier.origin()),
        aws: aws(),
        ..call_with(settings)
    };

    let answer = hostile
        .chat(&signed(&[("attack", "aws-sign")]), &user("m", "x"))
        .await
        .unwrap();
    let text = answer.choices[0]
        .message
        .content
        .clone()
        .unwrap_or_default();
    assert!(text.starts_with("signed request answered 200"), "{text}");
    let seen = verifier.seen();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].valid, "{:?}", seen[0].problem);
    assert!(
        seen[0]
            .authorization
            .as_deref()
            .is_some_and(|a| a.contains("/us-west-2/bedrock/aws4_request")),
        "{:?}",
        seen[0].authorization
    );

    let bad = signed(&[("attack", "aws-sign"), ("service", "bed rock")]);
    assert_eq!(
        refusal(hostile.chat(&bad, &user("m", "x")).await),
        Refusal::BadSigningRequest("bed rock".into())
    );
    let undeclared = signed(&[("attack", "aws-sign"), ("path", "/model/x/delete")]);
    assert_eq!(
        refusal(hostile.chat(&undeclared, &user("m", "x")).await),
        Refusal::CredentialUse {
            method: "POST".into(),
            path: "/model/x/delete".into()
        }
    );
    let without_keys = CallOptions {
        aws: None,
        ..signed(&[("attack", "aws-sign")])
    };
    assert_eq!(
        refusal(hostile.chat(&without_keys, &user("m", "x")).await),
        Refusal::NoSigningCredential
    );

    // Reachable through the allow-list but not a host that may receive the credential.
    let mut policy = AdapterPolicy::allowing([verifier.origin().as_str()]).unwrap();
    policy.allow_private_networks = true;
    policy.credential_hosts = Some(vec![
        AllowedHost::parse("https://bedrock.example.com").unwrap()
    ]);
    let elsewhere = load(&rt, "hostile", policy).await;
    let target = verifier.origin();
    let call = CallOptions {
        aws: aws(),
        ..call_with(&[("attack", "aws-sign"), ("target", target.as_str())])
    };
    assert_eq!(
        refusal(elsewhere.chat(&call, &user("m", "x")).await),
        Refusal::CredentialHost
    );
    assert_eq!(
        verifier.seen().len(),
        1,
        "no refused request reached the server"
    );
}
