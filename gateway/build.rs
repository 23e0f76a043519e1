//! Compiles the built-in adapters (`guests/mock`, `guests/openai`) for wasm32-wasip2 and puts
//! them in OUT_DIR, where `src/builtin.rs` embeds them: the binary is self-contained.

use std::path::{Path, PathBuf};

const BUILTIN: &[&str] = &["mock", "openai"];

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest.parent().unwrap();
    for dir in ["guests/sdk", "guests/mock", "guests/openai", "wit"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    for file in ["guests/Cargo.toml", "guests/Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(file).display());
    }
    let target_dir = root.join("target").join("guests");
    let packages: Vec<String> = BUILTIN.iter().map(|n| format!("wasmgate-{n}")).collect();
    let packages: Vec<&str> = packages.iter().map(String::as_str).collect();
    let built =
        wasmgate_guest_build::build(root, &target_dir, &packages).unwrap_or_else(|e| panic!("{e}"));
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    for name in BUILTIN {
        let file = wasmgate_guest_build::wasm_file_name(name);
        copy(&built.join(&file), &out.join(&file));
    }
}

fn copy(from: &Path, to: &Path) {
    std::fs::copy(from, to).unwrap_or_else(|e| panic!("copying {}: {e}", from.display()));
}
