#!/usr/bin/env bash
# Benchmarks: one command, one table. Needs wrk (installed from Debian's packages if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null 2>&1; then
  (apt-get update -q && apt-get install -y -q wrk) >/dev/null
fi
source scripts/postgres.sh
.venv/bin/python bench/bench_writes.py "$@"
