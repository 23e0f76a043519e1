#!/usr/bin/env bash
# Mutation testing of the sandbox's security-critical code: cargo-mutants changes one thing at a
# time in the egress path, the sealed credentials, the import and contract checks and the policy,
# and runs the runtime's sandbox and credential tests against each change. A mutant the tests do
# not catch is a check nothing guards: it needs a test, or a reason in docs/security.md.
#
# Too slow for CI (each mutant rebuilds the runtime and runs the suites): run it by hand.
#   scripts/mutants.sh            # all of it (hours on 2 cores)
#   scripts/mutants.sh --list     # just list the mutants
#   MUTANTS_FILES='runtime/src/egress/hooks.rs' scripts/mutants.sh   # one file
#   MUTANTS_TIMEOUT=300 scripts/mutants.sh   # per-test-run timeout on a busy machine (default 120 s)
# The report lands in mutants.out/ (caught.txt, missed.txt, timeout.txt, unviable.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo-mutants >/dev/null; then
  cargo install cargo-mutants --locked --version 27.1.0
fi
if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx wasm32-wasip2; then
  rustup target add wasm32-wasip2
fi
files=${MUTANTS_FILES:-"runtime/src/egress/*.rs runtime/src/credential/*.rs runtime/src/imports.rs runtime/src/policy.rs"}
args=()
for f in $files; do args+=(--file "$f"); done
# Build the guests once, outside the mutated tree's timing.
cargo test -p wasmgate-runtime --locked --test sandbox --no-run >/dev/null
exec cargo mutants --in-place --package wasmgate-runtime "${args[@]}" \
  --timeout "${MUTANTS_TIMEOUT:-120}" --build-timeout 900 "$@" -- \
  --lib --test sandbox --test credential_scope --test contract_version --test sigv4 \
  --test host_credentials --test host_tokens --test languages
