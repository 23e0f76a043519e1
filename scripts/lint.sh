#!/usr/bin/env bash
# Formatting and clippy, host workspace and guests, warnings as errors.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all --check
(cd guests && cargo fmt --all --check)
cargo clippy --workspace --all-targets --locked -- -D warnings
(cd guests && cargo clippy --workspace --all-targets --target wasm32-wasip2 --locked -- -D warnings)
# The fuzz targets are run with `cargo +nightly fuzz run <target>` (see fuzz/); here they must
# at least compile (in the shared target dir, reusing the dependencies clippy checked).
cargo check --manifest-path fuzz/Cargo.toml --locked --bins --target-dir target
# The committed profile that release builds are optimized with (scripts/pgo-env.sh) must be one
# this toolchain reads. rustc only warns about a corrupt or foreign profile (and builds without
# it), so a one-line program built with it must build without a word.
(
  source scripts/pgo-env.sh
  if [[ -n "${RUSTFLAGS:-}" ]]; then
    echo 'fn main() {}' > target/pgo/check.rs
    # shellcheck disable=SC2086 # RUSTFLAGS is a list of flags
    said=$(rustc $RUSTFLAGS -O target/pgo/check.rs -o target/pgo/check 2>&1)
    [[ -z "$said" ]] || { echo "pgo/wasmgate.profdata.gz is not usable: $said" >&2; exit 1; }
  fi
)
