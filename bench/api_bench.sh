#!/usr/bin/env bash
# The HTTP API under load (issue 13), in one run on loopback:
#   status polls — GET /v1/jobs/{token} of a finished job of ITEMS URLs, by wrk (2 threads, 64
#   connections, DURATION s) against `sluice serve` and against the same endpoint in Python
#   (bench/python_status_server.py: aiohttp, one process, reading the same SQLite file):
#   requests/s, p50, p99, peak RSS;
#   the real-time path — POST /v1/analyze of PICTURES distinct 800×450 pictures one after
#   another (the default pipeline: local methods): latency p50/p99 against the time of the
#   request's own steps (millis_by_method) and the analysis it reports;
#   a gallery of GALLERY items — pages of the UI's set view (GET /v1/sets/{set}/items?limit=60):
#   the first, one near the end, and filters that scan every result.
# Usage: bench/api_bench.sh [ITEMS] [DURATION_S] [PICTURES] [GALLERY]   (default 100, 10, 30,
# 10000). Markdown on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
items=${1:-100}
duration=${2:-10}
pictures=${3:-30}
gallery=${4:-10000}
scripts/install-deps.sh
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-aiohttp >/dev/null
scripts/build.sh release >&2
sluice=build/release/src/cli/sluice
export OPENBLAS_NUM_THREADS=1

work=$(mktemp -d "${BENCH_DIR:-/tmp}/sluice-api-bench.XXXXXX")
chmod 755 "$work"
nginx_pid=""; server_pid=""
cleanup() {
  [[ -n $nginx_pid ]] && kill "$nginx_pid" 2>/dev/null || true
  [[ -n $server_pid ]] && { pkill -P "$server_pid"; kill "$server_pid"; } 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# GALLERY distinct small PNGs; a finished job of the first ITEMS of them.
serve_distinct_pngs "$((gallery > items ? gallery : items))"
head -n "$items" "$work/urls.txt" > "$work/job-urls.txt"
printf '[[cycle]]\n[[cycle.item]]\nmethod = "image.phash"\n' > "$work/cheap.toml"
data=$work/data
token=$("$sluice" submit "$work/job-urls.txt" --set polled --data "$data" --json |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
"$sluice" worker --data "$data" --allow-private --exit-when-idle --poll 0.1 \
  --pipeline "$work/cheap.toml" 2>/dev/null
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_for() { for _ in $(seq 100); do curl -sf "$1" -o /dev/null && return; sleep 0.1; done; echo "bench: $1 did not answer" >&2; return 1; }

# Stops the server under /usr/bin/time (which ignores SIGINT itself) and waits for its report.
stop_server() {
  pkill -INT -P "$server_pid" || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

# run_wrk NAME URL: one wrk run; prints a table row. The server is $server_pid under time -v.
run_wrk() {
  wrk -t2 -c64 -d"${duration}s" --latency "$2" > "$work/wrk-$1.txt"
  stop_server
  python3 - "$work/wrk-$1.txt" "$work/time-$1.txt" "$1" <<'PY'
import re, sys
wrk, timing, name = open(sys.argv[1]).read(), open(sys.argv[2]).read(), sys.argv[3]
def ms(label):
    m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", wrk, re.M)
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", wrk).group(1))
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", wrk)
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", timing).group(1)) / 1024
print(f"| {name} | {rps:,.0f} | {ms(50):.2f} | {ms(99):.2f} | {rss:.0f} | {errors.group(1) if errors else 0} |")
open(f"{sys.argv[1]}.rps", "w").write(str(rps))
PY
}

echo "## API status polls: GET /v1/jobs/{token}, $items-URL job, wrk -t2 -c64 -d${duration}s"
echo
echo "| server | requests/s | p50 ms | p99 ms | peak RSS MB | non-2xx |"
echo "|---|---:|---:|---:|---:|---:|"
port_sluice=$(free_port)
/usr/bin/time -v -o "$work/time-sluice.txt" "$sluice" serve --data "$data" --no-auth \
  --listen "127.0.0.1:$port_sluice" 2>/dev/null &
server_pid=$!
wait_for "http://127.0.0.1:$port_sluice/v1/jobs/$token"
run_wrk sluice "http://127.0.0.1:$port_sluice/v1/jobs/$token"
port_python=$(free_port)
/usr/bin/time -v -o "$work/time-python-aiohttp.txt" /usr/bin/python3 bench/python_status_server.py \
  "$data/sluice.db" "$port_python" 2>/dev/null &
server_pid=$!
wait_for "http://127.0.0.1:$port_python/v1/jobs/$token"
run_wrk python-aiohttp "http://127.0.0.1:$port_python/v1/jobs/$token"
python3 -c "import sys; a=float(open('$work/wrk-sluice.txt.rps').read()); b=float(open('$work/wrk-python-aiohttp.txt.rps').read()); print(f'\nsluice / Python: {a/b:.1f}x')"

# The real-time path: distinct pictures (no result-cache hits), one request at a time.
echo
echo "## POST /v1/analyze: $pictures distinct 800×450 JPEGs, default pipeline, one at a time"
echo
mkdir -p "$work/pictures"
for ((i = 0; i < pictures; i++)); do
  convert -size 800x450 "gradient:#$(printf '%02x' $((i * 7 % 256)))4080-#f0a030" \
    -font DejaVu-Sans-Bold -fill white -pointsize 64 -annotate +60+200 "SALE $i%" -pointsize 28 \
    -annotate +60+280 "two for one, today only" -quality 90 "$work/pictures/p$i.jpg"
done
port_sluice=$(free_port)
/usr/bin/time -v -o "$work/time-analyze.txt" "$sluice" serve --data "$data" --no-auth \
  --listen "127.0.0.1:$port_sluice" 2>/dev/null &
server_pid=$!
wait_for "http://127.0.0.1:$port_sluice/healthz"
for ((i = 0; i < pictures; i++)); do
  curl -s -o "$work/answer-$i.json" -w '%{time_total}\n' -X POST -H 'Content-Type: image/jpeg' \
    --data-binary "@$work/pictures/p$i.jpg" "http://127.0.0.1:$port_sluice/v1/analyze?set=bench-now"
done > "$work/latency.txt"
stop_server
python3 - "$work" "$pictures" <<'PY'
import json, re, statistics, sys
work, n = sys.argv[1], int(sys.argv[2])
latency = [float(x) * 1000 for x in open(f"{work}/latency.txt").read().split()]
steps, analysis = [], []
for i in range(n):
    answer = json.load(open(f"{work}/answer-{i}.json"))
    assert answer["status"] == "ok" and answer["steps_run"] > 0, answer
    steps.append(sum(answer["millis_by_method"].values()))
    analysis.append(answer["seconds"] * 1000)
def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)",
                    open(f"{work}/time-analyze.txt").read()).group(1)) / 1024
