"""One-line changes of iov.c for tests that must see the harness catch them."""

from __future__ import annotations

from pathlib import Path

IOV_C = Path(__file__).resolve().parent.parent / "reference_c" / "iov.c"


def changed_iov_c(directory: Path, old: str, new: str, name: str = "changed.c") -> Path:
    """A copy of the original iov.c in ``directory`` with ``old`` (found exactly once) replaced."""
    text = IOV_C.read_text()
    assert text.count(old) == 1, f"{old!r} must occur exactly once in iov.c"
    path = directory / name
    path.write_text(text.replace(old, new))
    return path
