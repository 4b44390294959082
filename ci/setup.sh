#!/usr/bin/env bash
# Create .venv (if needed) and install iovconf with its test, bench, dev, fuzz and cluster extras
# into it (the suite type-checks the library API with mypy, draws the library bench with
# matplotlib, fuzzes through atheris, whose wheel bundles libFuzzer, and runs campaigns on a real
# Dask scheduler and workers).
# Needs only Python >= 3.11 with pip and venv, and a C compiler (gcc) for the reference build.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test,bench,dev,fuzz,cluster]'
SUDO=$([ "$(id -u)" -eq 0 ] && echo "" || echo "sudo")
apt_install() {  # a Debian package, when apt-get is there (the index refreshed only if it must be)
    command -v apt-get >/dev/null 2>&1 || return 0
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$1" >/dev/null 2>&1 \
        || { $SUDO apt-get update -qq >/dev/null 2>&1 \
             && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$1" >/dev/null; }
}
# The Redis example-database test starts its own redis-server (Debian package redis-server).
if ! command -v redis-server >/dev/null 2>&1; then
    apt_install redis-server
    $SUDO service redis-server stop >/dev/null 2>&1 || true  # the test runs its own, on a free port
fi
# harness fuzz instruments C for libFuzzer with clang (-fsanitize=fuzzer-no-link); gcc stays the
# compiler of every other build. Without clang, harness fuzz runs on the port's coverage alone.
if ! command -v clang >/dev/null 2>&1; then
    apt_install clang || echo "ci/setup.sh: clang not installed: harness fuzz will not instrument C" >&2
fi
