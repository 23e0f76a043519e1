#!/usr/bin/env bash
# Builds the Python example adapter into a component: build.sh OUT.wasm [COMPONENTIZE_PY]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:?usage: build.sh OUT.wasm [componentize-py]}"
componentize_py="${2:-componentize-py}"
"$componentize_py" -d "$here/../../wit" -w provider componentize \
    -p "$here" -p "$here/../python-sdk" app -o "$out"
