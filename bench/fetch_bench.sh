#!/usr/bin/env bash
# Whole-process fetch benchmark (issue 2). In one run, against one loopback nginx:
#   5,000 files of 20–60 KB, 64 in flight: sluice run vs curl --parallel vs wget2 vs aria2c,
#   files/s and peak RSS, with output on tmpfs and on disk (BASELINE_SLUICE=path/to/sluice adds
#   another sluice binary's row to the same run: before/after);
#   one 300 MB file from a server that drops the connection three times: bytes sent ÷ size and
#   sluice's peak RSS.
# Usage: bench/fetch_bench.sh [FILES]   (default 5000). Prints a Markdown report on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
files=${1:-5000}
scripts/install-deps.sh
scripts/build.sh release >&2
bin=build/release
sluice=$bin/src/cli/sluice
export OPENBLAS_NUM_THREADS=1

work=$(mktemp -d /tmp/sluice-bench.XXXXXX)
chmod 755 "$work"  # nginx's worker runs as nobody
tmpfs_root=/dev/shm/sluice-bench.$$
disk_root=$PWD/bench/out/run.$$
nginx_pid=""; drop_pid=""
cleanup() {
  [[ -n $nginx_pid ]] && kill "$nginx_pid" 2>/dev/null || true
  [[ -n $drop_pid ]] && kill "$drop_pid" 2>/dev/null || true
  rm -rf "$work" "$tmpfs_root" "$disk_root"
}
trap cleanup EXIT

"$bin/bench/bench_tool" make-files "$work/www" "$files" 20000 60000
start_nginx f00000.jpg

base="http://127.0.0.1:$port"
: > "$work/urls.txt"; : > "$work/curl.cfg"
for ((i = 0; i < files; i++)); do
  name=$(printf 'f%05d.jpg' "$i")
  echo "$base/$name" >> "$work/urls.txt"
done

