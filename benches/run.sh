#!/usr/bin/env bash
# Gateway benchmark: a fixed OpenAI-compatible upstream on loopback, `wasmgate serve` in front of
# it, and wrk (Debian) driving load. Every case alternates direct-to-upstream and through-gateway
# runs in one session, so the ratio survives a noisy machine. Writes target/bench/results.md.
#
# Usage: benches/run.sh [--litellm] [--keys]
#   --litellm  also runs LiteLLM's proxy (PyPI litellm[proxy], pinned below; 1 worker, same
#              upstream, LITELLM_LOCAL_MODEL_COST_MAP=True so it makes no outbound calls) in the
#              same rounds and adds its columns.
#   --keys     also runs a gateway with a master key and the default SQLite key database, and
#              compares chat at 32 connections under the master key with a virtual key (rpm,
#              tpm and budget set, so every request is admitted, priced and its spend written),
#              same rounds; the target is >= 0.90x the master-key figure.
# Environment: BENCH_DURATION (seconds per wrk run, default 10), BENCH_ROUNDS (default 2).
set -euo pipefail
LITELLM=0
KEYS=0
for arg in "$@"; do
  case "$arg" in
    --litellm) LITELLM=1 ;;
    --keys) KEYS=1 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done
LITELLM_VERSION=1.106.2
LL_PORT=${BENCH_LITELLM_PORT:-9300}
cd "$(dirname "$0")/.."
DUR=${BENCH_DURATION:-10}
ROUNDS=${BENCH_ROUNDS:-2}
UP_PORT=${BENCH_UPSTREAM_PORT:-9100}
GW_PORT=${BENCH_GATEWAY_PORT:-9200}
KEYS_PORT=${BENCH_KEYS_GATEWAY_PORT:-9201}
OUT=target/bench
mkdir -p "$OUT"

if ! command -v wrk >/dev/null; then
  apt-get update -qq && apt-get install -y -qq wrk
fi
if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx wasm32-wasip2; then
  rustup target add wasm32-wasip2
fi
cargo build --release --locked -p wasmgate -p wasmgate-test-support

cat > "$OUT/config.yaml" <<YAML
model_list:
- model_name: gpt
  litellm_params: {model: openai/gpt-4o-mini, api_base: "http://127.0.0.1:$UP_PORT/v1", api_key: sk-bench}
- model_name: paced
  litellm_params: {model: openai/paced-50, api_base: "http://127.0.0.1:$UP_PORT/v1", api_key: sk-bench}
- model_name: embed
  litellm_params: {model: openai/text-embedding-3-small, api_base: "http://127.0.0.1:$UP_PORT/v1", api_key: sk-bench}
YAML

target/release/wasmgate-upstream "$UP_PORT" > "$OUT/upstream.log" 2>&1 &
UP_PID=$!
target/release/wasmgate serve --config "$OUT/config.yaml" --port "$GW_PORT" > "$OUT/gateway.log" 2>&1 &
GW_PID=$!
LL_PID=""
KEYS_PID=""
trap 'kill $UP_PID $GW_PID $LL_PID $KEYS_PID 2>/dev/null || true' EXIT
for port in "$UP_PORT" "$GW_PORT"; do
  for _ in $(seq 1 200); do curl -sf -o /dev/null "http://127.0.0.1:$port/v1/models" && break; sleep 0.05; done
done

if [ "$LITELLM" = 1 ]; then
  venv=target/bench/litellm-venv
  if ! "$venv/bin/pip" show litellm 2>/dev/null | grep -qx "Version: $LITELLM_VERSION"; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "litellm[proxy]==$LITELLM_VERSION"
  fi
  # The same config file as wasmgate's: wasmgate reads LiteLLM's model_list format.
  LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY=true LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_LOG=ERROR \
    "$venv/bin/litellm" --config "$OUT/config.yaml" \
    --host 127.0.0.1 --port "$LL_PORT" --num_workers 1 > "$OUT/litellm.log" 2>&1 &
  LL_PID=$!
  for _ in $(seq 1 600); do curl -sf -o /dev/null "http://127.0.0.1:$LL_PORT/health/liveliness" && break; sleep 0.1; done
  curl -sf -o /dev/null "http://127.0.0.1:$LL_PORT/health/liveliness" || { echo "LiteLLM did not start; see $OUT/litellm.log" >&2; exit 1; }
fi

rss() { awk '/VmRSS/{print $2}' "/proc/${1:-$GW_PID}/status"; }
hwm() { awk '/VmHWM/{print $2}' "/proc/${1:-$GW_PID}/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/${1:-$GW_PID}/stat"; }
TICK_MS=$(( 1000 / $(getconf CLK_TCK) ))
IDLE_RSS=$(rss)
if [ "$LITELLM" = 1 ]; then
  # One warm-up request, as the first one pays for lazy imports.
  curl -s -o /dev/null "http://127.0.0.1:$LL_PORT/v1/chat/completions" -H 'content-type: application/json' \
    -d '{"model":"gpt","messages":[{"role":"user","content":"Hi"}]}'
  LL_IDLE_RSS=$(rss "$LL_PID")
