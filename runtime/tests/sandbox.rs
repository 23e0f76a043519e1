//! The sandbox's promises, each driven by a real misbehaving component: egress outside the
//! allow-list, the SSRF guard, sealed credentials, CPU and memory limits, traps, wall-clock
//! timeouts and concurrency limits. After each failure the adapter keeps serving.

mod common;

use common::{call_with, load, runtime, user};
use std::time::Duration;
use wasmgate_runtime::egress::{AllowedHost, Refusal};
use wasmgate_runtime::types::ErrorKind;
use wasmgate_runtime::{AdapterPolicy, CallError, CallOptions, Limits, Secret, PLACEHOLDER_PREFIX};
use wasmgate_test_support::Upstream;

fn attack(kind: &str, url: &str) -> CallOptions {
    call_with(&[("attack", kind), ("url", url)])
}

fn content(answer: &wasmgate_runtime::types::ChatResponse) -> String {
    answer.choices[0]
        .message
        .content
        .clone()
        .unwrap_or_default()
}

fn expect_denied(result: Result<wasmgate_runtime::types::ChatResponse, CallError>, needle: &str) {
    match result {
        Err(CallError::Refused(refusal)) => {
            let message = refusal.to_string();
            assert!(message.contains(needle), "unexpected refusal: {message}");
        }
        Err(CallError::Provider(e)) => {
            assert_eq!(e.kind, ErrorKind::Internal);
            assert!(
                e.message.contains(needle),
                "unexpected message: {}",
                e.message
            );
        }
        other => panic!("expected a denial, got {other:?}"),
    }
}

#[tokio::test]
async fn egress_outside_the_allow_list_is_denied() {
    let upstream = Upstream::start().await;
    let rt = runtime();
    let policy = AdapterPolicy::allowing(["https://api.example.com"]).unwrap();
    let hostile = load(&rt, "hostile", policy).await;
    let url = format!("{}/steal", upstream.origin());
    expect_denied(
        hostile.chat(&attack("egress", &url), &user("m", "x")).await,
        "not on the adapter's allow-list",
    );
    assert!(
        upstream.requests().is_empty(),
        "nothing may reach the upstream"
    );
    // The same host becomes reachable when the operator names it as the call's api_base.
    let mut call = attack("egress", &url);
    call.api_base = Some(upstream.url());
    let answer = hostile.chat(&call, &user("m", "x")).await.unwrap();
    assert_eq!(content(&answer), "egress succeeded with status 404");
}

#[tokio::test]
async fn ssrf_guard_refuses_names_that_resolve_to_loopback() {
    let upstream = Upstream::start().await;
    let rt = runtime();
    let origin = format!("http://localhost:{}", upstream.addr.port());
    let url = format!("{origin}/internal");
    let hostile = load(
        &rt,
        "hostile",
        AdapterPolicy::allowing([origin.as_str()]).unwrap(),
    )
    .await;
    expect_denied(
        hostile.chat(&attack("egress", &url), &user("m", "x")).await,
        "private or local address",
    );
    assert!(upstream.requests().is_empty());

    let mut trusting = AdapterPolicy::allowing([origin.as_str()]).unwrap();
    trusting.allow_private_networks = true;
    let hostile = load(&rt, "hostile", trusting).await;
    let answer = hostile
        .chat(&attack("egress", &url), &user("m", "x"))
        .await
        .unwrap();
    assert_eq!(content(&answer), "egress succeeded with status 404");
}

#[tokio::test]
async fn ssrf_guard_refuses_literal_metadata_and_private_addresses() {
    let rt = runtime();
    let policy = AdapterPolicy::allowing(["http://169.254.169.254", "http://10.0.0.1"]).unwrap();
    let hostile = load(&rt, "hostile", policy).await;
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
    ] {
        expect_denied(
            hostile.chat(&attack("egress", url), &user("m", "x")).await,
            "private or local address",
        );
    }
}

