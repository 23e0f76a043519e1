//! The `wasmgate` binary as users run it: `serve` with no config answers `mock/demo` and exits
//! cleanly on SIGTERM; `check-config` on real-world LiteLLM configs (golden files); `serve
//! --model`; `adapters` lists the built-ins.

mod common;

use common::served::{wasmgate, Served};
use serde_json::json;
use std::process::Command;
use std::time::Duration;
use wasmgate_test_support::client::post_json;
use wasmgate_test_support::workspace_root;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_without_config_answers_mock_and_stops_on_sigterm() {
    let mut cmd = wasmgate();
    cmd.arg("serve");
    let mut gw = Served::start(cmd);
    let body = json!({"model": "mock/demo", "messages": [{"role": "user", "content": "hello"}]});
    let reply = post_json(&gw.url("/v1/chat/completions"), &body, &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.json()["choices"][0]["message"]["content"],
        "This is a mock response to: hello"
    );

    let status = Command::new("kill")
        .args(["-TERM", &gw.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exited = tokio::task::block_in_place(|| {
        for _ in 0..100 {
            if let Some(status) = gw.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    });
    assert!(exited.expect("exits within 10 s of SIGTERM").success());
}

/// The folder of real-world LiteLLM configs and their `check-config` output.
fn golden_dir() -> std::path::PathBuf {
    workspace_root().join("gateway/tests/litellm_configs")
}

/// `wasmgate` with only the environment the golden outputs were written with.
fn golden_wasmgate() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wasmgate"));
    cmd.env_clear()
        .env(
            "WASMGATE_CACHE_DIR",
            workspace_root().join("target").join("wasmgate-test-cache"),
        )
        .env("OPENAI_API_KEY", "sk-golden-openai")
        .env("GROQ_API_KEY", "gsk-golden-groq")
        .current_dir(golden_dir());
    cmd
}

fn golden_configs() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(golden_dir())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".yaml").map(str::to_string))
        .collect();
    names.sort();
    names
}

