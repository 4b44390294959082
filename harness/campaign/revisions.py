"""What a change to iov.c did: ``harness diff OLD NEW`` and ``harness revisions``.

``diff`` runs the campaigns with both worlds in C (the old source where the port
usually stands; a case the port calls undefined is compared by neither, since
undefined C may do anything on either side) and finds, in one pass, every distinct
change of each function the engines reach: each (kind, place) of difference is told
apart by the engines (Hypothesis keeps and shrinks each one, the exhaustive engine keeps
the first case of each), and reported once, with its kind (an assert became a return,
a different value, different memory...) and its smallest case.

``revisions`` runs every shipped upstream revision against the port with its
known-differences file (``harness/verdict/known/TAG.toml``) and tabulates, per revision and
function: same, changed (listed), missing, added, or FAILED (a difference no entry
lists), with the C-only undefined behaviour the sanitizers find (``harness.engines.cscan``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.model.outcome import generalise
from harness.model.results import Finding, FunctionResult, dedupe
from harness.verdict.expected import Entry, Expected
from harness.verdict.functions_in_source import InSource, in_sources

from .cluster import run_campaigns
from .pool import CAMPAIGNS, STATEFUL, Config, Job, Profile, run_jobs


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

    @classmethod
    def of(cls, result: FunctionResult, finding: Finding) -> Change:
        return cls(
            result.func,
            finding.kind,
            finding.where,
            finding.difference,
            finding.case_json,
            result.engine,
            finding.how,
        )


@dataclass
class FunctionDiff:
    func: str
    status: str  # same, changed, changed (listed), not judged, error
    changes: list[Change] = field(default_factory=list)
    cases: int = 0
    detail: str = ""


def find_changes(
    jobs: list[Job],
    config: Config,
    n_jobs: int,
    show: Callable[[Job, int, FunctionResult | None], None],
) -> tuple[dict[str, list[Change]], dict[str, int], list[FunctionResult], set[str]]:
    """Run ``jobs`` once: every distinct change, each with its smallest case, the cases judged
    per function, the jobs that failed to run, and the functions that showed a difference
    ``config.expect_diff`` lists."""
    base = Expected.load(config.expect_diff) if config.expect_diff else None
    base_keys = {e.key(): e.function for e in base.entries} if base else {}
    results = run_jobs(jobs, config, n_jobs, show)
    changes: dict[str, list[Change]] = {}
    cases: dict[str, int] = {}
    listed: set[str] = set()  # functions with a difference the given file lists
    for r in results:
        cases[r.func] = cases.get(r.func, 0) + r.cases
        listed |= {base_keys[k] for k in r.expected_seen if k in base_keys}
    for r, f in dedupe(results):
        changes.setdefault(r.func, []).append(Change.of(r, f))
    return changes, cases, [r for r in results if r.error], listed


@dataclass
class Diff:
    """What ``diff`` found: each function's verdict, the campaigns' results, and how the two
    sources' functions met (``found``: judged, missing, added, changed prototypes)."""

    functions: list[FunctionDiff]
    results: list[FunctionResult]
    found: InSource
    selected: list[str]


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
    strict_asserts: bool = False,
    cluster: str | None = None,
) -> Diff:
    """Every selected function of the table (default: every one either source has): same,
    changed (each distinct change), or why it was not judged."""
    import reference_c
    from reference_c import build

    old_ref = reference_c.load(old)
    new_ref = reference_c.load(new)
    everywhere = set(old_ref.prototypes) | set(new_ref.prototypes)
    selected = list(funcs) if funcs else [f for f in CAMPAIGNS if f in everywhere]
    found = in_sources(old_ref, new_ref, selected)
    config = Config(
        profile,
        str(Path(new).resolve()),
        "trap",
        seed,
        None,
        # a worker killed by C is reported with the case it ran (a directory of diff's own: a
        # later `run` replays what a dead run left in its directory, against another source)
        inflight_dir=str(Path(".iovconf") / "inflight-diff"),
        expect_diff=expect_diff,
        old_source=str(Path(old).resolve()),
        strict_asserts=strict_asserts,
    )
    build.build(new, "sanitize")  # the oracle's build, once, before the workers
    jobs = comparison_jobs(found.run, profile, engines)
    results = run_campaigns(jobs, config, n_jobs, show, cluster)  # --jobs or --cluster
    base = Expected.load(expect_diff) if expect_diff else None
    base_keys = {e.key(): e.function for e in base.entries} if base else {}
    listed = {base_keys[k] for r in results for k in r.expected_seen if k in base_keys}
    out: list[FunctionDiff] = []
    for func in found.run:
        mine = [r for r in results if r.func == func]
        changes = [Change.of(r, f) for r, f in dedupe(mine)]
        status = function_status(bool(changes), any(r.error for r in mine), func in listed)
        detail = "; ".join(r.error for r in mine if r.error)
        out.append(FunctionDiff(func, status, changes, sum(r.cases for r in mine), detail))
    order = {f: k for k, f in enumerate(CAMPAIGNS)}
    return Diff(sorted(out, key=lambda d: order.get(d.func, len(order))), results, found, selected)


