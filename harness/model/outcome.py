"""What a run of a case shows, as typed records, and how to name what differs between two.

A call ends in exactly one :data:`Result`: it returned, a C ``assert`` failed, the
port found undefined behaviour, GLib aborted, the C code crashed, it hung, or the
function is missing from the C source.  An :class:`Outcome` is the result of each
call made, then every :class:`Observed` fact (bytes, fields, heap, errno, sockets,
text) in a fixed order, so two outcomes compare item by item; :func:`differences`
names every field that differs, each in one bounded sentence (a region's first differing
byte with its neighbours, a text's first differing line with its neighbours, never the
whole value), and :func:`first_difference` the first of them.

An assert is identified by what it is: (function, expression, ordinal among that
function's asserts with the same expression).  Its line and file are shown, never
compared, so a source whose lines moved is judged on behaviour.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
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
    """The index of the first byte where ``a`` and ``b`` differ (the shorter one's length if
    one is a prefix of the other)."""
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


#: the longest sentence :func:`differences` writes: values are cut to fit, never the field's name
SENTENCE_LIMIT = 800
#: the longest value (or line of text) a sentence shows
VALUE_LIMIT = 120
#: how many differing fields :func:`differences` names before it says how many more there are
FIELD_LIMIT = 40
#: bytes shown before and after the first differing byte of a byte string
BYTES_BEFORE, BYTES_AFTER = 4, 7


def _cut(text: str, limit: int = VALUE_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def show_value(value: Any) -> str:
    """A field's value as a reviewer reads it: a pointer as what it points at (the forms of
    ``harness.worlds.world.Place.norm``: ``heap block 2 + 100``, ``arena + 16``, ``0x7777``,
    ``&local_iov``), a tuple of fields in parentheses, anything else as ``repr`` shows it."""
    if isinstance(value, tuple):
        match value:
            case ("heap", int(rank), int(offset)):
                return f"heap block {rank}" + (f" + {offset}" if offset else "")
            case ("arena", int(offset)):
                return f"arena + {offset}"
            case ("abs", int(address)):
                return hex(address)
            case ("wild", int(offset)):
                return f"arena {offset:+d} (outside every object)"
        return "(" + ", ".join(show_value(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, str) and value.startswith("&") and "\n" not in value:
        return value
    return repr(value)


def _short(value: Any) -> str:
    """A value as a sentence shows it: bytes in hex, text by its first line, both with their length."""
    if isinstance(value, bytes):
        more = f"... ({len(value)} bytes)" if len(value) > 16 else ""
        return (value[:16].hex() or "(none)") + more
    if isinstance(value, str) and (len(value) > VALUE_LIMIT or "\n" in value.rstrip("\n")):
        first = value.split("\n", 1)[0]
        return f"{_cut(repr(first))} ... ({value.count(chr(10))} lines, {len(value)} characters)"
    return _cut(show_value(value))


def _around(data: bytes, k: int) -> str:
    """The bytes around ``k`` in hex, byte ``k`` in brackets ("[end]" past the last)."""
    lo = max(k - BYTES_BEFORE, 0)
    before = ("... " if lo else "") + data[lo:k].hex(" ")
    at = f"[{data[k : k + 1].hex()}]" if k < len(data) else "[end]"
    after = data[k + 1 : k + 1 + BYTES_AFTER].hex(" ") + (" ..." if len(data) > k + 1 + BYTES_AFTER else "")
    return " ".join(part for part in (before, at, after) if part)


def _bytes_sentence(o: Observed, va: bytes, vb: bytes, names: tuple[str, str]) -> str:
    """The first differing byte with a few bytes around it, and how many bytes differ in all."""
    k = _first_byte(va, vb)
    n = min(len(va), len(vb))
    xor = (int.from_bytes(va[:n], "big") ^ int.from_bytes(vb[:n], "big")).to_bytes(n, "big")
    differing = n - xor.count(0) + abs(len(va) - len(vb))
    if len(va) != len(vb):
        extent = f"{differing} bytes differ ({names[0]} has {len(va)} bytes, {names[1]} {len(vb)})"
    elif differing == 1:
        extent = f"1 of {n} bytes differs"
    else:
        extent = f"{differing} of {n} bytes differ, the last at byte {len(xor.rstrip(bytes(1))) - 1}"
    return f"{_where(o, k)}: {names[0]} {_around(va, k)} vs {names[1]} {_around(vb, k)}; {extent}"


def _n_lines(n: int) -> str:
    return f"{n} line{'' if n == 1 else 's'}"


def _lines(text: str) -> list[str]:
    """The lines of a text as C writes them: ended by "\\n" (the last maybe not)."""
    lines = text.split("\n")
    return lines[:-1] if text.endswith("\n") or not text else lines


def _text_sentence(label: str, ta: str, tb: str, names: tuple[str, str]) -> str:
    """The first differing line of two texts, on both sides, with a line of context around it."""
    la, lb = _lines(ta), _lines(tb)
    k = next((i for i, (x, y) in enumerate(zip(la, lb, strict=False)) if x != y), min(len(la), len(lb)))
    if k == len(la) == len(lb):  # the same lines: only the line ends differ
        return (
            f"{label}: the same {_n_lines(len(la))}, ended otherwise: {names[0]} {_cut(repr(ta[-40:]))} "
            f"vs {names[1]} {_cut(repr(tb[-40:]))}"
        )
    width = max(len(n) for n in names)
    number = len(str(k + 2))

    def show(side: str, lines: list[str], i: int) -> str:
        shown = _cut(repr(lines[i])) if i < len(lines) else "(no such line)"
        return f"\n    {side:>{width}} {i + 1:>{number}} | {shown}"

    counts = (
        f"{_n_lines(len(la))} each"
        if len(la) == len(lb)
        else f"{names[0]} wrote {_n_lines(len(la))}, {names[1]} {len(lb)}"
    )
    out = f"{label}: line {k + 1} differs ({counts})"
    if k:
        out += show("both", la, k - 1)
    for i in (k, k + 1):
        if i < len(la) or i < len(lb):
            if i > k and i < len(la) and i < len(lb) and la[i] == lb[i]:
                out += show("both", la, i)
                continue
            out += show(names[0], la, i) + show(names[1], lb, i)
    return out


def _observation_sentence(oa: Observed, ob: Observed, names: tuple[str, str]) -> str:
    va, vb = oa.value, ob.value
    if isinstance(va, bytes) and isinstance(vb, bytes):
        return _bytes_sentence(oa, va, vb, names)
    if isinstance(va, str) and isinstance(vb, str) and ("\n" in va or "\n" in vb):
        return _text_sentence(oa.label, va, vb, names)
    if isinstance(va, str) and isinstance(vb, str) and max(len(va), len(vb)) > VALUE_LIMIT:
        ea, eb = va.encode(), vb.encode()
        k = _first_byte(ea, eb)
        return (
            f"{oa.label}: byte {k} differs: {names[0]} {_cut(repr(ea[max(k - 20, 0) : k + 40]))} "
            f"vs {names[1]} {_cut(repr(eb[max(k - 20, 0) : k + 40]))}"
        )
    return f"{oa.label}: {names[0]} {_cut(show_value(va))} vs {names[1]} {_cut(show_value(vb))}"


def _sentences(a: Outcome, b: Outcome | None, names: tuple[str, str]) -> Iterator[str]:
    """One sentence per differing result and observation, in the outcomes' order (unbounded)."""
    if b is None:
        last = a.last
        yield (
            f"result of call {len(a.results)}: {names[0]} {last.show() if last else 'made no call'} vs "
            f"{names[1]} not compared (a claim of undefined behaviour is for the sanitizers to confirm)"
        )
        return
    for i in range(max(len(a.results), len(b.results))):
        ra = a.results[i] if i < len(a.results) else NotReached()
        rb = b.results[i] if i < len(b.results) else NotReached()
        if ra != rb:
            yield (
                f"result of call {i + 1}: {names[0]} {_cut(ra.show(), SENTENCE_LIMIT // 2 - 40)} "
                f"vs {names[1]} {_cut(rb.show(), SENTENCE_LIMIT // 2 - 40)}"
            )
    oa_all, ob_all = a.observations, b.observations
    la, lb = [o.label for o in oa_all], [o.label for o in ob_all]
    opcodes: Sequence[tuple[str, int, int, int, int]] = [("equal", 0, len(la), 0, len(lb))]
    if la != lb:  # a field only one side has (a vector with more entries): line the others up
        opcodes = SequenceMatcher(None, la, lb, autojunk=False).get_opcodes()
    for tag, i1, i2, j1, j2 in opcodes:
        if tag == "equal":
            for oa, ob in zip(oa_all[i1:i2], ob_all[j1:j2], strict=True):
                if oa.value != ob.value:
                    yield _cut(_observation_sentence(oa, ob, names), SENTENCE_LIMIT)
            continue
        for side, only in ((names[0], oa_all[i1:i2]), (names[1], ob_all[j1:j2])):
            for o in only:
                yield _cut(f"{o.label}: only {side} has it ({_short(o.value)})", SENTENCE_LIMIT)


