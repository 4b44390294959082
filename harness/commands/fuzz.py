"""``python -m harness fuzz``: its options and its work are harness.integrations.fuzz's; registered here."""

from __future__ import annotations

from typing import Any

from harness.integrations import fuzz


def add_parser(sub: Any) -> None:
    """``fuzz`` and its options."""
    fuzz.add_parser(sub)
