#!/usr/bin/env bash
# Builds the wasmgate wheel (maturin, abi3) and runs the Python suite: the runtime API and
# LiteLLM's custom_provider_map against a loopback upstream. Tools come pinned from PyPI into a
# venv under target/; nothing is installed elsewhere.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
venv="$root/target/py-wasmgate"
stamp="$venv/.requirements"
if [[ ! -x "$venv/bin/python" || "$(cat "$stamp" 2>/dev/null)" != "$(sha256sum tests/python/requirements.txt)" ]]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/python/requirements.txt
  sha256sum tests/python/requirements.txt >"$stamp"
fi
# What the suite runs against: the loopback upstream, the hostile guest, the Python example.
cargo build --quiet --locked -p wasmgate-test-support --bin wasmgate-upstream
cargo build --quiet --locked --release --target wasm32-wasip2 --manifest-path guests/Cargo.toml \
  --target-dir target/guests -p wasmgate-hostile
scripts/build-examples.sh
rm -rf target/wheels
"$venv/bin/maturin" build --quiet --locked --strip -m bindings/python/Cargo.toml --out target/wheels
"$venv/bin/pip" install --quiet --disable-pip-version-check --force-reinstall --no-deps target/wheels/wasmgate-*.whl
export WASMGATE_CACHE_DIR="$root/target/wasmgate-test-cache"
export LITELLM_LOCAL_MODEL_COST_MAP=True
cd tests/python
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
