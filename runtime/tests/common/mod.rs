//! Shared set-up of the runtime's integration tests.
#![allow(dead_code)]

use std::time::Duration;
use wasmgate_runtime::types::ChatRequest;
use wasmgate_runtime::{Adapter, AdapterPolicy, CallOptions, Runtime, RuntimeConfig};
use wasmgate_test_support::{guest_wasm, workspace_root};

/// A runtime with a compiled-artifact cache under `target/`, so test runs share compilations.
pub fn runtime() -> Runtime {
    Runtime::new(RuntimeConfig {
        cache_dir: Some(workspace_root().join("target").join("wasmgate-test-cache")),
        max_instances: 64,
        ..Default::default()
    })
    .expect("runtime")
}

/// Loads guest adapter `name` under `policy`.
pub async fn load(runtime: &Runtime, name: &str, policy: AdapterPolicy) -> Adapter {
    runtime
        .load_file(guest_wasm(name), policy)
        .await
        .expect("load adapter")
}

/// A one-message chat request.
pub fn user(model: &str, text: &str) -> ChatRequest {
    wasmgate_runtime::user_request(model, text)
}

/// Call options with settings.
pub fn call_with(settings: &[(&str, &str)]) -> CallOptions {
    CallOptions {
        deployment_model: "test".into(),
        settings: settings
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        timeout: Some(Duration::from_secs(20)),
        ..Default::default()
    }
}
