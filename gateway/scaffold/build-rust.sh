#!/usr/bin/env bash
# Builds the adapter into build/{{name}}.wasm (needs: rustup target add wasm32-wasip2).
set -euo pipefail
cd "$(dirname "$0")"
cargo build --release --target wasm32-wasip2
mkdir -p build
cp "${CARGO_TARGET_DIR:-target}/wasm32-wasip2/release/{{crate}}.wasm" "build/{{name}}.wasm"
echo "built build/{{name}}.wasm"
