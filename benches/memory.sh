#!/usr/bin/env bash
# Front-door memory: the gateway's RSS idle, while 3,000 connections hold a partial request
# head, during and 60 s after a c=512 burst of chat requests (wrk, 10 s). Prints a table row set;
# numbers go to docs/performance.md. Usage: benches/memory.sh
set -euo pipefail
cd "$(dirname "$0")/.."
UP_PORT=${BENCH_UPSTREAM_PORT:-9110}
GW_PORT=${BENCH_GATEWAY_PORT:-9210}
OUT=target/bench
mkdir -p "$OUT"
source benches/common.sh
bench_build
bench_config "$OUT/memory.yaml" "$UP_PORT"
ulimit -n 20000 2>/dev/null || true
start_upstream "$UP_PORT" "$OUT/memory-upstream.log"
start_gateway "$OUT/memory.yaml" "$GW_PORT" "$OUT/memory-gateway.log" --log-level warn
trap 'kill $UP_PID $GW_PID 2>/dev/null || true' EXIT
wait_models "$UP_PORT" "$GW_PORT"
rss() { awk '/VmRSS/{print int($2/1024)}' "/proc/$GW_PID/status"; }
hwm() { awk '/VmHWM/{print int($2/1024)}' "/proc/$GW_PID/status"; }
body='{"model":"gpt","messages":[{"role":"user","content":"Hello, how are you?"}]}'
BODY="$body" wrk -t1 -c1 -d2s -s benches/post.lua "http://127.0.0.1:$GW_PORT/v1/chat/completions" > /dev/null
IDLE=$(rss)
# 3,000 partial heads: measured once all are open, then held past the 10 s header timeout.
python3 benches/hold_connections.py 127.0.0.1 "$GW_PORT" 3000 12 > "$OUT/hold.txt" &
HOLD_PID=$!
for _ in $(seq 1 600); do grep -q open "$OUT/hold.txt" 2>/dev/null && break; sleep 0.1; done
sleep 1
HELD=$(rss)
wait $HOLD_PID
CLOSED=$(awk '/closed-by-server/{print $2}' "$OUT/hold.txt")
AFTER_HOLD=$(rss)
burst() {
  BODY="$body" wrk -t2 -c512 -d10s --timeout 30s -s benches/post.lua "http://127.0.0.1:$GW_PORT/v1/chat/completions" > "$OUT/burst.txt" 2>&1 || true
  awk '/Requests\/sec/{print int($2)}' "$OUT/burst.txt"
}
# Two bursts, each followed by 60 s idle: whether a burst's memory is given back, or kept and
# reused by the next one.
RPS=$(burst)
AFTER_BURST=$(rss)
sleep 60
SETTLED=$(rss)
RPS2=$(burst)
sleep 60
SETTLED2=$(rss)
PEAK=$(hwm)
echo "| gateway RSS, MiB | idle | 3,000 partial-head connections held | after they were closed ($CLOSED of 3000 by the server) | right after a c=512 burst ($RPS req/s) | 60 s after it | 60 s after a second burst ($RPS2 req/s) | peak |"
echo "|---|---|---|---|---|---|---|---|"
echo "| $(date -u +%F) | $IDLE | $HELD | $AFTER_HOLD | $AFTER_BURST | $SETTLED | $SETTLED2 | $PEAK |"
