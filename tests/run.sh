#!/usr/bin/env bash
# Set up everything the tests need on a fresh Debian machine, then run them.
# Usage: bash tests/run.sh [pytest arguments]
#   bash tests/run.sh                  the linters (scripts/lint.sh), then the whole suite: what CI runs
#   bash tests/run.sh -m "not slow"    the fast tier: no root, sandbox, database server, browser or service
#   bash tests/run.sh tests/web -x     any other pytest arguments: those tests only, without the linters
set -euo pipefail
cd "$(dirname "$0")/.."
# pytest keeps its rewritten test modules (seconds of work per process) only where Python may write bytecode.
unset PYTHONDONTWRITEBYTECODE

fast=false
previous=""
for arg in "$@"; do
  if [ "$previous" = "-m" ] && [ "$arg" = "not slow" ]; then
    fast=true
  fi
  previous="$arg"
done

if $fast; then
  # Neither the sandbox, the browser nor the machine's PostgreSQL and Redis are used: Python packages only.
  bash scripts/setup.sh --dev --python-only
  # Its tests share nothing but the Python packages, so they run on every core (pytest-xdist).
  exec .venv/bin/pytest --numprocesses auto "$@"
fi

bash scripts/setup.sh --dev

# The integration tests use the machine's real PostgreSQL and Redis; start them if they have stopped.
if ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && command -v redis-server >/dev/null; then
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
if ! pg_isready -h 127.0.0.1 -q 2>/dev/null && command -v pg_ctlcluster >/dev/null; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
fi

if [ $# -gt 0 ]; then
  exec .venv/bin/pytest "$@"
fi
# All run, so a lint failure does not hide the tests' results; any one fails the run. The fast tier
# shares nothing but the Python packages, so it runs on every core; the slow tier runs one test at a
# time, because its sandbox limits, CPU quotas and timeouts are measured against a machine it has to
# itself.
lint=0
bash scripts/lint.sh || lint=$?
fast=0
.venv/bin/pytest --numprocesses auto -m "not slow" || fast=$?
slow=0
# The slowest tests are listed at the end, to show where the run's time goes.
.venv/bin/pytest -m slow --durations=20 || slow=$?
exit $((lint || fast || slow))
