#!/usr/bin/env bash
# The main job on a fresh machine: install the server (no Qt), initialise ./var/data on the embedded
# defaults (SQLite, in-process queues, no Redis) and run it with simulated cameras.
# Idempotent: a second run reuses the data directory. Stop with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/venv.sh server
export VMS_DATA_DIR="${VMS_DATA_DIR:-$PWD/var/data}"
.venv/bin/vms-server init --exist-ok
if FINGERPRINT=$(.venv/bin/vms-server tls fingerprint 2>/dev/null); then
    # HTTPS by default with a certificate made in the data directory: browsers warn once, clients pin it.
    echo "API: https://127.0.0.1:${VMS_SERVER__PORT:-8080}/docs  (log in as admin; the first login enrols TOTP)"
    echo "TLS certificate SHA-256 fingerprint (the desktop client shows it to confirm once): $FINGERPRINT"
else
    echo "API: http://127.0.0.1:${VMS_SERVER__PORT:-8080}/docs  (log in as admin; the first login enrols TOTP)"
fi
exec .venv/bin/vms-server run --simulate "${VMS_SIMULATED_CAMERAS:-4}"
