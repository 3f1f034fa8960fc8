#!/usr/bin/env bash
# Install what the grader needs on a Debian machine: system packages (when missing) and a virtualenv.
# Usage: bash scripts/setup.sh [--dev]     (--dev adds the test tools and the browser)
set -euo pipefail
cd "$(dirname "$0")/.."

# bubblewrap isolates notebooks; setpriv and prlimit come with util-linux; libseccomp2 builds the sandbox's
# seccomp filter (through the pyseccomp package).
packages=(bubblewrap libseccomp2)
if [ "${1:-}" = "--dev" ]; then
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

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
if [ "${1:-}" = "--dev" ]; then
  .venv/bin/pip install --quiet -e '.[dev]'
else
  .venv/bin/pip install --quiet -e .
fi
