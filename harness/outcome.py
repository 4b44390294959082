"""What a run of a case shows, as typed records, and how to name the first difference of two.

A call ends in exactly one :data:`Result`: it returned, a C ``assert`` failed, the
port found undefined behaviour, GLib aborted, the C code crashed, it hung, or the
function is missing from the C source.  An :class:`Outcome` is the result of each
call made, then every :class:`Observed` fact (bytes, fields, heap, errno, sockets,
text) in a fixed order, so two outcomes compare item by item.

An assert is identified by what it is: (function, expression, ordinal among that
function's asserts with the same expression).  Its line and file are shown, never
compared, so a source whose lines moved is judged on behaviour.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Returned:
    """The call returned ``value`` (None for void; pointers normalised; a tuple with C out values)."""

    value: Any

    def show(self) -> str:
        return f"returned {self.value!r}"


@dataclass(frozen=True)
class AssertFailed:
    """A C ``assert`` failed (or the port raised CAssertionError at the same point)."""

    func: str
    expr: str
    ordinal: int = 0
    line: int = field(default=0, compare=False)
    file: str = field(default="iov.c", compare=False)

    @property
    def identity(self) -> tuple[str, str, int]:
        return (self.func, self.expr, self.ordinal)

    def show(self) -> str:
        nth = f" (#{self.ordinal + 1} of that expression)" if self.ordinal else ""
        return f"failed assert `{self.expr}` in {self.func}{nth} at {self.file}:{self.line}"


@dataclass(frozen=True)
class Undefined:
    """The port found undefined behaviour of ``kind`` (one of pyimpl.UB_KINDS); C is not run."""

    kind: str
    detail: str = field(default="", compare=False)

    def show(self) -> str:
        return f"undefined behaviour ({self.kind}: {self.detail})"


@dataclass(frozen=True)
class GLibFatal:
    """GLib aborted with ``message`` (e.g. an allocation whose size overflows)."""

    message: str

    def show(self) -> str:
        return f"GLib fatal error ({self.message})"


@dataclass(frozen=True)
class Crashed:
    """The C code died of a signal, or corrupted its caller; ``detail`` says how."""

    detail: str

    def show(self) -> str:
        return f"crashed ({self.detail})"


@dataclass(frozen=True)
class TimedOut:
    """The call did not return within its time limit (C: CPU time; the port: wall time)."""

    def show(self) -> str:
        return "hung (time limit)"


@dataclass(frozen=True)
class Missing:
    """The C source in use does not define ``func`` (or a function it calls)."""

    func: str

    def show(self) -> str:
        return f"missing from the C source ({self.func})"


@dataclass(frozen=True)
class NotReached:
    """Shown for a call one side never made because an earlier call did not return."""

    def show(self) -> str:
        return "not reached"


Result = Returned | AssertFailed | Undefined | GLibFatal | Crashed | TimedOut | Missing


@dataclass(frozen=True)
class Observed:
    """One observed fact.  ``of`` names the region whose bytes (``kind`` "bytes") or trailing
    guard (``kind`` "guard": the bytes from its end to the next region) this is."""

    label: str
    value: Any
    kind: str = field(default="value", compare=False)
    of: str = field(default="", compare=False)


@dataclass(frozen=True)
class Outcome:
    """Every call's result (up to the first that did not return), then the observations."""

    results: tuple[Result, ...]
    observations: tuple[Observed, ...] = ()

    @property
    def last(self) -> Result | None:
        return self.results[-1] if self.results else None

    @property
    def ub(self) -> Undefined | None:
        last = self.last
        return last if isinstance(last, Undefined) else None

    @property
    def assertion(self) -> AssertFailed | None:
        last = self.last
        return last if isinstance(last, AssertFailed) else None

    @property
    def crashed(self) -> Crashed | None:
        return next((r for r in self.results if isinstance(r, Crashed)), None)

    def observed(self) -> dict[str, Any]:
        """The observations by label."""
        return {o.label: o.value for o in self.observations}


def _first_byte(a: bytes, b: bytes) -> int:
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    lo, hi = 0, n
    while hi - lo > 1:  # the first difference lies in [lo, hi)
        mid = (lo + hi) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid
    return lo


def _where(o: Observed, k: int) -> str:
    if o.kind == "guard":
        if o.of:
            return f"{k + 1} byte{'s' if k else ''} past the end of `{o.of}`"
        return f"byte {k} of the guard before the first region"
    if o.kind == "bytes":
        return f"byte {k} of `{o.of}`"
    return f"{o.label} byte {k}"


