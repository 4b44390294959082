"""The assert sites of each implementation, read from the C sources, and why some cannot fire.

An assert is named by what it is: (function, expression, ordinal among that
function's asserts with the same expression).  The sites of a C source come from
pycparser's reading of it (``reference_c.csource``); the port's are those of the
sources its table rows name (``iovspec.ctable``), since each ported function
raises the asserts of the C it stands for.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iovspec.ctable import BY_NAME, TABLE, CFunction
from reference_c.csource import read_source

ROOT = Path(__file__).resolve().parents[2]
ORIGINAL = ROOT / "reference_c" / "iov.c"
_HEADER = ROOT / "reference_c" / "include" / "qemu" / "iov.h"


@dataclass(frozen=True)
class Site:
    """``assert(expr)`` at ``line`` of ``file`` inside C function ``func``."""

    func: str
    expr: str
    line: int
    ordinal: int = 0
    file: str = "iov.c"


def source_path(row: CFunction) -> Path:
    """The C source a table row was ported from."""
    if row.source in ("iov.c", "qemu/iov.h"):
        return ORIGINAL
    from reference_c.revisions import revision

    return revision(row.source).path


def _header_sites() -> list[Site]:
    """The asserts of our qemu/iov.h's inlines (one today: qemu_iovec_buf's)."""
    sites: list[Site] = []
    func = "?"
    for lineno, text in enumerate(_HEADER.read_text().splitlines(), start=1):
        m = re.match(r"^static inline [\w\s\*]*?\b(\w+)\s*\(", text)
        if m:
            func = m.group(1)
        for a in re.finditer(r"\bassert\((.*)\);", text):
            sites.append(Site(func, a.group(1).strip(), lineno, 0, "iov.h"))
    return sites


def assert_sites(source: Path) -> list[Site]:
    """Every assert of a C source (as pycparser reads it), in line order."""
    return [Site(a.func, a.expr, a.line, a.ordinal) for a in read_source(source).asserts]


def unreachable(func: str, expr: str) -> str | None:
    """Why no memory-safe input can make this assert fail, if that is so (from the table)."""
    row = BY_NAME.get(func)
    return dict(row.unreachable).get(expr) if row is not None else None


class SiteTable:
    """The assert sites of one implementation: turns (file, func, expr, line) into an ordinal."""

    def __init__(self, sites: list[Site]) -> None:
        self._ordinals = {(s.file, s.func, s.expr, s.line): s.ordinal for s in sites}
        self.sites = sites

    def ordinal(self, file: str, func: str, expr: str, line: int) -> int:
        return self._ordinals.get((file, func, expr, line), 0)

    def __len__(self) -> int:
        return len(self.sites)


def c_sites(source: Path) -> SiteTable:
    """The asserts of a C source (``iov.c`` in every build) and of our ``qemu/iov.h``."""
    return SiteTable([*assert_sites(source), *_header_sites()])


@functools.cache
def port_sites() -> SiteTable:
    """The asserts the port raises: those of the source of each of its table rows."""
    sites = list(_header_sites())
    for path in {source_path(r) for r in TABLE if r.kind != "inline"}:
        names = {r.name for r in TABLE if source_path(r) == path and r.kind != "inline"}
        sites += [s for s in assert_sites(path) if s.func in names]
    return SiteTable(sites)


# -- how often a run reached each site, kept for `harness list` -----------------------------------
#: where ``harness run`` leaves its counts (in the working directory)
COUNTS = Path(".iovconf") / "sites.json"


@dataclass
class Counts:
    """How often cases evaluated each port assert and made it fail on both sides, and by what."""

    evaluated: dict[str, int]  # "func|expr|line" -> evaluations
    fired: dict[str, int]  # "func|expr|ordinal" -> cases where both sides failed it
    source: str  # what counted them: a run (profile, seed, date) or a sample

    def save(self, path: Path = COUNTS) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(dataclasses.asdict(self), indent=1))
        tmp.replace(path)  # a reader never sees half a file

    @classmethod
    def load(cls, path: Path = COUNTS) -> Counts | None:
        try:
            data = json.loads(path.read_text())
            return cls(dict(data["evaluated"]), dict(data["fired"]), str(data["source"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def reached(self, site: Site) -> int:
        return self.evaluated.get(f"{site.func}|{site.expr}|{site.line}", 0)

    def failed(self, site: Site) -> int:
        return self.fired.get(f"{site.func}|{site.expr}|{site.ordinal}", 0)

    @classmethod
    def of(cls, results: list[Any], source: str) -> Counts:
        """The counts of some campaigns' results (``harness.model.results.FunctionResult``)."""
        evaluated: Counter[str] = Counter()
        fired: Counter[str] = Counter()
        for r in results:
            evaluated.update(r.evaluated)
            fired.update(r.fired)
        return cls(dict(evaluated), dict(fired), source)
