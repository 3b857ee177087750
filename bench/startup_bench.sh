#!/usr/bin/env bash
# Start-up benchmark (issue 10): what commands that analyse nothing cost, now and at a baseline
# revision built in the same run.
#   sluice --version, jobs, submit, status, results: wall time and peak RSS, median of RUNS;
#   sluice run --fetch-only of FILES small files from a loopback nginx: peak RSS and seconds;
#   the shared libraries the binary loads at start.
# Usage: bench/startup_bench.sh [FILES]   (default 5000; BASELINE=REV also measures that
# revision, built in a temporary worktree). Prints a Markdown report on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
files=${1:-5000}
runs=${RUNS:-11}
scripts/install-deps.sh
scripts/build.sh release >&2
export OPENBLAS_NUM_THREADS=1

work=$(mktemp -d /tmp/sluice-startup.XXXXXX)
chmod 755 "$work"  # nginx's worker runs as nobody
nginx_pid=""; baseline_tree=""
cleanup() {
  [[ -n $nginx_pid ]] && kill "$nginx_pid" 2>/dev/null || true
  [[ -n $baseline_tree ]] && git worktree remove --force "$baseline_tree" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

declare -A binaries=([now]=$PWD/build/release/src/cli/sluice)
labels=(now)
if [[ -n ${BASELINE:-} ]]; then
  baseline_tree=$work/baseline
  git worktree add --detach "$baseline_tree" "$BASELINE" >&2
  (cd "$baseline_tree" && scripts/build.sh release >&2)
  binaries[baseline]=$baseline_tree/build/release/src/cli/sluice
  labels=(baseline now)
fi

build/release/bench/bench_tool make-files "$work/www" "$files" 2000 6000
start_nginx f00000.jpg
for ((i = 0; i < files; i++)); do printf 'http://127.0.0.1:%s/f%05d.jpg\n' "$port" "$i"; done \
  > "$work/urls.txt"
head -n 3 "$work/urls.txt" > "$work/three.txt"

# median LABEL NAME COMMAND...: "milliseconds rss_mb", the median of $runs runs by time. The
# wall clock is read around GNU time (which adds ~1 ms of its own fork and exec); it reports
# the peak RSS.
median() {
  local label=$1 name=$2; shift 2
  for ((r = 0; r < runs; r++)); do
    local t0 t1
    t0=$(date +%s%N)
    /usr/bin/time -f "%M" -o "$work/rss" "$@" >"$work/out" 2>"$work/err" || {
      echo "bench: $label $name failed" >&2; tail -n 20 "$work/out" "$work/err" >&2; exit 1; }
    t1=$(date +%s%N)
    echo "$(( (t1 - t0) / 1000 )) $(tail -n 1 "$work/rss")" >> "$work/samples"
  done
  sort -n "$work/samples" | sed -n "$(( (runs + 1) / 2 ))p" |
    awk '{ printf "%.1f %.1f\n", $1 / 1000, $2 / 1024 }'
  rm -f "$work/samples"
}

echo "| command | revision | ms (median of $runs) | peak RSS MB |"
echo "|---|---|---|---|"
for label in "${labels[@]}"; do
  sluice=${binaries[$label]}
  data=$work/data-$label
  "$sluice" run --fetch-only --allow-private --data "$data" "$work/three.txt" >/dev/null 2>&1
  token=$("$sluice" submit --data "$data" "$work/three.txt" 2>/dev/null)
  for cmd in "--version" "jobs --data $data" "status $token --data $data" \
             "results --data $data" "submit --data $data --set again $work/three.txt"; do
    # shellcheck disable=SC2086
    read -r ms mb < <(median "$label" "$cmd" "$sluice" $cmd)
    echo "| \`sluice ${cmd%% *}\` | $label | $ms | $mb |"
  done
  runs_before=$runs; runs=3
  read -r ms mb < <(median "$label" fetch-only bash -c \
    "rm -rf '$work/fetch-$label' && '$sluice' run --fetch-only --allow-private --concurrency 64 \
     --progress none --data '$work/fetch-$label' '$work/urls.txt'")
  runs=$runs_before
  echo "| \`sluice run --fetch-only\` ($files files) | $label | $ms | $mb |"
  libs=$(LD_DEBUG=libs "$sluice" --version 2>&1 | grep -c 'calling init' || true)
  echo "| shared libraries initialised by \`--version\` | $label | $libs | |"
done
