"""Shared helpers for the project's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IOV_C = ROOT / "reference_c" / "iov.c"


@pytest.fixture
def iov_c_text() -> str:
    return IOV_C.read_text()
