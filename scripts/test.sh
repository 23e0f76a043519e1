#!/usr/bin/env bash
# Runs every test: the host workspace (runtime, gateway, end-to-end tests that build the guest
# adapters for wasm32-wasip2, and the Python and JavaScript example adapters, on first use), the
# guest SDKs' unit tests (Rust, Python, JavaScript), and the Python package's suite (its wheel,
# and LiteLLM through it).
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx wasm32-wasip2; then
  rustup target add wasm32-wasip2
fi
cargo test --workspace --locked
cargo test --manifest-path guests/Cargo.toml --workspace --locked
python3 -m unittest discover -s guests/python-sdk/tests
node --test guests/js-sdk/tests/
tests/python/run.sh
