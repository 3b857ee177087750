#!/usr/bin/env bash
# The README's first command: installs what is missing, builds (the binary carries the sample
# media) and runs the main job over the samples on embedded defaults (./sluice-data).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh release
exec build/release/src/cli/sluice demo --data sluice-data "$@"
