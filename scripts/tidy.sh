#!/usr/bin/env bash
# Runs clang-tidy (.clang-tidy, curated) over the project's sources using the debug build's
# compile database. Usage: scripts/tidy.sh [FILES...]   (default: every src/*.cc)
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -f build/debug/compile_commands.json ]] || scripts/build.sh debug >&2
files=("$@")
((${#files[@]})) || mapfile -t files < <(git ls-files 'src/*.cc')
clang-tidy -p build/debug --quiet "${files[@]}"
