//! Compiles the built-in adapters (`guests/mock`, `guests/openai`, `guests/azure`, `guests/anthropic`,
//! `guests/gemini`, `guests/ollama`, `guests/vertex`, `guests/cohere`, `guests/bedrock`) for wasm32-wasip2 and puts
//! them in OUT_DIR, where `src/builtin.rs` embeds them: the binary is self-contained. Also lists
//! the files `wasmgate new` copies into a new adapter project (`scaffold_files.rs`).

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

const BUILTIN: &[&str] = &[
    "mock",
    "openai",
    "azure",
    "anthropic",
    "gemini",
    "ollama",
    "vertex",
    "cohere",
    "bedrock",
];

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest.parent().unwrap();
    for dir in [
        "guests/sdk",
        "guests/openai-wire",
        "guests/mock",
        "guests/openai",
        "guests/anthropic",
        "guests/azure",
        "guests/gemini",
        "guests/ollama",
        "guests/vertex",
        "guests/cohere",
        "guests/bedrock",
        "wit",
    ] {
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
    pack_relative_relocations();
    write_scaffold_files(root, &out.join("scaffold_files.rs"));
    for name in BUILTIN {
        let file = wasmgate_guest_build::wasm_file_name(name);
        copy(&built.join(&file), &out.join(&file));
        write_sha256(&out.join(&file));
    }
}

/// Files and folders (relative to the repository) that `wasmgate new` draws from: the WIT, the
/// guest SDKs, the example adapters and the project templates.
const SCAFFOLD_SOURCES: &[&str] = &[
    "wit",
    "guests/Cargo.toml",
    "guests/Cargo.lock",
    "guests/sdk/Cargo.toml",
    "guests/sdk/src",
    "guests/openai-wire/Cargo.toml",
    "guests/openai-wire/src",
    "guests/openai/Cargo.toml",
    "guests/openai/src",
    "guests/python-sdk/wasmgate_guest",
    "guests/python-example/app.py",
    "guests/python-example/requirements.txt",
    "guests/js-sdk",
    "guests/js-example/adapter.js",
    "guests/js-example/package.json",
    "guests/js-example/package-lock.json",
    "gateway/scaffold",
];

fn write_scaffold_files(root: &Path, dest: &Path) {
    let mut files = Vec::new();
    for source in SCAFFOLD_SOURCES {
        let path = root.join(source);
        println!("cargo:rerun-if-changed={}", path.display());
        collect(&path, &mut files);
    }
    files.sort();
    let mut code = String::from(
        "/// (path relative to the repository, contents)\npub const FILES: &[(&str, &str)] = &[\n",
    );
    for file in files {
        let relative = file
            .strip_prefix(root)
            .unwrap()
            .to_str()
            .unwrap()
            .replace('\\', "/");
        if relative.contains("__pycache__") || relative.contains("/tests/") {
            continue;
        }
        code += &format!(
            "    ({relative:?}, include_str!({:?})),\n",
            file.display().to_string()
        );
    }
    code += "];\n";
    std::fs::write(dest, code).unwrap();
}

fn collect(path: &Path, files: &mut Vec<PathBuf>) {
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            collect(&entry.unwrap().path(), files);
        }
    } else {
        files.push(path.to_path_buf());
    }
}

fn copy(from: &Path, to: &Path) {
    std::fs::copy(from, to).unwrap_or_else(|e| panic!("copying {}: {e}", from.display()));
}

/// Writes `<file>.sha256`: the hex digest the runtime keys its artifact cache with, so the
/// gateway finds a built-in adapter's compiled artifact without hashing (or even reading) it.
fn write_sha256(file: &Path) {
    let bytes = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let digest = hex::encode(Sha256::digest(&bytes));
    let mut name = file.as_os_str().to_owned();
    name.push(".sha256");
    std::fs::write(&name, digest).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
}

/// Links the gateway's binaries with packed relative relocations (`DT_RELR`): the dynamic
/// loader then reads a few KiB of bitmaps instead of 40,000 `R_X86_64_RELATIVE` entries (0.9 MiB,
/// all of it resident after start-up). Only for a native build on glibc 2.36 or later, whose
/// loader understands them (an older GNU ld ignores the unknown `-z` option).
fn pack_relative_relocations() {
    let var = |name| std::env::var(name).unwrap_or_default();
    let native = var("HOST") == var("TARGET");
    if !native || var("CARGO_CFG_TARGET_OS") != "linux" || var("CARGO_CFG_TARGET_ENV") != "gnu" {
        return;
    }
    // `getconf GNU_LIBC_VERSION` prints `glibc 2.36`.
    let Ok(out) = std::process::Command::new("getconf")
        .arg("GNU_LIBC_VERSION")
        .output()
    else {
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text.trim().strip_prefix("glibc ").and_then(|v| {
        let (major, minor) = v.split_once('.')?;
        Some((major.parse::<u32>().ok()?, minor.parse::<u32>().ok()?))
    });
    if version.is_some_and(|v| v >= (2, 36)) {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
