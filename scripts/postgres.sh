# Sourced by the test and bench scripts: make sure PostgreSQL answers on 127.0.0.1:5432.
# The suite itself creates a fresh database per test process and drops it afterwards.
# Under CI=true a PostgreSQL that cannot be reached is fatal.

pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }

if ! pg_up && command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
  echo "starting PostgreSQL…" >&2
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start >&2 || true
fi
for _ in $(seq 1 30); do pg_up && break; sleep 1; done

if ! pg_up; then
  if [ "${CI:-}" = "true" ]; then
    echo "PostgreSQL is not reachable on 127.0.0.1:5432, and CI=true requires it" >&2
    exit 1
  fi
  echo "warning: PostgreSQL is not reachable; its half of the suite will be skipped" >&2
fi
