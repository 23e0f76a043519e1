//! The guest adapters, built for `wasm32-wasip2` once per process (cargo's own lock serialises
//! concurrent test binaries).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The repository root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("test-support lives in the workspace")
        .to_path_buf()
}

fn build_guests() -> PathBuf {
    let root = workspace_root();
    wasmgate_guest_build::build(&root, &root.join("target").join("guests"), &[])
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The component file of guest adapter `name` (`openai`, `mock`, `hostile`, ...), built on
/// first use.
pub fn guest_wasm(name: &str) -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let path = DIR
        .get_or_init(build_guests)
        .join(wasmgate_guest_build::wasm_file_name(name));
    assert!(path.exists(), "no guest component at {}", path.display());
    path
}

fn build_examples() -> PathBuf {
    let root = workspace_root();
    let status = std::process::Command::new(root.join("scripts").join("build-examples.sh"))
        .status()
        .unwrap_or_else(|e| panic!("running scripts/build-examples.sh: {e}"));
    assert!(
        status.success(),
        "scripts/build-examples.sh failed ({status}); it needs python3 with venv, node and npm, \
         and access to PyPI and the npm registry on its first run"
    );
    root.join("target").join("guests")
}

/// The component file of a non-Rust example adapter (`python-example`, `js-example`), built by
/// `scripts/build-examples.sh` on first use (it installs componentize-py and componentize-js
/// under `target/tools`).
pub fn example_wasm(name: &str) -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let path = DIR.get_or_init(build_examples).join(format!("{name}.wasm"));
    assert!(path.exists(), "no example component at {}", path.display());
    path
}
