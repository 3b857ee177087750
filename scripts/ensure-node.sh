#!/usr/bin/env bash
# Makes sure Node.js and npm are on the PATH (Debian's packages when absent). Idempotent; used by
# the scripts that install npm packages (the test servers, the local model).
set -euo pipefail
if ! command -v npm >/dev/null 2>&1; then
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  echo "ensure-node: installing nodejs npm" >&2
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
