#!/usr/bin/env bash
# Create .venv (if needed) and install iovconf with its test, bench, dev and cluster extras into it
# (the suite type-checks the library API with mypy, draws the library bench with matplotlib, and
# runs campaigns on a real Dask scheduler and workers).
# Needs only Python >= 3.11 with pip and venv, and a C compiler (gcc) for the reference build.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test,bench,dev,cluster]'
# The Redis example-database test starts its own redis-server (Debian package redis-server).
if ! command -v redis-server >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    SUDO=$([ "$(id -u)" -eq 0 ] && echo "" || echo "sudo")
    $SUDO apt-get install -y -qq redis-server >/dev/null 2>&1 \
        || { $SUDO apt-get update -qq >/dev/null 2>&1 && $SUDO apt-get install -y -qq redis-server >/dev/null; }
    $SUDO service redis-server stop >/dev/null 2>&1 || true  # the test runs its own, on a free port
fi
