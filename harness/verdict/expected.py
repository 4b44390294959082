"""Known differences: intended behaviour changes a run accepts, each with its reason.

As CPython's ``deccheck`` keeps a list of known differences between ``_decimal`` and
``_pydecimal``, a run can be given a TOML file (``--expect-diff FILE``) of the changes
it should accept::

    [[difference]]
    function = "qemu_iovec_discard_back"
    kind = "an assert became a return"   # one of harness.model.outcome.KINDS
    where = "call *"                     # optional: a glob on where it shows
    reason = "9dc64bd5 removed the offset asserts of the copy loops"

    [[missing]]
    function = "qemu_iovec_init_extended"
    reason = "v8.1 folded it into qemu_iovec_init_slice"

    [[c-ub]]                             # undefined behaviour of the C source's own
    function = "qemu_iovec_clone"
    report = "null pointer passed as argument*"   # a glob on the sanitizer's report
    reason = "v8.2 passes a NULL sort array to qsort for an empty vector"

A difference of a listed function and kind (and place) is accepted: the judge
records that the entry was seen and goes on.  Anything else still fails.  After the
run, every entry is either seen or reported as not seen, so a file that no longer
matches what the harness finds shows up.
"""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from harness.model.outcome import KINDS


@dataclass(frozen=True)
class Entry:
    """One known difference."""

    function: str
    kind: str
    reason: str
    where: str = "*"

    def matches(self, function: str, kind: str, where: str) -> bool:
        return function == self.function and kind == self.kind and fnmatch.fnmatchcase(where, self.where)

    def key(self) -> str:
        return f"{self.function}|{self.kind}|{self.where}"


@dataclass
class Expected:
    """The known differences of a run, and which were seen (key -> a case that shows it)."""

    entries: tuple[Entry, ...] = ()
    missing: dict[str, str] = field(default_factory=dict)  # function -> reason
    changed: dict[str, str] = field(default_factory=dict)  # function -> reason (another prototype)
    c_ub: tuple[tuple[str, str, str], ...] = ()  # (function, report glob, reason)
    seen: dict[str, str] = field(default_factory=dict)  # entry key -> the first difference sentence
    source: str = ""

    @classmethod
    def load(cls, path: str | Path) -> Expected:
        """Read a known-differences file; a malformed one is a ValueError naming the entry."""
        raw = tomllib.loads(Path(path).read_text())
        entries = []
        for k, item in enumerate(raw.get("difference", [])):
            kind = item.get("kind", "")
            if kind not in KINDS:
                raise ValueError(f"{path}: difference {k + 1}: kind must be one of {', '.join(KINDS)}")
            if not item.get("function") or not item.get("reason"):
                raise ValueError(f"{path}: difference {k + 1}: needs a function and a reason")
            entries.append(Entry(item["function"], kind, item["reason"], item.get("where", "*")))
        missing = {m["function"]: m["reason"] for m in raw.get("missing", [])}
        changed = {m["function"]: m["reason"] for m in raw.get("changed", [])}
        c_ub = tuple((m["function"], m["report"], m["reason"]) for m in raw.get("c-ub", []))
        return cls(tuple(entries), missing, changed, c_ub, source=str(path))

    def c_ub_reason(self, function: str, report: str) -> str | None:
        """Why this undefined behaviour of the C source is known, if it is."""
        for func, pattern, reason in self.c_ub:
            if func == function and fnmatch.fnmatchcase(report, pattern):
                return reason
        return None

    def match(self, function: str, kind: str, where: str) -> Entry | None:
        return next((e for e in self.entries if e.matches(function, kind, where)), None)

    def accept(self, function: str, kind: str, where: str, difference: str) -> bool:
        """Whether this difference is a known one (recorded as seen)."""
        entry = self.match(function, kind, where)
        if entry is None:
            return False
        self.seen.setdefault(entry.key(), difference)
        return True

    def unseen(self) -> list[Entry]:
        return [e for e in self.entries if e.key() not in self.seen]

    def merge_seen(self, seen: dict[str, str]) -> None:
        for key, difference in seen.items():
            self.seen.setdefault(key, difference)


#: the known-difference files shipped for the upstream revisions, by release tag
KNOWN_DIR = Path(__file__).resolve().parent / "known"


def shipped(tag: str) -> Path:
    """The known-differences file of a shipped revision (against the port)."""
    return KNOWN_DIR / f"{tag}.toml"
