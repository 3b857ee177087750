#!/usr/bin/env bash
# Fan-out efficiency of remote methods (issue 4). In one run, against a loopback nginx (media)
# and sluice-fake-provider (an OpenAI-compatible model server answering after LATENCY ms):
#   ITEMS images × 3 remote calls (llm.tags, llm.content_type, llm.seo_filename) with 64, 256
#   and 1,024 calls in flight, through `sluice run` and through a plain Python asyncio+aiohttp
#   pipeline doing the same work (bench/python_pipeline.py): items/s as a fraction of the bound
#   in-flight ÷ (3 × latency), CPU per remote call, peak RSS, and the model server's CPU.
# Usage: bench/remote_bench.sh [ITEMS] [LATENCY_MS]   (default 2000, 200). Markdown on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
items=${1:-2000}
latency=${2:-200}
scripts/install-deps.sh
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-aiohttp >/dev/null
scripts/build.sh release >&2
bin=build/release
sluice=$bin/src/cli/sluice
export OPENBLAS_NUM_THREADS=1

start_fanout_work "${BENCH_DIR:-/tmp}/sluice-remote-bench"  # BENCH_DIR=/dev/shm: no disk

serve_distinct_pngs "$items"

write_three_call_pipeline

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true  # 1,024 calls in flight need more than 1,024 descriptors
echo "## Remote fan-out: $items items × 3 calls, model server latency $latency ms"
echo
echo "| in flight | bound items/s | sluice items/s | of bound | CPU µs/call | peak RSS | server CPU-s | Python items/s | of bound | Python RSS |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for flight in 64 256 1024; do
  start_fake_provider "$latency"
  write_fake_provider_config "$flight"
  rm -rf "$work/data"
  /usr/bin/time -f "%e %M %U %S" -o "$work/time" ${PROFILE:+perf record -g -o "$PROFILE.$flight" --} "$sluice" run "$work/urls.txt" --data "$work/data" \
    --allow-private --concurrency "$flight" --per-host "$flight" --progress none --json \
    --pipeline "$work/pipeline.toml" --config "$work/sluice.toml" > "$work/out.json" 2> "$work/err" || {
      echo "bench: sluice failed" >&2; cat "$work/err" >&2; exit 1; }
  kill -INT "$fake_pid"; wait "$fake_pid" || true; fake_pid=""
  read -r _ rss_kb user sys < "$work/time"
  analysis_s=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['analysis']['seconds'])" "$work/out.json")
  calls=$((items * 3))
  server_cpu=$(sed -n 's/.* \([0-9.]*\) CPU-s/\1/p' "$work/fake.err")

  start_fake_provider "$latency"
  rm -rf "$work/py"; mkdir -p "$work/py"
  /usr/bin/time -f "%e %M %U %S" -o "$work/time.py" /usr/bin/python3 bench/python_pipeline.py \
    "$work/urls.txt" "$fake_url" "$flight" "$work/py" > "$work/py.json"
  kill -INT "$fake_pid"; wait "$fake_pid" || true; fake_pid=""
  read -r _ py_rss_kb _ _ < "$work/time.py"
  py_rate=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['items_per_s'])" "$work/py.json")

  python3 - "$flight" "$latency" "$items" "$analysis_s" "$user" "$sys" "$calls" "$rss_kb" \
    "$server_cpu" "$py_rate" "$py_rss_kb" <<'PY'
import sys
flight, latency, items, seconds, user, sys_s, calls, rss, server, py_rate, py_rss = sys.argv[1:]
bound = int(flight) / (3 * int(latency) / 1000)
rate = int(items) / float(seconds)
cpu_us = (float(user) + float(sys_s)) / int(calls) * 1e6
print(f"| {flight} | {bound:.0f} | {rate:.0f} | {rate / bound:.2f} | {cpu_us:.0f} | "
      f"{int(rss) / 1024:.0f} MB | {server} | {float(py_rate):.0f} | {float(py_rate) / bound:.2f} | "
      f"{int(py_rss) / 1024:.0f} MB |")
PY
done
echo
echo "sluice items/s counts the analysis stage (all $items items fetched first, then analysed);"
echo "CPU µs/call is the whole sluice process (fetch, hashing, store, journal, commit) ÷ remote calls."