def first_difference(a: Outcome, b: Outcome, names: tuple[str, str] = ("pyimpl", "C")) -> str | None:
    """A sentence naming the first thing that differs between two outcomes, or None."""
    for i in range(max(len(a.results), len(b.results))):
        ra = a.results[i] if i < len(a.results) else NotReached()
        rb = b.results[i] if i < len(b.results) else NotReached()
        if ra != rb:
            return f"result of call {i + 1}: {names[0]} {ra.show()} vs {names[1]} {rb.show()}"
    for oa, ob in zip(a.observations, b.observations, strict=False):
        if oa.label != ob.label:
            return f"observed {oa.label} in {names[0]} but {ob.label} in {names[1]}"
        if oa.value != ob.value:
            va, vb = oa.value, ob.value
            if isinstance(va, bytes) and isinstance(vb, bytes):
                k = _first_byte(va, vb)
                return (
                    f"{_where(oa, k)}: {names[0]} {va[k : k + 8].hex() or '(none)'} "
                    f"vs {names[1]} {vb[k : k + 8].hex() or '(none)'}"
                )
            return f"{oa.label}: {names[0]} {va!r} vs {names[1]} {vb!r}"
    if len(a.observations) != len(b.observations):
        return f"observations: {names[0]} has {len(a.observations)}, {names[1]} {len(b.observations)}"
    return None


def differences(a: Outcome, b: Outcome, names: tuple[str, str] = ("pyimpl", "C")) -> list[str]:
    """Every field that differs between two outcomes, one sentence each (the first is
    :func:`first_difference`'s)."""
    first = first_difference(a, b, names)
    return [first] if first is not None else []


#: the kinds of difference, as a reviewer reads them, the most telling first: a change of
#: behaviour (what a call returns, whether it aborts, what it leaves in memory, the heap and
#: errno) comes before a refuted UB claim, and every kind before a note
KINDS = (
    "a crash",
    "a different value",
    "an assert became a return",
    "a return became an assert",
    "a different assert",
    "different memory",
    "different heap use",
    "a different errno",
    "a different fatal error",
    "a hang",
    "missing",
    "a UB claim refuted",
    "something else",
)
#: a difference that is not one of behaviour: shown, never red (unless --strict-asserts)
SAME_ABORT = "same abort, different assert"
NOTE_KINDS = (SAME_ABORT,)


def rank(kind: str) -> int:
    """Where a kind of difference comes in a report: behaviour changes first, notes last."""
    order = (*KINDS, *NOTE_KINDS)
    return order.index(kind) if kind in order else len(order)


def generalise(where: str) -> str:
    """A place with its numbers made wild: q3.iov[1] -> q*.iov[*], call 2 -> call *."""
    return re.sub(r"\d+", "*", where) or "*"


def same_aborts(a: Outcome, b: Outcome) -> Outcome:
    """``b`` with each failed assert that ends the same call of ``a`` in a failed assert too
    replaced by ``a``'s: what is left to differ is behaviour, not which assert says so.

    Two aborts of the same call agree (with identical state after them) whatever the
    function, expression or line of the assert: a refactor that hoists a value into a
    local, or gives a fast path its own copy of an assert, aborts on the same inputs."""
    if len(a.results) != len(b.results):
        return b
    results = tuple(
        ra if isinstance(ra, AssertFailed) and isinstance(rb, AssertFailed) else rb
        for ra, rb in zip(a.results, b.results, strict=True)
    )
    return b if results == b.results else Outcome(results, b.observations)


def kind_of_difference(a: Outcome, b: Outcome | None, strict_asserts: bool = True) -> tuple[str, str]:
    """What changed from ``a`` (the old side, or the port) to ``b`` (the new side, or C), and
    where: (kind, where) with where the call ("call 2") or the observation's label.
    ``b`` None: ``a`` claimed undefined behaviour the oracle did not confirm.  Not
    ``strict_asserts``: two failed asserts ending the same call are the same abort, and
    if nothing else differs the kind is the note :data:`SAME_ABORT`."""
    if b is None:
        return "a UB claim refuted", f"call {len(a.results)}"
    note: tuple[str, str] | None = None
    for i in range(max(len(a.results), len(b.results))):
        ra = a.results[i] if i < len(a.results) else NotReached()
        rb = b.results[i] if i < len(b.results) else NotReached()
        if ra == rb:
            continue
        where = f"call {i + 1}"
        pair = (type(ra), type(rb))
        if pair == (AssertFailed, Returned):
            return "an assert became a return", where
        if pair == (Returned, AssertFailed):
            return "a return became an assert", where
        if pair == (AssertFailed, AssertFailed):
            if strict_asserts:
                return "a different assert", where
            note = note or (SAME_ABORT, where)
            continue
        if pair == (Returned, Returned):
            return "a different value", where
        if GLibFatal in pair:
            return "a different fatal error", where
        if Crashed in pair:
            return "a crash", where
        if TimedOut in pair:
            return "a hang", where
        if Missing in pair:
            return "missing", where
        return "something else", where
    for oa, ob in zip(a.observations, b.observations, strict=False):
        if oa != ob:
            if oa.label.startswith("heap"):
                return "different heap use", oa.label
            if oa.label == "errno":
                return "a different errno", oa.label
            return "different memory", oa.label
    if len(a.observations) != len(b.observations):
        return "something else", "observations"
    return note or ("something else", "")


def signature(difference: str) -> str:
    """What kind of difference a sentence names, without values, region numbers or positions:
    two reports of one function with the same signature are the same bug (found twice)."""
    head, _, rest = difference.partition(": ")
    if head.startswith("result of call"):
        sides = rest.split(" vs ", 1)
        return "result: " + " vs ".join(" ".join(s.split()[1:2]) for s in sides)
    return re.sub(r"\d+", "#", head)
