//! Per-call overhead of the sandbox: instantiating an adapter, and a whole chat call through the
//! OpenAI adapter to a loopback server over pooled connections, next to the same POST sent by a
//! native pooled client; the same for the Python and JavaScript example adapters, with the pooling
//! allocator and with on-demand allocation. Run with `cargo bench -p wasmgate-runtime`.

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;
use wasmgate_runtime::types::{Message, MessageContent, Role};
use wasmgate_runtime::{AdapterPolicy, CallOptions, Runtime, RuntimeConfig, Secret};
use wasmgate_test_support::{example_wasm, guest_wasm, workspace_root, Upstream};

fn bench(c: &mut Criterion) {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (runtime, upstream) = tokio.block_on(async {
        let rt = Runtime::new(RuntimeConfig {
            cache_dir: Some(workspace_root().join("target").join("wasmgate-test-cache")),
            ..Default::default()
        })
        .unwrap();
        (rt, Upstream::start().await)
    });
    let load = |name: &str| {
        tokio
            .block_on(runtime.load_file(guest_wasm(name), AdapterPolicy::default()))
            .unwrap()
    };
    let mock = load("mock");
    let openai = load("openai");
    let call = CallOptions {
        deployment_model: "gpt".into(),
        api_base: Some(upstream.url()),
        credential: Some(Secret::new("sk-bench")),
        timeout: Some(Duration::from_secs(10)),
        ..Default::default()
    };
    let request = wasmgate_runtime::types::ChatRequest {
        messages: vec![Message {
            role: Role::User,
            content: Some(MessageContent::Text("Hello".into())),
            ..wasmgate_runtime::empty_message()
        }],
        ..wasmgate_runtime::chat_request("gpt-4o-mini")
    };

    let mut group = c.benchmark_group("adapter");
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("instantiate (mock, info)", |b| {
        b.to_async(&tokio)
            .iter(|| async { mock.health_check().await.unwrap() })
    });
    group.bench_function("instantiate + chat (mock, no network)", |b| {
        b.to_async(&tokio)
            .iter(|| async { mock.chat(&CallOptions::default(), &request).await.unwrap() })
    });
    group.bench_function("instantiate + chat (openai -> loopback, pooled)", |b| {
        b.to_async(&tokio)
            .iter(|| async { openai.chat(&call, &request).await.unwrap() })
    });

    let native: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .build(hyper_util::client::legacy::connect::HttpConnector::new());
    let url = format!("{}/chat/completions", upstream.url());
    let body =
        Bytes::from(r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello"}]}"#);
    group.bench_function("native POST (baseline, pooled)", |b| {
        b.to_async(&tokio).iter(|| async {
            let req = http::Request::post(&url)
                .header("content-type", "application/json")
                .header("authorization", "Bearer sk-bench")
                .body(Full::new(body.clone()))
                .unwrap();
            let response = native.request(req).await.unwrap();
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()
        })
    });
    group.finish();

    let on_demand = tokio.block_on(async {
        Runtime::new(RuntimeConfig {
            cache_dir: Some(workspace_root().join("target").join("wasmgate-test-cache")),
            pooling: false,
            ..Default::default()
        })
        .unwrap()
    });
    let mut group = c.benchmark_group("languages");
    group.measurement_time(Duration::from_secs(5));
    group.sample_size(30);
    for name in ["python-example", "js-example"] {
        for (allocator, rt) in [("pooling", &runtime), ("on-demand", &on_demand)] {
            let adapter = tokio
                .block_on(rt.load_file(example_wasm(name), AdapterPolicy::default()))
                .unwrap();
            group.bench_function(format!("instantiate ({name}, info, {allocator})"), |b| {
                b.to_async(&tokio)
                    .iter(|| async { adapter.health_check().await.unwrap() })
            });
            group.bench_function(
                format!("instantiate + chat ({name} -> loopback, {allocator})"),
                |b| {
                    b.to_async(&tokio)
                        .iter(|| async { adapter.chat(&call, &request).await.unwrap() })
                },
            );
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
