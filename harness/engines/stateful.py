"""Stateful differential testing: QEMUIOVector lifecycles driven on both sides at once.

:class:`IovecMachine` is a Hypothesis ``RuleBasedStateMachine``.  At its first
step it lays out ONE fixed arena (data regions with distinct contents, two iovec
arrays, four ``QEMUIOVector`` slots, an undo record, and two ``struct iovec *`` /
``unsigned`` pairs for the discard functions) twice: once in the port and once
in the C reference, each a live :class:`~harness.worlds.world.Run`.  Every rule then
makes one C call (``qemu_iovec_init``, ``_add``, ``_concat``, ``_init_extended``,
``_clone``, ``iov_discard_front_undoable`` ...) with arguments drawn from the
current state (sizes and entry boundaries read from the port's side, +-1, and
now and then past the end), on both sides, and after every step compares the
call's result records and every observation of both arenas and heaps, through
the one judge step (``Judge.decide``) every engine uses.

The calls so far form a :class:`~harness.model.case.Case` (the regions plus the list
of calls), so a failing sequence prints as a program ``python -m harness replay``
re-runs.  A call the port classifies as undefined behaviour is not made in C
(the judge has the claim confirmed) and ends the sequence; so does an assert (or
GLib abort) both sides agree on, since the C program would have stopped there.
At teardown every owned vector is destroyed and both heaps must be empty.  Rules
run only when their preconditions hold (``@precondition``); a machine carries its
judge, so nothing about a run is kept at module level.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any, NoReturn, TypeVar

from hypothesis import HealthCheck, Phase, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.reporting import with_reporter
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)

from harness.generate.bounds import DRAWN
from harness.generate.choices import HUGE
from harness.model.case import Arg, Call, Case, Ref, Region, case_from_json, case_to_json
from harness.model.outcome import Outcome, Result, Returned
from harness.verdict.judge import Discrepancy, Judge, Tally, minimise
from harness.worlds.world import Run
from iovspec.cint import SIZE_MAX
from iovspec.structs import IOVEC_SIZE, QIOV_LOCAL_IOV, QIOV_SIZE, UNDO_SIZE, read_iovecs, read_qiov

#: QEMUIOVector slots, by region name
SLOTS = ("q0", "q1", "q2", "q3")
#: data regions the vectors point into (name, size)
DATA = (("d0", 16), ("d1", 12), ("d2", 8))
#: iovec arrays (name, entries); each has a (struct iovec *, unsigned) pair for the discards
ARRAYS = (("iovA", 4), ("iovB", 3))
PAIRS = {"iovA": ("pA", "nA"), "iovB": ("pB", "nB")}
OUT = ("out", 160)  # destination of qemu_iovec_to_buf; no vector points here
SRC = ("src", 64)  # source of qemu_iovec_from_buf; no vector points here
CLONE = ("cbuf", 96)  # the buffer qemu_iovec_clone lays its copies over
FILLS = (0, 0xFF, 0x5A, -1, 0x1A5)
#: the wide lengths qemu_iovec_add gives now and then (harness.generate.layouts: one real byte each, the
#: rest past the region): those below 2**33 only, because a sequence may clone the vector and
#: qemu_iovec_clone adds every length to a pointer (buf += iov_len), and a sum of 2**63 or more
#: is an address UBSan reports as wrapped (see harness.generate.layouts.OFFSET_BASES)
WIDE = tuple(w for w in DRAWN.wide if w < 1 << 33)


class SequenceDiscrepancy(Discrepancy):
    """The two sides disagreed (or leaked, or double-freed) during a sequence of calls.

    ``case`` holds the regions and every call made so far: a replayable program.
    """

    def __init__(
        self,
        difference: str,
        case: Case,
        names: tuple[str, str] = ("pyimpl", "C"),
        kind: str = "something else",
        where: str = "",
    ) -> None:
        super().__init__(case, difference, (None, None), names, kind, where)
        self.case_json = case_to_json(case)
        self.args = (
            f"{difference}\n"
            f"the sequence so far ({len(case.calls)} calls):\n{case.describe()}\n"
            "replay: save the JSON below to a file and run `python -m harness replay FILE`\n"
            f"{compact_json(case)}",
        )

    def __str__(self) -> str:
        return str(self.args[0])


def compact_json(case: Case) -> str:
    """``case_to_json`` laid out one region and one call per line (still valid case JSON)."""
    raw = json.loads(case_to_json(case))
    regions = ",\n  ".join(json.dumps(r) for r in raw["regions"])
    calls = ",\n  ".join(json.dumps(c) for c in raw["calls"])
    text = (
        f'{{"label": {json.dumps(raw["label"])},\n "regions": [\n  {regions}\n ],\n'
        f' "calls": [\n  {calls}\n ]}}'
    )
    assert case_from_json(text) == case
    return text


def layout_regions(
    contents: dict[str, bytes], arrays: dict[str, list[tuple[Arg, int]]]
) -> tuple[Region, ...]:
    """The machine's fixed arena: data, the to/from/clone buffers, arrays, slots, undo, pairs."""
    regions = [Region(name, "data", size, contents[name]) for name, size in DATA]
    regions.append(Region(SRC[0], "data", SRC[1], contents[SRC[0]]))
    regions.append(Region(OUT[0], "data", OUT[1], bytes(OUT[1])))
    regions.append(Region(CLONE[0], "data", CLONE[1], bytes(CLONE[1])))
    for name, n in ARRAYS:
        entries = tuple(arrays[name])
        assert len(entries) == n
        regions.append(Region(name, "iovs", IOVEC_SIZE * n, entries))
    regions += [Region(q, "qiov", QIOV_SIZE, None) for q in SLOTS]
    regions.append(Region("undo", "undo", UNDO_SIZE, None))
    for name, n in ARRAYS:
        p, cnt = PAIRS[name]
        regions.append(Region(p, "ptr", 8, Ref(name)))
        regions.append(Region(cnt, "uint", 4, n))
    return tuple(regions)


