#!/usr/bin/env bash
# Benchmarks: one command, eight tables (writes; sync and lists; batch and webhooks; scale-out; faults; a client during a flood; /healthz while 2 MiB bodies arrive; the upgrade of 100,000 writes). Needs wrk (installed from
# Debian's packages if missing). Engines may be named: `make bench` runs SQLite and PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null 2>&1; then
  (apt-get update -q && apt-get install -y -q wrk) >/dev/null
fi
source scripts/postgres.sh
.venv/bin/python bench/bench_writes.py "$@"
.venv/bin/python bench/bench_sync.py "$@"
.venv/bin/python bench/bench_batch_webhooks.py "$@"
.venv/bin/python bench/bench_scale_out.py
.venv/bin/python bench/bench_faults.py "$@"
.venv/bin/python bench/bench_flood.py "$@"
.venv/bin/python bench/bench_upgrade.py "$@"
