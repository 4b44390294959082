"""The exhaustive engine: every case up to a bound, port against reference, no Hypothesis.

For each function a *family* enumerates groups of cases.  A :class:`Group` is one
memory layout (regions plus the setup calls that build owned QEMUIOVectors) and
every call sequence under test against it: each offset and byte count from 0 to
the total + 1 (plus the ``Bound.huge`` values near 2**64), each count, fill value,
content class, vector kind and end buffer the bound allows.

Speed comes from building each group's two worlds once and resetting them between
calls (:meth:`harness.worlds.Run.reset`: the arena and the heap-held iovec arrays
written back, possible while the heap counters are unchanged; otherwise the Run is
built afresh).  The comparison is the Hypothesis path's: :class:`Outcome` records
from ``Run.call`` and ``Run.observe`` compared with ``first_difference``; cases the
port classifies as undefined behaviour are not run in C.  A difference is re-run
from scratch with :class:`harness.judge.Judge` before it is reported, so a report
always carries a :class:`Case` that ``python -m harness replay`` reproduces.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pyimpl.structs import IOVEC_SIZE, read_qiov

from .bounds import BOUNDS, DEFAULT_BOUND, QUICK_BOUND, Bound
from .case import Builder, Call, Case, Ref, Region
from .choices import Choices, every
from .families import FAMILIES, Test
from .judge import Discrepancy, Judge, Tally
from .outcome import Observed, Outcome, Returned, first_difference
from .worlds import Run, World, run_case

__all__ = ["BOUNDS", "DEFAULT_BOUND", "QUICK_BOUND", "Bound", "check_function", "count_cases", "groups"]

#: functions of iov.c that need sockets or text streams: their families are drawn only
NOT_MEMORY = frozenset(f for f, fam in FAMILIES.items() if not fam.enumerable)


@dataclass(frozen=True)
class Group:
    """One layout (regions and setup calls) and every call sequence tested against it."""

    regions: tuple[Region, ...]
    setup: tuple[Call, ...]
    tests: tuple[Test, ...]

    def case(self, test: Test, label: str = "") -> Case:
        return Case(self.regions, self.setup + test, label)

    def size_key(self) -> tuple[int, int, int]:
        """How big the layout is: iovec entries (arrays and added ones), bytes, setup calls."""
        entries = sum(r.size // IOVEC_SIZE for r in self.regions if r.kind == "iovs")
        entries += sum(1 for c in self.setup if c.func == "qemu_iovec_add")
        return (entries, sum(r.size for r in self.regions if r.kind == "data"), len(self.setup))


def groups(func: str, bound: Bound) -> Iterator[Group]:
    """Every layout of ``func``'s family within ``bound``, each with every test of it."""
    fam = FAMILIES.get(func)
    if fam is None or not fam.enumerable:
        raise ValueError(f"func: no exhaustive enumeration for {func!r}")

    def layout(c: Choices) -> tuple[Builder, Callable[[Choices], Test]]:
        b = Builder()
        return b, fam.build(c, b)

    for b, test in every(bound, layout):
        yield Group(tuple(b.regions), tuple(b.calls), tuple(every(bound, test)))


#: the functions the exhaustive engine enumerates
FUNCTIONS = tuple(f for f, fam in FAMILIES.items() if fam.enumerable)


def cases(func: str, bound: Bound) -> Iterator[Case]:
    """Every case enumerated for ``func``, one by one (slow; the engine does not build these)."""
    for group in groups(func, bound):
        for test in group.tests:
            yield group.case(test, f"exhaustive {func}")


def count_cases(func: str, bound: Bound) -> int:
    return sum(len(g.tests) for g in groups(func, bound))