#[tokio::test]
async fn the_key_reaches_the_upstream_but_never_the_adapter() {
    let upstream = Upstream::start().await;
    let rt = runtime();
    let key = "sk-real-0123456789abcdef";
    let call = CallOptions {
        api_base: Some(upstream.url()),
        credential: Some(Secret::new(key)),
        ..call_with(&[("attack", "echo-credential")])
    };

    let hostile = load(&rt, "hostile", AdapterPolicy::default()).await;
    let seen = content(&hostile.chat(&call, &user("m", "x")).await.unwrap());
    assert!(
        seen.starts_with(PLACEHOLDER_PREFIX),
        "the adapter saw {seen:?}"
    );
    assert!(!seen.contains(key));
    let again = content(&hostile.chat(&call, &user("m", "x")).await.unwrap());
    assert_ne!(seen, again, "placeholders are per call");

    let openai = load(&rt, "openai", AdapterPolicy::default()).await;
    openai.chat(&call, &user("gpt", "Hi")).await.unwrap();
    let sent = upstream.requests();
    assert_eq!(
        sent[0].header("authorization").as_deref(),
        Some(format!("Bearer {key}").as_str())
    );
    assert!(!String::from_utf8_lossy(&sent[0].body).contains(PLACEHOLDER_PREFIX));
}

#[tokio::test]
async fn the_placeholder_cannot_be_sent_to_a_host_outside_the_credential_hosts() {
    let upstream = Upstream::start().await;
    let rt = runtime();
    let mut policy = AdapterPolicy::allowing([upstream.origin().as_str()]).unwrap();
    policy.allow_private_networks = true;
    policy.credential_hosts = Some(vec![AllowedHost::parse("https://api.example.com").unwrap()]);
    let hostile = load(&rt, "hostile", policy).await;
    let call = CallOptions {
        credential: Some(Secret::new("sk-real-secret")),
        ..attack("exfiltrate", &format!("{}/steal", upstream.origin()))
    };
    expect_denied(
        hostile.chat(&call, &user("m", "x")).await,
        "the sealed credential may not be sent to this host",
    );
    assert!(
        upstream.requests().is_empty(),
        "neither key nor placeholder may leave"
    );
}

#[tokio::test]
async fn raw_credentials_are_an_explicit_grant() {
    let rt = runtime();
    let policy = AdapterPolicy {
        raw_credentials: true,
        ..Default::default()
    };
    let hostile = load(&rt, "hostile", policy).await;
    let call = CallOptions {
        credential: Some(Secret::new("sk-raw")),
        ..call_with(&[("attack", "echo-credential")])
    };
    assert_eq!(
        content(&hostile.chat(&call, &user("m", "x")).await.unwrap()),
        "sk-raw"
    );
}

/// The adapter answers a harmless call after whatever went before.
async fn assert_still_serves(adapter: &wasmgate_runtime::Adapter) {
    let answer = adapter
        .chat(&call_with(&[]), &user("m", "x"))
        .await
        .unwrap();
    assert_eq!(content(&answer), "harmless");
}

fn limited(limits: Limits) -> AdapterPolicy {
    AdapterPolicy {
        limits,
        ..Default::default()
    }
}

#[tokio::test]
async fn an_endless_loop_is_stopped_by_the_cpu_budget_and_the_next_call_works() {
    let rt = runtime();
    let hostile = load(
        &rt,
        "hostile",
        limited(Limits {
            cpu_time: Duration::from_millis(200),
            ..Default::default()
        }),
    )
    .await;
    match hostile
        .chat(&call_with(&[("attack", "spin")]), &user("m", "x"))
        .await
    {
        Err(CallError::CpuLimit(limit)) => assert_eq!(limit, Duration::from_millis(200)),
        other => panic!("expected the CPU limit, got {other:?}"),
    }
    assert_still_serves(&hostile).await;
}

#[tokio::test]
async fn a_loop_in_a_stream_is_stopped_too() {
    use futures::StreamExt;
    let rt = runtime();
    let hostile = load(
        &rt,
        "hostile",
        limited(Limits {
            cpu_time: Duration::from_millis(100),
            ..Default::default()
        }),
    )
    .await;
    let mut stream = hostile
        .chat_stream(&call_with(&[("attack", "spin")]), &user("m", "x"))
        .await
        .unwrap();
    assert!(matches!(
        stream.next().await,
        Some(Err(CallError::CpuLimit(_)))
    ));
    assert!(
        stream.next().await.is_none(),
        "the stream ends after the failure"
    );
}