def differences(
    a: Outcome, b: Outcome | None, names: tuple[str, str] = ("pyimpl", "C"), limit: int = FIELD_LIMIT
) -> list[str]:
    """Every differing field of two outcomes, one sentence each (at most SENTENCE_LIMIT
    characters), in the outcomes' order: each call's result, then each observation (a region's
    bytes: the first differing byte with a few around it and how many differ in all; a text:
    its first differing line on both sides with a line of context).  After ``limit`` sentences
    one more says how many fields were left out.  ``b`` None: ``a`` claimed undefined behaviour,
    which the oracle judges, not a comparison."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit!r}")
    found = _sentences(a, b, names)
    out = list(itertools.islice(found, limit))
    more = sum(1 for _ in found)
    if more:
        out.append(f"... and {more} more differing field{'s' if more > 1 else ''}")
    return out


def first_difference(a: Outcome, b: Outcome, names: tuple[str, str] = ("pyimpl", "C")) -> str | None:
    """A sentence naming the first thing that differs between two outcomes, or None
    (``differences(a, b, names)[0]``)."""
    return next(_sentences(a, b, names), None)


#: the kinds of difference, as a reviewer reads them, the most telling first: a change of
#: behaviour (what a call returns, whether it aborts, what it allocates, what it leaves in
#: memory, errno) comes before a refuted UB claim, and every kind before a note; heap use
#: before memory, since an allocation more or less moves every heap pointer stored after it
KINDS = (
    "a crash",
    "a different value",
    "an assert became a return",
    "a return became an assert",
    "a different assert",
    "different heap use",
    "different memory",
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
    differing = [oa.label for oa, ob in zip(a.observations, b.observations, strict=False) if oa != ob]
    # more or fewer allocations move every heap pointer stored after them: the heap is the cause
    heap = next((label for label in differing if label.startswith("heap")), None)
    if heap is not None:
        return "different heap use", heap
    for label in differing:
        return ("a different errno" if label == "errno" else "different memory"), label
    if len(a.observations) != len(b.observations):
        return "something else", "observations"
    return note or ("something else", "")
