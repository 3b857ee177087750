#!/usr/bin/env bash
# Installs the test servers the suite starts on loopback (s3rver: the S3 API; sqslite: SQS) and
# playwright-core (drives Debian's chromium in the web UI's browser tests) into .test-servers/,
# with the machine's Node.js and npm (Debian's when absent). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-node.sh
mkdir -p .test-servers
if [[ ! -f .test-servers/node_modules/s3rver/bin/s3rver.js ||
      ! -f .test-servers/node_modules/sqslite/bin/cli.js ||
      ! -f .test-servers/node_modules/playwright-core/package.json ]]; then
  echo "test-servers: installing s3rver, sqslite and playwright-core" >&2
  cp scripts/test-servers.package.json .test-servers/package.json
  (cd .test-servers && npm install --no-audit --no-fund --loglevel=error >/dev/null)
fi
