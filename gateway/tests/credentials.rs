//! Host-held credentials end to end, against loopback servers: OAuth2 access tokens the host
//! obtains (refresh-token, client-credentials and Google service-account grants), caches,
//! refreshes before expiry with one exchange for many concurrent calls, and reports clearly
//! when the token endpoint fails; and AWS SigV4 signatures the host adds at egress, checked by a
//! server that verifies them.

mod common;

use common::{chat_body, start, url};
use std::time::Duration;
use wasmgate_test_support::auth::{service_account_json, SigV4Upstream, TokenEndpoint};
use wasmgate_test_support::client::post_json;
use wasmgate_test_support::{guest_wasm, Upstream};

/// The tokens the upstream received, in order.
fn bearer_tokens(upstream: &Upstream) -> Vec<String> {
    upstream
        .requests()
        .iter()
        .map(|r| {
            r.header("authorization")
                .unwrap_or_default()
                .trim_start_matches("Bearer ")
                .to_string()
        })
        .collect()
}

async fn concurrent_chats(chat: &str, model: &str, n: usize) -> Vec<u16> {
    let calls = (0..n).map(|_| async move {
        post_json(chat, &chat_body(model), &[])
            .await
            .status
            .as_u16()
    });
    futures::future::join_all(calls).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_tokens_are_refreshed_before_expiry_with_one_exchange_for_concurrent_calls() {
    // Tokens live 2 s; each exchange takes 150 ms, so concurrent calls overlap the refresh.
    let tokens =
        TokenEndpoint::start(Duration::from_secs(2), Duration::from_millis(150), false).await;
    let upstream = Upstream::start().await;
    let yaml = format!(
        "model_list:\n\
         - model_name: claude\n  litellm_params:\n    model: openai/gpt-ok\n    api_base: {base}\n    credential:\n      type: oauth2_refresh_token\n      token_url: {token_url}\n      client_id: wasmgate-client\n      refresh_token: rt-long-lived\n",
        base = upstream.url(),
        token_url = tokens.url()
    );
    let gw = start(&yaml).await;
    let chat = url(&gw, "/v1/chat/completions");

    assert_eq!(concurrent_chats(&chat, "claude", 8).await, vec![200; 8]);
    assert_eq!(
        tokens.requests(),
        1,
        "eight concurrent first calls share one exchange"
    );
    assert_eq!(bearer_tokens(&upstream), vec!["tok-1"; 8]);
    let first = &tokens.issued()[0];
    assert_eq!(first.grant_type, "refresh_token");
    assert_eq!(first.form["refresh_token"], "rt-long-lived");

    // Past the refresh point (half the lifetime) but well before tok-1 expires at 2 s.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(first.at.elapsed() < Duration::from_millis(1900));
    assert_eq!(concurrent_chats(&chat, "claude", 8).await, vec![200; 8]);
    assert_eq!(
        tokens.requests(),
        2,
        "one refresh for eight concurrent calls"
    );
    assert_eq!(&bearer_tokens(&upstream)[8..], vec!["tok-2"; 8]);
    let second = &tokens.issued()[1];
    assert!(
        second.at.duration_since(first.at) < Duration::from_secs(2),
        "refreshed before the old token expired"
    );

    // Within tok-2's first half no exchange happens.
    assert_eq!(concurrent_chats(&chat, "claude", 3).await, vec![200; 3]);
    assert_eq!(tokens.requests(), 2);
}

#[tokio::test]
async fn service_account_and_entra_id_grants_reach_the_upstream_as_bearer_tokens() {
    let tokens = TokenEndpoint::start(Duration::from_secs(3600), Duration::ZERO, false).await;
    let upstream = Upstream::start().await;
    let key_file = std::env::temp_dir().join(format!("wasmgate-sa-{}.json", std::process::id()));
    std::fs::write(&key_file, service_account_json(&tokens.url())).unwrap();
    let yaml = format!(
        "model_list:\n\
         - model_name: vertex\n  litellm_params:\n    model: openai/gpt-ok\n    api_base: {base}\n    vertex_credentials: {key}\n    vertex_project: p1\n    vertex_location: us-central1\n\
         - model_name: azure\n  litellm_params:\n    model: openai/gpt-ok\n    api_base: {base}\n    tenant_id: tenant-1\n    client_id: app-1\n    client_secret: entra-secret\n    azure_authority_host: http://{auth}\n",
        base = upstream.url(),
        key = key_file.display(),
        auth = tokens.addr,
    );
    let gw = start(&yaml).await;
    let chat = url(&gw, "/v1/chat/completions");
    for model in ["vertex", "azure"] {
        let reply = post_json(&chat, &chat_body(model), &[]).await;
        assert_eq!(reply.status, 200, "{model}: {}", reply.text());
    }
    let issued = tokens.issued();
    assert_eq!(issued.len(), 2);
    assert_eq!(
        issued[0].grant_type, "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "the service account's signed assertion was verified by the endpoint"
    );
    assert_eq!(issued[1].grant_type, "client_credentials");
    assert_eq!(issued[1].form["client_secret"], "entra-secret");
    assert_eq!(
        issued[1].form["scope"],
        "https://cognitiveservices.azure.com/.default"
    );
    assert_eq!(bearer_tokens(&upstream), vec!["tok-1", "tok-2"]);
    let _ = std::fs::remove_file(key_file);
}

#[tokio::test]
async fn a_failing_token_endpoint_is_an_authentication_error_naming_the_deployment() {
    let tokens = TokenEndpoint::start(Duration::from_secs(3600), Duration::ZERO, true).await;
    let upstream = Upstream::start().await;
    let yaml = format!(
        "model_list:\n\
         - model_name: broken-entra\n  litellm_params:\n    model: openai/gpt-ok\n    api_base: {base}\n    credential:\n      type: oauth2_client_credentials\n      token_url: {token_url}\n      client_id: app-1\n      client_secret: cs-do-not-print-9d2\n",
        base = upstream.url(),
        token_url = tokens.url()
    );
    let gw = start(&yaml).await;
    let reply = post_json(
        &url(&gw, "/v1/chat/completions"),
        &chat_body("broken-entra"),
        &[],
    )
    .await;
    assert_eq!(reply.status, 401, "{}", reply.text());
    let error = &reply.json()["error"];
    assert_eq!(error["type"], "authentication_error");
    assert_eq!(error["code"], "credential_unavailable");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("deployment `broken-entra`"), "{message}");
    assert!(message.contains(&tokens.url()), "{message}");
    assert!(message.contains("invalid_client"), "{message}");
    assert!(
        !reply.text().contains("cs-do-not-print-9d2"),
        "the endpoint's echo of the secret is scrubbed: {message}"
    );
    assert!(
        upstream.requests().is_empty(),
        "no call went out without a token"
    );
    // A second call within the back-off gets the same answer without another exchange.
    let again = post_json(
        &url(&gw, "/v1/chat/completions"),
        &chat_body("broken-entra"),
        &[],
    )
    .await;
    assert_eq!(again.status, 401);
    assert_eq!(tokens.requests(), 1);
}

