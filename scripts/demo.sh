#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, makes the sample media and runs
# the main job over it on embedded defaults (./sluice-data).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh release
scripts/make-samples.sh sluice-data/samples
exec build/release/src/cli/sluice demo --data sluice-data "$@"
