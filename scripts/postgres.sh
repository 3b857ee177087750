#!/usr/bin/env bash
# A throwaway PostgreSQL server on loopback for tests, benchmarks and the local fleet.
#   scripts/postgres.sh start DIR [PORT]   initdb (first time) and start; prints the admin URI
#   scripts/postgres.sh stop DIR           fast shutdown
# Runs as the `postgres` user when started by root (initdb refuses root). Trust authentication
# on 127.0.0.1 only; fsync off unless PG_DURABLE=1 (test data, not durable data).
set -euo pipefail
action=${1:?start|stop}
dir=${2:?data directory}
port=${3:-55432}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[[ -x $bin/initdb ]] || { echo "postgres.sh: PostgreSQL is not installed (scripts/install-deps.sh)" >&2; exit 1; }
as_postgres=()
if [[ $(id -u) -eq 0 ]]; then as_postgres=(runuser -u postgres --); fi

case $action in
  start)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [[ $(id -u) -eq 0 ]]; then chown postgres: "$dir"; fi
    if [[ ! -f $dir/pgdata/PG_VERSION ]]; then
      "${as_postgres[@]}" "$bin/initdb" -D "$dir/pgdata" -A trust -U postgres -E UTF8 --locale=C \
        --no-sync >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    [[ ${PG_DURABLE:-0} == 1 ]] && durability=""
    "${as_postgres[@]}" "$bin/pg_ctl" -D "$dir/pgdata" -l "$dir/server.log" -w -t 60 \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=400 $durability" \
      start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    echo "postgresql://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    [[ -f $dir/pgdata/postmaster.pid ]] || exit 0
    "${as_postgres[@]}" "$bin/pg_ctl" -D "$dir/pgdata" -m fast -w stop >/dev/null
    ;;
  *)
    echo "usage: scripts/postgres.sh start|stop DIR [PORT]" >&2
    exit 2
    ;;
esac
