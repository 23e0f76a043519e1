# Shared by the benchmark scripts (sourced from the repository root): the tools and release
# binaries they need, the loopback upstream, a gateway serving a config, and waiting for both.

# Installs wrk (Debian) when missing.
bench_wrk() {
  if ! command -v wrk >/dev/null; then
    apt-get update -qq && apt-get install -y -qq wrk
  fi
}

# Installs wrk and the wasm32-wasip2 target when missing, then builds the release gateway and
# upstream, optimized with the committed profile as scripts/run.sh builds them.
bench_build() {
  bench_wrk
  if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx wasm32-wasip2; then
    rustup target add wasm32-wasip2
  fi
  (source scripts/pgo-env.sh && cargo build --release --locked -p wasmgate -p wasmgate-test-support)
}

# Writes to FILE a config whose model `gpt` is the upstream's gpt-4o-mini on port UP_PORT,
# followed by a deployment for each further `name=provider-model` argument.
# Usage: bench_config FILE UP_PORT [name=model ...]
bench_config() {
  local file=$1 port=$2 pair
  shift 2
  {
    echo "model_list:"
    for pair in gpt=gpt-4o-mini "$@"; do
      echo "- model_name: ${pair%%=*}"
      echo "  litellm_params: {model: openai/${pair#*=}, api_base: \"http://127.0.0.1:$port/v1\", api_key: sk-bench}"
    done
  } > "$file"
}

# Waits until URL answers, trying every 50 ms (TRIES times, 200 by default); fails if it never does.
# Usage: wait_ready URL [TRIES]
wait_ready() {
  for _ in $(seq 1 "${2:-200}"); do curl -sf -o /dev/null "$1" && return 0; sleep 0.05; done
  return 1
}

# Waits until each server on a loopback PORT answers `/v1/models`; fails if one never does.
# Usage: wait_models PORT ...
wait_models() {
  local port
  for port in "$@"; do wait_ready "http://127.0.0.1:$port/v1/models"; done
}

# Starts the loopback upstream on PORT, logging to LOG, and sets UP_PID.
# Usage: start_upstream PORT LOG
start_upstream() {
  target/release/wasmgate-upstream "$1" > "$2" 2>&1 &
  UP_PID=$!
}

# Starts `wasmgate serve` with CONFIG on PORT, logging to LOG (further arguments are passed on),
# and sets GW_PID.
# Usage: start_gateway CONFIG PORT LOG [serve arguments ...]
start_gateway() {
  local config=$1 port=$2 log=$3
  shift 3
  target/release/wasmgate serve --config "$config" --port "$port" "$@" > "$log" 2>&1 &
  GW_PID=$!
}