# -- drawing arguments from the current state -------------------------------------------------
@st.composite
def _amounts(draw: st.DrawFn, near: list[int], top: int) -> int:
    k = draw(st.integers(0, 39))
    if k < 28:
        return draw(st.sampled_from(near))
    if k < 38:
        return draw(st.integers(0, top))
    if k == 38:
        return top + draw(st.integers(1, 2))
    value: int = draw(st.sampled_from(HUGE))
    return value


def _amount(data: st.DataObject, points: Iterable[int], label: str) -> int:
    """An offset or byte count: a point or +-1 (mostly), anything up to the largest point,
    or now and then (1 in 20) just past it or near 2**64."""
    pts = sorted({p for p in points if p >= 0}) or [0]
    top = pts[-1]
    near = sorted({q for p in pts for q in (p - 1, p, p + 1) if 0 <= q <= top})
    value: int = data.draw(_amounts(near, top), label=label)
    return value & SIZE_MAX  # a size_t argument: past 2**64 - 1 it wraps, as C converts it


def _rarely(data: st.DataObject, label: str, one_in: int = 30) -> bool:
    """True about once in ``one_in`` draws (shrinks to False)."""
    return data.draw(st.integers(0, one_in - 1), label=label) == one_in - 1


F = TypeVar("F", bound=Callable[..., Any])


def calls(func: str) -> Callable[[F], F]:
    """A rule that calls ``func``: it runs only where both worlds define it as the table does
    (a C source may lack it, as upstream v8.1 lacks ``qemu_iovec_init_extended``, which its
    run reports as missing)."""
    return precondition(lambda self: self.can(func))


