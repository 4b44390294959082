"""What a change to iov.c did: ``harness diff OLD NEW`` and ``harness revisions``.

``diff`` runs the campaigns with both worlds in C (the old source where the port
usually stands; a case the port calls undefined is compared by neither, since
undefined C may do anything on either side) and finds, for each function, every
distinct change the engines reach: a change is first found (and shrunk, or found
smallest first), then accepted as known so the next round looks for another, until a
round finds nothing new.
Each change is reported once, with its kind (an assert became a return, a
different value, different memory...) and its smallest case.

``revisions`` runs every shipped upstream revision against the port with its
known-differences file (``harness/known/TAG.toml``) and tabulates, per revision and
function: same, changed (listed), missing, added, or FAILED (a difference no entry
lists), with the C-only undefined behaviour the sanitizers find (``harness.cscan``).
"""

from __future__ import annotations

import dataclasses
import json
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .campaign import CAMPAIGNS, STATEFUL, Config, Job, Profile, run_jobs
from .expected import Entry, Expected
from .results import FunctionResult

#: rounds of a diff: each may find one more distinct change per function
ROUNDS = 4


@dataclass
class Change:
    """One distinct behaviour change of a function, with its smallest case."""

    func: str
    kind: str
    where: str
    difference: str
    case_json: str | None
    engine: str
    how: str

    def entry(self) -> Entry:
        """The known-difference entry that accepts this change (and its like) from now on."""
        return Entry(self.func, self.kind, "found by harness diff", generalise(self.where))


def generalise(where: str) -> str:
    """A place with its numbers made wild: q3.iov[1] -> q*.iov[*], call 2 -> call *."""
    return re.sub(r"\d+", "*", where) or "*"


@dataclass
class FunctionDiff:
    func: str
    status: str  # same, changed, changed (listed), missing, added, changed prototype, error
    changes: list[Change] = field(default_factory=list)
    cases: int = 0
    detail: str = ""


def _write_expected(entries: Sequence[Entry], base: Expected | None, path: Path) -> None:
    lines = []
    for e in [*(base.entries if base else ()), *entries]:
        lines += ["[[difference]]"]
        lines += [f"{k} = {json.dumps(v)}" for k, v in (("function", e.function), ("kind", e.kind))]
        lines += [f"{k} = {json.dumps(v)}" for k, v in (("where", e.where), ("reason", e.reason))]
        lines += [""]
    path.write_text("\n".join(lines))


def find_changes(
    jobs: list[Job],
    config: Config,
    n_jobs: int,
    show: Callable[[Job, int, FunctionResult | None], None],
    rounds: int = ROUNDS,
) -> tuple[dict[str, list[Change]], dict[str, int], list[FunctionResult], set[str]]:
    """Run ``jobs`` again and again, each round accepting the changes found before, until no
    job finds a new one (or ``rounds`` pass): every distinct change, each with its case, and
    the functions that showed a difference ``config.expect_diff`` lists."""
    changes: dict[str, list[Change]] = {}
    cases: dict[str, int] = {}
    errors: list[FunctionResult] = []
    base = Expected.load(config.expect_diff) if config.expect_diff else None
    listed: set[str] = set()  # functions with a difference the given file lists
    base_keys = {e.key(): e.function for e in base.entries} if base else {}
    pending = list(jobs)
    with tempfile.TemporaryDirectory(prefix="iovconf-diff-") as tmp:
        for round_ in range(rounds):
            if not pending:
                break
            known = [c.entry() for found in changes.values() for c in found]
            path = Path(tmp) / f"known-{round_}.toml"
            _write_expected(known, base, path)
            results = run_jobs(pending, dataclasses.replace(config, expect_diff=str(path)), n_jobs, show)
            again = []
            for job, r in zip(pending, results, strict=True):
                cases[r.func] = cases.get(r.func, 0) + r.cases
                listed |= {base_keys[k] for k in r.expected_seen if k in base_keys}
                if r.error:
                    errors.append(r)
                elif r.difference is not None:
                    kind, where = r.kind or "something else", r.where or ""
                    changes.setdefault(r.func, []).append(
                        Change(r.func, kind, where, r.difference, r.case_json, r.engine, r.how)
                    )
                    if kind not in ("a crash", "a hang"):
                        again.append(job)  # look for another change of this function
            pending = again
    return changes, cases, errors, listed


