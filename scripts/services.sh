#!/usr/bin/env bash
# The servers the tests use, on loopback with their own data under target/services:
#   scripts/services.sh start   starts Postgres on 127.0.0.1:55432 and Redis on 127.0.0.1:56379
#                               and prints the variables to export
#                               (eval "$(scripts/services.sh start)")
#   scripts/services.sh stop    stops them and removes their data
# Needs the Debian `postgresql` and `redis-server` packages (`.ci/run` installs them). As root,
# Postgres runs as the `postgres` user the package creates (it refuses to run as root).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="$root/target/services"
pg_port=55432
redis_port=56379
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
  redis="$(command -v redis-server || true)"
  [[ -n "$redis" ]] || { echo "redis-server is not installed (apt-get install redis-server)" >&2; exit 1; }
  mkdir -p "$dir/redis"
  "$redis" --bind 127.0.0.1 --port "$redis_port" --dir "$dir/redis" --save "" --appendonly no \
    --daemonize yes --pidfile "$dir/redis/redis.pid" --logfile "$dir/redis/redis.log"
  for _ in $(seq 50); do
    redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  echo "export WASMGATE_TEST_REDIS_URL=redis://127.0.0.1:$redis_port"
  # Tests that stop Redis mid-run start their own from this binary.
  echo "export WASMGATE_TEST_REDIS_SERVER=$redis"
  ;;
stop)
  if [[ -f "$dir/pg/postmaster.pid" ]]; then
    as_owner "$pg_bin/pg_ctl" -D "$dir/pg" -m fast -w stop >/dev/null || true
  fi
  rm -rf "$dir/pg"
  if [[ -f "$dir/redis/redis.pid" ]]; then
    kill "$(cat "$dir/redis/redis.pid")" 2>/dev/null || true
  fi
  rm -rf "$dir/redis"
  ;;
*)
  echo "usage: $0 start|stop" >&2
  exit 2
  ;;
esac
