#!/usr/bin/env bash
# The whole test suite, on SQLite and on PostgreSQL (a fresh database, dropped afterwards).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/postgres.sh
source scripts/chromium.sh
.venv/bin/python -m pytest -q -n 2 "$@"
