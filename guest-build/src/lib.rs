//! Builds the guest workspace (`guests/`) for `wasm32-wasip2` with a nested cargo call, the way
//! wasmtime builds its test programs: its own target directory, and none of the outer build's
//! flags or wrappers leaking in. Used by the gateway's build script and by test helpers.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Environment variables of an outer cargo run that must not reach the nested build.
const OUTER_BUILD_VARS: &[&str] = &[
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET",
    "CARGO_BUILD_RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTFLAGS",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "CARGO_MAKEFLAGS",
    "MAKEFLAGS",
    "MFLAGS",
];

/// The prefix of the outer build's profile overrides (`CARGO_PROFILE_RELEASE_LTO`, ...): the
/// nested build keeps the guest workspace's own profiles.
const OUTER_PROFILE_PREFIX: &str = "CARGO_PROFILE_";

/// Builds `packages` (all guests when empty) of the guest workspace under `root` in release
/// mode into `target_dir`, and returns the directory holding the `.wasm` files.
pub fn build(root: &Path, target_dir: &Path, packages: &[&str]) -> Result<PathBuf, String> {
    let mut cmd = nested_cargo();
    cmd.current_dir(root);
    cmd.args([
        "build",
        "--release",
        "--target",
        "wasm32-wasip2",
        "--manifest-path",
    ])
    .arg(root.join("guests").join("Cargo.toml"))
    .arg("--target-dir")
    .arg(target_dir);
    for p in packages {
        cmd.args(["-p", p]);
    }
    let status = cmd
        .status()
        .map_err(|e| format!("running cargo for the guest adapters: {e}"))?;
    if !status.success() {
        return Err(format!(
            "building the guest adapters failed ({status}); is the wasm32-wasip2 target installed? \
             (rustup target add wasm32-wasip2)"
        ));
    }
    Ok(target_dir.join("wasm32-wasip2").join("release"))
}

/// A `cargo` command for a build nested in another cargo run (a build script or a test): none of
/// the outer build's flags, wrappers or target directory leak in, and under rustup the
/// toolchain is chosen by the nested project's own files, whatever toolchain runs the outer
/// build (e.g. nightly for fuzzing).
pub fn nested_cargo() -> Command {
    let cargo = match std::env::var_os("RUSTUP_TOOLCHAIN") {
        Some(_) => "cargo".into(),
        None => std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()),
    };
    let mut cmd = Command::new(cargo);
    without_outer_build_env(&mut cmd);
    cmd
}

/// Removes the outer cargo run's variables from `cmd`'s environment, for commands that run
/// cargo themselves (e.g. an adapter project's build script).
pub fn without_outer_build_env(cmd: &mut Command) {
    if std::env::var_os("RUSTUP_TOOLCHAIN").is_some() {
        for var in ["RUSTUP_TOOLCHAIN", "RUSTC", "RUSTDOC", "CARGO"] {
            cmd.env_remove(var);
        }
    }
    for var in OUTER_BUILD_VARS {
        cmd.env_remove(var);
    }
    for (var, _) in std::env::vars_os() {
        if var.to_string_lossy().starts_with(OUTER_PROFILE_PREFIX) {
            cmd.env_remove(var);
        }
    }
}

/// The file name of guest `name`'s component (`openai` → `wasmgate_openai.wasm`).
pub fn wasm_file_name(name: &str) -> String {
    format!("wasmgate_{}.wasm", name.replace('-', "_"))
}