class IovecMachine(RuleBasedStateMachine):
    """QEMUIOVector lifecycles run on the port and on C at once, compared after every step."""

    def __init__(self, judge: Judge, tally: Tally | None = None) -> None:
        super().__init__()
        self.judge = judge
        self.tally = tally
        self.regions: tuple[Region, ...] = ()
        self.calls: list[Call] = []
        self.port_results: list[Result] = []
        self.ref_results: list[Result] = []
        self.port_run: Run | None = None
        self.ref_run: Run | None = None
        #: why the sequence ended: None while it goes on, else the result's kind (Undefined...)
        self.ended: str | None = None

    def __repr__(self) -> str:
        return "IovecMachine()"

    # -- the two runs --------------------------------------------------------------------------
    def start(self, regions: tuple[Region, ...]) -> None:
        """Lay ``regions`` out in both worlds (the machine's one fixed layout)."""
        self.regions = regions
        empty = Case(regions, ())
        self.port_run = Run(self.judge.port, empty, mirror=self.judge.reference)
        self.ref_run = Run(self.judge.reference, empty)

    def can(self, func: str) -> bool:
        """Whether both worlds have ``func`` as the table describes it."""
        return self.judge.port.has(func) and self.judge.reference.has(func)

    @property
    def live(self) -> bool:
        return self.port_run is not None and self.ended is None

    def sequence_case(self, label: str = "stateful") -> Case:
        """The layout and every call made so far, as a case ``harness replay`` re-runs."""
        return Case(self.regions, tuple(self.calls), label)

    def fail(self, difference: str, kind: str = "something else", where: str = "") -> NoReturn:
        self.ended = "failed"
        raise SequenceDiscrepancy(difference, self.sequence_case(), self.judge.names, kind, where)

    def step(self, func: str, *args: Any) -> Result:
        """Make one call on the port, then (unless the port says UB) on C; the judge decides."""
        assert self.port_run is not None and self.ref_run is not None and self.ended is None
        call = Call(func, tuple(args))
        self.calls.append(call)
        try:
            ours = self.port_run.call(call)
        except Exception as exc:  # not a C outcome (assert, UB, abort): the port is wrong
            self.fail(f"call {len(self.calls)} ({call!r}): the port raised {type(exc).__name__}: {exc}")
        self.port_results.append(ours)
        ref_run = self.ref_run

        def run_c() -> Outcome:
            self.ref_results.append(ref_run.call(call))
            return Outcome(tuple(self.ref_results), ref_run.observe())

        port_outcome = Outcome(tuple(self.port_results), self.port_run.observe())
        try:
            self.judge.decide(self.sequence_case(), port_outcome, run_c, self.tally)
        except Discrepancy as d:
            self.fail(f"after call {len(self.calls)} ({call!r}): {d.difference}", d.kind, d.where)
        if self.judge.accepted is not None:
            # a listed difference: the worlds have parted, so every later step would show it again
            self.ended = "listed difference"
            return ours
        if not isinstance(ours, Returned):
            # UB: C would be undefined from here (not run); an assert or abort: the program stops
            self.ended = type(ours).__name__
        return ours

    # -- reading the state (from the port's side; the two sides agree after every step) --------
    @property
    def mem(self) -> Any:
        """The memory of the side the state is read from (the port's; C's in a C-against-C diff)."""
        assert self.port_run is not None
        return self.port_run.mem

    def at(self, name: str) -> int:
        assert self.port_run is not None
        return int(self.port_run.addr(Ref(name)))

    def kind(self, slot: str) -> str:
        """free (all fields zero, as after destroy or qemu_iovec_init(q, 0)), owned, external or embedded."""
        q = read_qiov(self.mem, self.at(slot))
        if q.iov == 0 and q.niov == 0 and q.nalloc == 0 and q.local_base == 0 and q.size == 0:
            return "free"
        if q.nalloc != -1:
            return "owned"
        return "embedded" if q.iov == self.at(slot) + QIOV_LOCAL_IOV else "external"

    def slots(self, *kinds: str) -> list[str]:
        return [s for s in SLOTS if self.kind(s) in kinds]

    def entries(self, iov: int, n: int) -> list[tuple[int, int]] | None:
        """The iovecs at ``iov`` as the port sees them, or None if they cannot be read."""
        if n < 0 or n > 64:
            return None
        try:
            return read_iovecs(self.mem, iov, n)
        except Exception:  # UndefinedBehaviour in the port, CCrash when the old side is C too
            return None

    def shape(self, slot: str) -> tuple[int, ...] | None:
        q = read_qiov(self.mem, self.at(slot))
        e = self.entries(q.iov, q.niov)
        return None if e is None else tuple(n for _, n in e)

    def points(self, slot: str) -> list[int]:
        """0, each entry boundary of the vector, and its size field."""
        q = read_qiov(self.mem, self.at(slot))
        out, acc = [0, q.size], 0
        for n in self.shape(slot) or ():
            acc += n
            out.append(acc)
        return out

    def ref(self, addr: int) -> Arg:
        """An address in the port's arena as a Ref (so the case replays it), NULL as 0."""
        assert self.port_run is not None
        if addr == 0:
            return 0
        off = addr - self.port_run.base
        for r in self.regions:
            start = self.port_run.offsets[r.name]
            if start <= off <= start + r.size:
                return Ref(r.name, off - start)
        raise AssertionError(f"address {addr:#x} is outside the arena")

    def span(self, data: st.DataObject, slot: str, label: str = "") -> tuple[int, int]:
        """(offset, bytes) for a vector: boundaries of the vector, then of what is left."""
        pts = self.points(slot)
        offset = _amount(data, pts, f"{label}offset")
        nbytes = _amount(data, [p - offset for p in pts if p >= offset] + [0], f"{label}bytes")
        return offset, nbytes

    def piece(self, data: st.DataObject, label: str) -> tuple[Arg, int]:
        """(base, len) inside one data region, or now and then (NULL, 0)."""
        if _rarely(data, f"{label} is NULL", 8):
            return 0, 0
        name, size = data.draw(st.sampled_from(DATA), label=f"{label} region")
        off = data.draw(st.integers(0, size), label=f"{label} offset")
        length = data.draw(st.integers(0, size - off), label=f"{label} len")
        return Ref(name, off), length

    def pick(self, data: st.DataObject, usual: list[str], label: str, misuse: int = 30) -> str:
        """A slot from ``usual`` (never empty: the rule's precondition), now and then any slot (misuse)."""
        if not usual or _rarely(data, f"{label} from any slot", misuse):
            return data.draw(st.sampled_from(SLOTS), label=label)
        return data.draw(st.sampled_from(usual), label=label)

    # -- the layout ----------------------------------------------------------------------------
    @initialize(data=st.data())
    def lay_out(self, data: st.DataObject) -> None:
        """Draw the contents of the data regions and the two iovec arrays, and lay them out."""
        contents: dict[str, bytes] = {}
        for name, size in DATA:
            if name == "d1":  # mostly zero, so qemu_iovec_is_zero says yes sometimes
                block = bytearray(size)
                if data.draw(st.booleans(), label="d1 has a non-zero byte"):
                    block[data.draw(st.integers(0, size - 1), label="at")] = data.draw(st.integers(1, 255))
                contents[name] = bytes(block)
            else:
                contents[name] = data.draw(st.binary(min_size=size, max_size=size), label=name)
        contents[SRC[0]] = data.draw(st.binary(min_size=SRC[1], max_size=SRC[1]), label="src")
        arrays = {name: [self.piece(data, f"{name}[{i}]") for i in range(n)] for name, n in ARRAYS}
        self.start(layout_regions(contents, arrays))

    # -- preconditions -------------------------------------------------------------------------
    def has(self, *kinds: str) -> bool:
        """The sequence goes on and some slot is of one of ``kinds``."""
        return self.live and bool(self.slots(*kinds))

    def niov(self, slot: str) -> int:
        return read_qiov(self.mem, self.at(slot)).niov

    def clone_dests(self) -> list[str]:
        """Owned or free slots that some other slot with entries could be cloned into."""
        sources = [s for s in SLOTS if self.niov(s) > 0]
        return [d for d in self.slots("owned", "free") if any(s != d for s in sources)]

    # -- making vectors (only in free slots: nothing leaks) ------------------------------------
    @calls("qemu_iovec_init")
    @precondition(lambda self: self.has("free"))
    @rule(data=st.data())
    def init(self, data: st.DataObject) -> None:
        q = data.draw(st.sampled_from(self.slots("free")), label="qiov")
        hint = -1 if _rarely(data, "negative hint", 40) else data.draw(st.sampled_from((0, 1, 2, 3, 4, 8)))
        self.step("qemu_iovec_init", Ref(q), hint)

    @calls("qemu_iovec_init_external")
    @precondition(lambda self: self.has("free"))
    @rule(data=st.data())
    def init_external(self, data: st.DataObject) -> None:
        q = data.draw(st.sampled_from(self.slots("free")), label="qiov")
        name, n = data.draw(st.sampled_from(ARRAYS), label="array")
        first = data.draw(st.integers(0, n), label="first entry")
        niov = data.draw(st.integers(0, n - first), label="niov")
        self.step("qemu_iovec_init_external", Ref(q), Ref(name, first * IOVEC_SIZE), niov)

    @calls("qemu_iovec_init_buf")
    @precondition(lambda self: self.has("free"))
    @rule(data=st.data())
    def init_buf(self, data: st.DataObject) -> None:
        q = data.draw(st.sampled_from(self.slots("free")), label="qiov")
        base, length = self.piece(data, "buf")
        self.step("qemu_iovec_init_buf", Ref(q), base, length)

    @calls("qemu_iovec_init_extended")
    @precondition(lambda self: self.has("free"))
    @rule(data=st.data())
    def init_extended(self, data: st.DataObject) -> None:
        q = data.draw(st.sampled_from(self.slots("free")), label="qiov")
        mid = data.draw(st.sampled_from(SLOTS), label="mid_qiov")
        head, head_len = self.piece(data, "head")
        mid_offset, mid_len = self.span(data, mid, "mid_")
        tail, tail_len = self.piece(data, "tail")
        if _rarely(data, "huge tail", 30):
            tail_len = data.draw(st.sampled_from(HUGE), label="tail_len")
        self.step(
            "qemu_iovec_init_extended", Ref(q), head, head_len, Ref(mid), mid_offset, mid_len, tail, tail_len
        )

    @calls("qemu_iovec_init_slice")
    @precondition(lambda self: self.has("free"))
    @rule(data=st.data())
    def init_slice(self, data: st.DataObject) -> None:
        q = data.draw(st.sampled_from(self.slots("free")), label="qiov")
        source = data.draw(st.sampled_from(SLOTS), label="source")
        offset, length = self.span(data, source)
        self.step("qemu_iovec_init_slice", Ref(q), Ref(source), offset, length)

    @calls("qemu_iovec_clone")
    @precondition(lambda self: self.live and bool(self.clone_dests()))
    @rule(data=st.data())
    def clone(self, data: st.DataObject) -> None:
        dest = self.pick(data, self.clone_dests(), "dest")
        sources = [s for s in SLOTS if s != dest and self.niov(s) > 0]  # niov 0: a zero-length VLA
        src = self.pick(data, sources, "src")
        at = data.draw(st.integers(0, 3), label="buf offset")
        self.step("qemu_iovec_clone", Ref(dest), Ref(src), Ref(CLONE[0], at))

    # -- growing and shrinking -----------------------------------------------------------------
    @calls("qemu_iovec_add")
    @precondition(lambda self: self.has("owned", "free"))
    @rule(data=st.data())
    def add(self, data: st.DataObject) -> None:
        q = self.pick(data, self.slots("owned", "free"), "qiov")  # misuse (external...) asserts
        base, length = self.piece(data, "entry")
        if base and _rarely(data, "a wide entry", 12):
            length = data.draw(st.sampled_from(WIDE), label="entry len")
        self.step("qemu_iovec_add", Ref(q), base, length)

    @calls("qemu_iovec_concat")
    @precondition(lambda self: self.has("owned", "free"))
    @rule(data=st.data())
    def concat(self, data: st.DataObject) -> None:
        dst = self.pick(data, self.slots("owned", "free"), "dst")
        src = self.pick(data, [s for s in SLOTS if s != dst], "src")  # misuse: itself
        offset, nbytes = self.span(data, src, "s")
        self.step("qemu_iovec_concat", Ref(dst), Ref(src), offset, nbytes)

    @calls("qemu_iovec_concat_iov")
    @precondition(lambda self: self.has("owned", "free"))
    @rule(data=st.data())
    def concat_iov(self, data: st.DataObject) -> None:
        dst = self.pick(data, self.slots("owned", "free"), "dst")
        name, n = data.draw(st.sampled_from(ARRAYS), label="src_iov")
        first = data.draw(st.integers(0, n), label="first entry")
        cnt = data.draw(st.integers(0, n - first), label="src_cnt")
        pts, acc = [0], 0
        for _, length in self.entries(self.at(name) + first * IOVEC_SIZE, cnt) or ():
            acc += length
            pts.append(acc)
        offset = _amount(data, pts, "soffset")
        nbytes = _amount(data, [p - offset for p in pts if p >= offset] + [0], "sbytes")
        self.step("qemu_iovec_concat_iov", Ref(dst), Ref(name, first * IOVEC_SIZE), cnt, offset, nbytes)

    @calls("qemu_iovec_discard_back")
    @precondition(lambda self: self.live)
    @rule(data=st.data())
    def discard_back(self, data: st.DataObject) -> None:
        q = data.draw(st.sampled_from(SLOTS), label="qiov")
        self.step("qemu_iovec_discard_back", Ref(q), _amount(data, self.points(q), "bytes"))

    @calls("qemu_iovec_reset")
    @precondition(lambda self: self.has("owned", "free"))
    @rule(data=st.data())
    def reset(self, data: st.DataObject) -> None:
        usual = self.slots("owned") or self.slots("free")
        q = self.pick(data, usual, "qiov")  # misuse (external...) asserts
        self.step("qemu_iovec_reset", Ref(q))

    @calls("qemu_iovec_destroy")
    @precondition(lambda self: self.has("owned", "external", "embedded"))
    @rule(data=st.data())
    def destroy(self, data: st.DataObject) -> None:
        used = self.slots("owned", "external", "embedded")
        self.step("qemu_iovec_destroy", Ref(data.draw(st.sampled_from(used), label="qiov")))

    # -- using vectors -------------------------------------------------------------------------
    @calls("qemu_iovec_to_buf")
    @precondition(lambda self: self.live)
    @rule(data=st.data())
    def to_buf(self, data: st.DataObject) -> None:
        q = data.draw(st.sampled_from(SLOTS), label="qiov")
        offset, nbytes = self.span(data, q)
        buf = Ref(OUT[0], data.draw(st.integers(0, 3), label="buf offset"))
        self.step("qemu_iovec_to_buf", Ref(q), offset, buf, nbytes)

    @calls("qemu_iovec_from_buf")
    @precondition(lambda self: self.live)
    @rule(data=st.data())
    def from_buf(self, data: st.DataObject) -> None:
        q = data.draw(st.sampled_from(SLOTS), label="qiov")
        offset, nbytes = self.span(data, q)
        buf = Ref(SRC[0], data.draw(st.integers(0, 3), label="buf offset"))
        self.step("qemu_iovec_from_buf", Ref(q), offset, buf, nbytes)

    @calls("qemu_iovec_memset")
    @precondition(lambda self: self.live)
    @rule(data=st.data())
    def memset(self, data: st.DataObject) -> None:
        q = data.draw(st.sampled_from(SLOTS), label="qiov")
        offset, nbytes = self.span(data, q)
        fillc = data.draw(st.sampled_from(FILLS), label="fillc")
        self.step("qemu_iovec_memset", Ref(q), offset, fillc, nbytes)

    @calls("qemu_iovec_is_zero")
    @precondition(lambda self: self.live)
    @rule(data=st.data())
    def is_zero(self, data: st.DataObject) -> None:
        q = data.draw(st.sampled_from(SLOTS), label="qiov")
        self.step("qemu_iovec_is_zero", Ref(q), *self.span(data, q))

    @calls("qemu_iovec_subvec_niov")
    @precondition(lambda self: self.live)
    @rule(data=st.data())
    def subvec_niov(self, data: st.DataObject) -> None:
        q = data.draw(st.sampled_from(SLOTS), label="qiov")
        self.step("qemu_iovec_subvec_niov", Ref(q), *self.span(data, q))

    @calls("qemu_iovec_compare")
    @precondition(lambda self: self.live)
    @rule(data=st.data())
    def compare(self, data: st.DataObject) -> None:
        shapes = {s: self.shape(s) for s in SLOTS}
        alike = [(a, b) for a in SLOTS for b in SLOTS if shapes[a] is not None and shapes[a] == shapes[b]]
        if alike and not _rarely(data, "any two vectors"):
            a, b = data.draw(st.sampled_from(alike), label="a, b")
        else:  # different shapes: asserts
            a, b = data.draw(st.tuples(st.sampled_from(SLOTS), st.sampled_from(SLOTS)), label="a, b")
        self.step("qemu_iovec_compare", Ref(a), Ref(b))

    @calls("qemu_iovec_buf")
    @precondition(lambda self: self.has("embedded"))
    @rule(data=st.data())
    def buf(self, data: st.DataObject) -> None:
        q = self.pick(data, self.slots("embedded"), "qiov")  # misuse (not embedded) asserts
        self.step("qemu_iovec_buf", Ref(q))

    # -- the discard functions over a (struct iovec *, unsigned) pair --------------------------
    def pair(self, data: st.DataObject) -> tuple[str, str, int, int, list[int]]:
        name, _ = data.draw(st.sampled_from(ARRAYS), label="array")
        p, n = PAIRS[name]
        iov, cnt = self.mem.u64(self.at(p)), self.mem.u32(self.at(n))
        pts, acc = [0], 0
        for _, length in self.entries(iov, cnt) or ():
            acc += length
            pts.append(acc)
        return p, n, iov, cnt, pts

    def undo_arg(self, data: st.DataObject) -> Arg:
        return 0 if _rarely(data, "no undo record", 4) else Ref("undo")

    @calls("iov_discard_front_undoable")
    @precondition(lambda self: self.live)
    @rule(data=st.data())
    def discard_front(self, data: st.DataObject) -> None:
        p, n, _, _, pts = self.pair(data)
        nbytes = _amount(data, pts, "bytes")
        self.step("iov_discard_front_undoable", Ref(p), Ref(n), nbytes, self.undo_arg(data))

    @calls("iov_discard_back_undoable")
    @precondition(lambda self: self.live)
    @rule(data=st.data())
    def discard_back_iov(self, data: st.DataObject) -> None:
        _, n, iov, _, pts = self.pair(data)
        nbytes = _amount(data, pts, "bytes")
        self.step("iov_discard_back_undoable", self.ref(iov), Ref(n), nbytes, self.undo_arg(data))

    @calls("iov_discard_undo")
    @precondition(lambda self: self.live)
    @rule()
    def discard_undo(self) -> None:
        self.step("iov_discard_undo", Ref("undo"))

    @precondition(lambda self: not self.live)
    @rule()
    def sequence_over(self) -> None:
        """The program stopped (an assert, an abort, UB): nothing more happens in it."""

    # -- the end -------------------------------------------------------------------------------
    def teardown(self) -> None:
        try:
            if self.live:
                self.check_heap_and_destroy()
        finally:
            for run in (self.port_run, self.ref_run):
                if run is not None:
                    run.close()
            self.port_run = self.ref_run = None

    def check_heap_and_destroy(self) -> None:
        """Every live heap block is one owned vector's array; destroying those empties both heaps."""
        assert self.port_run is not None and self.ref_run is not None
        owned = self.slots("owned")
        arrays = [q for q in owned if read_qiov(self.mem, self.at(q)).iov != 0]
        for run in (self.port_run, self.ref_run):
            live = run.mem.heap_stats().live
            if live != len(arrays):
                self.fail(
                    f"at the end, {run.world.name} has {live} live heap blocks but the owned vectors "
                    f"hold {len(arrays)} arrays ({', '.join(arrays) or 'none'}): a leak or a lost array"
                )
        for q in owned:
            record = self.step("qemu_iovec_destroy", Ref(q))
            if not isinstance(record, Returned):
                self.fail(f"destroying owned vector {q} at the end did not return: {record!r}")
        for run in (self.port_run, self.ref_run):
            live = run.mem.heap_stats().live
            if live:
                self.fail(
                    f"after destroying every owned vector, {run.world.name} still has {live} heap blocks"
                )


