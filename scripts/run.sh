#!/usr/bin/env bash
# Builds and starts the gateway with its built-in adapters. Without --config it serves every
# built-in provider by `provider/model`; `mock/<anything>` answers offline with no API key.
# Extra arguments go to `wasmgate serve` (e.g. --config examples/config.yaml --port 4000).
# The build is scripts/wasmgate.sh's: release, optimized with the committed profile.
set -euo pipefail
exec "$(dirname "$0")/wasmgate.sh" serve "$@"
