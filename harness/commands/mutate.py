"""``python -m harness mutate``: its options and its work are harness.gates.mutate's; registered here."""

from __future__ import annotations

from typing import Any

from harness.gates import mutate


def add_parser(sub: Any) -> None:
    """``mutate`` and its options."""
    mutate.add_parser(sub)
