#!/usr/bin/env bash
# Install what the grader needs on a Debian machine: system packages (when missing) and a virtualenv with the
# exact, hash-checked versions in requirements/ (refresh them with scripts/lock.sh).
# Usage: bash scripts/setup.sh [--dev] [--python-only]
#   --dev          adds the test and lint tools, and the browser
#   --python-only  skips the system packages (the fast tests need neither the sandbox nor the browser)
set -euo pipefail
cd "$(dirname "$0")/.."

dev=false
system=true
for arg in "$@"; do
  case "$arg" in
    --dev) dev=true ;;
    --python-only) system=false ;;
    *) echo "unknown option: $arg" >&2; exit 2 ;;
  esac
done

if $system; then
  # bubblewrap isolates notebooks; setpriv and prlimit come with util-linux; libseccomp2 builds the sandbox's
  # seccomp filter (through the pyseccomp package).
  packages=(bubblewrap libseccomp2)
  if $dev; then
    # Chromium for the browser tests, docker-compose to validate docker-compose.yml without an engine.
    packages+=(chromium docker-compose)
  fi
  missing=()
  for package in "${packages[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
      echo "Please install: ${missing[*]} (as root: apt-get install ${missing[*]})" >&2
      exit 1
    fi
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
  fi
fi

lock=requirements/runtime.txt
$dev && lock=requirements/dev.txt
# The virtualenv remembers which lock (and project file) it was built from, so an unchanged one is not
# checked again package by package on every test run.
stamp=.venv/installed-from
wanted="$lock $(cat "$lock" pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/pip install --quiet --upgrade pip
  .venv/bin/pip install --quiet --require-hashes -r "$lock"
  # Everything the project needs came from the lock; this only links the project itself into .venv.
  .venv/bin/pip install --quiet --no-deps -e .
  echo "$wanted" >"$stamp"
fi
