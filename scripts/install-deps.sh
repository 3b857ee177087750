#!/usr/bin/env bash
# Installs every Debian package that building, the demo, the tests and the benchmarks need.
# Idempotent and quiet: packages already present are not reinstalled, and apt's lists are
# refreshed only when something is missing (a fresh machine has none).
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config clang-format clang-tidy git ca-certificates
  # libraries (DESIGN.md "Dependencies")
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libcurl4-openssl-dev libssl-dev libsqlite3-dev libabsl-dev
  libspdlog-dev libfmt-dev libcli11-dev libtomlplusplus-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # S3 and SQS XML, the Postgres backend and its test server (issue 5)
  libpugixml-dev libpq-dev postgresql
  # media decoding and the local AI methods (issue 3)
  libavformat-dev libavcodec-dev libavutil-dev libswscale-dev
  # video: audio resampling, EBU R128 loudness, the local transcript (issue 11)
  libswresample-dev libebur128-dev libpocketsphinx-dev libsphinxbase-dev pocketsphinx-en-us
  libopencv-core-dev libopencv-imgproc-dev libopencv-imgcodecs-dev libopencv-objdetect-dev opencv-data
  # the local image embedding and safety network (issue 12)
  libopencv-dnn-dev libopencv-features2d-dev
  libtesseract-dev libleptonica-dev tesseract-ocr-eng
  # the vector index (issue 12); OpenBLAS replaces the reference BLAS FAISS would run on (its
  # k-means and exact search are 25× faster)
  libfaiss-dev libopenblas0-pthread
  # sample media for the demo and test fixtures
  imagemagick fonts-dejavu-core ffmpeg espeak-ng
  # the quality corpus (bench/quality): more fonts; the OCR dictionary check
  fonts-liberation fonts-freefont-ttf fonts-open-sans fonts-roboto-unhinted fonts-lato wamerican
  # benchmarks: reference clients, the loopback web server, peak-RSS measurement
  curl aria2 wget2 nginx-light time python3
  # the backfill test reads its .npy outputs with NumPy; the deploy check reads YAML
  python3-numpy python3-yaml
  # the web UI's browser tests (driven by npm playwright-core) and the API benchmark's load
  # generator (issue 13)
  chromium wrk
  # the libFuzzer targets (fuzz/, scripts/fuzz.sh; issue 16)
  clang-14 libfuzzer-14-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq >/dev/null
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# nginx-light's package starts a system nginx on port 80; the benchmark runs its own on loopback.
if command -v systemctl >/dev/null 2>&1; then "${sudo_cmd[@]}" systemctl disable --now nginx >/dev/null 2>&1 || true; fi
"${sudo_cmd[@]}" pkill -x nginx >/dev/null 2>&1 || true
# Debian's postgresql package starts a cluster on port 5432; tests and the fleet script run their
# own servers on loopback instead.
if command -v pg_lsclusters >/dev/null 2>&1; then
  pg_lsclusters -h 2>/dev/null | while read -r version name _; do
    "${sudo_cmd[@]}" pg_ctlcluster "$version" "$name" stop >/dev/null 2>&1 || true
  done
fi
