#!/usr/bin/env bash
# Similarity search at scale: COUNT (default 1,000,000) clustered 512-d vectors in each index
# kind that fits in memory no larger than the raw vectors (ivfsq, ivfpq) and in HNSW for
# reference; recall@10 against exact search measured in the same run, queries per second one at
# a time and in batches of 100, build time, index size. Usage: bench/index_bench.sh [COUNT]
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-1000000}
scripts/install-deps.sh
scripts/build.sh release >/dev/null
export OPENBLAS_NUM_THREADS=1
for run in "ivfsq 8" "ivfsq 16" "ivfsq 32" "ivfpq 32" "hnsw 0"; do
  set -- $run
  /usr/bin/time -f '{"peak_rss_mb":%M}' build/release/bench/index_bench "$count" 512 "$1" "$2" 2>&1 |
    tr '\n' ' '
  echo
done
