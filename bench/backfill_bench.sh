#!/usr/bin/env bash
# The backfill on this machine: IMAGES (default 100,000) small generated PNGs staged in the local
# store, planned in three shards; shard 0 alone (one process), then shards 1 and 2 at once (two
# processes), then the load into a throwaway Postgres. Then S3_IMAGES (default 2,000) through
# s3rver. Reports images/s per process, per-image cost by stage (read, each method) against the
# process's CPU time per image (the engine's share), and the projection for 500 million images
# on 100 workers like this one. Usage: bench/backfill_bench.sh [IMAGES] [S3_IMAGES]
set -euo pipefail
cd "$(dirname "$0")/.."
images=${1:-100000}
s3_images=${2:-2000}
methods=${METHODS:-image.phash,image.embedding,image.safety}
scripts/install-deps.sh
scripts/test-servers.sh
scripts/build.sh release >/dev/null
sluice=$PWD/build/release/src/cli/sluice
work=$(mktemp -d "${BENCH_DIR:-/tmp}/sluice-backfill-XXXXXX")
pg_dir=$(mktemp -d /tmp/sluice-backfill-pg-XXXXXX)  # its own: the server runs as another user
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  scripts/postgres.sh stop "$pg_dir" >/dev/null 2>&1 || true
  rm -rf "$work" "$pg_dir"
}
trap cleanup EXIT
export OPENBLAS_NUM_THREADS=1
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

stage() {  # stage COUNT DIR: COUNT distinct 96x64 PNGs in DIR, and DIR/manifest.txt of keys
  mkdir -p "$2"
  ffmpeg -loglevel error -f lavfi -i "testsrc2=size=96x64:rate=25" -frames:v "$1" "$2/img-%07d.png"
  (cd "$2" && ls | grep '^img-.*\.png$' | sed "s|^|$3|") >"$2/manifest.txt"  # no glob: 100k names
}

data=$work/data
echo "bench: staging $images images" >&2
stage "$images" "$data/staged" staged/
shard_size=$(((images + 2) / 3))
"$sluice" backfill plan --manifest staged/manifest.txt --shard-size "$shard_size" --data "$data" >&2
run_shard() {  # run_shard K: the shard's JSON report, then /usr/bin/time's wall, user, sys, RSS
  /usr/bin/time -f '%e %U %S %M' -o "$work/time.$1" \
    "$sluice" backfill run --manifest staged/manifest.txt --shard "$1" --methods "$methods" \
    --data "$data" --json >"$work/report.$1"
}
echo "bench: shard 0 alone" >&2
run_shard 0
echo "bench: shards 1 and 2 at once" >&2
start=$(date +%s.%N)
run_shard 1 &
one=$!
run_shard 2 &
two=$!
wait "$one" "$two"
both=$(python3 -c "import time; print(time.time() - $start)")

pg_port=$(free_port)
db=$(scripts/postgres.sh start "$pg_dir" "$pg_port" | tail -1)
/usr/bin/time -f '%e %U %S %M' -o "$work/time.load" \
  "$sluice" backfill load --manifest staged/manifest.txt --data "$data" --db "$db" --json \
  >"$work/report.load"

# The same through s3rver: images uploaded first, then plan, one shard, load.
s3_port=$(free_port)
mkdir -p "$work/s3"
node .test-servers/node_modules/s3rver/bin/s3rver.js -d "$work/s3" -a 127.0.0.1 -p "$s3_port" \
  --silent --configure-bucket bench >"$work/s3rver.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$s3_port/" && break; sleep 0.1; done
echo "bench: uploading $s3_images images to s3rver" >&2
stage "$s3_images" "$work/s3-staged" s3-staged/
(cd "$work/s3-staged" && for f in img-*.png manifest.txt; do
  curl -sf -X PUT --data-binary "@$f" "http://127.0.0.1:$s3_port/bench/s3-staged/$f" -o /dev/null
done)
export AWS_ENDPOINT_URL=http://127.0.0.1:$s3_port AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
s3data=$work/s3data
"$sluice" backfill plan --manifest s3://bench/s3-staged/manifest.txt --shard-size "$s3_images" \
  --store s3://bench --data "$s3data" >&2
/usr/bin/time -f '%e %U %S %M' -o "$work/time.s3" \
  "$sluice" backfill run --manifest s3://bench/s3-staged/manifest.txt --shard 0 --store s3://bench \
  --methods "$methods" --data "$s3data" --json >"$work/report.s3"
"$sluice" backfill load --manifest s3://bench/s3-staged/manifest.txt --store s3://bench \
  --data "$s3data" --db "$db" --json >"$work/report.s3load"

python3 - "$work" "$images" "$both" "$s3_images" <<'EOF'
import json, sys
work, images, both, s3_images = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
def report(name): return json.load(open(f"{work}/report.{name}"))
def time(name):
    wall, user, system, rss = open(f"{work}/time.{name}").read().split()
    return float(wall), float(user) + float(system), int(rss)
r0 = report("0"); w0, cpu0, rss0 = time("0")
n0 = r0["images"]
stages = dict(r0["millis_per_image_by_method"]); stages["read"] = r0["read_millis_per_image"]
methods_ms = sum(stages.values())
cpu_ms = cpu0 * 1000 / n0
r12 = [report("1"), report("2")]; n12 = sum(r["images"] for r in r12)
rate1, rate2 = n0 / w0, n12 / both
load = report("load"); wl, cpul, rssl = time("load")
s3 = report("s3"); ws3, cpus3, rsss3 = time("s3")
target, workers = 500e6, 100
wall_h = target / (workers * rate2) / 3600
print(f"| images | {images:,} staged PNGs 96x64, 3 shards; methods {', '.join(r0['millis_per_image_by_method'])} |")
print("|---|---|")
print(f"| 1 process (shard 0, {n0:,} images) | {rate1:.1f} images/s, {cpu_ms:.1f} ms CPU per image, peak RSS {rss0/1024:.0f} MB |")
print(f"| 2 processes (shards 1+2, {n12:,} images) | {rate2:.1f} images/s together ({rate2/rate1:.2f}× one) |")
print("| per-image cost by stage (wall ms, in the methods) | " + ", ".join(f"{k} {v:.2f}" for k, v in sorted(stages.items())) + f"; sum {methods_ms:.1f} |")
print(f"| process CPU per image ÷ the stages' sum | {cpu_ms:.1f} / {methods_ms:.1f} = {cpu_ms/methods_ms:.2f}× |")
print(f"| load into Postgres ({load['rows']:,} rows, {load['embeddings']:,} embeddings, index {load['indexes'][0]['kind']}) | {wl:.1f} s, {load['rows']/wl:.0f} rows/s, peak RSS {rssl/1024:.0f} MB |")
print(f"| s3rver ({s3_images:,} images, one process) | {s3['images']/ws3:.1f} images/s (local store: {rate1:.1f}) |")
print(f"| projection: 500 M images, 100 workers of 2 cores, 2 processes each | {wall_h:.1f} h wall, {wall_h*workers:.0f} machine-hours |")
EOF
