"""What one engine's campaign for one function found, small enough to pass between processes."""

from __future__ import annotations

from dataclasses import dataclass, field

from .case import case_from_json
from .outcome import signature

#: how each engine's failing case came to be the one reported
HOW = {
    "hypothesis": "shrunk by Hypothesis to a minimal case",
    "batched": "the layout shrunk by Hypothesis, then the first failing boundary test of its sweep",
    "exhaustive": "the first failing case of the enumeration: smallest layout first, then smallest arguments",
    "stateful": "the sequence as found, cut down call by call while it still fails",
    "crash": "not shrunk: C crashed, and the process was not trusted any further",
    "lost": "the case C was running when the worker died",
    "leftover": "left in flight by a run that died",
}


@dataclass
class FunctionResult:
    """One (engine, function) campaign: counts, and the failure if there was one."""

    func: str
    engine: str = "hypothesis"
    cases: int = 0
    ub: dict[str, int] = field(default_factory=dict)
    #: "func|expr|ordinal" -> cases where both sides failed that assert
    fired: dict[str, int] = field(default_factory=dict)
    #: "func|expr|line" -> evaluations of that port assert (passing or failing)
    evaluated: dict[str, int] = field(default_factory=dict)
    #: "func|kind" -> the oracle's report on the first claim of that pair
    ub_checked: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    difference: str | None = None
    #: what kind of change the difference is, and where it shows (harness.outcome.kind_of_difference)
    kind: str | None = None
    where: str | None = None
    case_json: str | None = None
    how: str = ""
    error: str | None = None
    #: other engines that found the same difference (see :func:`dedupe`)
    also_found_by: list[str] = field(default_factory=list)
    #: known differences this job saw: entry key -> the first difference that matched
    expected_seen: dict[str, str] = field(default_factory=dict)
    #: exhaustive engine: the place of the failing case's layout in the enumeration (-1: unknown)
    place: int = -1

    @property
    def failed(self) -> bool:
        return self.difference is not None

    @property
    def crashed(self) -> bool:
        return self.difference is not None and ("crashed" in self.difference or "hung" in self.difference)

    @property
    def status(self) -> str:
        return "DIFFERS" if self.difference else ("ERROR" if self.error else "agree")

    @property
    def detail(self) -> str:
        if self.case_json is None:
            return ""
        text = case_from_json(self.case_json).describe()
        return f"{text}\n  ({self.how})" if self.how else text

    def size(self) -> tuple[int, int, int]:
        """How big the failing case is: calls, bytes of regions, regions (smaller is better)."""
        if self.case_json is None:
            return (0, 0, 0)
        case = case_from_json(self.case_json)
        return (len(case.calls), sum(r.size for r in case.regions), len(case.regions))


def dedupe(results: list[FunctionResult]) -> list[FunctionResult]:
    """One report per distinct difference: of the results of one function whose differences
    have the same signature (the same bug found by two engines), keep the smallest case and
    name the others on it."""
    keep: dict[tuple[str, str], FunctionResult] = {}
    order: list[FunctionResult] = []
    for r in results:
        if r.difference is None:
            order.append(r)
            continue
        key = (r.func, signature(r.difference))
        best = keep.get(key)
        if best is None:
            keep[key] = r
            order.append(r)
        elif r.size() < best.size():
            r.also_found_by.append(best.engine)
            keep[key] = r
            order[order.index(best)] = r
        else:
            best.also_found_by.append(r.engine)
    return order