/// `check-config` on every config in the folder prints exactly its `.check` file (set
/// `WASMGATE_BLESS=1` to rewrite them), and exits non-zero exactly when it reports errors.
#[test]
fn check_config_output_of_real_world_litellm_configs() {
    let names = golden_configs();
    assert!(names.len() >= 8, "{names:?}");
    let mut mismatches = Vec::new();
    for name in &names {
        let out = golden_wasmgate()
            .args(["check-config", &format!("{name}.yaml")])
            .output()
            .unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        let golden = golden_dir().join(format!("{name}.check"));
        if std::env::var_os("WASMGATE_BLESS").is_some() {
            std::fs::write(&golden, &stdout).unwrap();
        }
        let expected = std::fs::read_to_string(&golden).unwrap_or_default();
        if stdout != expected {
            mismatches.push(format!(
                "{name}:\n--- expected\n{expected}--- got\n{stdout}"
            ));
        }
        let has_errors = stdout.lines().any(|l| l.starts_with("error: "));
        assert_eq!(out.status.success(), !has_errors, "{name}: {stdout}");
        if has_errors {
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(stderr.contains(&format!("{name}.yaml has ")), "{stderr}");
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn check_config_speaks_json_for_ci() {
    let out = golden_wasmgate()
        .args(["check-config", "-c", "typos.yaml", "--format", "json"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(report["file"], "typos.yaml");
    let lines: Vec<u64> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [5, 16, 20]);
    assert_eq!(
        report["errors"][1]["message"],
        "model `local`: api_base `localhost:11434` must be an absolute URL such as `http://localhost:11434`"
    );
    let warned: Vec<u64> = report["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["line"].as_u64().unwrap())
        .collect();
    assert_eq!(
        warned[..2],
        [10, 17],
        "the unset ANTHROPIC_API_KEY, then the repeated entry"
    );

    let out = golden_wasmgate()
        .args(["check-config", "wildcards.yaml", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], true);
    assert_eq!(
        report["models"],
        json!(["openai/*", "groq/*", "fast-*", "*"])
    );
}

/// `serve` starts on every golden config that `check-config` passes, and serves its names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_starts_on_every_config_check_config_passes() {
    let mut served = 0;
    for name in golden_configs() {
        let check = std::fs::read_to_string(golden_dir().join(format!("{name}.check"))).unwrap();
        if check.lines().any(|l| l.starts_with("error: ")) {
            continue;
        }
        let mut cmd = golden_wasmgate();
        cmd.args(["serve", "-c", &format!("{name}.yaml")]);
        let gw = Served::start(cmd);
        let reply = wasmgate_test_support::client::get(
            &gw.url("/v1/models"),
            &[("authorization", "Bearer sk-1234")],
        )
        .await;
        assert_eq!(reply.status, 200, "{name}: {}", reply.text());
        let listed = reply.json()["data"].as_array().unwrap().len();
        let summary = check.lines().last().unwrap();
        assert!(
            summary.contains(&format!("ok ({listed} model names")),
            "{name}: {listed} listed, check-config said {summary}"
        );
        served += 1;
    }
    assert!(served >= 5, "{served}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_model_serves_one_model_without_a_file_and_logs_every_request() {
    let mut cmd = wasmgate();
    cmd.args(["serve", "--model", "mock/demo", "--alias", "demo"]);
    let gw = Served::start(cmd);
    let body = json!({"model": "demo", "messages": [{"role": "user", "content": "hi"}]});
    let reply = post_json(&gw.url("/v1/chat/completions"), &body, &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let models = wasmgate_test_support::client::get(&gw.url("/v1/models"), &[]).await;
    assert_eq!(models.json()["data"][0]["id"], "demo");
    assert_eq!(models.json()["data"].as_array().unwrap().len(), 1);
    let missing = wasmgate_test_support::client::get(&gw.url("/nope"), &[]).await;
    assert_eq!(missing.status, 404);
    let logged = gw.log_events(Duration::from_secs(10), |e| {
        e["fields"]["path"] == "/nope" && e["fields"]["status"] == 404
    });
    assert_eq!(logged.len(), 1, "the 404 is logged");
    assert_eq!(logged[0]["fields"]["method"], "GET");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_model_with_an_unset_key_names_the_variable() {
    let mut cmd = wasmgate();
    cmd.env_remove("XAI_API_KEY")
        .args(["serve", "--model", "xai/grok-2"]);
    let gw = Served::start(cmd);
    let warned = gw.startup.iter().filter(|e| {
        e["level"] == "WARN"
            && e["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("XAI_API_KEY is not set"))
    });
    assert_eq!(warned.count(), 1, "a warning at start names the variable");
    let body = json!({"model": "xai/grok-2", "messages": [{"role": "user", "content": "hi"}]});
    let reply = post_json(&gw.url("/v1/chat/completions"), &body, &[]).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.json()["error"]["code"], "missing_api_key");
    assert!(reply.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("set the environment variable XAI_API_KEY"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_config_models_lists_the_providers_whose_key_is_set() {
    let mut cmd = golden_wasmgate();
    cmd.arg("serve");
    let gw = Served::start(cmd);
    let models = wasmgate_test_support::client::get(&gw.url("/v1/models"), &[]).await;
    let ids: Vec<String> = models.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["mock/demo", "openai/*", "groq/*"]);
}

#[test]
fn help_shows_examples_and_every_config_reader_takes_c() {
    let out = wasmgate().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("Examples:") && help.contains("wasmgate serve --model ollama/llama3"),
        "{help}"
    );
    assert!(help.contains("--log-level"), "{help}");
    for sub in ["serve", "check-config", "adapters", "new"] {
        let out = wasmgate().args([sub, "--help"]).output().unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(help.contains("Examples:"), "{sub}: {help}");
        if sub != "new" {
            assert!(help.contains("-c, --config"), "{sub}: {help}");
        }
    }
}

#[test]
fn adapters_lists_builtins_with_hashes_and_grants() {
    let out = wasmgate().arg("adapters").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        stdout.contains("mock 0.1.0")
            && stdout.contains("openai 0.1.0")
            && stdout.contains("anthropic 0.1.0"),
        "{stdout}"
    );
    assert!(
        stdout.contains("egress:        https://api.openai.com"),
        "{stdout}"
    );
    assert!(stdout.contains("credentials:   sealed"), "{stdout}");
    assert!(
        stdout.contains("egress:        https://api.anthropic.com"),
        "{stdout}"
    );
    assert!(
        stdout.contains("azure 0.1.0")
            && stdout.contains("gemini 0.1.0")
            && stdout.contains("ollama 0.1.0")
            && stdout.contains("vertex_ai 0.1.0")
            && stdout.contains("cohere 0.1.0")
            && stdout.contains("bedrock 0.1.0"),
        "{stdout}"
    );
    assert_eq!(stdout.matches("sha256:").count(), 9);
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
        9,
        "the built-in adapters' grants are sealed: {stdout}"
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

#[test]
fn adapters_inspect_prints_imports_exports_and_info_without_serving() {
    let out = wasmgate()
        .args(["adapters", "inspect"])
        .arg(wasmgate_test_support::guest_wasm("anthropic"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    for expected in [
        "  imports:\n",
        "    wasi:http/outgoing-handler@0.2.12\n",
        "  exports:\n",
        "    wasmgate:provider/adapter@0.2.0\n",
        "    wasmgate:provider/tokens@0.2.0\n",
        "anthropic 0.1.0\n",
        "  contract:      0.2.0\n",
        "  counts tokens: true\n",
        "  key used for:  POST /v1/messages, POST /messages\n",
    ] {
        assert!(stdout.contains(expected), "{expected:?} not in:\n{stdout}");
    }
    assert!(!stdout.contains("not allowed for adapters"), "{stdout}");

    let not_a_component = workspace_root().join("README.md");
    let out = wasmgate()
        .args(["adapters", "inspect"])
        .arg(&not_a_component)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not a valid component"), "{stderr}");
}

/// SIGHUP reloads the config file: a model added to it is served without a restart, and the
/// startup and reload summaries name what is served.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_config_file() {
    let dir = workspace_root().join("target").join("test-configs");
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join(format!("sighup-{}.yaml", std::process::id()));
    let entry =
        |name: &str| format!("- model_name: {name}\n  litellm_params:\n    model: mock/{name}\n");
    std::fs::write(&config, format!("model_list:\n{}", entry("first"))).unwrap();
    let mut cmd = wasmgate();
    cmd.args(["serve", "-c"]).arg(&config);
    let gw = Served::start(cmd);
    assert!(
        gw.startup.iter().any(|e| e["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("1 model names (first); 9 adapters (anthropic@"))),
        "{:?}",
        gw.startup
    );
    // The watcher would also see the change; SIGHUP makes it immediate.
    std::fs::write(
        &config,
        format!("model_list:\n{}{}", entry("first"), entry("second")),
    )
    .unwrap();
    let status = Command::new("kill")
        .args(["-HUP", &gw.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let reloaded = gw.log_events(Duration::from_secs(20), |e| {
        e["fields"]["message"].as_str().is_some_and(|m| {
            m.starts_with("config reloaded") && m.contains("2 model names (first, second)")
        })
    });
    assert_eq!(reloaded.len(), 1);
    let body = json!({"model": "second", "messages": [{"role": "user", "content": "hi"}]});
    let reply = post_json(&gw.url("/v1/chat/completions"), &body, &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    // The shutdown summary counts what was served.
    let status = Command::new("kill")
        .args(["-TERM", &gw.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let stopped = gw.log_events(Duration::from_secs(20), |e| {
        e["fields"]["message"].as_str().is_some_and(|m| {
            m.starts_with("stopped: 1 requests served (0 failed); 2 model names, 9 adapters")
        })
    });
    assert_eq!(stopped.len(), 1);
    let _ = std::fs::remove_file(config);
}