fi

chat() { printf '{"model":"%s","messages":[{"role":"user","content":"Hello, how are you?"}]}' "$1"; }
embed() { printf '{"model":"%s","input":["the quick brown fox","jumps over the lazy dog"]}' "$1"; }
stream() { printf '{"model":"%s","stream":true,"messages":[{"role":"user","content":"Hi"}]}' "$1"; }

# wrk_run URL BODY CONNECTIONS [AUTHORIZATION] -> "p50_us p90_us p99_us rps errors"
wrk_run() {
  local threads=$(( $3 < 2 ? 1 : 2 ))
  AUTH="${4:-}" BODY="$2" wrk -t"$threads" -c"$3" -d"${DUR}s" --timeout 30s --latency -s benches/post.lua "$1" > "$OUT/wrk.txt" 2>&1 || true
  python3 - "$OUT/wrk.txt" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
def us(v):
    n, unit = re.match(r"([\d.]+)(us|ms|s)", v).groups()
    return float(n) * {"us": 1, "ms": 1e3, "s": 1e6}[unit]
pct = {p: us(v) for p, v in re.findall(r"^\s+(50|90|99)%\s+(\S+)", text, re.M)}
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
errors = (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, sock.groups())) if sock else 0)
print(f"{pct['50']:.0f} {pct['90']:.0f} {pct['99']:.0f} {rps:.0f} {errors}")
PY
}

# The better of two "p50 p90 p99 rps errors" lines (lower p50).
better() { if [ -z "$1" ] || [ "$(echo "$2" | cut -d' ' -f1)" -lt "$(echo "$1" | cut -d' ' -f1)" ]; then echo "$2"; else echo "$1"; fi; }

# case NAME PATH DIRECT_BODY GATEWAY_BODY CONNECTIONS: alternating rounds (direct, wasmgate,
# LiteLLM when asked), the best round of each.
declare -a ROWS LL_ROWS
bench_case() {
  local name=$1 path=$2 direct_body=$3 gateway_body=$4 conns=$5
  local best_d="" best_g="" best_l="" cpu_ms=0 requests=0 ll_cpu_ms=0 ll_requests=0
  for _ in $(seq 1 "$ROUNDS"); do
    local d g l t0 t1
    d=$(wrk_run "http://127.0.0.1:$UP_PORT$path" "$direct_body" "$conns")
    t0=$(cpu_ticks)
    g=$(wrk_run "http://127.0.0.1:$GW_PORT$path" "$gateway_body" "$conns")
    t1=$(cpu_ticks)
    cpu_ms=$(( cpu_ms + (t1 - t0) * TICK_MS ))
    requests=$(( requests + $(echo "$g" | awk -v d="$DUR" '{printf "%d", $4 * d}') ))
    best_d=$(better "$best_d" "$d")
    best_g=$(better "$best_g" "$g")
    if [ "$LITELLM" = 1 ]; then
      t0=$(cpu_ticks "$LL_PID")
      l=$(wrk_run "http://127.0.0.1:$LL_PORT$path" "$gateway_body" "$conns")
      t1=$(cpu_ticks "$LL_PID")
      ll_cpu_ms=$(( ll_cpu_ms + (t1 - t0) * TICK_MS ))
      ll_requests=$(( ll_requests + $(echo "$l" | awk -v d="$DUR" '{printf "%d", $4 * d}') ))
      best_l=$(better "$best_l" "$l")
    fi
  done
  read -r dp50 dp90 dp99 drps derr <<< "$best_d"
  read -r gp50 gp90 gp99 grps gerr <<< "$best_g"
  local cpu_per_req
  cpu_per_req=$(python3 -c "print(f'{$cpu_ms / max($requests, 1):.3f}')")
  ROWS+=("| $name | $conns | $dp50 / $dp90 / $dp99 | $gp50 / $gp90 / $gp99 | $((gp50 - dp50)) / $((gp99 - dp99)) | $drps | $grps | $gerr | $cpu_per_req | $(hwm) |")
  echo "${ROWS[-1]}"
  if [ "$LITELLM" = 1 ]; then
    read -r lp50 lp90 lp99 lrps lerr <<< "$best_l"
    local ll_cpu_per_req
    ll_cpu_per_req=$(python3 -c "print(f'{$ll_cpu_ms / max($ll_requests, 1):.3f}')")
    LL_ROWS+=("| $name | $conns | $((gp50 - dp50)) / $((gp99 - dp99)) | $((lp50 - dp50)) / $((lp99 - dp99)) | $grps | $lrps | $gerr | $lerr | $cpu_per_req | $ll_cpu_per_req | $(hwm) | $(hwm "$LL_PID") |")
    echo "${LL_ROWS[-1]}"
  fi
}

