#!/usr/bin/env bash
# Set up, then run the whole test suite in parallel, one worker per CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh
exec .venv/bin/python -m pytest -n auto "$@"
