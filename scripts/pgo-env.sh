# Sourced (from the repository root) by the scripts that build the release gateway:
# scripts/wasmgate.sh (and through it scripts/run.sh) and benches/common.sh. Exports the RUSTFLAGS that optimize the build with the
# committed profile, pgo/wasmgate.profdata.gz (recorded by scripts/pgo.sh; see
# docs/performance.md, "Profile-guided optimization"). Nothing is exported when RUSTFLAGS is
# already set, when WASMGATE_PGO=0, or off x86_64 Linux, where the profile was recorded.
pgo_profile=pgo/wasmgate.profdata.gz
if [[ -z "${RUSTFLAGS:-}" && "${WASMGATE_PGO:-1}" != 0 && -f "$pgo_profile" &&
  "$(uname -sm)" == "Linux x86_64" ]]; then
  # The profile's digest is in the path, so a new profile changes RUSTFLAGS and cargo rebuilds.
  pgo_file="$PWD/target/pgo/wasmgate-$(sha256sum "$pgo_profile" | cut -c1-16).profdata"
  if [[ ! -f "$pgo_file" ]]; then
    mkdir -p target/pgo
    gzip -dc "$pgo_profile" > "$pgo_file.part"
    mv "$pgo_file.part" "$pgo_file"
  fi
  # Functions changed since the profile was recorded are built without it; LLVM's warning for
  # each of them is turned off.
  export RUSTFLAGS="-Cprofile-use=$pgo_file -Cllvm-args=-no-pgo-warn-mismatch"
fi
unset pgo_profile pgo_file