bench_case "chat" /v1/chat/completions "$(chat gpt-4o-mini)" "$(chat gpt)" 1
bench_case "chat" /v1/chat/completions "$(chat gpt-4o-mini)" "$(chat gpt)" 32
bench_case "chat" /v1/chat/completions "$(chat gpt-4o-mini)" "$(chat gpt)" 128
bench_case "stream (whole body)" /v1/chat/completions "$(stream gpt-4o-mini)" "$(stream gpt)" 32
bench_case "embeddings" /v1/embeddings "$(embed text-embedding-3-small)" "$(embed embed)" 32

# Keys: the same gateway under its master key and under a virtual key, alternating rounds.
KEYS_ROW=""
if [ "$KEYS" = 1 ]; then
  MASTER=sk-bench-master
  rm -f "$OUT/keys.db"
  { cat "$OUT/config.yaml"; printf 'general_settings:\n  master_key: %s\n  database_url: sqlite://%s/keys.db\n' "$MASTER" "$PWD/$OUT"; } > "$OUT/config-keys.yaml"
  target/release/wasmgate serve --config "$OUT/config-keys.yaml" --port "$KEYS_PORT" > "$OUT/gateway-keys.log" 2>&1 &
  KEYS_PID=$!
  for _ in $(seq 1 200); do curl -sf -o /dev/null "http://127.0.0.1:$KEYS_PORT/health/liveliness" && break; sleep 0.05; done
  VKEY=$(curl -sf "http://127.0.0.1:$KEYS_PORT/key/generate" -H "authorization: Bearer $MASTER" \
    -d '{"key_alias": "bench", "rpm_limit": 100000000, "tpm_limit": 100000000000, "max_budget": 1000000}' \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["key"])')
  best_m="" best_v="" m_cpu=0 m_req=0 v_cpu=0 v_req=0
  for _ in $(seq 1 "$ROUNDS"); do
    t0=$(cpu_ticks "$KEYS_PID")
    m=$(wrk_run "http://127.0.0.1:$KEYS_PORT/v1/chat/completions" "$(chat gpt)" 32 "Bearer $MASTER")
    t1=$(cpu_ticks "$KEYS_PID")
    v=$(wrk_run "http://127.0.0.1:$KEYS_PORT/v1/chat/completions" "$(chat gpt)" 32 "Bearer $VKEY")
    t2=$(cpu_ticks "$KEYS_PID")
    m_cpu=$(( m_cpu + (t1 - t0) * TICK_MS )); v_cpu=$(( v_cpu + (t2 - t1) * TICK_MS ))
    m_req=$(( m_req + $(echo "$m" | awk -v d="$DUR" '{printf "%d", $4 * d}') ))
    v_req=$(( v_req + $(echo "$v" | awk -v d="$DUR" '{printf "%d", $4 * d}') ))
    best_m=$(better "$best_m" "$m"); best_v=$(better "$best_v" "$v")
  done
  read -r mp50 _ mp99 mrps merr <<< "$best_m"
  read -r vp50 _ vp99 vrps verr <<< "$best_v"
  SPENT=$(curl -sf "http://127.0.0.1:$KEYS_PORT/key/info" -H "authorization: Bearer $VKEY" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["info"]["spend"])')
  KEYS_ROW=$(python3 - "$mrps" "$vrps" "$mp50" "$vp50" "$mp99" "$vp99" "$merr" "$verr" "$m_cpu" "$m_req" "$v_cpu" "$v_req" <<'PY'
import sys
mrps, vrps, mp50, vp50, mp99, vp99, merr, verr, mcpu, mreq, vcpu, vreq = map(float, sys.argv[1:])
ratio = vrps / mrps
verdict = "meets" if ratio >= 0.90 else "misses"
print(f"| chat | 32 | {mrps:.0f} | {vrps:.0f} | {ratio:.2f}x ({verdict} >= 0.90x) | {mp50:.0f} / {mp99:.0f} | {vp50:.0f} / {vp99:.0f} | {merr:.0f} / {verr:.0f} | {mcpu / max(mreq, 1):.3f} / {vcpu / max(vreq, 1):.3f} |")
PY
)
  echo "$KEYS_ROW"
fi

