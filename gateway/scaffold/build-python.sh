#!/usr/bin/env bash
# Builds the adapter into build/{{name}}.wasm. Installs componentize-py (pinned in
# requirements.txt) into .venv on first use.
set -euo pipefail
cd "$(dirname "$0")"
if [[ ! -x .venv/bin/componentize-py ]]; then
    python3 -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
fi
mkdir -p build
.venv/bin/componentize-py -d wit -w provider componentize app -o "build/{{name}}.wasm"
echo "built build/{{name}}.wasm"
