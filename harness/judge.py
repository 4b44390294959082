"""The judge: runs one case in both worlds and raises :class:`Discrepancy` on a difference."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pyimpl.iov

from .case import Case, case_to_json
from .worlds import Outcome, World, first_difference, run_case


class Discrepancy(AssertionError):
    """The two worlds disagreed on ``case``; ``difference`` names the first thing that differs."""

    def __init__(
        self, case: Case, difference: str, outcomes: tuple[Outcome, Outcome], names: tuple[str, str]
    ) -> None:
        super().__init__(f"{case.func}: {difference}\n{case.describe()}")
        self.case = case
        self.difference = difference
        self.outcomes = outcomes
        self.names = names


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
    fired: Counter[int] = field(default_factory=Counter)  # assert line -> cases where it failed
    seconds: float = 0.0
    #: the first UB-classified case of each kind: C was not run on them, so the
    #: sanitizers must later confirm the port did not just claim UB to dodge the judge
    ub_samples: dict[str, Case] = field(default_factory=dict)


class Judge:
    """Compares a reference world with the port (or any two worlds)."""

    def __init__(self, port: World, reference: World, inflight: Path | None = None) -> None:
        self.port = port
        self.reference = reference
        #: where the case about to run in the reference is saved first, so a C crash
        #: that kills the process still leaves the case behind for the next run
        self.inflight = inflight
        #: the case on which C crashed in this process, after which C is not run again here
        self.tainted_by: Case | None = None

    def check(self, case: Case, tally: Tally | None = None) -> Outcome:
        """Run ``case`` in both worlds; the reference is skipped when the port finds UB."""
        ours = run_case(self.port, case)
        if tally is not None:
            tally.cases += 1
        if ours.last[0] == "timeout":
            raise PortHung(case, f"{self.port.name} did not return (timeout) on call {len(ours.results)}")
        if ours.ub is not None:
            if tally is not None:
                tally.ub[ours.ub] += 1
                tally.ub_samples.setdefault(ours.ub, case)
            return ours
        if self.tainted_by is not None:
            raise CCrashed(self.tainted_by, "an earlier C crash in this process; C is not run here again")
        if self.inflight is not None:
            self.inflight.write_text(case_to_json(case))
        theirs = run_case(self.reference, case)
        names = (self.port.name, self.reference.name)
        difference = first_difference(ours, theirs, names)
        if difference is not None:
            if any(r[0] == "crash" for r in theirs.results):
                self.tainted_by = case
                raise CCrashed(case, difference)
            raise Discrepancy(case, difference, (ours, theirs), names)
        if tally is not None and ours.assertion is not None and ours.assertion[0] == "iov.c":
            tally.fired[ours.assertion[1]] += 1
        return ours


#: assert line -> how many times the port evaluated it (passing or failing)
EVALUATED: Counter[int] = Counter()


@contextmanager
def counting_asserts() -> Iterator[Counter[int]]:
    """Count every evaluation of an iov.c assert in the port while the block runs."""
    original = pyimpl.iov._assert

    def counted(ok: bool, expr: str, func: str, line: int) -> None:
        EVALUATED[line] += 1
        original(ok, expr, func, line)

    pyimpl.iov._assert = counted
    try:
        yield EVALUATED
    finally:
        pyimpl.iov._assert = original
