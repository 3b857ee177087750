#!/usr/bin/env bash
# Remote fan-out, the analysis alone (issue 15): ITEMS distinct PNGs from a loopback nginx are
# fetched by one `sluice run --fetch-only`, then a second `sluice run` analyses them with three
# remote calls each (llm.tags, llm.content_type, llm.seo_filename) against sluice-fake-provider
# at 200 ms, FLIGHT calls in flight; only that second process is measured (/usr/bin/time): its
# items/s as a fraction of the bound FLIGHT ÷ 0.6 s, CPU µs per remote call, peak RSS.
# BASELINE_SLUICE=path runs another binary the same way, alternating with this build's, RUNS
# times each (default 2), in the same run.
# Usage: bench/fanout_bench.sh [ITEMS] [FLIGHT]   (default 3000, 1024). Markdown on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
items=${1:-3000}
flight=${2:-1024}
runs=${RUNS:-2}
scripts/install-deps.sh
scripts/build.sh release >&2
bin=build/release
export OPENBLAS_NUM_THREADS=1

start_fanout_work /dev/shm/sluice-fanout
serve_distinct_pngs "$items"
write_three_call_pipeline
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true  # 1,024 calls in flight need more descriptors
start_fake_provider 200
write_fake_provider_config "$flight"

# measure LABEL SLUICE: one fetch, then the timed analysis; prints a table row.
measure() {
  local label=$1 sluice=$2 data=$work/data.$1
  rm -rf "$data"
  local common=(run "$work/urls.txt" --data "$data" --allow-private --concurrency "$flight"
                --per-host "$flight" --progress none --json)
  "$sluice" "${common[@]}" --fetch-only > /dev/null
  /usr/bin/time -f "%M %U %S" -o "$work/time" "$sluice" "${common[@]}" \
    --pipeline "$work/pipeline.toml" --config "$work/sluice.toml" > "$work/out.json" 2> "$work/err" || {
      echo "bench: $label failed" >&2; cat "$work/err" >&2; exit 1; }
  read -r rss_kb user sys < "$work/time"
  python3 - "$label" "$items" "$flight" "$work/out.json" "$user" "$sys" "$rss_kb" <<'PY'
import json, sys
label, items, flight, out, user, sys_s, rss = sys.argv[1:]
seconds = json.load(open(out))["analysis"]["seconds"]
bound = int(flight) / 0.6
rate = int(items) / seconds
cpu_us = (float(user) + float(sys_s)) / (3 * int(items)) * 1e6
print(f"| {label} | {rate:.0f} | {rate / bound:.2f} | {cpu_us:.0f} | {int(rss) / 1024:.0f} MB |")
PY
  rm -rf "$data"
}

echo "## Remote fan-out, analysis only: $items items × 3 calls, $flight in flight, 200 ms"
echo
echo "| binary | items/s | of bound | CPU µs/call | peak RSS |"
echo "|---|---|---|---|---|"
for ((r = 0; r < runs; r++)); do
  measure "this build" "$bin/src/cli/sluice"
  [[ -n ${BASELINE_SLUICE:-} ]] && measure "baseline" "$BASELINE_SLUICE"
done
