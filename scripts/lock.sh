#!/usr/bin/env bash
# Refresh the hashed lock files that scripts/setup.sh and the Dockerfile install from.
# Usage: bash scripts/lock.sh [uv pip compile options]
#   bash scripts/lock.sh                          after editing pyproject.toml: pins already locked stay as they are
#   bash scripts/lock.sh --upgrade-package pandas  move one package (and what it needs) to its newest release
# Pins only move when asked to, because a new release of pandas, scikit-learn or TensorFlow can change grades.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -x .venv/bin/uv ] || bash scripts/setup.sh --dev
# Python 3.11.7 is the oldest interpreter the service runs on (this machine's); the image's 3.11 is newer.
compile=(.venv/bin/uv pip compile pyproject.toml --generate-hashes --python-version 3.11.7
  --custom-compile-command "bash scripts/lock.sh")
"${compile[@]}" --output-file requirements/runtime.txt "$@"
# The dev lock keeps every runtime pin, so tests run against what production installs.
"${compile[@]}" --extra dev --constraint requirements/runtime.txt --output-file requirements/dev.txt "$@"