# Streaming at concurrency 1: time to first byte and to last byte (Python client, same for both).
STREAM_ROWS=()
for _ in $(seq 1 "$ROUNDS"); do
  read -r d_fb d_fb99 d_lb d_lb99 <<< "$(python3 benches/stream_timing.py ttfb 127.0.0.1 "$UP_PORT" gpt-4o-mini 300)"
  read -r g_fb g_fb99 g_lb g_lb99 <<< "$(python3 benches/stream_timing.py ttfb 127.0.0.1 "$GW_PORT" gpt 300)"
  STREAM_ROWS+=("| stream, c=1 | $d_fb / $d_lb | $g_fb / $g_lb | $((g_fb - d_fb)) | $((g_lb - d_lb)) |")
  if [ "$LITELLM" = 1 ]; then
    read -r l_fb l_fb99 l_lb l_lb99 <<< "$(python3 benches/stream_timing.py ttfb 127.0.0.1 "$LL_PORT" gpt 100)"
    STREAM_ROWS+=("| stream, c=1, LiteLLM | $d_fb / $d_lb | $l_fb / $l_lb | $((l_fb - d_fb)) | $((l_lb - d_lb)) |")
  fi
done

# Paced stream: 50 chunks 20 ms apart, each stamped by the upstream with its send time. Per
# chunk: time from the upstream sending it to the client reading it, direct and through the
# gateway; the difference of the two is the delay the gateway adds to each chunk.
paced_summary() {
  python3 - "$OUT/paced-direct.txt" "$1" "$2" <<'PY'
import sys
d = sorted(int(x) for x in open(sys.argv[1]))
g = sorted(int(x) for x in open(sys.argv[2]))
base = d[len(d) // 2]
print(f"{sys.argv[3]}: {len(g)} chunks; upstream-to-client per chunk p50 {g[len(g) // 2]} us, max {g[-1]} us "
      f"(direct p50 {base} us, max {d[-1]} us): added per chunk p50 {g[len(g) // 2] - base} us, "
      f"max {g[-1] - base} us")
PY
}
python3 benches/stream_timing.py paced 127.0.0.1 "$UP_PORT" paced-50 > "$OUT/paced-direct.txt"
python3 benches/stream_timing.py paced 127.0.0.1 "$GW_PORT" paced > "$OUT/paced-gateway.txt"
PACED=$(paced_summary "$OUT/paced-gateway.txt" wasmgate)
if [ "$LITELLM" = 1 ]; then
  python3 benches/stream_timing.py paced 127.0.0.1 "$LL_PORT" paced > "$OUT/paced-litellm.txt"
  PACED="$PACED; $(paced_summary "$OUT/paced-litellm.txt" LiteLLM)"
fi

{
  echo "# wasmgate benchmark"
  echo
  echo "$(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); wrk ${DUR}s x ${ROUNDS} rounds, best round shown; $(date -u +%F)."
  echo "Gateway, upstream and load generator share the machine. Latencies in microseconds."
  echo
  echo "| case | conns | direct p50 / p90 / p99 | gateway p50 / p90 / p99 | added p50 / p99 | direct req/s | gateway req/s | gateway errors | gateway CPU ms/req | gateway peak RSS KiB |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${ROWS[@]}"
  echo
  echo "| streaming | direct first / last byte | gateway first / last byte | added to first byte | added to last byte |"
  echo "|---|---|---|---|---|"
  printf '%s\n' "${STREAM_ROWS[@]}"
  echo
  echo "Paced stream (upstream sends 50 chunks 20 ms apart): $PACED."
  echo
  echo "Gateway RSS: idle ${IDLE_RSS} KiB with the built-in adapters loaded; peak $(hwm) KiB."
  if [ "$KEYS" = 1 ]; then
    echo
    echo "## Virtual keys (one gateway, SQLite key database, the key hot in memory)"
    echo
    echo "| case | conns | master key req/s | virtual key req/s | ratio | master p50 / p99 | virtual p50 / p99 | errors master / virtual | CPU ms/req master / virtual |"
    echo "|---|---|---|---|---|---|---|---|---|"
    echo "$KEYS_ROW"
    echo
    echo "The virtual key has rpm, tpm and a budget, so each request is admitted against them, priced, and its spend batched into SQLite; the key had spent \$$SPENT at the end."
  fi
  if [ "$LITELLM" = 1 ]; then
    echo
    echo "## Side by side with LiteLLM $LITELLM_VERSION (proxy, 1 worker, same upstream, same rounds)"
    echo
    echo "| case | conns | wasmgate added p50 / p99 | LiteLLM added p50 / p99 | wasmgate req/s | LiteLLM req/s | wasmgate errors | LiteLLM errors | wasmgate CPU ms/req | LiteLLM CPU ms/req | wasmgate peak RSS KiB | LiteLLM peak RSS KiB |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${LL_ROWS[@]}"
    echo
    echo "RSS idle: wasmgate ${IDLE_RSS} KiB, LiteLLM ${LL_IDLE_RSS} KiB."
  fi
} | tee "$OUT/results.md"
