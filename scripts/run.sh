#!/usr/bin/env bash
# Builds and starts the gateway with its built-in adapters. Without --config it serves every
# built-in provider by `provider/model`; `mock/<anything>` answers offline with no API key.
# Extra arguments go to `wasmgate serve` (e.g. --config examples/config.yaml --port 4000).
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx wasm32-wasip2; then
  rustup target add wasm32-wasip2
fi
exec cargo run --release --locked -p wasmgate -- serve "$@"
