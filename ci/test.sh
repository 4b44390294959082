#!/usr/bin/env bash
# Set up, then run the whole test suite in parallel on 2 workers.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh
exec .venv/bin/python -m pytest -n 2 "$@"
