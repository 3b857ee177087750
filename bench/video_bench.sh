#!/usr/bin/env bash
# Video analysis benchmark (issue 11): the one-pass analysis (video.shots + video.defects over
# one decode: shots, black, frozen, bars, slate, silence, loudness, clipping) against, on the
# same files in the same run,
#   (a) decoding alone: ffmpeg -threads 1 ... -f null -            (the floor)
#   (b) ffmpeg -threads 1 with scdet,blackdetect,freezedetect and silencedetect,ebur128
# each single-threaded (fps per core = frames / CPU seconds). Median of RUNS runs (default 5).
# Whole process: CPU seconds of the command as it is. Per item: the same less the command's
# CPU on a 0.2 s clip of the fixture, i.e. without process start-up (sluice loads ~260 shared
# libraries, OpenCV's codecs among them, which a worker pays once, not per item).
# LONG=1 also measures the peak RSS of the one pass over a one-hour 1080p video (a 60 s clip
# looped by stream copy; takes ~15 min).
# Usage: bench/video_bench.sh   Prints a Markdown report on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-5}
scripts/install-deps.sh
scripts/build.sh release >&2
export OPENBLAS_NUM_THREADS=1
pass=$PWD/build/release/bench/video_pass_bench
work=$(mktemp -d /tmp/sluice-video.XXXXXX)
trap 'rm -rf "$work"' EXIT

# A minute of edited video at SIZE: four scenes a cut apart, a black stretch, a still, bars,
# and a tone with a silent gap.
make_fixture() {  # make_fixture FILE SIZE SECONDS
  local s="size=$2:rate=25" d=$(($3 / 6))
  ffmpeg -v error -y -filter_complex \
    "testsrc2=$s:d=$((d * 2))[a];color=c=black:$s:d=$d[b];testsrc=$s:d=$d[c];smptebars=$s:d=$d[e];gradients=$s:d=$d:speed=0.02:seed=1[f];[a][b][c][e][f]concat=n=5:v=1:a=0[v];sine=f=440:d=$((d * 3)):sample_rate=48000[t1];anullsrc=r=48000:cl=stereo:d=$d[q];sine=f=660:d=$((d * 2)):sample_rate=48000[t2];[t1][q][t2]concat=n=3:v=0:a=1,aformat=channel_layouts=stereo[s]" \
    -map "[v]" -map "[s]" -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac "$1"
}

# cpu_seconds CMD...: prints "user+sys max_rss_kb" of one run.
cpu_seconds() {
  /usr/bin/time -f "%U %S %M" -o "$work/time" "$@" > "$work/out" 2> "$work/err" || {
    cat "$work/err" >&2
    return 1
  }
  awk '{printf "%.3f %d\n", $1 + $2, $3}' "$work/time"
}

median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

measure() {  # measure LABEL CMD... → prints the median CPU seconds
  shift  # the label names the measurement for a reader of this script
  local cpu=()
  for ((r = 0; r < runs; r++)); do cpu+=("$(cpu_seconds "$@" | cut -d' ' -f1)"); done
  printf '%s\n' "${cpu[@]}" | median
}

# three_ways FILE: median CPU seconds of decoding alone, the ffmpeg filters and the one pass.
three_ways() {
  local decode filters ours
  decode=$(measure decode ffmpeg -v error -threads 1 -i "$1" -f null -)
  filters=$(measure filters ffmpeg -v error -threads 1 -filter_threads 1 -i "$1" \
    -vf "scdet,blackdetect,freezedetect" -af "silencedetect,ebur128" -f null -)
  ours=$(measure pass "$pass" "$1" video.shots video.defects)
  echo "$decode $filters $ours"
}

echo "## Video: one-pass analysis against ffmpeg ($(date -u +%Y-%m-%d), $(nproc) cores, median of $runs)"
echo
echo "| file | frames | | decode only (ffmpeg) | ffmpeg detect filters | sluice one pass | one pass / decode | one pass / filters | sluice fps per core |"
echo "|---|---|---|---|---|---|---|---|---|"
for spec in "640x360 60" "1920x1080 30"; do
  read -r size seconds <<< "$spec"
  file=$work/fixture-$size.mp4
  tiny=$work/tiny-$size.mp4
  make_fixture "$file" "$size" "$seconds"
  ffmpeg -v error -y -i "$file" -t 0.2 -c copy "$tiny"
  frames=$("$pass" "$file" video.shots | sed 's/.*"frames": \([0-9]*\).*/\1/')
  read -r decode filters ours < <(three_ways "$file")
  read -r decode0 filters0 ours0 < <(three_ways "$tiny")
  awk -v f="$frames" -v d="$decode" -v x="$filters" -v o="$ours" -v s="$size" \
    -v d0="$decode0" -v x0="$filters0" -v o0="$ours0" 'BEGIN {
    printf "| %s | %d | whole process | %.2f s | %.2f s | %.2f s | %.2f | %.2f | %.0f |\n", s, f, d, x, o, o / d, o / x, f / o
    d -= d0; x -= x0; o -= o0
    printf "| | | per item | %.2f s | %.2f s | %.2f s | **%.2f** | **%.2f** | %.0f |\n", d, x, o, o / d, o / x, f / o }'
done
echo
echo "CPU seconds are user + system (/usr/bin/time); every tool single-threaded (ffmpeg -threads 1"
echo "-filter_threads 1; sluice decodes with one thread per item). Per item = whole process less the"
echo "same command on a 0.2 s clip of the fixture (process start-up, paid once by a worker)."

if [[ ${LONG:-0} == 1 ]]; then
  clip=$work/minute-1080.mp4
  make_fixture "$clip" 1920x1080 60
  ffmpeg -v error -y -stream_loop 59 -i "$clip" -c copy "$work/hour-1080.mp4"
  read -r cpu rss < <(cpu_seconds "$pass" "$work/hour-1080.mp4" video.shots video.defects)
  echo
  echo "One hour of 1080p (60 s looped by stream copy), one pass: peak RSS $((rss / 1024)) MB, ${cpu} s CPU."
fi
