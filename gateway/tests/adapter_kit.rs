//! The adapter test kit (`wasmgate adapters test`) on the project's own adapters: every one
//! passes against the fixture of its wire format, and the hostile ones are flagged.

use std::process::Command;
use wasmgate::testkit::{self, Options, Report, Status};
use wasmgate_runtime::{Runtime, RuntimeConfig};
use wasmgate_test_support::{example_wasm, guest_wasm};

async fn run(wasm: std::path::PathBuf) -> Report {
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let bytes = std::fs::read(&wasm).unwrap();
    testkit::run(&runtime, "under-test", bytes, &Options::default()).await
}

async fn passes(wasm: std::path::PathBuf, wire: &str, skipped: &[&str]) {
    let report = run(wasm).await;
    assert!(report.passed(), "{}", report.table());
    assert!(report.wire.starts_with(wire), "{}", report.table());
    for c in &report.checks {
        let expected = if skipped.contains(&c.name) {
            Status::Skip
        } else {
            Status::Pass
        };
        assert_eq!(c.status, expected, "{}: {}", c.name, report.table());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai() {
    passes(guest_wasm("openai"), "openai", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic() {
    // Anthropic has no embeddings API.
    passes(guest_wasm("anthropic"), "anthropic", &["embeddings"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure() {
    passes(guest_wasm("azure"), "azure", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gemini() {
    passes(guest_wasm("gemini"), "gemini", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vertex_ai() {
    passes(guest_wasm("vertex"), "vertex_ai", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cohere() {
    passes(guest_wasm("cohere"), "cohere", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ollama() {
    passes(guest_wasm("ollama"), "ollama", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bedrock() {
    passes(guest_wasm("bedrock"), "bedrock", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mock() {
    passes(guest_wasm("mock"), "offline", &["tools", "errors"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_example() {
    passes(example_wasm("python-example"), "openai", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn javascript_example() {
    passes(example_wasm("js-example"), "openai", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hostile_adapter_is_flagged() {
    let report = run(guest_wasm("hostile")).await;
    assert!(!report.passed(), "{}", report.table());
    // Its stream never ends; the kit bounds it.
    assert_eq!(
        report.status("stream"),
        Some(Status::Fail),
        "{}",
        report.table()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ambient_authority_adapter_is_flagged() {
    let report = run(guest_wasm("hostile-ambient")).await;
    assert!(!report.passed(), "{}", report.table());
    // Its sockets were refused (and counted) although its answer looked fine.
    assert_eq!(
        report.status("limits"),
        Some(Status::Fail),
        "{}",
        report.table()
    );
    assert!(report.table().contains("socket"), "{}", report.table());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_that_is_not_an_adapter_fails_to_load() {
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let report = testkit::run(
        &runtime,
        "junk",
        b"\0asm junk".to_vec(),
        &Options::default(),
    )
    .await;
    assert_eq!(
        report.status("load"),
        Some(Status::Fail),
        "{}",
        report.table()
    );
    assert_eq!(report.checks.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wrong_wire_fails_the_chat_check() {
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let bytes = std::fs::read(guest_wasm("anthropic")).unwrap();
    let options = Options {
        wire: Some("openai".into()),
        ..Options::default()
    };
    let report = testkit::run(&runtime, "anthropic", bytes, &options).await;
    assert_eq!(
        report.status("chat"),
        Some(Status::Fail),
        "{}",
        report.table()
    );
    let unknown = Options {
        wire: Some("carrier-pigeon".into()),
        ..Options::default()
    };
    let bytes = std::fs::read(guest_wasm("anthropic")).unwrap();
    let report = testkit::run(&runtime, "anthropic", bytes, &unknown).await;
    assert!(
        report.table().contains("no wire `carrier-pigeon`"),
        "{}",
        report.table()
    );
}

#[test]
fn the_command_prints_the_table_and_sets_the_exit_code() {
    let wasmgate = env!("CARGO_BIN_EXE_wasmgate");
    let good = Command::new(wasmgate)
        .args(["adapters", "test"])
        .arg(guest_wasm("openai"))
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&good.stdout);
    assert!(
        good.status.success(),
        "{table}\n{}",
        String::from_utf8_lossy(&good.stderr)
    );
    for line in [
        "load        pass",
        "chat        pass",
        "stream      pass",
        "PASS: 8 passed",
    ] {
        assert!(table.contains(line), "`{line}` in:\n{table}");
    }
    let bad = Command::new(wasmgate)
        .args(["adapters", "test"])
        .arg(guest_wasm("hostile"))
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&bad.stdout);
    assert_eq!(bad.status.code(), Some(1), "{table}");
    assert!(table.contains("FAIL: "), "{table}");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("failed the adapter suite"));
}
