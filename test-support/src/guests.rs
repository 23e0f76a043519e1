//! Builds the guest workspace for `wasm32-wasip2` once per process (cargo's own lock serialises
//! concurrent test binaries) and hands out component paths.

use std::path::{Path, PathBuf};
use std::process::Command;
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
    let target_dir = root.join("target").join("guests");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--manifest-path",
        ])
        .arg(root.join("guests").join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .expect("running cargo to build the guest adapters");
    assert!(status.success(), "building the guest adapters failed");
    target_dir.join("wasm32-wasip2").join("release")
}

/// The component file of guest adapter `name` (`openai`, `mock`, `hostile`, ...), built on
/// first use.
pub fn guest_wasm(name: &str) -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let path = DIR
        .get_or_init(build_guests)
        .join(format!("wasmgate_{}.wasm", name.replace('-', "_")));
    assert!(path.exists(), "no guest component at {}", path.display());
    path
}