def diff(
    old: str,
    new: str,
    funcs: Sequence[str] | None,
    profile: Profile,
    seed: int,
    n_jobs: int,
    show: Callable[[Job, int, FunctionResult | None], None],
    engines: Sequence[str] = ("exhaustive", "batched", "hypothesis"),  # not the stateful machine
    expect_diff: str | None = None,
) -> list[FunctionDiff]:
    """Every function of the table: same, changed (each distinct change), missing or added."""
    import reference_c
    from reference_c import build

    old_ref = reference_c.load(old)
    new_ref = reference_c.load(new)
    old_has = set(old_ref.prototypes)
    new_has = set(new_ref.prototypes)
    chosen = list(funcs) if funcs else [f for f in CAMPAIGNS if f in old_has | new_has]
    out: dict[str, FunctionDiff] = {}
    comparable = []
    for func in chosen:
        if func in old_has and func not in new_has:
            out[func] = FunctionDiff(func, "missing", detail=f"{Path(new).name} lacks it")
        elif func in new_has and func not in old_has:
            out[func] = FunctionDiff(func, "added", detail=f"{Path(old).name} lacks it")
        elif func not in old_has:
            continue
        elif old_ref.prototypes[func] != new_ref.prototypes[func]:
            out[func] = FunctionDiff(
                func,
                "changed prototype",
                detail=f"{old_ref.prototypes[func]}  ->  {new_ref.prototypes[func]}",
            )
        else:
            comparable.append(func)
    for name in sorted(set(new_ref.added) | (new_has - old_has - set(chosen))):
        if name not in out and not funcs:
            out[name] = FunctionDiff(name, "added", detail=f"{Path(old).name} lacks it")
    config = Config(
        profile,
        str(Path(new).resolve()),
        "trap",
        seed,
        None,
        expect_diff=expect_diff,
        old_source=str(Path(old).resolve()),
    )
    build.build(new, "sanitize")  # the oracle's build, once, before the workers
    jobs = comparison_jobs(comparable, profile, engines)
    changes, cases, errors, listed = find_changes(jobs, config, n_jobs, show)
    for func in comparable:
        found = _distinct(changes.get(func, []))
        status = "changed" if found else "changed (listed)" if func in listed else "same"
        out[func] = FunctionDiff(func, status, found, cases.get(func, 0))
    for r in errors:
        out[r.func] = FunctionDiff(r.func, "error", detail=r.error or "")
    order = {f: k for k, f in enumerate(CAMPAIGNS)}
    return sorted(out.values(), key=lambda d: order.get(d.func, len(order)))


def comparison_jobs(
    funcs: Sequence[str], profile: Profile, engines: Sequence[str] = ("exhaustive", "batched", "hypothesis")
) -> list[Job]:
    """The jobs that compare ``funcs``: each engine that can run them and that the profile
    gives cases to (the stateful machine is not one: its sequences mix every function)."""
    from .exhaustive import FUNCTIONS

    wanted = {"exhaustive": True, "batched": profile.batches > 0, "hypothesis": profile.examples > 0}
    jobs: list[Job] = []
    for engine in engines:
        if wanted.get(engine, False):
            jobs += [(engine, f) for f in funcs if engine == "hypothesis" or f in FUNCTIONS]
    return jobs


def _distinct(changes: list[Change]) -> list[Change]:
    """One change per (kind, place) found by any engine: the one with the smallest case."""
    from .case import case_from_json

    def size(c: Change) -> tuple[int, int]:
        if c.case_json is None:
            return (0, 0)
        case = case_from_json(c.case_json)
        return (len(case.calls), sum(r.size for r in case.regions))

    best: dict[tuple[str, str], Change] = {}
    for c in changes:
        key = (c.kind, generalise(c.where))
        if key not in best or size(c) < size(best[key]):
            best[key] = c
    return list(best.values())


__all__ = ["STATEFUL", "Change", "FunctionDiff", "diff", "find_changes", "generalise"]


# -- every shipped revision against the port -----------------------------------------------------
#: the campaign ``harness revisions`` runs against each revision (a fixed seed: the same every time)
REVISIONS_PROFILE = Profile("revisions", examples=200, sequences=0, bound="quick", ub_cases=0, batches=60)
REVISIONS_SEED = 20260


@dataclass
class RevisionResult:
    """One revision against the port: each function's verdict, and the known differences seen."""

    tag: str
    verdicts: dict[str, str]  # function -> same / changed (listed) / missing / added / FAILED / ...
    failures: list[FunctionResult]
    expected: Expected
    ub_findings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        unlisted = any("UNLISTED" in v or v.startswith("FAILED") for v in self.verdicts.values())
        return not self.failures and not unlisted


