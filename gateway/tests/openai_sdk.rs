//! The official `openai` Python SDK (installed from PyPI into a venv under `target/`) talks to
//! the gateway, over HTTP and over HTTPS with a CA made for the test: chat, stream, tools,
//! embeddings, models, and errors raised as the right classes.

mod common;

use std::path::{Path, PathBuf};
use wasmgate_test_support::Upstream;

/// The pinned SDK version.
const OPENAI_SDK: &str = "openai==3.54.0";

/// A venv with the SDK.
fn venv_python() -> PathBuf {
    common::sdk_venv("py-openai-sdk", OPENAI_SDK)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_python_sdk_works_against_the_gateway() {
    let python = tokio::task::spawn_blocking(venv_python).await.unwrap();
    let upstream = Upstream::start().await;
    let base = upstream.url();
    let yaml = format!(
        "general_settings:\n  master_key: sk-master-sdk\nmodel_list:\n\
         - model_name: gpt\n  litellm_params:\n    model: openai/gpt-4o-mini\n    api_base: {base}\n\
         - model_name: tools\n  litellm_params:\n    model: openai/tool-call\n    api_base: {base}\n\
         - model_name: embed\n  litellm_params:\n    model: openai/text-embedding-3-small\n    api_base: {base}\n\
         - model_name: limited\n  litellm_params:\n    model: openai/error-429\n    api_base: {base}\n"
    );
    let gw = common::start(&yaml).await;
    check(&python, &format!("http://{}/v1", gw.addr), None).await;

    let pki = wasmgate_test_support::pki::TestPki::create(
        &wasmgate_test_support::workspace_root()
            .join("target")
            .join("test-pki")
            .join(format!("sdk-{}", std::process::id())),
    );
    let tls = format!(
        "{yaml}server:\n  tls_cert_file: {}\n  tls_key_file: {}\n",
        pki.server.cert.display(),
        pki.server.key.display()
    );
    let gw = common::start(&tls).await;
    check(
        &python,
        &format!("https://127.0.0.1:{}/v1", gw.addr.port()),
        Some(&pki.ca),
    )
    .await;
}

/// Runs the SDK script against `url`, trusting `ca` when given.
async fn check(python: &Path, url: &str, ca: Option<&Path>) {
    let mut env = vec![("GATEWAY_URL", url.to_string())];
    if let Some(ca) = ca {
        env.push(("GATEWAY_CA", ca.display().to_string()));
    }
    common::run_sdk_script(python, "openai_sdk_check.py", &env).await;
}