class _ArenaSnapshot:
    """A world memory whose arena loads come from one snapshot (observers only).

    ``Run.observe`` reads every field with small loads; served from bytes taken right
    before, they are the same values at a fraction of the cost on the C side.  Arena
    addresses are never heap blocks, so ``heap_block`` answers None there directly.
    """

    def __init__(self, mem: Any, base: int, data: bytes) -> None:
        self.mem = mem
        self.base = base
        self.data = data
        self.end = base + len(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.mem, name)

    def _bytes(self, addr: int, n: int) -> bytes | None:
        if self.base <= addr and addr + n <= self.end:
            return self.data[addr - self.base : addr - self.base + n]
        return None

    def peek(self, addr: int, n: int) -> bytes:
        got = self._bytes(addr, n)
        return got if got is not None else bytes(self.mem.peek(addr, n))

    def read(self, addr: int, n: int) -> bytes:
        got = self._bytes(addr, n)
        return got if got is not None else bytes(self.mem.read(addr, n))

    def u64(self, addr: int) -> int:
        got = self._bytes(addr, 8)
        return int.from_bytes(got, "little") if got is not None else int(self.mem.u64(addr))

    def i32(self, addr: int) -> int:
        got = self._bytes(addr, 4)
        return int.from_bytes(got, "little", signed=True) if got is not None else int(self.mem.i32(addr))

    def u32(self, addr: int) -> int:
        got = self._bytes(addr, 4)
        return int.from_bytes(got, "little") if got is not None else int(self.mem.u32(addr))

    def heap_block(self, addr: int) -> tuple[int, int] | None:
        if self.base <= addr < self.end:
            return None
        block: tuple[int, int] | None = self.mem.heap_block(addr)
        return block


def observe(run: Run, arena: bytes | None = None) -> tuple[Observed, ...]:
    """``run.observe()`` with its arena loads served from one snapshot (``arena`` if given)."""
    real = run.mem
    data = run.arena_bytes() if arena is None else arena
    run.mem = _ArenaSnapshot(real, run.base, data)
    try:
        return run.observe(data)
    finally:
        run.mem = real


class _Side:
    """One world's Run of a group, reset between tests while that is possible.

    After the setup calls the Run is checkpointed: the arena and the heap blocks then live
    (the owned vectors' iovec arrays; reuse needs every live block among them).  Each test
    starts by resetting to it, unless the heap was used since (then the Run is rebuilt).
    While the heap is unused the observation is a function of the arena bytes and those
    blocks' bytes alone (the block set, hence every pointer's name, is the checkpoint's), so
    it is memoised on them.
    """

    def __init__(self, world: World, group: Group, mirror: World | None = None) -> None:
        self.world = world
        self.group = group
        self.mirror = mirror
        self.run: Run | None = None
        self.builds = 0
        self.heap_used = False
        self.memo: dict[tuple[bytes, ...], tuple[Observed, ...]] = {}

    def _build(self) -> Run:
        self.close()
        run = Run(self.world, Case(self.group.regions, self.group.setup), self.mirror)
        self.run = run
        self.builds += 1
        self.setup_results = tuple(run.calls(self.group.setup))
        self.setup_ok = all(isinstance(r, Returned) for r in self.setup_results)
        spans = self._heap_spans(run)
        self.checkpoint = run.checkpoint(spans)
        self.reusable = self.checkpoint.heap.live == len(spans) and not run.pairs and not run.streams
        self.heap_used = False
        self.memo.clear()
        return run

    def _heap_spans(self, run: Run) -> tuple[tuple[int, int], ...]:
        """The heap-held iovec arrays of the group's vectors (owned ones), whole blocks."""
        spans: dict[int, int] = {}
        for region in self.group.regions:
            if region.kind == "qiov":
                q = read_qiov(run.mem, run.addr(Ref(region.name)))
                block = run.mem.heap_block(q.iov) if q.iov else None
                if q.nalloc > 0 and block is not None and block[1] == 0:
                    spans[q.iov] = IOVEC_SIZE * q.nalloc
        return tuple(spans.items())

    @property
    def stale(self) -> bool:
        """The next test needs a fresh Run (the heap was used since the checkpoint)."""
        return self.run is None or self.heap_used

    def outcome(self, test: Test) -> Outcome:
        """The outcome ``run_case`` would give for the group's case with ``test`` as its calls."""
        run = self.run
        if run is None or self.heap_used or not run.reset(self.checkpoint, heap=self.checkpoint.heap):
            run = self._build()
        results = list(self.setup_results)
        if self.setup_ok:
            run.calls(test, results)
        arena = run.arena_bytes()
        # heap counters only grow: unchanged counters mean no block was allocated, resized or freed
        self.heap_used = not self.reusable or run.mem.heap_stats() != self.checkpoint.heap
        if self.heap_used:
            return Outcome(tuple(results), observe(run, arena))
        key = (arena, *(bytes(run.mem.read(addr, len(saved))) for addr, saved in self.checkpoint.spans))
        obs = self.memo.get(key)
        if obs is None:
            obs = self.memo[key] = observe(run, arena)
        return Outcome(tuple(results), obs)

    def close(self) -> None:
        if self.run is not None:
            self.run.close()
            self.run = None


