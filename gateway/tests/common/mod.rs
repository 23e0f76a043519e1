//! Shared set-up of the gateway's end-to-end tests: a real server on a loopback socket.
#![allow(dead_code)]

pub mod databases;
pub mod served;

use std::time::Duration;
use wasmgate::config::Config;
use wasmgate::{Gateway, GatewayOptions};
use wasmgate_test_support::workspace_root;

/// Starts a gateway with the YAML config `yaml` on an ephemeral loopback port.
pub async fn start(yaml: &str) -> Gateway {
    let config = Config::parse(yaml, "test.yaml").unwrap_or_else(|e| panic!("{e}"));
    Gateway::start(&config, options())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Test options: ephemeral port, shared compile cache, short grace.
pub fn options() -> GatewayOptions {
    GatewayOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        cache_dir: Some(workspace_root().join("target").join("wasmgate-test-cache")),
        shutdown_grace: Duration::from_secs(10),
        pooling: true,
        router: Default::default(),
        ..GatewayOptions::default()
    }
}

/// `http://ADDR{path}`.
pub fn url(gateway: &Gateway, path: &str) -> String {
    format!("http://{}{path}", gateway.addr)
}

/// The events of an SSE body, without the `data: ` prefix.
pub fn sse_events(body: &str) -> Vec<String> {
    assert!(
        body.ends_with("\n\n"),
        "an SSE body ends with a blank line: {body:?}"
    );
    body.trim_end_matches("\n\n")
        .split("\n\n")
        .map(|e| {
            e.strip_prefix("data: ")
                .unwrap_or_else(|| panic!("not a data event: {e:?}"))
                .to_string()
        })
        .collect()
}

/// The first tool-call delta of a streamed answer (events as from [`sse_events`], `[DONE]`
/// last) and the concatenation of every delta's argument fragments.
pub fn streamed_tool_call(events: &[String]) -> (serde_json::Value, String) {
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let deltas: Vec<serde_json::Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str::<serde_json::Value>(e).unwrap())
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"].get(0).cloned())
        .collect();
    let args = deltas
        .iter()
        .filter_map(|d| d["function"]["arguments"].as_str())
        .collect();
    (deltas.first().cloned().expect("a tool-call delta"), args)
}

/// The chunks of a streamed answer (events as from [`sse_events`], `[DONE]` last, which is
/// checked) as JSON, and the concatenation of their first choice's content.
pub fn streamed_chunks(events: &[String]) -> (Vec<serde_json::Value>, String) {
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<serde_json::Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    let content = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    (chunks, content)
}

/// A one-message chat request body for `model`.
pub fn chat_body(model: &str) -> serde_json::Value {
    serde_json::json!({"model": model, "messages": [{"role": "user", "content": "Hi"}]})
}

/// Checks a non-streamed answer to [`chat_body`]`("gpt")` relayed from the test upstream.
pub fn assert_upstream_chat_answer(body: &serde_json::Value) {
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(
        body["model"], "gpt",
        "the response names the model the client asked for"
    );
    assert_eq!(body["choices"][0]["message"]["role"], "assistant");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "Hello from upstream"
    );
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_eq!(body["usage"]["total_tokens"], 12);
    assert_eq!(body["usage"]["prompt_tokens_details"]["cached_tokens"], 2);
}

/// Fails when an error body's message looks like Rust debug output instead of words.
pub fn assert_words(reply_json: &serde_json::Value) {
    let message = reply_json["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no error message in {reply_json}"));
    for debug in ["::", "Some(", "None", "{ ", "Error(", "Payload"] {
        assert!(!message.contains(debug), "`{debug}` in: {message}");
    }
}

/// The python of a venv under `target/<dir>` holding the pinned PyPI package `requirement`
/// (`name==version`), created once and reused by later runs. Tests of one binary run in
/// parallel: one of them creates the venv while the others wait.
pub fn sdk_venv(dir: &str, requirement: &str) -> std::path::PathBuf {
    use std::process::Command;
    static CREATING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = CREATING.lock().unwrap_or_else(|e| e.into_inner());
    let (module, version) = requirement.split_once("==").expect("a pinned requirement");
    let venv = wasmgate_test_support::workspace_root()
        .join("target")
        .join(dir);
    let python = venv.join("bin").join("python");
    let ready = |p: &std::path::Path| {
        Command::new(p)
            .args([
                "-c",
                &format!("import {module}, sys; sys.exit({module}.__version__ != '{version}')"),
            ])
            .status()
            .is_ok_and(|s| s.success())
    };
    if !ready(&python) {
        let status = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect("python3 -m venv");
        assert!(status.success(), "creating the venv failed");
        let status = Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                requirement,
            ])
            .status()
            .expect("pip install");
        assert!(
            status.success(),
            "installing {requirement} from PyPI failed"
        );
        assert!(ready(&python), "the venv does not import {requirement}");
    }
    python
}

/// Runs the Python script `script` (in the repository's `tests/sdk/`, beside the other suites
/// that drive wasmgate from outside) with the venv's `python` and `env`, and asserts it printed
/// `OK` (each script exits non-zero naming the first broken expectation).
pub async fn run_sdk_script(python: &std::path::Path, script: &str, env: &[(&str, String)]) {
    let script = wasmgate_test_support::workspace_root()
        .join("tests")
        .join("sdk")
        .join(script);
    let mut command = tokio::process::Command::new(python);
    command.arg(&script).envs(env.iter().map(|(k, v)| (*k, v)));
    let output = tokio::time::timeout(Duration::from_secs(120), command.output())
        .await
        .expect("the SDK script finished within 120 s")
        .expect("running python");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.trim() == "OK",
        "{} with {env:?} failed:\n{stdout}\n{stderr}",
        script.display()
    );
}
