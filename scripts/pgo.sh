#!/usr/bin/env bash
# Records pgo/wasmgate.profdata.gz, the profile that release builds of the gateway are optimized
# with (scripts/pgo-env.sh; docs/performance.md, "Profile-guided optimization"). Builds an
# instrumented gateway and upstream in target/pgo-generate, drives the gateway with wrk through
# the built-in OpenAI adapter to the loopback upstream (chat and 19-chunk streams at
# concurrency 32 and 1, tool definitions, embeddings, the Anthropic and Responses APIs, errors),
# stops it so that it writes its counts, and merges them. Zero counts are left out (`--sparse`),
# so code the run did not reach is optimized as it would be without a profile.
# Run it after changing the request path: about 25 minutes on 2 cores, most of it the build.
# PGO_GATEWAY=PATH trains an instrumented gateway built elsewhere instead (with the upstream at
# target/release/wasmgate-upstream).
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/common.sh
bench_wrk
rustup component add llvm-tools
host=$(rustc -vV | awk '/^host:/{print $2}')
profdata="$(rustc --print sysroot)/lib/rustlib/$host/bin/llvm-profdata"
work="$PWD/target/pgo/record"
rm -rf "$work"
mkdir -p "$work/raw" "$work/upstream"
gateway=${PGO_GATEWAY:-}
upstream=target/release/wasmgate-upstream
if [[ -z "$gateway" ]]; then
  CARGO_TARGET_DIR=target/pgo-generate RUSTFLAGS="-Cprofile-generate=$work/raw" \
    cargo build --release --locked -p wasmgate -p wasmgate-test-support
  # The build's own instrumented build scripts and proc macros wrote counts there too: not the
  # gateway's (they would add some 40,000 functions of compile-time code to the profile).
  rm -f "$work"/raw/*.profraw
  gateway=target/pgo-generate/release/wasmgate
  upstream=target/pgo-generate/release/wasmgate-upstream
fi

port_up=9180 port_gw=9181
# An instrumented upstream writes its counts apart; they are not the gateway's.
LLVM_PROFILE_FILE="$work/upstream/%p.profraw" "$upstream" "$port_up" > "$work/upstream.log" 2>&1 &
up_pid=$!
trap 'kill $up_pid 2>/dev/null || true' EXIT
bench_config "$work/config.yaml" "$port_up" gpt-long=words-17 emb=text-embedding-3-small
# An empty compile cache: the profile covers compiling the adapters at a first start too.
WASMGATE_CACHE_DIR="$work/cache" LLVM_PROFILE_FILE="$work/raw/%p.profraw" \
  "$gateway" serve --config "$work/config.yaml" --port "$port_gw" > "$work/gateway.log" 2>&1 &
gw_pid=$!
url="http://127.0.0.1:$port_gw"
wait_models "$port_up"
# A first start compiles the adapters (an instrumented build more slowly): up to a minute.
wait_ready "$url/v1/models" 1200

# Usage: drive PATH CONCURRENCY SECONDS BODY
drive() {
  BODY="$4" wrk -t1 -c"$2" -d"$3s" -s benches/post.lua "$url$1" | grep -E "Requests/sec|Non-2xx"
}
chat='{"model":"gpt","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hello, how are you?"}],"temperature":0.2,"max_tokens":64}'
stream='{"model":"gpt-long","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Hi"}]}'
for c in 32 1; do
  drive /v1/chat/completions "$c" 8 "$chat"
  drive /v1/chat/completions "$c" 8 "$stream"
done
drive /v1/chat/completions 8 4 '{"model":"gpt","messages":[{"role":"user","content":"Weather?"}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]}'
drive /v1/embeddings 8 4 '{"model":"emb","input":["one text","another text"]}'
drive /v1/messages 8 4 '{"model":"gpt","max_tokens":64,"messages":[{"role":"user","content":"Hi"}]}'
drive /v1/messages 8 4 '{"model":"gpt-long","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"Hi"}]}'
drive /v1/responses 8 4 '{"model":"gpt","input":"Hello"}'
for _ in $(seq 50); do
  curl -s -o /dev/null "$url/v1/models"
  curl -s -o /dev/null "$url/health"
  curl -s -o /dev/null -H 'content-type: application/json' -d '{"model":' "$url/v1/chat/completions"
  curl -s -o /dev/null -H 'content-type: application/json' -d '{"model":"nope","messages":[]}' \
    "$url/v1/chat/completions"
done
kill -TERM "$gw_pid"
wait "$gw_pid"

"$profdata" merge --sparse -o "$work/wasmgate.profdata" "$work"/raw/*.profraw
mkdir -p pgo
gzip -9n -c "$work/wasmgate.profdata" > pgo/wasmgate.profdata.gz
echo "recorded pgo/wasmgate.profdata.gz ($(wc -c < pgo/wasmgate.profdata.gz) bytes)"
