"""The judge: the one step that turns two runs of a case into a verdict.

Every engine (Hypothesis, batched, exhaustive, stateful), ``harness replay``,
``harness diff`` and the pytest plugin reach their verdict through
:meth:`Judge.decide`, so they cannot disagree on a case:

1. the port runs first; a port that hangs ends the campaign (:class:`PortHung`);
2. if the port found undefined behaviour, C is not run: the claim must be
   confirmed by the UB oracle (the sanitize flavour, see ``harness.worlds.oracle``).  The
   first claim of each (function, kind) is checked; once one is confirmed, later
   claims of that pair are trusted; an unconfirmed claim is a :class:`Discrepancy`
   and every later claim of that pair is checked again (so shrinking works);
3. otherwise C runs (its case written to the in-flight record first, so a crash
   that kills the process leaves it behind) and the outcomes are compared; a C
   crash taints the process (:class:`CCrashed`), any other difference is a
   :class:`Discrepancy` naming the first thing that differs, unless it is a known
   difference (``harness.verdict.expected``): then it is recorded as seen and accepted.

C against C (``harness diff``), a case the port calls undefined is compared by neither
side (``ub_filter``): undefined C may do anything, in the old source and the new.
"""

from __future__ import annotations

import struct
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.model.case import Call, Case
from harness.model.outcome import (
    NOTE_KINDS,
    AssertFailed,
    Outcome,
    TimedOut,
    Undefined,
    first_difference,
    generalise,
    kind_of_difference,
    same_aborts,
)
from harness.worlds.inflight import InFlight
from harness.worlds.oracle import Oracle
from harness.worlds.world import CWorld, PyWorld, Run, World, run_case
from pyimpl.memory import RECORD_BYTES

from .expected import Expected


class Discrepancy(AssertionError):
    """The two worlds disagreed on ``case``; ``difference`` names the first thing that differs.

    Each (kind, place) of difference is raised as a subclass of its own
    (:func:`discrepancy_type`), so Hypothesis, which tells failures apart by their
    exception type and origin, keeps and shrinks every distinct difference of a function
    (``report_multiple_bugs``) instead of the first it met."""

    def __init__(
        self,
        case: Case,
        difference: str,
        outcomes: tuple[Outcome | None, Outcome | None],
        names: tuple[str, str],
        kind: str = "something else",
        where: str = "",
    ) -> None:
        super().__init__(f"{case.func}: {difference}\n{case.describe()}")
        self.case = case
        self.difference = difference
        self.outcomes = outcomes
        self.names = names
        #: what kind of change it is and where it shows (harness.model.outcome.kind_of_difference)
        self.kind = kind
        self.where = where

    def __reduce__(self) -> tuple[Any, ...]:
        return (discrepancy, (self.case, self.difference, self.outcomes, self.names, self.kind, self.where))


_TYPES: dict[tuple[str, str], type[Discrepancy]] = {}


def discrepancy_type(kind: str, where: str) -> type[Discrepancy]:
    """The Discrepancy subclass of one (kind, generalised place): one per distinct difference."""
    key = (kind, generalise(where))
    found = _TYPES.get(key)
    if found is None:
        name = f"Discrepancy[{kind} @ {key[1]}]"
        found = _TYPES[key] = type(name, (Discrepancy,), {"__qualname__": name, "__module__": __name__})
    return found


def discrepancy(
    case: Case,
    difference: str,
    outcomes: tuple[Outcome | None, Outcome | None],
    names: tuple[str, str],
    kind: str,
    where: str,
) -> Discrepancy:
    """A Discrepancy of the type of its kind and place (also how a pickled one is rebuilt)."""
    return discrepancy_type(kind, where)(case, difference, outcomes, names, kind, where)


@dataclass(frozen=True)
class Note:
    """A difference that is not one of behaviour (e.g. the same abort by another assert)."""

    kind: str
    where: str
    difference: str
    case: Case


