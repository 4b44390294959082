"""What one engine's campaign for one function found, small enough to pass between processes."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .case import case_from_json
from .outcome import generalise, rank

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
class Finding:
    """One distinct difference a campaign found, with the smallest case it has of it."""

    difference: str
    kind: str = "something else"
    where: str = ""
    case_json: str | None = None
    how: str = ""
    #: exhaustive engine: the place of the case's layout in the enumeration (-1: unknown)
    place: int = -1
    #: every field that differs on that case, one sentence each (the first is ``difference``)
    fields: list[str] = field(default_factory=list)
    #: other engines that found the same difference (see :func:`dedupe`)
    also_found_by: list[str] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str]:
        """What makes two findings the same difference: its kind and its place, generalised."""
        return (self.kind, generalise(self.where))

    @property
    def crashed(self) -> bool:
        return "crashed" in self.difference or "hung" in self.difference

    @property
    def detail(self) -> str:
        return describe_case(self.case_json, self.how)

    def size(self) -> tuple[int, int, int]:
        """How big the failing case is: calls, bytes of regions, regions (smaller is better)."""
        if self.case_json is None:
            return (0, 0, 0)
        case = case_from_json(self.case_json)
        return (len(case.calls), sum(r.size for r in case.regions), len(case.regions))


def describe_case(case_json: str | None, how: str = "") -> str:
    if case_json is None:
        return ""
    text = case_from_json(case_json).describe()
    return f"{text}\n  ({how})" if how else text


def ordered(findings: list[Finding]) -> list[Finding]:
    """Findings the most telling first: behaviour before refuted claims, the smaller case first."""
    return sorted(findings, key=lambda f: (rank(f.kind), f.size()))


@dataclass
class FunctionResult:
    """One (engine, function) campaign: counts, and every distinct difference it found."""

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
    #: each distinct difference, the most telling first (see :func:`ordered`)
    findings: list[Finding] = field(default_factory=list)
    #: differences that are not of behaviour (harness.model.outcome.NOTE_KINDS), one case each
    notes: list[Finding] = field(default_factory=list)
    error: str | None = None
    #: known differences this job saw: entry key -> the first difference that matched
    expected_seen: dict[str, str] = field(default_factory=dict)

    @property
    def first(self) -> Finding | None:
        return self.findings[0] if self.findings else None

    # the first finding's parts, as one failure used to be told
    @property
    def difference(self) -> str | None:
        return self.findings[0].difference if self.findings else None

    @property
    def kind(self) -> str | None:
        return self.findings[0].kind if self.findings else None

    @property
    def where(self) -> str | None:
        return self.findings[0].where if self.findings else None

    @property
    def case_json(self) -> str | None:
        return self.findings[0].case_json if self.findings else None

    @property
    def how(self) -> str:
        return self.findings[0].how if self.findings else ""

    @property
    def place(self) -> int:
        return self.findings[0].place if self.findings else -1

    @property
    def also_found_by(self) -> list[str]:
        return self.findings[0].also_found_by if self.findings else []

    @property
    def failed(self) -> bool:
        return bool(self.findings)

    @property
    def crashed(self) -> bool:
        return any(f.crashed for f in self.findings)

    @property
    def status(self) -> str:
        return "DIFFERS" if self.findings else ("ERROR" if self.error else "agree")

    @property
    def detail(self) -> str:
        return self.findings[0].detail if self.findings else ""

    def size(self) -> tuple[int, int, int]:
        return self.findings[0].size() if self.findings else (0, 0, 0)

    def add(self, finding: Finding) -> None:
        """Keep ``finding`` unless one of the same key is already here with a case no larger."""
        for k, old in enumerate(self.findings):
            if old.key == finding.key:
                if finding.size() < old.size():
                    self.findings[k] = finding
                break
        else:
            self.findings.append(finding)
        self.findings = ordered(self.findings)


def dedupe(results: list[FunctionResult]) -> list[tuple[FunctionResult, Finding]]:
    """Every distinct difference once: of the findings of one function with the same kind and
    place (the same bug found by two engines), the one with the smallest case, naming the
    other engines on a copy of it; in the order of the results, each result's in its order."""
    best: dict[tuple[str, str, str], tuple[FunctionResult, Finding]] = {}
    others: dict[tuple[str, str, str], list[str]] = {}
    for r in results:
        for f in r.findings:
            key = (r.func, *f.key)
            held = best.get(key)
            if held is None:
                best[key], others[key] = (r, f), []
            elif f.size() < held[1].size():
                others[key].insert(0, held[0].engine)
                best[key] = (r, f)
            else:
                others[key].append(r.engine)
    return [
        (r, dataclasses.replace(f, also_found_by=list(dict.fromkeys([*f.also_found_by, *others[k]]))))
        for k, (r, f) in best.items()
    ]