def function_status(changed: bool, errored: bool, listed: bool) -> str:
    """What ``diff`` says of a function: a change found is a change even when another of its
    campaigns failed (the error is told beside it), as ``run`` lets a difference win over an
    error; an error hides only a "same"."""
    if changed:
        return "changed"
    if errored:
        return "error"
    return "changed (listed)" if listed else "same"


def comparison_jobs(
    funcs: Sequence[str], profile: Profile, engines: Sequence[str] = ("exhaustive", "batched", "hypothesis")
) -> list[Job]:
    """The jobs that compare ``funcs``: each engine that can run them and that the profile
    gives cases to (the stateful machine is not one: its sequences mix every function)."""
    from harness.engines.exhaustive import FUNCTIONS

    wanted = {"exhaustive": True, "batched": profile.batches > 0, "hypothesis": profile.examples > 0}
    jobs: list[Job] = []
    for engine in engines:
        if wanted.get(engine, False):
            jobs += [(engine, f) for f in funcs if engine == "hypothesis" or f in FUNCTIONS]
    return jobs


__all__ = ["STATEFUL", "Change", "Diff", "FunctionDiff", "diff", "find_changes"]


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
    from harness.engines.exhaustive import FUNCTIONS
    from harness.verdict.expected import shipped
    from harness.verdict.functions_in_source import in_source
    from reference_c import build
    from reference_c.revisions import revision

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
        profile,
        str(rev.path),
        "trap",
        seed,
        None,
        expect_diff=str(path) if path.is_file() else None,
        strict_asserts=True,  # the port must mirror every assert: the files list each change of one
    )
    build.build(rev.path, "sanitize")
    jobs = comparison_jobs(comparable, profile)
    from harness.worlds.oracle import shared_server

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
        from harness.engines.cscan import scan

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
    from harness.engines.exhaustive import FUNCTIONS
    from harness.verdict.functions_in_source import in_source
    from reference_c.revisions import revision

    rev = revision(tag)
    ref = reference_c.load(rev.path)
    found = in_source(ref, list(CAMPAIGNS))
    config = Config(profile, str(rev.path), "trap", seed, None, strict_asserts=True)
    jobs = comparison_jobs(found.run, profile)
    changes, _, errors, _ = find_changes(jobs, config, n_jobs, show)
    lines = [f"# Known differences between the port and {rev.path.name} ({', '.join(rev.releases)})", ""]
    for func in sorted(found.missing):
        lines += ["[[missing]]", f'function = "{func}"', 'reason = "TODO"', ""]
    for func, proto in sorted(found.changed.items()):
        lines += ["[[changed]]", f'function = "{func}"', f"# {proto}", 'reason = "TODO"', ""]
    for func in CAMPAIGNS:
        for c in changes.get(func, []):
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
    from harness.engines.cscan import report_glob, scan

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