class CCrashed(BaseException):
    """The C side crashed (or corrupted its caller) on ``case``.

    A BaseException on purpose: Hypothesis stops at once instead of shrinking, since
    a process whose C code just wrote wild memory should run as little as possible.
    """

    what = "C crashed"

    def __init__(self, case: Case, difference: str) -> None:
        super().__init__(f"{self.what} on case ({case.func}): {difference}\n{case.describe()}")
        self.case = case
        self.difference = difference


class CHung(CCrashed):
    """The C side did not return within its CPU-time limit on ``case`` where the port did.

    Like a crash it ends the campaign at once: every case that hangs costs the whole limit,
    so neither shrinking it nor looking for more of its kind is affordable.
    """

    what = "C hung"


class PortHung(CCrashed):
    """The port did not return within the harness's time limit on ``case``.

    Like a crash it ends the campaign at once: shrinking would wait out the limit
    again for every candidate.
    """

    what = "the port hung"


@dataclass
class Tally:
    """What a campaign saw for one function."""

    cases: int = 0
    ub: Counter[str] = field(default_factory=Counter)
    #: assert identity (func, expr, ordinal) -> cases where both sides failed it
    fired: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    #: (func, kind) -> how the first claim of that pair was settled
    ub_checked: dict[tuple[str, str], str] = field(default_factory=dict)
    #: (kind, generalised place) -> the first case of each note (harness.model.outcome.NOTE_KINDS)
    notes: dict[tuple[str, str], Note] = field(default_factory=dict)