#[tokio::test]
async fn the_host_signs_aws_requests_that_a_verifying_server_accepts() {
    let verifier = SigV4Upstream::start(
        "AKIDWASMGATETEST",
        "aws-secret-do-not-print-41f",
        Some("session-token-do-not-print-7c"),
    )
    .await;
    let hostile = guest_wasm("hostile");
    let yaml = format!(
        "adapters:\n\
         - name: hostile\n  path: {h}\n\
         model_list:\n\
         - model_name: bedrock\n  litellm_params:\n    model: hostile/x\n    api_base: {origin}\n    aws_access_key_id: AKIDWASMGATETEST\n    aws_secret_access_key: aws-secret-do-not-print-41f\n    aws_session_token: session-token-do-not-print-7c\n    aws_region_name: eu-west-1\n    settings:\n      attack: aws-sign\n\
         - model_name: bedrock-undeclared\n  litellm_params:\n    model: hostile/x\n    api_base: {origin}\n    aws_access_key_id: AKIDWASMGATETEST\n    aws_secret_access_key: aws-secret-do-not-print-41f\n    aws_region_name: eu-west-1\n    settings:\n      attack: aws-sign\n      path: /model/x/delete\n\
         - model_name: no-aws\n  litellm_params:\n    model: hostile/x\n    api_base: {origin}\n    api_key: sk-not-aws\n    settings:\n      attack: aws-sign\n\
         - model_name: dump\n  litellm_params:\n    model: hostile/x\n    api_base: {origin}\n    aws_access_key_id: AKIDWASMGATETEST\n    aws_secret_access_key: aws-secret-do-not-print-41f\n    aws_session_token: session-token-do-not-print-7c\n    aws_region_name: eu-west-1\n    settings:\n      attack: dump-context\n",
        h = hostile.display(),
        origin = verifier.origin(),
    );
    let gw = start(&yaml).await;
    let chat = url(&gw, "/v1/chat/completions");

    let reply = post_json(&chat, &chat_body("bedrock"), &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let answer = reply.json()["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        answer.starts_with("signed request answered 200"),
        "{answer}"
    );
    let seen = verifier.seen();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].valid, "{:?}", seen[0].problem);
    assert_eq!(seen[0].path, "/model/x/converse");
    let auth = seen[0].authorization.clone().unwrap();
    assert!(
        auth.contains("/eu-west-1/bedrock/aws4_request"),
        "signed for the deployment's region and the adapter's service: {auth}"
    );
    assert_eq!(
        seen[0].security_token.as_deref(),
        Some("session-token-do-not-print-7c")
    );

    // A path the adapter did not declare is not signed, and nothing is sent.
    let reply = post_json(&chat, &chat_body("bedrock-undeclared"), &[]).await;
    assert_eq!(reply.status, 500, "{}", reply.text());
    assert!(
        reply
            .text()
            .contains("not granted for POST /model/x/delete"),
        "{}",
        reply.text()
    );
    // Asking for a signature without AWS credentials is refused.
    let reply = post_json(&chat, &chat_body("no-aws"), &[]).await;
    assert!(
        reply.text().contains("holds no AWS credentials"),
        "{}",
        reply.text()
    );
    assert_eq!(
        verifier.seen().len(),
        1,
        "no refused request reached the server"
    );

    // The adapter's whole context holds no AWS key, only the credential kind.
    let reply = post_json(&chat, &chat_body("dump"), &[]).await;
    let dump = reply.text();
    assert!(dump.contains("AwsSigv4"), "{dump}");
    for secret in [
        "AKIDWASMGATETEST",
        "aws-secret-do-not-print-41f",
        "session-token-do-not-print-7c",
    ] {
        assert!(
            !dump.contains(secret),
            "{secret} reached the adapter: {dump}"
        );
    }
}
