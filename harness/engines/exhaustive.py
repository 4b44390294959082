"""The exhaustive engine: every case up to a bound, port against reference, no Hypothesis.

For each function its family (``harness.generate.families``) is walked through every
combination of its choices within the bound: each layout becomes a
:class:`Group` (regions plus the setup calls that build owned QEMUIOVectors) with
every test against it (each offset and byte count from 0 to the top + 1 plus the
``Bound.huge`` values near 2**64, each count, fill value, content class, vector
kind and end buffer the bound allows).  Groups run smallest layout first, each as
one batch (``harness.verdict.batch``), so the first failure is also the smallest case of
the bound, and the verdict on it is the judge's on the case alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from harness.generate.bounds import BOUNDS, DEFAULT_BOUND, QUICK_BOUND, Bound
from harness.generate.choices import Choices, every
from harness.generate.families import FAMILIES, Keyed, Test
from harness.model.case import Builder, Call, Case, Region
from harness.verdict.batch import make_batch
from harness.verdict.judge import Discrepancy, Judge, Tally
from iovspec.structs import IOVEC_SIZE

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

    made: dict[tuple[Any, ...], tuple[Test, ...]] = {}  # the tests of each key (Keyed), once
    for b, test in every(bound, layout):
        key = test.key if isinstance(test, Keyed) else None
        tests = made.get(key) if key is not None else None
        if tests is None:
            tests = tuple(every(bound, test))
            if key is not None:
                made[key] = tests
        yield Group(tuple(b.regions), tuple(b.calls), tests)


#: the functions the exhaustive engine enumerates
FUNCTIONS = tuple(f for f, fam in FAMILIES.items() if fam.enumerable)


def cases(func: str, bound: Bound) -> Iterator[Case]:
    """Every case enumerated for ``func``, one by one (slow; the engine does not build these)."""
    for group in groups(func, bound):
        for test in group.tests:
            yield group.case(test, f"exhaustive {func}")


def count_cases(func: str, bound: Bound) -> int:
    return sum(len(g.tests) for g in groups(func, bound))


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
    shard: tuple[int, int] | None = None,
    on_group: Callable[[int], None] | None = None,
    on_failure: Callable[[Discrepancy], bool] | None = None,
) -> int:
    """Judge every case of ``func`` within ``bound``, smallest first; returns how many.

    ``shard`` (K, N) judges only the groups whose place in that order is K-1 modulo N, so N
    machines share the bound and each first failure keeps its place (``on_group`` hears each
    group's place before it is judged): the smallest place over the shards is the failure the
    whole bound would have reported first (``harness merge``).

    Each group runs as a batch (``harness.verdict.batch``: one layout, its tests compared byte for
    byte, anything else judged as a case of its own), so the first failure raised is the
    judge's, on the case alone: a :class:`Discrepancy` or :class:`CCrashed`.  ``verify`` also
    judges every case from scratch and raises :class:`FastPathError` if the batch agreed
    where the judge does not.
    """
    done = 0
    label = f"exhaustive {func}"
    for place, group in enumerate(ordered_groups(func, bound)):
        if shard is not None and place % shard[1] != shard[0] - 1:
            continue
        if on_group is not None:
            on_group(place)
        base = Case(group.regions, group.setup, label)
        batch = make_batch(judge, base)
        try:
            enough = batch.judge_tests(group.tests, label, tally, on_failure)
        finally:
            batch.close()
        if verify:
            for test in group.tests:
                try:
                    judge.check(group.case(test, label))
                except Discrepancy as d:
                    raise FastPathError(f"the batch agreed, a fresh run does not: {d}") from d
        done += len(group.tests)
        if progress is not None:
            progress(done)
        if enough:
            break
    return done


class FastPathError(AssertionError):
    """The batch's verdict on a case is not the judge's verdict on the case alone."""
