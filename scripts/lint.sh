#!/usr/bin/env bash
# Run every static check CI runs: ruff (lint and format), mypy (strict on the engine and the sandbox, as
# configured in pyproject.toml) and import-linter's contracts. Runs them all, then fails if any failed.
# Usage: bash scripts/lint.sh        (after scripts/setup.sh --dev)
set -uo pipefail
cd "$(dirname "$0")/.."

failed=()
check() {
  echo "--- $*"
  "$@" || failed+=("${*#.venv/bin/}")
}
check .venv/bin/ruff check .
check .venv/bin/ruff format --check .
check .venv/bin/mypy
check .venv/bin/lint-imports --no-logo
if [ ${#failed[@]} -gt 0 ]; then
  echo "Failed: ${failed[*]}" >&2
  exit 1
fi