#[tokio::test]
async fn a_memory_bomb_traps_cleanly_at_the_cap() {
    let rt = runtime();
    let cap = 32 << 20;
    let hostile = load(
        &rt,
        "hostile",
        limited(Limits {
            memory_bytes: cap,
            ..Default::default()
        }),
    )
    .await;
    match hostile
        .chat(&call_with(&[("attack", "allocate")]), &user("m", "x"))
        .await
    {
        Err(CallError::MemoryLimit { limit }) => assert_eq!(limit, cap),
        other => panic!("expected the memory limit, got {other:?}"),
    }
    assert_still_serves(&hostile).await;
}

#[tokio::test]
async fn a_panic_is_a_contained_trap() {
    let rt = runtime();
    let hostile = load(&rt, "hostile", AdapterPolicy::default()).await;
    let err = hostile
        .chat(&call_with(&[("attack", "panic")]), &user("m", "x"))
        .await
        .unwrap_err();
    assert!(matches!(err, CallError::Trap(_)), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Internal);
    assert_still_serves(&hostile).await;
}

#[tokio::test]
async fn a_slow_call_hits_the_wall_clock_timeout() {
    let rt = runtime();
    let mock = load(&rt, "mock", AdapterPolicy::default()).await;
    let call = CallOptions {
        timeout: Some(Duration::from_millis(300)),
        ..call_with(&[("mock_latency_ms", "10000")])
    };
    let err = mock.chat(&call, &user("m", "x")).await.unwrap_err();
    assert!(
        matches!(err, CallError::Timeout(t) if t == Duration::from_millis(300)),
        "{err:?}"
    );
}

/// A call whose stream holds its instance (and slot) until the upstream's gate opens or the
/// stream is dropped: synchronisation by an event, not a sleep.
async fn hold_a_slot(
    openai: &wasmgate_runtime::Adapter,
    upstream: &Upstream,
) -> wasmgate_runtime::ChatStream {
    let call = CallOptions {
        api_base: Some(upstream.url()),
        ..call_with(&[])
    };
    let mut stream = openai
        .chat_stream(&call, &user("gated-stream", "x"))
        .await
        .expect("the gated stream opens");
    let first = stream.next_batch().await.expect("a first batch");
    assert!(first.is_ok(), "{first:?}");
    stream
}

#[tokio::test]
async fn calls_beyond_the_concurrency_limit_are_refused() {
    let upstream = Upstream::start().await;
    let rt = runtime();
    let limits = Limits {
        max_concurrency: 1,
        queue_timeout: Duration::from_millis(100),
        ..Default::default()
    };
    let openai = load(&rt, "openai", limited(limits)).await;
    let held = hold_a_slot(&openai, &upstream).await;
    let call = CallOptions {
        api_base: Some(upstream.url()),
        ..call_with(&[])
    };
    let refused = openai.chat(&call, &user("gpt-ok", "x")).await;
    assert!(
        matches!(refused, Err(CallError::Overloaded(1))),
        "{refused:?}"
    );
    drop(held);
    assert!(
        openai.chat(&call, &user("gpt-ok", "x")).await.is_ok(),
        "the slot is free again"
    );
}

#[tokio::test]
async fn filesystem_and_socket_imports_are_linked_without_capability() {
    let rt = runtime();
    let adapter = load(&rt, "hostile-ambient", AdapterPolicy::default()).await;
    let watched = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    watched.set_nonblocking(true).unwrap();
    let target = watched.local_addr().unwrap().to_string();
    let answer = adapter
        .chat(&call_with(&[("connect", &target)]), &user("m", "x"))
        .await
        .expect("the adapter reports what it got");
    let report = content(&answer);
    for attempt in [
        "read /etc/passwd",
        "list /",
        "list .",
        "create /tmp/x",
        "tcp 169.254.169.254:80",
        "dns localhost",
        "udp bind",
    ] {
        let line = report
            .lines()
            .find(|l| l.starts_with(attempt))
            .unwrap_or_else(|| panic!("no line for {attempt}: {report}"));
        assert!(line.contains(": denied("), "{line}");
    }
    assert!(
        report.contains(&format!("tcp {target}: denied(")),
        "{report}"
    );
    assert!(!report.contains("GRANTED"), "{report}");
    assert_eq!(
        watched.accept().err().map(|e| e.kind()),
        Some(std::io::ErrorKind::WouldBlock),
        "nothing connected to the watched listener"
    );
    // Each socket it tried to open (two TCP, one UDP) was refused before any host socket
    // existed, and counted.
    let refused = adapter.stats().refusals;
    assert!(
        refused.contains(&("socket", 3)),
        "socket refusals counted: {refused:?}"
    );
}

