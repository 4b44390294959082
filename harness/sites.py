"""The assert sites of the C source, read from the file itself, and why some cannot fire."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_FUNC_START = re.compile(r"^(?:static\s+)?[\w\s\*]*?\b(\w+)\s*\(", re.M)


@dataclass(frozen=True)
class Site:
    """``assert(expr)`` at ``line`` inside C function ``func``."""

    line: int
    func: str
    expr: str


def assert_sites(source: Path) -> list[Site]:
    """Every ``assert(...)`` in ``source``, with the function it sits in."""
    sites: list[Site] = []
    func = "?"
    for lineno, text in enumerate(source.read_text().splitlines(), start=1):
        if text and not text[0].isspace() and text[0] not in "{}#/*":
            m = _FUNC_START.match(text)
            if m and not text.rstrip().endswith(";"):
                func = m.group(1)
        for m in re.finditer(r"\bassert\((.*)\);", text):
            sites.append(Site(lineno, func, m.group(1).strip()))
    return sites


#: sites that no memory-safe input can make fail, with the reason (by expression and function)
UNREACHABLE: dict[tuple[str, str], str] = {
    ("qiov_slice", "*tail < end_iov->iov_len"): (
        "iov_skip_offset only stops with a nonzero remainder inside an entry longer than it"
    ),
    ("qemu_iovec_init_extended", "!mid_niov == !mid_len"): (
        "qiov_slice returns at least one entry whenever mid_len > 0"
    ),
    ("qemu_iovec_init_slice", "ret == 0"): (
        "asserts 428/511/512 already rule out both -EINVAL returns of init_extended"
    ),
    ("iov_send_recv", "errno != EINTR"): "do_send_recv retries EINTR itself, so ret < 0 never carries it",
    ("iov_send_recv", "iov[niov].iov_len > tail"): (
        "the loop before it stops only at an entry longer than tail"
    ),
}
