"""``python -m harness coverage``: its options and its work are harness.gates.coverage's; registered here."""

from __future__ import annotations

from typing import Any

from harness.gates import coverage


def add_parser(sub: Any) -> None:
    """``coverage`` and its options."""
    coverage.add_parser(sub)
