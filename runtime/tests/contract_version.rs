//! The host reads a component's contract version and imports at load: one built against
//! another `wasmgate:provider` version is refused with a message naming both versions and the
//! migration doc, one importing an interface adapters may not use is refused naming it, before
//! anything is linked or run.

mod common;

use common::runtime;
use wasmgate_runtime::{AdapterPolicy, RuntimeError, CONTRACT_VERSION};

/// A component that exports an `adapter` instance under `name` (one function, `info`).
fn component_exporting(name: &str) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(component
            (core module $m (func (export "info")))
            (core instance $i (instantiate $m))
            (func $info (canon lift (core func $i "info")))
            (instance $adapter (export "info" (func $info)))
            (export "{name}" (instance $adapter))
        )"#
    ))
    .expect("valid component text")
}

async fn load_error(bytes: Vec<u8>) -> String {
    match runtime()
        .load_bytes("old", bytes, AdapterPolicy::default())
        .await
    {
        Err(e @ RuntimeError::Load { .. }) => e.to_string(),
        Err(other) => panic!("expected a load error, got {other}"),
        Ok(_) => panic!("the component was loaded"),
    }
}

#[tokio::test]
async fn a_0_1_adapter_is_refused_naming_both_versions() {
    let message = load_error(component_exporting("wasmgate:provider/adapter@0.1.0")).await;
    assert!(
        message.contains("wasmgate:provider@0.1.0")
            && message.contains(&format!("wasmgate:provider@{CONTRACT_VERSION}"))
            && message.contains("docs/contract.md"),
        "{message}"
    );
}

#[tokio::test]
async fn a_future_minor_version_is_refused_too() {
    let message = load_error(component_exporting("wasmgate:provider/adapter@0.3.0")).await;
    assert!(message.contains("wasmgate:provider@0.3.0"), "{message}");
}

#[tokio::test]
async fn a_component_without_the_adapter_export_is_refused() {
    let message = load_error(component_exporting("acme:other/thing@1.0.0")).await;
    assert!(
        message.contains(&format!(
            "does not export wasmgate:provider/adapter@{CONTRACT_VERSION}"
        )) && message.contains("acme:other/thing@1.0.0"),
        "{message}"
    );
}

/// A component with the right adapter export that also imports `import` (an empty instance).
fn component_importing(import: &str) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(component
            (import "{import}" (instance))
            (core module $m (func (export "info")))
            (core instance $i (instantiate $m))
            (func $info (canon lift (core func $i "info")))
            (instance $adapter (export "info" (func $info)))
            (export "wasmgate:provider/adapter@{CONTRACT_VERSION}" (instance $adapter))
        )"#
    ))
    .expect("valid component text")
}

#[tokio::test]
async fn a_component_importing_a_forbidden_interface_is_refused_naming_it() {
    for import in [
        "wasi:http/incoming-handler@0.2.6",
        "acme:secrets/vault@1.0.0",
        "wasmgate:provider/host-admin@0.2.0",
    ] {
        let message = load_error(component_importing(import)).await;
        assert!(
            message.contains(&format!(
                "it imports `{import}`, which adapters may not use"
            )),
            "{import}: {message}"
        );
    }
}
