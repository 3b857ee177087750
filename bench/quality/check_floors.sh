#!/usr/bin/env bash
# CI's quality floor (ctest quality_floors): a small corpus made at test time, scored by
# `sluice eval`, held to bench/quality/floors.json. Fails (exit 3) when a score drops below its
# floor. Usage: check_floors.sh SLUICE_BINARY WORK_DIR
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
sluice="$1" work="$2"
rm -rf "$work" && mkdir -p "$work"
python3 "$here/make_corpus.py" "$work/corpus" --creatives 40 --near-groups 6 --seed 14
"$sluice" eval "$work/corpus" --progress none --json "$work/scores.json" \
  --floors "$here/floors.json"
