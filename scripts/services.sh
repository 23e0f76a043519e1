#!/usr/bin/env bash
# The database servers the tests use, on loopback with their own data under target/services:
#   scripts/services.sh start   starts Postgres on 127.0.0.1:55432 and prints the variables to
#                               export (eval "$(scripts/services.sh start)")
#   scripts/services.sh stop    stops it and removes its data
# Needs the Debian `postgresql` package (`.ci/run` installs it). As root, the server runs as the
# `postgres` user the package creates (Postgres refuses to run as root).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="$root/target/services"
pg_port=55432
pg_bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
as_owner() {
  if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-}" in
start)
  [[ -x "$pg_bin/pg_ctl" ]] || { echo "postgresql is not installed (apt-get install postgresql)" >&2; exit 1; }
  "$0" stop >/dev/null 2>&1 || true
  mkdir -p "$dir/pg"
  [[ $(id -u) == 0 ]] && chown postgres "$dir/pg"
  as_owner "$pg_bin/initdb" -D "$dir/pg" -A trust -U wasmgate --no-sync >"$dir/pg-init.log"
  as_owner "$pg_bin/pg_ctl" -D "$dir/pg" -l "$dir/pg/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $dir/pg -c fsync=off" start >/dev/null
  echo "export WASMGATE_TEST_POSTGRES_URL=postgres://wasmgate@127.0.0.1:$pg_port/postgres"
  ;;
stop)
  if [[ -f "$dir/pg/postmaster.pid" ]]; then
    as_owner "$pg_bin/pg_ctl" -D "$dir/pg" -m fast -w stop >/dev/null || true
  fi
  rm -rf "$dir/pg"
  ;;
*)
  echo "usage: $0 start|stop" >&2
  exit 2
  ;;
esac
