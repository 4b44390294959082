#!/usr/bin/env bash
# The static checks: ruff's lint and format check, and mypy --strict, on every package and on
# the tests (ci/'s scripts are linted too). Needs the venv of ci/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
CHECKED=(iovspec pyimpl harness reference_c tests)
.venv/bin/ruff check "${CHECKED[@]}" ci
.venv/bin/ruff format --check "${CHECKED[@]}" ci
.venv/bin/mypy --strict "${CHECKED[@]}"