class Judge:
    """Compares a reference world with the port (or any two worlds)."""

    def __init__(
        self,
        port: World,
        reference: World,
        oracle: Oracle | None = None,
        flight: InFlight | None = None,
        expected: Expected | None = None,
        ub_filter: World | None = None,
        strict_asserts: bool = False,
    ) -> None:
        self.port = port
        #: two aborts of the same call agree only if by the same assert (function, expression,
        #: ordinal); otherwise by any assert, the difference of asserts being a note
        self.strict_asserts = strict_asserts
        self.reference = reference
        #: C against C: a case this world (the port) calls undefined is compared by neither side
        #: (undefined C does what it likes, in the old source and in the new alike)
        self.ub_filter = ub_filter
        #: known differences: accepted (and recorded as seen) instead of failing
        self.expected = expected
        #: the listed difference the last decide accepted, if it did: the worlds part there
        self.accepted: str | None = None
        #: confirms the port's UB claims; None: the oracle of the reference's source, on first use
        self._oracle = oracle
        #: where the case about to run in C is recorded, for a crash that kills the process
        self.flight = flight
        #: the case on which C crashed in this process, after which C is not run again here
        self.tainted_by: Case | None = None
        #: (func, kind) -> True once a claim of that pair was confirmed, False once one was not
        self.ub_verdicts: dict[tuple[str, str], bool] = {}
        #: what the batches of this judge share (harness.verdict.batch), made by the first one
        self.batch_tables: Any = None
        #: whether a claim of a (function, kind) pair whose claim was refuted is checked again
        #: (Hypothesis needs it to shrink; an engine that keeps only the first case of each
        #: difference, the exhaustive one, does not, and saves a sanitizer run per claim)
        self.recheck_refuted = True

    @property
    def names(self) -> tuple[str, str]:
        return (self.port.name, self.reference.name)

    @property
    def oracle(self) -> Oracle:
        if self._oracle is None:
            from harness.worlds import oracle

            reference = getattr(self.reference, "reference", None)
            source = str(reference.source_path) if reference is not None else None
            self._oracle = oracle.for_source(source)
        return self._oracle

    def check(self, case: Case, tally: Tally | None = None) -> Outcome:
        """Run ``case`` in both worlds from scratch and judge it; returns the port's outcome.

        Where the two worlds' memories share their addresses (the port mirrors C's arena slot
        and heap pool; two C builds share one address space) the second side's state is first
        compared raw with the first's (results, arena bytes, heap record and counters,
        errno): equal numbers decode to equal observations, so the second side's are decoded
        only when they are not (then the judge compares every observation, as always)."""
        if self.ub_filter is not None:
            screened = self._screen(case)
            if screened is not None:
                if tally is not None:
                    tally.cases += 1
                    tally.ub[screened.kind] += 1
                return Outcome((screened,))
        port, reference = self.port, self.reference
        if case.peers or not raw_pair(port, reference):
            ours = run_case(port, case, mirror=reference)
            return self.decide(case, ours, lambda: run_case(reference, case), tally)
        run = Run(port, case, mirror=reference if isinstance(port, PyWorld) else None)
        try:
            results = tuple(run.calls(case.calls))
            raw = raw_state(run)
            ours = Outcome(results, run.observe(raw[1] if raw is not None else None))
        finally:
            run.close()

        def theirs() -> Outcome:
            c_run = Run(reference, case)
            try:
                c_results = tuple(c_run.calls(case.calls))
                if raw is not None and c_results == results and raw_state(c_run) == raw:
                    return ours  # the same numbers: the same observations
                return Outcome(c_results, c_run.observe())
            finally:
                c_run.close()

        return self.decide(case, ours, theirs, tally)

    def _screen(self, case: Case) -> Undefined | None:
        """C against C: the undefined behaviour the port finds in ``case``, if any (then
        neither C side is run: undefined C may do anything, in the old source and the new)."""
        assert self.ub_filter is not None
        if case.peers:
            return run_case(self.ub_filter, case).ub
        run = Run(self.ub_filter, case)
        try:
            results = run.calls(case.calls)
        finally:
            run.close()
        last = results[-1] if results else None
        return last if isinstance(last, Undefined) else None

    def decide(
        self, case: Case, ours: Outcome, run_theirs: Callable[[], Outcome], tally: Tally | None = None
    ) -> Outcome:
        """The one judge step: ``ours`` is the port's outcome of ``case``; ``run_theirs`` runs it
        in the reference (called only when C must run).  Raises on a failure; returns ``ours``."""
        self.accepted = None
        if tally is not None:
            tally.cases += 1
        if isinstance(ours.last, TimedOut):
            raise PortHung(case, f"{self.port.name} did not return (timeout) on call {len(ours.results)}")
        ub = ours.ub
        if ub is not None:
            self._settle_claim(case, ub.kind, ours, tally)
            return ours
        if self.tainted_by is not None:
            raise CCrashed(self.tainted_by, "an earlier C crash in this process; C is not run here again")
        if self.flight is not None:
            self.flight.record(case)
        theirs = run_theirs()
        if ours != theirs:
            # what differs beyond which assert ends a call that both end in one
            behaviour = theirs if self.strict_asserts else same_aborts(ours, theirs)
            difference = first_difference(ours, behaviour, self.names)
            if difference is not None:
                if theirs.crashed is not None:
                    self.tainted_by = case
                    raise CCrashed(case, difference)
                if isinstance(theirs.last, TimedOut):
                    self.tainted_by = case  # left by a CPU-time trap mid-call: not trusted
                    raise CHung(case, difference)
                kind, where = kind_of_difference(ours, behaviour)
                if self.expected is not None and self.expected.accept(case.func, kind, where, difference):
                    self.accepted = difference
                    return ours
                raise discrepancy(case, difference, (ours, theirs), self.names, kind, where)
            kind, where = kind_of_difference(ours, theirs, strict_asserts=False)
            if kind in NOTE_KINDS and tally is not None:
                key = (kind, generalise(where))
                if key not in tally.notes:
                    text = first_difference(ours, theirs, self.names) or kind
                    tally.notes[key] = Note(kind, where, text, case)
        if tally is not None and isinstance(ours.last, AssertFailed):
            tally.fired[ours.last.identity] += 1
        return ours

    def _settle_claim(self, case: Case, kind: str, ours: Outcome, tally: Tally | None) -> None:
        """Confirm the port's claim of UB ``kind`` unless one of the same pair already was."""
        key = (case.func, kind)
        if tally is not None:
            tally.ub[kind] += 1
        settled = self.ub_verdicts.get(key)
        if settled is True or (settled is False and not self.recheck_refuted):
            return
        confirmation = self.oracle.confirm(case, kind)
        self.ub_verdicts[key] = confirmation.confirmed
        if tally is not None:
            tally.ub_checked.setdefault(key, confirmation.report)
        if not confirmation.confirmed:
            difference = (
                f"the port says undefined behaviour ({kind}), but the C code under the "
                f"sanitizers says: {confirmation.report}"
            )
            change, where = kind_of_difference(ours, None)
            if self.expected is not None and self.expected.accept(case.func, change, where, difference):
                self.ub_verdicts[key] = True  # a known change: later claims of the pair are alike
                self.accepted = difference
                return
            raise discrepancy(case, difference, (ours, None), self.names, change, where)


