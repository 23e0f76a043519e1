#!/usr/bin/env bash
# Builds the adapter into build/{{name}}.wasm. Installs componentize-js (pinned in package.json
# and package-lock.json) into node_modules on first use.
set -euo pipefail
cd "$(dirname "$0")"
if [[ ! -x node_modules/.bin/componentize-js ]]; then
    npm install --no-audit --no-fund --loglevel=error
fi
mkdir -p build
node_modules/.bin/componentize-js adapter.js --wit wit --world-name provider -o "build/{{name}}.wasm"
echo "built build/{{name}}.wasm"
