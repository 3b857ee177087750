#!/usr/bin/env bash
# The README's second command: installs what is missing, then builds and runs every test in
# the debug build and again under AddressSanitizer + UndefinedBehaviorSanitizer.
# Usage: scripts/test.sh [PRESET...]   (default: debug asan)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/test-servers.sh
presets=("$@")
((${#presets[@]})) || presets=(debug asan)
scripts/check-format.sh
for preset in "${presets[@]}"; do
  echo "== $preset: build" >&2
  scripts/build.sh "$preset"
  echo "== $preset: test" >&2
  ctest --preset "$preset" -j"$(nproc)" --timeout 600
done
