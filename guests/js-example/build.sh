#!/usr/bin/env bash
# Builds the JavaScript example adapter into a component: build.sh OUT.wasm [COMPONENTIZE_JS]
#
# componentize-js resolves imports only inside the source's folder, so the adapter and the SDK
# (as ./wasmgate-guest/, where a scaffolded adapter keeps its copy) are staged together first.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:?usage: build.sh OUT.wasm [componentize-js]}"
componentize_js="${2:-componentize-js}"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
cp "$here/adapter.js" "$stage/"
cp -r "$here/../js-sdk" "$stage/wasmgate-guest"
out_abs="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"
(cd "$stage" && "$componentize_js" adapter.js --wit "$here/../../wit" --world-name provider -o "$out_abs")
