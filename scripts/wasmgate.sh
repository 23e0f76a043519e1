#!/usr/bin/env bash
# Builds the release gateway, optimized with the committed profile (scripts/pgo-env.sh;
# WASMGATE_PGO=0 builds without it), and runs `wasmgate` with the arguments given:
# `scripts/wasmgate.sh check-config examples/config.yaml`, `scripts/wasmgate.sh adapters`.
# Installs the wasm32-wasip2 target the built-in adapters are built for, if needed.
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx wasm32-wasip2; then
  rustup target add wasm32-wasip2
fi
source scripts/pgo-env.sh
exec cargo run --release --locked -p wasmgate -- "$@"
