#!/usr/bin/env bash
# Builds the libFuzzer targets (the "fuzz" preset: clang, ASan + UBSan) and runs each over a
# copy of its seed corpus (fuzz/corpus/NAME/) for FUZZ_SECONDS (default 60). A crash stops the
# run with the target's report and the input that caused it (kept in build/fuzz/crashes/);
# turn that input into a regression test beside the code it broke.
# Usage: scripts/fuzz.sh [NAME...]   (default: every target in fuzz/CMakeLists.txt)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -- -j"$(nproc)"
names=("$@")
((${#names[@]})) || mapfile -t names < <(sed -n 's/^sluice_fuzzer(\([a-z_]*\) .*/\1/p' fuzz/CMakeLists.txt)
crashes=build/fuzz/crashes
mkdir -p "$crashes"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for name in "${names[@]}"; do
  work=$(mktemp -d /tmp/sluice-fuzz-XXXXXX)
  cp -r "fuzz/corpus/$name/." "$work/"
  echo "== fuzz $name: ${seconds} s over $(ls "$work" | wc -l) seeds" >&2
  if ! build/fuzz/fuzz/fuzz_"$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
       -artifact_prefix="$crashes/$name-" -print_final_stats=1 "$work" > "$work.log" 2>&1; then
    grep -v '^#[0-9]' "$work.log" | tail -40 >&2
    echo "fuzz $name: failed; the input is in $crashes/" >&2
    rm -rf "$work" "$work.log"
    exit 1
  fi
  grep -E '^stat::number_of_executed_units|^Done' "$work.log" | tail -1 >&2
  rm -rf "$work" "$work.log"
done
