#!/usr/bin/env bash
# S3 upload memory (issue 16): peak RSS of `sluice run --fetch-only` storing one 235 MB video in
# s3rver — a multipart upload of 16 MiB parts, 4 in flight, so 64 MiB of part bodies is what the
# upload itself must hold — median of RUNS, each to a fresh prefix. BASELINE=BINARY measures
# another build in the same run, interleaved with this one.
# Usage: bench/s3_upload_memory.sh [RUNS]   (default 5; SLUICE=BINARY, default the release build)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
scripts/install-deps.sh >&2
scripts/test-servers.sh >&2
if [[ -z ${SLUICE:-} ]]; then
  scripts/build.sh release >&2
  SLUICE=$PWD/build/release/src/cli/sluice
fi
work=$(mktemp -d /tmp/sluice-s3mem.XXXXXX)
s3_pid=""
cleanup() {
  [[ -n $s3_pid ]] && kill "$s3_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Noise does not compress: 6 s of 720p MPEG-4 at q 2 is about 235 MB.
ffmpeg -loglevel error -y -f lavfi -i testsrc2=size=1280x720:rate=30 -t 6 \
  -vf noise=alls=80:allf=t -c:v mpeg4 -q:v 2 "$work/big.mp4"
echo "$work/big.mp4" > "$work/list.txt"
port=$((20000 + RANDOM % 20000))
mkdir "$work/s3"
node .test-servers/node_modules/s3rver/bin/s3rver.js -d "$work/s3" -a 127.0.0.1 -p "$port" \
  --silent --configure-bucket bench > "$work/s3rver.log" 2>&1 &
s3_pid=$!
for _ in $(seq 50); do curl -s "http://127.0.0.1:$port/" -o /dev/null && break; sleep 0.2; done

# peak_rss BINARY TAG: the peak RSS in kB of one upload.
peak_rss() {
  local data="$work/data-$2"
  rm -rf "$data"
  AWS_ENDPOINT_URL=http://127.0.0.1:$port AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER \
    AWS_REGION=us-east-1 /usr/bin/time -v "$1" run "$work/list.txt" --set upload --fetch-only \
    --allow-files --allow-private --data "$data" --store "s3://bench/$2" > "$work/$2.log" 2>&1
  grep -q "1 ok, 0 failed" "$work/$2.log" || { cat "$work/$2.log" >&2; return 1; }
  awk '/Maximum resident/ {print $NF}' "$work/$2.log"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A peaks
labels=(now)
[[ -n ${BASELINE:-} ]] && labels+=(baseline)
for i in $(seq "$runs"); do
  for label in "${labels[@]}"; do
    binary=$SLUICE
    [[ $label == baseline ]] && binary=$BASELINE
    peaks[$label]+="$(peak_rss "$binary" "$label-$i") "
  done
done
echo "| build | peak RSS, median of $runs (MB) | runs (MB) |"
echo "| --- | --- | --- |"
for label in "${labels[@]}"; do
  values=$(tr ' ' '\n' <<< "${peaks[$label]}" | grep . )
  echo "| $label | $(median <<< "$values" | awk '{printf "%.0f", $1/1024}') |" \
       "$(awk '{printf "%s%.0f", (NR>1?", ":""), $1/1024}' <<< "$values") |"
done
