"""Undefined behaviour of the C source itself: a finding of its own, apart from the port's claims.

The judge checks the port's UB claims against the sanitizers.  This scan looks the other
way: it runs cases in the sanitize flavour of a C source (ASan, UBSan and our own checks,
see ``harness.worlds.oracle``) and reports the undefined behaviour the C code has where the port
(the original's semantics) has none, or has UB of another kind.  On the original file it
finds nothing; on a revision it finds what the revision does that ISO C leaves undefined,
e.g. v8.2's ``qemu_iovec_clone`` calling ``qsort(NULL, 0, ...)`` for an empty vector (where
the original declared a zero-length array).

The cases are the exhaustive engine's at a bound, a spread sample per function (every case
would take too long through a sanitizer); a finding is reported once per function and
report kind, with the first case that draws it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from harness.generate.bounds import QUICK_BOUND, Bound
from harness.model.case import Case, case_to_json
from harness.worlds.oracle import confirms, for_source
from harness.worlds.world import PyWorld, run_case

from .exhaustive import FUNCTIONS, cases

#: cases per function sent through the sanitizers
SAMPLE = 40


@dataclass(frozen=True)
class Finding:
    """Undefined behaviour the C source has on a case the port finds defined."""

    func: str
    report: str
    case_json: str

    @property
    def kind(self) -> str:
        """The report without its addresses and numbers: what kind of UB it is."""
        return re.sub(r"0x[0-9a-f]+|\d+", "#", self.report.split(" in ")[0])[:120]


def report_glob(report: str) -> str:
    """A glob (for a known-differences file's ``[[c-ub]]``) that matches this kind of report
    whatever its addresses and numbers."""
    kind = re.sub(r"0x[0-9a-f]+|\d+", "*", report.split(" in ")[0])
    return re.sub(r"[\[\]?]", lambda m: f"[{m.group()}]", kind) + "*"


def _sample(func: str, bound: Bound, n: int) -> list[tuple[Case, str | None]]:
    """Up to ``n`` of ``func``'s enumerated cases, spread over all of them, with the UB kind
    the port names for each (None: defined); every case the port calls undefined comes first,
    one per kind."""
    port = PyWorld()
    enumerated = list(cases(func, bound))
    stride = max(1, len(enumerated) // (5 * n))  # the port looks at five times what C will
    looked = [(c, getattr(run_case(port, c).ub, "kind", None)) for c in enumerated[::stride]]
    firsts = {kind: (c, kind) for c, kind in reversed(looked) if kind is not None}
    defined = [(c, kind) for c, kind in looked if kind is None]
    if len(defined) > n:
        defined = [defined[int(k * len(defined) / n)] for k in range(n)]
    return [*firsts.values(), *defined]


def scan(
    c_source: str | None,
    funcs: list[str] | None = None,
    bound: Bound = QUICK_BOUND,
    per_function: int = SAMPLE,
    skip: frozenset[str] = frozenset(),
) -> list[Finding]:
    """Every distinct (function, kind of report) the sanitizers draw from the C source."""
    oracle = for_source(c_source)
    found: dict[tuple[str, str], Finding] = {}
    for func in funcs or list(FUNCTIONS):
        if func in skip:
            continue
        sample = _sample(func, bound, per_function)
        for index, report in oracle.scan([c for c, _ in sample]):
            case, claim = sample[index]
            if claim is not None and confirms(claim, report):
                continue  # the port says so too: the judge's business, not a finding of C's own
            f = Finding(func, report, case_to_json(case))
            found.setdefault((func, f.kind), f)
    return list(found.values())
