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