_HEAD = struct.Struct("<QQQ")


def raw_pair(a: World, b: World) -> bool:
    """Whether runs of ``a`` and then ``b`` lay a case out at the same addresses: the port
    mirroring C, or two C builds sharing one address space (both with a heap pool)."""
    if isinstance(a, PyWorld):
        return isinstance(b, CWorld)
    return isinstance(a, CWorld) and isinstance(b, CWorld) and a.reference.batches and b.reference.batches


def raw_state(run: Run) -> tuple[Any, ...] | None:
    """What a run's observations are made of, as plain numbers and bytes: its arena address and
    bytes, heap record and counters, errno; None where they would not say everything (sockets
    or text streams, or a heap block too large for the record to hold its bytes)."""
    if run.pairs or run.streams:
        return None
    mem = run.mem
    record = mem.heap_record(0) if isinstance(run.world, PyWorld) else mem.heap_record()
    if record is None:
        return None
    at = 0
    while at < len(record):
        _, size, _ = _HEAD.unpack_from(record, at)
        if size > RECORD_BYTES:
            return None  # no bytes in the record: what observing reads of it is not in here
        at += _HEAD.size + size
    stats = mem.heap_stats()
    return (
        run.base,
        run.arena_bytes(),
        record,
        (stats.allocs, stats.reallocs, stats.frees, stats.live),
        mem.errno,
    )


def minimise(judge: Judge, case: Case) -> Case:
    """Drop calls (never the last) one at a time while the judge still fails the same way.

    "The same way" is the exception type the whole case raises in the judge (a
    Discrepancy, or what the port raised); a case the judge passes (a leak both sides
    share) is returned as it is.  Greedy: no single call left can go.
    """

    def failure(calls: list[Call]) -> type[BaseException] | None:
        try:
            judge.check(Case(case.regions, tuple(calls), case.label, case.peers))
        except CCrashed:
            raise
        except Exception as exc:  # a Discrepancy, or the port raising what C cannot
            return type(exc)
        return None

    calls = list(case.calls)
    kind = failure(calls)
    changed = kind is not None
    while changed:
        changed = False
        for i in range(len(calls) - 2, -1, -1):
            trial = calls[:i] + calls[i + 1 :]
            if failure(trial) is kind:
                calls = trial
                changed = True
    return Case(case.regions, tuple(calls), case.label, case.peers)


def describe_failure(exc: BaseException) -> tuple[str, Case] | None:
    """(difference, case) of a failure the judge raised, or None for anything else."""
    if isinstance(exc, CCrashed):
        return f"{exc.what}: {exc.difference}", exc.case
    if isinstance(exc, Discrepancy):
        return exc.difference, exc.case
    return None


def discrepancy_in(exc: BaseException) -> Discrepancy | None:
    """The Discrepancy inside a Hypothesis flaky-failure group, if there is one."""
    if isinstance(exc, Discrepancy):
        return exc
    for sub in getattr(exc, "exceptions", ()):
        found = discrepancy_in(sub)
        if found is not None:
            return found
    return None


__all__ = [
    "CCrashed",
    "CHung",
    "Discrepancy",
    "Note",
    "discrepancy",
    "discrepancy_type",
    "Judge",
    "PortHung",
    "Tally",
    "describe_failure",
    "minimise",
    "discrepancy_in",
]