print("| measure | p50 ms | p99 ms |")
print("|---|---:|---:|")
print(f"| request (curl time_total) | {pct(latency, 50):.1f} | {pct(latency, 99):.1f} |")
print(f"| analysis as the server reports it (fetch to commit) | {pct(analysis, 50):.1f} | {pct(analysis, 99):.1f} |")
print(f"| the steps' own time, summed | {pct(steps, 50):.1f} | {pct(steps, 99):.1f} |")
print(f"\nrequest p50 / steps p50: {pct(latency, 50) / pct(steps, 50):.2f}x; peak RSS {rss:.0f} MB")
PY

# The gallery: GALLERY items in one set, pages as the UI asks for them.
echo
echo "## A set of $gallery items: GET /v1/sets/gallery/items?limit=60 (median of 5, ms)"
echo
"$sluice" run "$work/urls.txt" --set gallery --data "$data" --allow-private \
  --pipeline "$work/cheap.toml" > /dev/null 2>&1
port_sluice=$(free_port)
/usr/bin/time -v -o "$work/time-gallery.txt" "$sluice" serve --data "$data" --no-auth \
  --listen "127.0.0.1:$port_sluice" 2>/dev/null &
server_pid=$!
wait_for "http://127.0.0.1:$port_sluice/healthz"
base="http://127.0.0.1:$port_sluice/v1/sets/gallery/items?limit=60"
near_end=$(sed -n "$((gallery - 30))p" "$work/urls.txt" | python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.stdin.read().strip(), safe=""))')
echo "| page | ms | items |"
echo "|---|---:|---:|"
for spec in "first page|" "a page near the end|&cursor=$near_end" "words matching nothing (every result scanned)|&q=no-such-words" \
    "words matching one item|&q=$(printf 'i%05d.png' $((gallery - 1)))" "failed only|&status=failed"; do
  label=${spec%%|*}; query=${spec#*|}
  for _ in 1 2 3 4 5; do curl -s -o "$work/page.json" -w '%{time_total}\n' "$base$query"; done > "$work/page-times.txt"
  count=$(python3 -c "import json; print(len(json.load(open('$work/page.json'))['items']))")
  median=$(sort -n "$work/page-times.txt" | sed -n 3p)
  printf '| %s | %.1f | %s |\n' "$label" "$(python3 -c "print($median * 1000)")" "$count"
done
stop_server
