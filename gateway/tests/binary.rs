//! The `wasmgate` binary as users run it: `serve` with no config answers `mock/demo` and exits
//! cleanly on SIGTERM; `check-config` locates errors; `adapters` lists the built-ins.

use serde_json::json;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;
use wasmgate_test_support::client::post_json;
use wasmgate_test_support::workspace_root;

fn wasmgate() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wasmgate"));
    cmd.env(
        "WASMGATE_CACHE_DIR",
        workspace_root().join("target").join("wasmgate-test-cache"),
    )
    .env_remove("WASMGATE_CONFIG")
    .env_remove("RUST_LOG");
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_without_config_answers_mock_and_stops_on_sigterm() {
    let mut child = wasmgate()
        .args(["serve", "--port", "0", "--log-format", "json"])
        .stderr(Stdio::piped())
        .spawn()
        .expect("start wasmgate");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let addr = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("a listening log line");
        let event: serde_json::Value = serde_json::from_str(&line).expect("JSON log lines");
        let message = event["fields"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if let Some(rest) = message.strip_prefix("wasmgate listening on http://") {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    let body = json!({"model": "mock/demo", "messages": [{"role": "user", "content": "hello"}]});
    let reply = post_json(&format!("http://{addr}/v1/chat/completions"), &body, &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.json()["choices"][0]["message"]["content"],
        "This is a mock response to: hello"
    );

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exited = tokio::task::spawn_blocking(move || {
        for _ in 0..100 {
            if let Some(status) = child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        None
    })
    .await
    .unwrap();
    assert!(exited.expect("exits within 10 s of SIGTERM").success());
}

#[test]
fn check_config_names_file_and_line() {
    let dir = workspace_root().join("target").join("test-configs");
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.yaml");
    std::fs::write(
        &bad,
        "model_list:\n  - model_name: a\n    litellm_params:\n      model: nowhere/x\n",
    )
    .unwrap();
    let out = wasmgate().arg("check-config").arg(&bad).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "{}:2: model `a`: unknown provider `nowhere`",
            bad.display()
        )),
        "{stderr}"
    );

    let good = dir.join("good.yaml");
    std::fs::write(
        &good,
        "model_list:\n  - model_name: a\n    litellm_params:\n      model: mock/x\n      rpm: 10\n",
    )
    .unwrap();
    let out = wasmgate().arg("check-config").arg(&good).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("not enforced yet") && stdout.contains("ok (1 model names, 2 adapters)"),
        "{stdout}"
    );
}

#[test]
fn adapters_lists_builtins_with_hashes_and_grants() {
    let out = wasmgate().arg("adapters").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        stdout.contains("mock 0.1.0") && stdout.contains("openai 0.1.0"),
        "{stdout}"
    );
    assert!(
        stdout.contains("egress:        https://api.openai.com"),
        "{stdout}"
    );
    assert!(stdout.contains("credentials:   sealed"), "{stdout}");
    assert_eq!(stdout.matches("sha256:").count(), 2);
}

#[test]
fn adapters_shows_a_raw_credential_grant_and_check_config_the_secret_keys() {
    let dir = workspace_root().join("target").join("test-configs");
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("raw.yaml");
    std::fs::write(
        &config,
        format!(
            "adapters:\n- name: trusted\n  path: {}\n  raw_credentials: true\nmodel_list:\n  - model_name: a\n    litellm_params:\n      model: trusted/x\n      api_key: sk-listing-secret\n      client_secret: cs-listing-secret\n      tenant_id: t\n      client_id: c\n",
            wasmgate_test_support::guest_wasm("openai").display()
        ),
    )
    .unwrap();
    let out = wasmgate()
        .args(["adapters", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let trusted = stdout
        .split("\ntrusted ")
        .nth(1)
        .unwrap_or_else(|| panic!("no `trusted` entry: {stdout}"));
    assert!(
        trusted.contains("credentials:   RAW (granted the real key)"),
        "{stdout}"
    );
    assert_eq!(
        stdout.matches("credentials:   sealed").count(),
        2,
        "{stdout}"
    );

    let out = wasmgate()
        .arg("check-config")
        .arg(&config)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("treated as secrets (sealed, never passed to the adapter as plain values): litellm_params.api_key, litellm_params.client_secret"),
        "{stdout}"
    );
    assert!(!stdout.contains("listing-secret"), "{stdout}");
}
