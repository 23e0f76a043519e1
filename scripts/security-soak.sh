#!/usr/bin/env bash
# The security suites N times in a row (default 20), to show they do not flake under load: run
# it while something else builds (e.g. a fresh-clone .ci/run). Prints one line per run and exits
# non-zero when any run failed; a failed run's output is kept in target/soak-fail-RUN.log.
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
runtime=(--test sandbox --test credential_scope --test host_credentials --test host_tokens --test contract_version)
gateway=(--test hostile --test secrets --test credentials --test languages --test api)
cargo test -q -p wasmgate-runtime "${runtime[@]}" --no-run || exit 1
cargo test -q -p wasmgate "${gateway[@]}" --no-run || exit 1
failed=0
for i in $(seq 1 "$runs"); do
  log=target/soak-run.log
  if cargo test -q -p wasmgate-runtime "${runtime[@]}" > "$log" 2>&1 \
    && cargo test -q -p wasmgate "${gateway[@]}" >> "$log" 2>&1; then
    echo "run $i: ok $(date +%T)"
  else
    echo "run $i: FAILED (target/soak-fail-$i.log)"
    cp "$log" "target/soak-fail-$i.log"
    failed=1
  fi
done
exit $failed
