#!/usr/bin/env bash
# Soak: chat requests at a fixed rate (2,000 req/s by default) through `wasmgate serve` to the
# loopback upstream for 30 minutes, the gateway's RSS sampled every 10 s. Prints the summary,
# writes target/bench/soak.csv and target/bench/soak.png (RSS over time; matplotlib from PyPI in
# a venv under target/bench).
#
# The rate is set by wrk's per-request delay: SOAK_CONNECTIONS connections, each waiting
# DELAY_MS between requests (tuned below so the measured rate lands near SOAK_RATE).
# Environment: SOAK_MINUTES (30), SOAK_RATE (2000), SOAK_CONNECTIONS (24), SOAK_WARMUP_S (60).
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${SOAK_MINUTES:-30}
RATE=${SOAK_RATE:-2000}
CONNS=${SOAK_CONNECTIONS:-24}
WARMUP=${SOAK_WARMUP_S:-60}
UP_PORT=${BENCH_UPSTREAM_PORT:-9120}
GW_PORT=${BENCH_GATEWAY_PORT:-9220}
OUT=target/bench
mkdir -p "$OUT"
source benches/common.sh
bench_build
bench_config "$OUT/soak.yaml" "$UP_PORT"
start_upstream "$UP_PORT" "$OUT/soak-upstream.log"
start_gateway "$OUT/soak.yaml" "$GW_PORT" "$OUT/soak-gateway.log" --log-level warn
WRK_PID=""
trap 'kill $UP_PID $GW_PID $WRK_PID 2>/dev/null || true' EXIT
wait_models "$UP_PORT" "$GW_PORT"
BODY='{"model":"gpt","messages":[{"role":"user","content":"Hello, how are you?"}]}'
URL="http://127.0.0.1:$GW_PORT/v1/chat/completions"

# Tune the delay with short runs until the rate is within 5 % of the target.
DELAY=$(( CONNS * 1000 / RATE ))
for _ in $(seq 1 8); do
  got=$(BODY="$BODY" DELAY_MS=$DELAY wrk -t2 -c"$CONNS" -d5s -s benches/pace.lua "$URL" | awk '/Requests\/sec/{printf "%d", $2}')
  echo "delay ${DELAY} ms: ${got} req/s"
  if [ "$got" -gt $(( RATE * 105 / 100 )) ]; then DELAY=$(( DELAY + 1 ));
  elif [ "$got" -lt $(( RATE * 95 / 100 )) ] && [ "$DELAY" -gt 1 ]; then DELAY=$(( DELAY - 1 ));
  else break; fi
done

echo "seconds,rss_kib" > "$OUT/soak.csv"
BODY="$BODY" DELAY_MS=$DELAY wrk -t2 -c"$CONNS" -d"$((MINUTES * 60))s" --timeout 10s --latency \
  -s benches/pace.lua "$URL" > "$OUT/soak-wrk.txt" 2>&1 &
WRK_PID=$!
START=$(date +%s)
while kill -0 "$WRK_PID" 2>/dev/null; do
  echo "$(( $(date +%s) - START )),$(awk '/VmRSS/{print $2}' "/proc/$GW_PID/status")" >> "$OUT/soak.csv"
  sleep 10
done
wait "$WRK_PID" || true
WRK_PID=""
echo "$(( $(date +%s) - START )),$(awk '/VmRSS/{print $2}' "/proc/$GW_PID/status")" >> "$OUT/soak.csv"

venv=$OUT/plot-venv
if ! "$venv/bin/python" -c 'import matplotlib' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check matplotlib==3.9.2
fi
"$venv/bin/python" - "$OUT/soak.csv" "$OUT/soak-wrk.txt" "$OUT/soak.png" "$WARMUP" "$RATE" <<'PY'
import csv, re, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
rows = [(int(r["seconds"]), int(r["rss_kib"])) for r in csv.DictReader(open(sys.argv[1]))]
text = open(sys.argv[2]).read()
warmup, target = int(sys.argv[4]), int(sys.argv[5])
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
total = int(re.search(r"(\d+) requests in", text).group(1))
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
errors = (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, sock.groups())) if sock else 0)
p99 = re.search(r"^\s+99%\s+(\S+)", text, re.M).group(1)
after = [kib for s, kib in rows if s >= warmup]
low, high = min(after), max(after)
spread = (high - low) / low * 100
print(f"{total} requests at {rps:.0f} req/s (target {target}), {errors} errors, p99 {p99}; "
      f"RSS after {warmup} s warm-up: {low / 1024:.1f}-{high / 1024:.1f} MiB "
      f"({spread:.1f} % spread; {'within' if spread <= 5 else 'beyond'} 5 %), "
      f"first sample {rows[0][1] / 1024:.1f} MiB, last {rows[-1][1] / 1024:.1f} MiB")
plt.figure(figsize=(8, 3.5))
plt.plot([s / 60 for s, _ in rows], [kib / 1024 for _, kib in rows], lw=1.2)
plt.axvline(warmup / 60, color="grey", ls=":", lw=1)
plt.ylim(0, high / 1024 * 1.2)
plt.xlabel("minutes")
plt.ylabel("gateway RSS (MiB)")
plt.title(f"wasmgate soak: {rps:.0f} req/s chat for {rows[-1][0] // 60} min, {errors} errors")
plt.grid(alpha=0.3)
plt.tight_layout()
plt.savefig(sys.argv[3], dpi=100)
PY
