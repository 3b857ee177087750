#!/usr/bin/env bash
# The fleet database's hot paths (issue 5) on a PostgreSQL server this script starts on
# loopback (scripts/postgres.sh) and stops:
#   1. queue: JOBS no-op jobs claimed BATCH at a time and completed by 16, 64 and 256
#      concurrent claimers — once through one process's pool of 16 connections (how a worker
#      shares its connections), once with a connection per claimer (a fleet without a pooler).
#   2. commit: a 100,000-item set (items + one step each) through the COPY path versus
#      row-by-row INSERTs in one transaction.
# Postgres runs with its durable defaults (fsync, synchronous_commit) unless PG_DURABLE=0.
# Usage: bench/db_bench.sh [JOBS] [BATCH]   (default 20000, 8). Markdown on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${1:-20000}
batch=${2:-8}
scripts/install-deps.sh
scripts/build.sh release >&2
bench=build/release/bench/db_bench

work=$(mktemp -d "${BENCH_DIR:-/tmp}/sluice-db-bench.XXXXXX")
cleanup() { scripts/postgres.sh stop "$work" || true; rm -rf "$work"; }
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
admin=$(PG_DURABLE=${PG_DURABLE:-1} scripts/postgres.sh start "$work" "$port")
psql -q "$admin" -c "CREATE DATABASE bench"
uri=${admin%/postgres}/bench

echo "### Queue: claims + completions per second (${jobs} no-op jobs, batch ${batch}, durable=${PG_DURABLE:-1})"
echo
echo "One process, claimers sharing a pool of 16 connections:"
echo
"$bench" queue "$uri" "$jobs" "$batch" 16 16 64 256
echo
echo "A connection per claimer:"
echo
"$bench" queue "$uri" "$jobs" "$batch" 0 16 64 256
echo
echo "### Commit: a 100,000-item set"
echo
"$bench" commit "$uri" 100000