#[tokio::test]
async fn ssrf_guard_vets_names_that_resolve_to_the_metadata_address() {
    use wasmgate_runtime::egress::ClientConfig;
    use wasmgate_runtime::RuntimeConfig;
    let mut client = ClientConfig::default();
    client.resolve_overrides.insert(
        "metadata.internal.test".into(),
        vec!["169.254.169.254".parse().unwrap()],
    );
    let rt = wasmgate_runtime::Runtime::new(RuntimeConfig {
        cache_dir: Some(
            wasmgate_test_support::workspace_root()
                .join("target")
                .join("wasmgate-test-cache"),
        ),
        max_instances: 16,
        client,
        ..Default::default()
    })
    .unwrap();
    let hostile = load(
        &rt,
        "hostile",
        AdapterPolicy::allowing(["http://metadata.internal.test"]).unwrap(),
    )
    .await;
    let result = hostile
        .chat(
            &attack("egress", "http://metadata.internal.test/latest/meta-data/"),
            &user("m", "x"),
        )
        .await;
    expect_denied(result, "private or local address");
}

#[tokio::test]
async fn unbounded_recursion_is_a_contained_trap() {
    let rt = runtime();
    let hostile = load(&rt, "hostile", AdapterPolicy::default()).await;
    let err = hostile
        .chat(&call_with(&[("attack", "recurse")]), &user("m", "x"))
        .await
        .unwrap_err();
    // Rust keeps its stack in linear memory: running off its end is an out-of-bounds trap.
    assert!(
        matches!(&err, CallError::Trap(m) if m.contains("stack") || m.contains("out of bounds")),
        "{err:?}"
    );
    assert_still_serves(&hostile).await;
}

#[tokio::test]
async fn hoarding_handles_hits_the_resource_limit() {
    let rt = runtime();
    let limits = Limits {
        max_resources: 500,
        ..Default::default()
    };
    let hostile = load(&rt, "hostile", limited(limits)).await;
    let err = hostile
        .chat(&call_with(&[("attack", "flood")]), &user("m", "x"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CallError::Trap(m) if m.contains("resource table")),
        "{err:?}"
    );
    assert_still_serves(&hostile).await;
}

#[tokio::test]
async fn a_gigantic_answer_is_refused() {
    let rt = runtime();
    let limits = Limits {
        max_output_bytes: 1 << 20,
        ..Default::default()
    };
    let hostile = load(&rt, "hostile", limited(limits)).await;
    let err = hostile
        .chat(
            &call_with(&[("attack", "huge-output"), ("size_mb", "4")]),
            &user("m", "x"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, CallError::OutputTooLarge { limit: 1048576, size } if size >= 4 << 20),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_adapter_sees_no_environment_or_arguments() {
    // The host process has an environment (PATH at least); none of it reaches the adapter. No
    // variable is set here: set_var would race the name lookups of tests running alongside.
    assert!(std::env::vars().count() > 0 && std::env::args().count() > 0);
    let rt = runtime();
    let hostile = load(&rt, "hostile", AdapterPolicy::default()).await;
    let answer = hostile
        .chat(&call_with(&[("attack", "ambient")]), &user("m", "x"))
        .await
        .unwrap();
    assert_eq!(content(&answer), "env=0 args=0");
}

#[tokio::test]
async fn a_stream_that_never_ends_is_cut_at_the_stream_limit() {
    use futures::StreamExt;
    let rt = runtime();
    let limits = Limits {
        stream_timeout: Duration::from_millis(300),
        ..Default::default()
    };
    let hostile = load(&rt, "hostile", limited(limits)).await;
    let mut stream = hostile
        .chat_stream(&call_with(&[]), &user("m", "x"))
        .await
        .unwrap();
    let mut chunks = 0u64;
    let outcome = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match stream.next().await {
                Some(Ok(_)) => chunks += 1,
                other => return other,
            }
        }
    })
    .await
    .expect("the stream limit ends it");
    assert!(chunks > 0);
    assert!(
        matches!(outcome, Some(Err(CallError::Timeout(t))) if t == Duration::from_millis(300)),
        "{outcome:?}"
    );
    assert!(stream.next().await.is_none());
}

