#!/usr/bin/env bash
# Formatting and clippy, host workspace and guests, warnings as errors.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all --check
(cd guests && cargo fmt --all --check)
cargo clippy --workspace --all-targets --locked -- -D warnings
(cd guests && cargo clippy --workspace --all-targets --target wasm32-wasip2 --locked -- -D warnings)
# The fuzz targets are run with `cargo +nightly fuzz run <target>` (see fuzz/); here they must
# at least compile (in the shared target dir, reusing the dependencies clippy checked).
cargo check --manifest-path fuzz/Cargo.toml --locked --bins --target-dir target
