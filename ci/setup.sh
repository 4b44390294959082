#!/usr/bin/env bash
# Create .venv (if needed) and install iovconf with its test extras into it.
# Needs only Python >= 3.11 with pip and venv, and a C compiler (gcc) for the reference build.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