#[tokio::test]
async fn a_panic_mid_stream_ends_the_stream_with_a_trap() {
    use futures::StreamExt;
    let rt = runtime();
    let hostile = load(&rt, "hostile", AdapterPolicy::default()).await;
    let items: Vec<_> = hostile
        .chat_stream(
            &call_with(&[("attack", "panic-mid-stream")]),
            &user("m", "x"),
        )
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(items.len(), 2);
    assert!(items[0].is_ok());
    assert!(
        matches!(items[1], Err(CallError::Trap(_))),
        "{:?}",
        items[1]
    );
}

#[tokio::test]
async fn the_placeholder_cannot_leave_in_a_request_body_either() {
    let upstream = Upstream::start().await;
    let rt = runtime();
    let mut policy = AdapterPolicy::allowing([upstream.origin().as_str()]).unwrap();
    policy.allow_private_networks = true;
    policy.credential_hosts = Some(Vec::new());
    let hostile = load(&rt, "hostile", policy).await;
    let call = CallOptions {
        credential: Some(Secret::new("sk-real-body")),
        ..attack("exfiltrate-body", &format!("{}/steal", upstream.origin()))
    };
    let result = hostile.chat(&call, &user("m", "x")).await;
    assert!(
        matches!(result, Err(CallError::Refused(Refusal::CredentialInBody))),
        "{result:?}"
    );
    // The request may have started before the scan cut its body: the upstream keeps what
    // arrived, and none of it is the placeholder or the key.
    for sent in upstream.requests() {
        assert!(!sent.complete, "a body with the placeholder was not cut");
        let body = String::from_utf8_lossy(&sent.body);
        assert!(
            !body.contains(PLACEHOLDER_PREFIX) && !body.contains("sk-real-body"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn the_placeholder_cannot_leave_in_a_url() {
    let upstream = Upstream::start().await;
    let rt = runtime();
    let hostile = load(&rt, "hostile", AdapterPolicy::default()).await;
    let call = CallOptions {
        api_base: Some(upstream.url()),
        credential: Some(Secret::new("sk-real-url")),
        ..call_with(&[("attack", "credential-in-url")])
    };
    let result = hostile.chat(&call, &user("m", "x")).await;
    assert!(
        matches!(result, Err(CallError::Refused(Refusal::CredentialInUrl))),
        "{result:?}"
    );
    assert!(upstream.requests().is_empty(), "nothing left");
}

#[tokio::test]
async fn the_key_goes_to_credential_hosts_and_by_default_to_the_allow_list() {
    let upstream = Upstream::start().await;
    let rt = runtime();
    let steal = format!("{}/steal", upstream.origin());
    let call = CallOptions {
        credential: Some(Secret::new("sk-real-hosts")),
        ..attack("exfiltrate", &steal)
    };
    // No api_base: the upstream is reachable only through the adapter's policy.
    let mut named = AdapterPolicy::allowing([upstream.origin().as_str()]).unwrap();
    named.allow_private_networks = true;
    named.credential_hosts = Some(vec![AllowedHost::parse(&upstream.origin()).unwrap()]);
    let mut fallback = named.clone();
    fallback.credential_hosts = None;
    for (what, policy) in [
        ("credential_hosts", named),
        ("allow-list fallback", fallback),
    ] {
        let mut policy = policy;
        policy.credential_uses = Some(vec![wasmgate_runtime::egress::CredentialUse::parse(
            "GET /steal",
        )
        .unwrap()]);
        let hostile = load(&rt, "hostile", policy).await;
        let answer = hostile.chat(&call, &user("m", "x")).await;
        assert!(answer.is_ok(), "{what}: {answer:?}");
        let sent = upstream.requests().pop().unwrap();
        assert_eq!(
            sent.header("x-stolen").as_deref(),
            Some("sk-real-hosts"),
            "{what}: the host swapped the key in toward a host allowed to receive it"
        );
    }
}

#[tokio::test]
async fn a_dripping_upstream_hits_the_call_timeout() {
    let upstream = Upstream::start().await;
    let rt = runtime();
    let openai = load(&rt, "openai", AdapterPolicy::default()).await;
    let call = CallOptions {
        api_base: Some(upstream.url()),
        timeout: Some(Duration::from_millis(1500)),
        ..call_with(&[])
    };
    let err = openai.chat(&call, &user("drip", "x")).await.unwrap_err();
    assert!(
        matches!(err, CallError::Timeout(t) if t == Duration::from_millis(1500)),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_endless_upstream_body_hits_the_response_size_cap() {
    let upstream = Upstream::start().await;
    let rt = runtime();
    let openai = load(
        &rt,
        "openai",
        limited(Limits {
            max_response_bytes: 1 << 20,
            ..Default::default()
        }),
    )
    .await;
    let call = CallOptions {
        api_base: Some(upstream.url()),
        ..call_with(&[])
    };
    match openai.chat(&call, &user("endless", "x")).await {
        Err(CallError::Provider(e)) => {
            assert_eq!(e.kind, ErrorKind::UpstreamError);
            assert!(
                e.message.contains("exceeds limit: 1048576 bytes"),
                "{}",
                e.message
            );
        }
        other => panic!("expected the size cap, got {other:?}"),
    }
}

#[tokio::test]
async fn fresh_pages_are_zero_in_every_call_and_stream() {
    // Each call dirties pages it grew; a slot reused without zeroing them would hand the next
    // call (or stream) those bytes.
    let rt = runtime();
    let limits = Limits {
        max_concurrency: 1,
        ..Default::default()
    };
    let adapter = load(&rt, "hostile", limited(limits)).await;
    let call = call_with(&[("attack", "fresh-pages")]);
    for i in 0..20 {
        let answer = adapter.chat(&call, &user("m", "x")).await.unwrap();
        assert_eq!(content(&answer), "clean", "call {i}");
        let mut stream = adapter.chat_stream(&call, &user("m", "x")).await.unwrap();
        for batch in 0..2 {
            let chunks = stream.next_batch().await.unwrap().unwrap();
            let text = chunks[0].choices[0].content.clone().unwrap_or_default();
            assert_eq!(text, "clean", "stream {i}, batch {batch}");
        }
    }
}

#[tokio::test]
async fn nothing_survives_from_one_call_to_the_next() {
    // Pooled slots are reused (and reset by rewriting only the dirtied pages): every call must
    // still start from the pristine image.
    let rt = runtime();
    let adapter = load(&rt, "hostile", AdapterPolicy::default()).await;
    for i in 0..40 {
        let key = format!("sk-call-{i}");
        let mut call = call_with(&[("attack", "remember")]);
        call.credential = Some(Secret::new(&key));
        let answer = adapter.chat(&call, &user("m", "x")).await.unwrap();
        assert_eq!(
            content(&answer),
            "",
            "call {i} saw what an earlier call left"
        );
    }
}

#[tokio::test]
async fn a_full_runtime_refuses_calls_as_unavailable() {
    use wasmgate_runtime::RuntimeConfig;
    let upstream = Upstream::start().await;
    let rt = wasmgate_runtime::Runtime::new(RuntimeConfig {
        max_instances: 2,
        cache_dir: Some(
            wasmgate_test_support::workspace_root()
                .join("target")
                .join("wasmgate-test-cache"),
        ),
        ..Default::default()
    })
    .unwrap();
    let openai = load(&rt, "openai", AdapterPolicy::default()).await;
    let mock = load(&rt, "mock", AdapterPolicy::default()).await;
    let held = [
        hold_a_slot(&openai, &upstream).await,
        hold_a_slot(&openai, &upstream).await,
    ];
    match mock.chat(&call_with(&[]), &user("m", "x")).await {
        Err(e @ CallError::RuntimeFull(_)) => {
            assert_eq!(e.kind(), ErrorKind::Unavailable);
            assert!(e.to_string().contains("no free instance slot"), "{e}");
        }
        other => panic!("expected RuntimeFull, got {other:?}"),
    }
    drop(held);
    assert!(mock.chat(&call_with(&[]), &user("m", "x")).await.is_ok());
}