file_bytes() { find "$1" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'; }

# measure NAME SETUP COMMAND... → "seconds rss_kb": the median of $runs runs (by seconds), each
# after SETUP (a shell snippet that empties the output directory). GNU time measures.
runs=${RUNS:-3}
measure() {
  local name=$1 setup=$2; shift 2
  for ((r = 0; r < runs; r++)); do
    eval "$setup"
    /usr/bin/time -f "%e %M" -o "$work/time.$name.$r" "$@" >"$work/out.$name" 2>"$work/err.$name" || {
      echo "bench: $name failed:" >&2; tail -n 20 "$work/out.$name" "$work/err.$name" >&2; exit 1; }
  done
  cat "$work"/time."$name".* | sort -n | sed -n "$(( (runs + 1) / 2 ))p"
  rm -f "$work"/time."$name".*
}

run_suite() {  # run_suite LABEL ROOT
  local label=$1 root=$2
  rm -rf "$root"; mkdir -p "$root/curl" "$root/aria2" "$root/wget2" "$root/sluice"
  awk -v dir="$root/curl" '{ n = split($0, p, "/"); printf "url = \"%s\"\noutput = \"%s/%s\"\n", $0, dir, p[n] }' \
    "$work/urls.txt" > "$work/curl.cfg"
  read -r curl_s curl_kb < <(measure curl "rm -rf $root/curl; mkdir -p $root/curl" curl -sf --parallel --parallel-max 64 -K "$work/curl.cfg")
  read -r aria_s aria_kb < <(measure aria2 "rm -rf $root/aria2; mkdir -p $root/aria2" aria2c --console-log-level=warn --download-result=hide -j 64 -i "$work/urls.txt" -d "$root/aria2" \
    --file-allocation=none --auto-file-renaming=false --allow-overwrite=true --summary-interval=0)
  read -r wget_s wget_kb < <(measure wget2 "rm -rf $root/wget2; mkdir -p $root/wget2" wget2 -q --max-threads=64 --no-robots \
    -i "$work/urls.txt" -P "$root/wget2")
  local fetch=(run "$work/urls.txt" --allow-private --concurrency 64 --per-host 64 --progress none --json --fetch-only)
  read -r sl_s sl_kb < <(measure sluice "rm -rf $root/sluice" "$sluice" "${fetch[@]}" --data "$root/sluice")
  local base_row=""
  if [[ -n ${BASELINE_SLUICE:-} ]]; then
    read -r bs_s bs_kb < <(measure baseline "rm -rf $root/baseline" "$BASELINE_SLUICE" "${fetch[@]}" --data "$root/baseline")
    base_row=$(awk -v l="$label" -v n="$files" -v s="$bs_s" -v k="$bs_kb" \
      'BEGIN { printf "| %s | sluice run (baseline binary) | %.0f | %.2f | %.1f |", l, n / s, s, k / 1024 }')
  fi
  # Every client must have fetched every byte, or its rate means nothing.
  local want got
  want=$(file_bytes "$work/www")
  local clients="curl aria2 wget2 sluice/objects"
  [[ -n ${BASELINE_SLUICE:-} ]] && clients+=" baseline/objects"
  for client in $clients; do
    got=$(file_bytes "$root/$client")
    (( got == want )) || {
      echo "bench: $client holds $got bytes, expected $want" >&2; exit 1; }
  done
  [[ -n $base_row ]] && echo "$base_row"
  awk -v l="$label" -v n="$files" -v cs="$curl_s" -v ck="$curl_kb" -v as="$aria_s" -v ak="$aria_kb" \
      -v ws="$wget_s" -v wk="$wget_kb" -v ss="$sl_s" -v sk="$sl_kb" 'BEGIN {
    cr = n / cs; ar = n / as; wr = n / ws; sr = n / ss;
    printf "| %s | sluice run | %.0f | %.2f | %.1f |\n", l, sr, ss, sk / 1024;
    printf "| %s | curl --parallel --parallel-max 64 | %.0f | %.2f | %.1f |\n", l, cr, cs, ck / 1024;
    printf "| %s | wget2 --max-threads=64 | %.0f | %.2f | %.1f |\n", l, wr, ws, wk / 1024;
    printf "| %s | aria2c -j 64 | %.0f | %.2f | %.1f |\n", l, ar, as, ak / 1024;
    printf "| %s | **ratios** | sluice/curl **%.2f**, sluice/wget2 **%.2f**, sluice/aria2c **%.2f** | | |\n", l, sr / cr, sr / wr, sr / ar;
  }'
}

echo "### $files files of 20–60 KB from loopback nginx, 64 in flight ($(date -u +%F), $(nproc) cores, median of $runs runs)"
echo
echo "| storage | client | files/s | seconds | peak RSS MB |"
echo "|---|---|---|---|---|"
run_suite tmpfs "$tmpfs_root"
run_suite disk "$disk_root"
rm -rf "$tmpfs_root" "$disk_root"

# One 300 MB file, connection dropped three times.
size=$((300 * 1000 * 1000))
coproc DROP { "$bin/bench/bench_tool" drop-server "$size" 3; }
drop_pid=$DROP_PID
read -r drop_port <&"${DROP[0]}"
echo "http://127.0.0.1:$drop_port/big.jpg" > "$work/big.txt"
runs=1  # the server's byte count covers exactly one download
read -r big_s big_kb < <(measure big "rm -rf $work/big" "$sluice" run "$work/big.txt" --data "$work/big" --allow-private --progress none --json --fetch-only)
sent=$(curl -s "http://127.0.0.1:$drop_port/stats")
echo
echo "### One 300 MB file, connection dropped 3 times"
echo
awk -v s="$sent" -v z="$size" -v t="$big_s" -v k="$big_kb" 'BEGIN {
  printf "bytes sent by the server ÷ file size: **%.4f**; %.2f s; sluice peak RSS %.1f MB\n", s / z, t, k / 1024 }'