def run(
    judge: Judge,
    examples: int,
    seed: int,
    tally: Tally | None = None,
    on_case: Callable[[int], None] | None = None,
    steps: int = 25,
) -> int:
    """Run ``examples`` sequences of up to ``steps`` calls through ``judge``; returns the calls made.

    Hypothesis shrinks stateful runs slowly here (each attempt replays a whole sequence),
    so the search runs without shrinking and a failing sequence is cut down by
    :func:`harness.verdict.judge.minimise` instead; the raised :class:`SequenceDiscrepancy`
    carries the cut-down case.  A C crash propagates as :class:`CCrashed`.
    """
    own = tally if tally is not None else Tally()

    def factory() -> IovecMachine:
        if on_case is not None:
            on_case(own.cases)
        return IovecMachine(judge, own)

    try:
        with with_reporter(lambda text: None):  # the failure is reported below, as a case
            run_state_machine_as_test(
                hypothesis_seed(seed)(factory),  # type: ignore[arg-type]
                settings=settings(
                    max_examples=examples,
                    stateful_step_count=steps,
                    deadline=None,
                    database=None,
                    derandomize=False,
                    report_multiple_bugs=False,
                    phases=(Phase.explicit, Phase.generate),
                    suppress_health_check=list(HealthCheck),
                ),
            )
    except SequenceDiscrepancy as exc:
        small = minimise(judge, exc.case)
        note = f"(cut down from {len(exc.case.calls)} calls to {len(small.calls)})"
        raise SequenceDiscrepancy(
            f"{exc.difference}\n{note}", small, judge.names, exc.kind, exc.where
        ) from None
    return own.cases


__all__ = [
    "IovecMachine",
    "SequenceDiscrepancy",
    "compact_json",
    "layout_regions",
    "run",
]
