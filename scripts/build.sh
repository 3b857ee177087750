#!/usr/bin/env bash
# Configures and builds one CMake preset (debug, asan or release). Usage: scripts/build.sh PRESET
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-release}
scripts/fetch-models.sh
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -- -j"$(nproc)"