def ordered_groups(func: str, bound: Bound) -> list[Group]:
    """The groups of ``func``, smallest layout first (iovec entries, then bytes, then setup calls),
    so the first failing case found is also the smallest the bound holds."""
    return sorted(groups(func, bound), key=Group.size_key)


def check_function(
    func: str,
    bound: Bound,
    judge: Judge,
    tally: Tally | None = None,
    progress: Callable[[int], None] | None = None,
    verify: bool = False,
) -> int:
    """Judge every case of ``func`` within ``bound``, smallest first; returns how many.

    Raises the judge's :class:`Discrepancy` (re-judged on a fresh run of the case, so a
    report always carries a case ``harness replay`` reproduces) or :class:`CCrashed` for
    the first failing case.  ``verify`` also runs every case from scratch in both worlds
    and raises :class:`FastPathError` if a reused Run's outcome differs from it.
    """
    done = 0
    for group in ordered_groups(func, bound):
        # the C heap counters are process-wide: no other run while a group's worlds live
        ours, theirs = _Side(judge.port, group, judge.reference), _Side(judge.reference, group)
        if judge.flight is not None:
            judge.flight.record_batch(Case(group.regions, group.setup, f"exhaustive {func}"), group.tests)
        flight, judge.flight = judge.flight, None  # recorded for the whole group at once
        failure: Discrepancy | None = None
        seen: list[tuple[Case, Outcome, Outcome | None]] = []
        try:
            for test in group.tests:
                done += 1
                case = group.case(test, f"exhaustive {func}")
                if ours.stale or theirs.stale:  # both rebuilt, so the port mirrors C's addresses
                    ours.close()
                    theirs.close()
                a = ours.outcome(test)
                c: list[Outcome] = []

                def run_c(side: _Side = theirs, t: Test = test, out: list[Outcome] = c) -> Outcome:
                    out.append(side.outcome(t))
                    return out[-1]

                try:
                    judge.decide(case, a, run_c, tally)
                except Discrepancy as d:
                    failure = d
                    break
                if verify:
                    seen.append((case, a, c[0] if c else None))
                if progress is not None and done % 256 == 0:
                    progress(done)
        finally:
            judge.flight = flight
            ours.close()
            theirs.close()
        for case, a, c_outcome in seen:  # fresh runs only once the group's C Run is gone
            _verify(case, judge, a, c_outcome)
        if failure is not None:
            if failure.outcomes[1] is None:  # an unconfirmed UB claim: judged on the case itself
                raise failure
            judge.check(failure.case)  # raises the fresh run's Discrepancy
            raise FastPathError(
                f"a reused run differed ({failure.difference}) but a fresh run of the case agrees\n"
                f"{failure.case.describe()}"
            )
    if progress is not None:
        progress(done)
    return done


class FastPathError(AssertionError):
    """A reused Run's outcome is not the outcome of a fresh run of the same case."""


def _verify(case: Case, judge: Judge, ours: Outcome, theirs: Outcome | None) -> None:
    for world, fast in ((judge.port, ours), (judge.reference, theirs)):
        if fast is None:
            continue
        fresh = run_case(world, case, judge.reference if world is judge.port else None)
        if fresh != fast:
            diff = first_difference(fresh, fast, ("fresh", "reused"))
            raise FastPathError(f"{world.name}: {diff}\n{case.describe()}")
