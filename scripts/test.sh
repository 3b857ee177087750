#!/usr/bin/env bash
# The README's second command: installs what is missing, then builds and runs every test in
# the debug build and again under AddressSanitizer + UndefinedBehaviorSanitizer, against a
# PostgreSQL server, s3rver and sqslite it starts on loopback and stops afterwards.
# Usage: scripts/test.sh [PRESET...]   (default: debug asan, then the fuzz targets for 20 s each)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/test-servers.sh
presets=("$@")
((${#presets[@]})) || presets=(debug asan)
scripts/check-format.sh
# One PostgreSQL server for the whole run; each test makes its own database on it (tests that
# restart a server start a private one). Stopped however the run ends.
pg_dir=$(mktemp -d /tmp/sluice-test-pg-XXXXXX)
stop_postgres() { scripts/postgres.sh stop "$pg_dir" || true; rm -rf "$pg_dir"; }
trap stop_postgres EXIT
pg_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
SLUICE_TEST_POSTGRES=$(scripts/postgres.sh start "$pg_dir" "$pg_port")
export SLUICE_TEST_POSTGRES
for preset in "${presets[@]}"; do
  echo "== $preset: build" >&2
  scripts/build.sh "$preset"
  echo "== $preset: test" >&2
  ctest --preset "$preset" -j"$(nproc)" --timeout 600
done
# The parsers of outside input under libFuzzer (ASan + UBSan), briefly; scripts/fuzz.sh alone
# runs them longer.
if ((${#@} == 0)); then
  FUZZ_SECONDS=${FUZZ_SECONDS:-20} scripts/fuzz.sh
fi