def check_revision(
    tag: str,
    n_jobs: int,
    show: Callable[[Job, int, FunctionResult | None], None],
    known: Path | None = None,
    profile: Profile = REVISIONS_PROFILE,
    seed: int = REVISIONS_SEED,
    funcs: Sequence[str] | None = None,
    scan_ub: bool = True,
) -> RevisionResult:
    """The port against one shipped revision, with its known-differences file (``funcs``: only
    these functions; ``scan_ub``: also look for undefined behaviour of the C's own)."""
    import reference_c
    from reference_c import build
    from reference_c.revisions import revision

    from .exhaustive import FUNCTIONS
    from .expected import shipped
    from .functions_in_source import in_source

    rev = revision(tag)
    path = known if known is not None else shipped(tag)
    expected = Expected.load(path) if path.is_file() else Expected()
    ref = reference_c.load(rev.path)
    found = in_source(ref, list(funcs or CAMPAIGNS))
    verdicts: dict[str, str] = {}
    for func in funcs or CAMPAIGNS:
        if func in found.later:
            verdicts[func] = "-"  # not in this revision yet
        elif func in found.missing:
            verdicts[func] = "missing" if func in expected.missing else "FAILED (missing)"
        elif func in found.changed:
            verdicts[func] = "changed prototype" if func in expected.changed else "FAILED (prototype)"
    comparable = found.run
    for func in found.added if not funcs else ():
        verdicts[func] = "added"
    config = Config(
        profile, str(rev.path), "trap", seed, None, expect_diff=str(path) if path.is_file() else None
    )
    build.build(rev.path, "sanitize")
    jobs = comparison_jobs(comparable, profile)
    from .oracle import shared_server

    with shared_server(str(rev.path)):
        results = run_jobs(jobs, config, n_jobs, show)
    failures = [r for r in results if r.failed or r.error]
    for r in results:
        expected.merge_seen(r.expected_seen)
    listed = {e.function for e in expected.entries if e.key() in expected.seen}
    for func in comparable:
        failed = any(r.func == func for r in failures)
        verdicts[func] = "FAILED" if failed else "changed (listed)" if func in listed else "same"
    findings: list[str] = []
    if scan_ub:
        from .cscan import scan

        for f in scan(str(rev.path), [fn for fn in comparable if fn in FUNCTIONS]):
            reason = expected.c_ub_reason(f.func, f.report)
            verdicts[f.func] += "; C UB" + ("" if reason else " (UNLISTED)")
            findings.append(f"{f.func}: {f.report}" + (f"  (known: {reason})" if reason else "  UNLISTED"))
    return RevisionResult(tag, verdicts, failures, expected, findings)


def discover(
    tag: str,
    n_jobs: int,
    show: Callable[[Job, int, FunctionResult | None], None],
    profile: Profile = REVISIONS_PROFILE,
    seed: int = REVISIONS_SEED,
) -> str:
    """A known-differences file for a revision, as the harness finds it: every distinct change
    of every function (each with the case that shows it, as a comment), every missing function
    and changed prototype, each with a reason left for a maintainer to write."""
    import reference_c
    from reference_c.revisions import revision

    from .exhaustive import FUNCTIONS
    from .functions_in_source import in_source

    rev = revision(tag)
    ref = reference_c.load(rev.path)
    found = in_source(ref, list(CAMPAIGNS))
    config = Config(profile, str(rev.path), "trap", seed, None)
    jobs = comparison_jobs(found.run, profile)
    changes, _, errors, _ = find_changes(jobs, config, n_jobs, show)
    lines = [f"# Known differences between the port and {rev.path.name} ({', '.join(rev.releases)})", ""]
    for func in sorted(found.missing):
        lines += ["[[missing]]", f'function = "{func}"', 'reason = "TODO"', ""]
    for func, proto in sorted(found.changed.items()):
        lines += ["[[changed]]", f'function = "{func}"', f"# {proto}", 'reason = "TODO"', ""]
    for func in CAMPAIGNS:
        for c in _distinct(changes.get(func, [])):
            e = c.entry()
            lines += [
                "[[difference]]",
                f'function = "{e.function}"',
                f'kind = "{e.kind}"',
                f'where = "{e.where}"',
                'reason = "TODO"',
                *(f"# {line}" for line in c.difference.splitlines()),
                "",
            ]
    from .cscan import report_glob, scan

    for f in scan(str(rev.path), [fn for fn in found.run if fn in FUNCTIONS]):
        lines += [
            "[[c-ub]]",
            f'function = "{f.func}"',
            f"report = {json.dumps(report_glob(f.report))}",
            'reason = "TODO"',
            f"# {f.report}",
            "",
        ]
    for r in errors:
        lines.append(f"# ERROR in {r.func} ({r.engine}): {r.error}")
    return "\n".join(lines)
