#!/usr/bin/env bash
# The whole test suite, from a fresh Debian/Ubuntu machine: system packages, PostgreSQL and Redis,
# the virtualenv, then ruff, mypy --strict and pytest (including a smoke run of every benchmark).
# Extra arguments go to pytest, e.g. scripts/test.sh tests/server -x
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup-system.sh
bash scripts/venv.sh all

export VMS_TEST_PG_URL="${VMS_TEST_PG_URL:-postgresql+asyncpg://vms_test:vms_test@127.0.0.1:5432/postgres}"
export QT_QPA_PLATFORM=offscreen

echo "== ruff"
.venv/bin/ruff check vms_common vms_server vms_camsim vms_cloud_sync vms_desktop tests benchmarks
echo "== mypy --strict"
.venv/bin/mypy vms_common vms_server vms_camsim vms_cloud_sync
echo "== import contracts"
.venv/bin/lint-imports
echo "== pytest"
.venv/bin/pytest -q -p no:cacheprovider --durations=15 "$@"
