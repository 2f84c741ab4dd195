#!/usr/bin/env bash
# Creates .venv (Python 3.11+) and installs the project with the given extras. Idempotent.
# Usage: scripts/venv.sh server   |   scripts/venv.sh all
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-all}"

PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
      PY="$candidate"; break
    fi
  done
fi
[ -n "$PY" ] || { echo "error: Python 3.11 or newer is required" >&2; exit 2; }

if [ ! -x .venv/bin/python ]; then
  if ! "$PY" -m venv .venv 2>/dev/null; then
    echo "setup: installing python3-venv"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null
    "$PY" -m venv .venv
  fi
  .venv/bin/pip install -q --upgrade pip
fi
# pip is quick when everything is already satisfied.
.venv/bin/pip install -q -e ".[$extras]"
# The ONVIF conformance tests also drive the simulator with the classic onvif-zeep client. It installs a
# package named "onvif", as the server's onvif-zeep-async does, so it gets its own prefix instead of an extra.
if [ "$extras" = "all" ] || [[ ",$extras," == *",dev,"* ]]; then
  classic=".venv/onvif-zeep-classic"
  if ! ls "$classic"/lib/python*/site-packages/onvif/client.py >/dev/null 2>&1; then
    .venv/bin/pip install -q --no-deps --no-warn-script-location --prefix "$classic" "onvif-zeep==0.2.12"
  fi
fi
