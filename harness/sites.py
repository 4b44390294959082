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


class SiteTable:
    """The assert sites of one implementation, to name a failed assert by what it is.

    An assert is (function, expression, ordinal): the ordinal counts the asserts of the
    same function with the same expression, in line order, so adding, removing or
    moving other code keeps the identity of every assert that stays.
    """

    def __init__(self, sites: list[tuple[str, str, str, int]]) -> None:
        #: (file, func, expr) -> the lines of those asserts, in order
        self._lines: dict[tuple[str, str, str], list[int]] = {}
        for file, func, expr, line in sorted(sites, key=lambda s: (s[0], s[3])):
            self._lines.setdefault((file, func, expr), []).append(line)

    def ordinal(self, file: str, func: str, expr: str, line: int) -> int:
        lines = self._lines.get((file, func, expr), [])
        return lines.index(line) if line in lines else 0

    def __len__(self) -> int:
        return sum(len(v) for v in self._lines.values())


_HEADER = Path(__file__).resolve().parent.parent / "reference_c" / "include" / "qemu" / "iov.h"


def c_sites(source: Path) -> SiteTable:
    """The asserts of a C source (as ``iov.c``, its name in every build) and of our ``qemu/iov.h``."""
    sites = [("iov.c", s.func, s.expr, s.line) for s in assert_sites(source)]
    sites += [("iov.h", s.func, s.expr, s.line) for s in assert_sites(_HEADER)]
    return SiteTable(sites)


def port_sites() -> SiteTable:
    """The asserts of the port: every ``_assert(cond, expr, func, line)`` and ``CAssertionError(...)``
    with literal arguments in ``pyimpl/iov.py`` (its lines are those of the original iov.c)."""
    import ast

    import pyimpl.iov

    tree = ast.parse(Path(pyimpl.iov.__file__).read_text())
    found: list[tuple[str, str, str, int]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            continue
        args = node.args[1:] if node.func.id == "_assert" else node.args
        if node.func.id not in ("_assert", "CAssertionError") or len(args) < 3:
            continue
        values = [
            getattr(pyimpl.iov, a.id, None) if isinstance(a, ast.Name) else getattr(a, "value", None)
            for a in args
        ]
        expr, func, line = values[:3]
        file = values[3] if len(values) > 3 else "iov.c"
        if isinstance(expr, str) and isinstance(func, str) and isinstance(line, int):
            found.append((str(file), func, expr, line))
    return SiteTable(found)
