//! Runs the example against a loopback OpenAI-compatible upstream with the built `openai`
//! adapter, and checks what it printed.

use wasmgate_test_support::guest_wasm;
use wasmgate_test_support::upstream::Upstream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_chats_streams_embeds_and_handles_failures() {
    let upstream = Upstream::start().await;
    let adapter = tokio::task::spawn_blocking(|| guest_wasm("openai"))
        .await
        .unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_embed-rust"))
        .arg(&adapter)
        .arg(upstream.url())
        .arg("sk-example-key")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with("loaded openai 0.1.0 (sha256 "),
        "{stdout}"
    );
    assert!(
        lines[1].starts_with("chat: ") && lines[1].ends_with("(12 tokens)"),
        "{stdout}"
    );
    assert!(
        lines[2].starts_with("stream: ") && lines[2].contains(" chunks)"),
        "{stdout}"
    );
    assert_eq!(lines[3], "embed: 1 vector of 3 dimensions", "{stdout}");
    assert!(
        lines[4].starts_with("error-401: fix the credential"),
        "{stdout}"
    );
    assert_eq!(
        lines[5], "error-429: rate limited: retry after 7s",
        "{stdout}"
    );
    assert!(lines[6].starts_with("drip: timed out after"), "{stdout}");
    // The key reached the upstream, sealed from the adapter until the host swapped it in.
    assert!(upstream.requests().iter().all(|r| r
        .headers
        .get("authorization")
        .is_some_and(|v| v == "Bearer sk-example-key")));
}
