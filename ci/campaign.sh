#!/usr/bin/env bash
# Set up, then run the main job: a differential campaign of the port against the compiled iov.c.
# Extra arguments go to `python -m harness run` (e.g. --profile quick, --only NAME, --c-source PATH).
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh
exec .venv/bin/python -m harness run --profile default "$@"
