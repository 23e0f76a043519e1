#!/usr/bin/env bash
# Gateway benchmark: a fixed OpenAI-compatible upstream on loopback, `wasmgate serve` in front of
# it, and wrk (Debian) driving load. Every case alternates direct-to-upstream and through-gateway
# runs in one session, so the ratio survives a noisy machine. Writes target/bench/results.md.
#
# Usage: benches/run.sh [--litellm] [--peer URL]... [--work-stealing] [--keys]
#   --litellm  also runs LiteLLM's proxy (PyPI litellm[proxy], pinned below; 1 worker, same
#              upstream, LITELLM_LOCAL_MODEL_COST_MAP=True so it makes no outbound calls) in the
#              same rounds and adds its columns.
#   --peer URL also measures another OpenAI-compatible gateway already running at URL (e.g.
#              http://127.0.0.1:8080) in the same rounds. It must serve the model names `gpt`
#              (chat and streaming), `gpt-long` (the 19-chunk stream), `paced` and `embed` from
#              this script's upstream, http://127.0.0.1:$BENCH_UPSTREAM_PORT/v1 (9100 by default;
#              the models are gpt-4o-mini, words-17, paced-50 and text-embedding-3-small; any
#              API key). Its CPU and RSS
#              are read from the process listening on the port when this user may see it.
#   --work-stealing  also runs a second wasmgate with `--work-stealing` (one listener on Tokio's
#              shared multi-threaded runtime instead of one single-threaded runtime per core) as
#              a peer, to compare the two designs in the same rounds.
#   --keys     also runs a gateway with a master key and the default SQLite key database, and
#              compares chat at 32 connections under the master key with a virtual key (rpm,
#              tpm and budget set, so every request is admitted, priced and its spend written),
#              same rounds; the target is >= 0.90x the master-key figure.
# Environment: BENCH_DURATION (seconds per wrk run, default 10), BENCH_ROUNDS (default 2).
set -euo pipefail
LITELLM=0
KEYS=0
WORK_STEALING=0
PEER_URLS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --litellm) LITELLM=1 ;;
    --keys) KEYS=1 ;;
    --work-stealing) WORK_STEALING=1 ;;
    --peer)
      [ $# -ge 2 ] || { echo "--peer needs a URL" >&2; exit 2; }
      PEER_URLS+=("${2%/}"); shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
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

source benches/common.sh
bench_build
bench_config "$OUT/config.yaml" "$UP_PORT" gpt-long=words-17 paced=paced-50 embed=text-embedding-3-small
start_upstream "$UP_PORT" "$OUT/upstream.log"
# Compile the adapters into the cache first, so that the idle RSS below is a warm start's (every
# start after the first); docs/performance.md has what a first start holds.
target/release/wasmgate check-config "$OUT/config.yaml" > /dev/null
start_gateway "$OUT/config.yaml" "$GW_PORT" "$OUT/gateway.log"
# Gateways measured beside wasmgate, in the same rounds: name, base URL, PID ("" if unknown).
PEER_NAMES=() PEER_BASES=() PEER_PIDS=()
STARTED=()
KEYS_PID=""
trap 'kill $UP_PID $GW_PID ${STARTED[*]} $KEYS_PID 2>/dev/null || true' EXIT
wait_models "$UP_PORT" "$GW_PORT"

if [ "$WORK_STEALING" = 1 ]; then
  WS_PORT=${BENCH_WORK_STEALING_PORT:-9202}
  target/release/wasmgate serve --config "$OUT/config.yaml" --port "$WS_PORT" --work-stealing > "$OUT/gateway-ws.log" 2>&1 &
  STARTED+=($!)
  wait_ready "http://127.0.0.1:$WS_PORT/v1/models"
  PEER_NAMES+=("wasmgate --work-stealing"); PEER_BASES+=("http://127.0.0.1:$WS_PORT"); PEER_PIDS+=("$!")
fi
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
  STARTED+=($!)
  wait_ready "http://127.0.0.1:$LL_PORT/health/liveliness" 1200 || { echo "LiteLLM did not start; see $OUT/litellm.log" >&2; exit 1; }
  PEER_NAMES+=("LiteLLM $LITELLM_VERSION"); PEER_BASES+=("http://127.0.0.1:$LL_PORT"); PEER_PIDS+=("$!")
fi
for url in "${PEER_URLS[@]}"; do
  case "$url" in http://*) ;; *) echo "--peer $url: only http:// URLs are supported" >&2; exit 2 ;; esac
  hostport=${url#http://}; hostport=${hostport%%/*}
  port=${hostport##*:}; [ "$port" = "$hostport" ] && port=80
  # The process listening on the port, when this user may see it (for CPU and RSS).
  pid=$(ss -Hltnp "sport = :$port" 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2 || true)
  curl -s -o /dev/null "$url/v1/chat/completions" -H 'content-type: application/json' \
    -d '{"model":"gpt","messages":[{"role":"user","content":"Hi"}]}' || { echo "--peer $url does not answer" >&2; exit 1; }
  PEER_NAMES+=("$url"); PEER_BASES+=("$url"); PEER_PIDS+=("$pid")
done

rss() { awk '/VmRSS/{print $2}' "/proc/${1:-$GW_PID}/status" 2>/dev/null || echo 0; }
hwm() { awk '/VmHWM/{print $2}' "/proc/${1:-$GW_PID}/status" 2>/dev/null || echo 0; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/${1:-$GW_PID}/stat" 2>/dev/null || echo 0; }
TICK_MS=$(( 1000 / $(getconf CLK_TCK) ))
# One warm-up request each (the first one may pay for lazy imports), then the idle RSS.
for i in "${!PEER_BASES[@]}"; do
  curl -s -o /dev/null "${PEER_BASES[$i]}/v1/chat/completions" -H 'content-type: application/json' \
    -d '{"model":"gpt","messages":[{"role":"user","content":"Hi"}]}'
done
sleep 1
IDLE_RSS=$(rss)
PEER_IDLE=()
for i in "${!PEER_BASES[@]}"; do PEER_IDLE+=("$( [ -n "${PEER_PIDS[$i]}" ] && rss "${PEER_PIDS[$i]}" || echo "")"); done

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
# CPU ms per request from ticks and a "p50 p90 p99 rps errors" line's rate over DUR.
per_request() { python3 -c "print(f'{$1 / max($2, 1):.3f}')"; }
served() { echo "$1" | awk -v d="$DUR" '{printf "%d", $4 * d}'; }

# bench_case NAME PATH DIRECT_BODY GATEWAY_BODY CONNECTIONS [KEY]: alternating rounds (direct,
# wasmgate, each peer), the best round of each. KEY names the row for the target checks.
declare -a ROWS PEER_ROWS
declare -A RESULT
bench_case() {
  local name=$1 path=$2 direct_body=$3 gateway_body=$4 conns=$5 key=${6:-}
  local best_d="" best_g="" cpu_ms=0 requests=0
  local -a best_p=() p_cpu=() p_req=()
  for _ in $(seq 1 "$ROUNDS"); do
    local d g t0 t1
    d=$(wrk_run "http://127.0.0.1:$UP_PORT$path" "$direct_body" "$conns")
    t0=$(cpu_ticks)
    g=$(wrk_run "http://127.0.0.1:$GW_PORT$path" "$gateway_body" "$conns")
    t1=$(cpu_ticks)
    cpu_ms=$(( cpu_ms + (t1 - t0) * TICK_MS ))
    requests=$(( requests + $(served "$g") ))
    best_d=$(better "$best_d" "$d")
    best_g=$(better "$best_g" "$g")
    for i in "${!PEER_BASES[@]}"; do
      local pid=${PEER_PIDS[$i]} p
      t0=$( [ -n "$pid" ] && cpu_ticks "$pid" || echo 0)
      p=$(wrk_run "${PEER_BASES[$i]}$path" "$gateway_body" "$conns")
      t1=$( [ -n "$pid" ] && cpu_ticks "$pid" || echo 0)
      p_cpu[$i]=$(( ${p_cpu[$i]:-0} + (t1 - t0) * TICK_MS ))
      p_req[$i]=$(( ${p_req[$i]:-0} + $(served "$p") ))
      best_p[$i]=$(better "${best_p[$i]:-}" "$p")
    done
  done
  read -r dp50 dp90 dp99 drps derr <<< "$best_d"
  read -r gp50 gp90 gp99 grps gerr <<< "$best_g"
  local cpu_per_req
  cpu_per_req=$(per_request "$cpu_ms" "$requests")
  [ -n "$key" ] && RESULT[$key]="$((gp50 - dp50)) $((gp99 - dp99)) $drps $grps $cpu_per_req $(hwm)"
  ROWS+=("| $name | $conns | $dp50 / $dp90 / $dp99 | $gp50 / $gp90 / $gp99 | $((gp50 - dp50)) / $((gp99 - dp99)) | $drps | $grps | $gerr | $cpu_per_req | $(hwm) |")
  echo "${ROWS[-1]}"
  for i in "${!PEER_BASES[@]}"; do
    local pid=${PEER_PIDS[$i]} pcpu="—" phwm="—"
    read -r pp50 pp90 pp99 prps perr <<< "${best_p[$i]}"
    if [ -n "$pid" ]; then pcpu=$(per_request "${p_cpu[$i]}" "${p_req[$i]}"); phwm=$(hwm "$pid"); fi
    PEER_ROWS+=("| ${PEER_NAMES[$i]} | $name | $conns | $((gp50 - dp50)) / $((gp99 - dp99)) | $((pp50 - dp50)) / $((pp99 - dp99)) | $grps | $prps | $(python3 -c "print(f'{$prps / max($drps, 1):.3f}')") | $gerr / $perr | $cpu_per_req / $pcpu | $(hwm) / $phwm |")
    echo "${PEER_ROWS[-1]}"
  done
}

bench_case "chat" /v1/chat/completions "$(chat gpt-4o-mini)" "$(chat gpt)" 1 chat1
bench_case "chat" /v1/chat/completions "$(chat gpt-4o-mini)" "$(chat gpt)" 32 chat32
bench_case "chat" /v1/chat/completions "$(chat gpt-4o-mini)" "$(chat gpt)" 128 chat128
# 19 chunks: the role chunk, 17 words, the finish chunk.
bench_case "stream (19 chunks, whole body)" /v1/chat/completions "$(stream words-17)" "$(stream gpt-long)" 32 stream32
bench_case "embeddings" /v1/embeddings "$(embed text-embedding-3-small)" "$(embed embed)" 32

# Keys: the same gateway under its master key and under a virtual key, alternating rounds.
KEYS_ROW=""
if [ "$KEYS" = 1 ]; then
  MASTER=sk-bench-master
  rm -f "$OUT/keys.db"
  { cat "$OUT/config.yaml"; printf 'general_settings:\n  master_key: %s\n  database_url: sqlite://%s/keys.db\n' "$MASTER" "$PWD/$OUT"; } > "$OUT/config-keys.yaml"
  target/release/wasmgate serve --config "$OUT/config-keys.yaml" --port "$KEYS_PORT" > "$OUT/gateway-keys.log" 2>&1 &
  KEYS_PID=$!
  wait_ready "http://127.0.0.1:$KEYS_PORT/health/liveliness"
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
    m_req=$(( m_req + $(served "$m") ))
    v_req=$(( v_req + $(served "$v") ))
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
host_port() { local hp=${1#http://}; hp=${hp%%/*}; local port=${hp##*:}; [ "$port" = "$hp" ] && port=80; echo "${hp%:*} $port"; }
STREAM_ROWS=()
TTFB_ADDED=()
for _ in $(seq 1 "$ROUNDS"); do
  read -r d_fb d_fb99 d_lb d_lb99 <<< "$(python3 benches/stream_timing.py ttfb 127.0.0.1 "$UP_PORT" gpt-4o-mini 300)"
  read -r g_fb g_fb99 g_lb g_lb99 <<< "$(python3 benches/stream_timing.py ttfb 127.0.0.1 "$GW_PORT" gpt 300)"
  STREAM_ROWS+=("| stream, c=1, wasmgate | $d_fb / $d_lb | $g_fb / $g_lb | $((g_fb - d_fb)) | $((g_lb - d_lb)) |")
  TTFB_ADDED+=("$((g_fb - d_fb))")
  for i in "${!PEER_BASES[@]}"; do
    read -r p_fb p_fb99 p_lb p_lb99 <<< "$(python3 benches/stream_timing.py ttfb $(host_port "${PEER_BASES[$i]}") gpt 200)"
    STREAM_ROWS+=("| stream, c=1, ${PEER_NAMES[$i]} | $d_fb / $d_lb | $p_fb / $p_lb | $((p_fb - d_fb)) | $((p_lb - d_lb)) |")
  done
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
for i in "${!PEER_BASES[@]}"; do
  python3 benches/stream_timing.py paced $(host_port "${PEER_BASES[$i]}") paced > "$OUT/paced-peer-$i.txt"
  PACED="$PACED; $(paced_summary "$OUT/paced-peer-$i.txt" "${PEER_NAMES[$i]}")"
done

# Each target of issue 15 against this run's figures (ratios and differences within the run).
TARGETS=$(python3 - "${RESULT[chat1]}" "${RESULT[chat32]}" "${RESULT[chat128]}" "${RESULT[stream32]}" "$IDLE_RSS" "$(IFS=,; echo "${TTFB_ADDED[*]}")" <<'PY'
import sys
def row(s):
    a50, a99, drps, grps, cpu, hwm = s.split()
    return dict(a50=float(a50), a99=float(a99), drps=float(drps), grps=float(grps), cpu=float(cpu), hwm=float(hwm))
c1, c32, c128, s32 = (row(a) for a in sys.argv[1:5])
idle = float(sys.argv[5]) / 1024
ttfb = min(float(x) for x in sys.argv[6].split(","))
checks = [
    ("chat c=32 req/s vs direct", c32["grps"] / c32["drps"], ">=", 0.25, "{:.3f}x"),
    ("stream c=32 req/s vs direct", s32["grps"] / s32["drps"], ">=", 0.20, "{:.3f}x"),
    ("chat c=1 added p50 (us)", c1["a50"], "<=", 120, "{:.0f}"),
    ("chat c=1 added p99 (us)", c1["a99"], "<=", 250, "{:.0f}"),
    ("stream c=1 added time to first byte (us, best round p50)", ttfb, "<=", 150, "{:.0f}"),
    ("CPU per chat request at c=32 (ms)", c32["cpu"], "<=", 0.08, "{:.3f}"),
    ("CPU per 19-chunk stream at c=32 (ms)", s32["cpu"], "<=", 0.15, "{:.3f}"),
    ("RSS idle, built-in adapters loaded (MiB)", idle, "<=", 24, "{:.1f}"),
    ("peak RSS through c=128 (MiB)", c128["hwm"] / 1024, "<=", 64, "{:.1f}"),
]
print("| target | this run | goal | verdict |")
print("|---|---|---|---|")
for name, value, op, goal, fmt in checks:
    ok = value >= goal if op == ">=" else value <= goal
    print(f"| {name} | {fmt.format(value)} | {op} {goal} | {'meets' if ok else 'misses'} |")
PY
)

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
  echo
  echo "## Against the targets"
  echo
  echo "$TARGETS"
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
  if [ "${#PEER_BASES[@]}" -gt 0 ]; then
    echo
    echo "## Side by side (same upstream, same rounds)"
    echo
    echo "| peer | case | conns | wasmgate added p50 / p99 | peer added p50 / p99 | wasmgate req/s | peer req/s | peer vs direct | errors (wasmgate / peer) | CPU ms/req (wasmgate / peer) | peak RSS KiB (wasmgate / peer) |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${PEER_ROWS[@]}"
    echo
    for i in "${!PEER_BASES[@]}"; do
      echo "RSS idle: wasmgate ${IDLE_RSS} KiB, ${PEER_NAMES[$i]} ${PEER_IDLE[$i]:-unknown} KiB."
    done
  fi
} | tee "$OUT/results.md"
