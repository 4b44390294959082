"""``python -m harness diff OLD NEW``: C against C, which functions changed behaviour."""

from __future__ import annotations

import argparse
import os
import random
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from harness.campaign import cluster, revisions
from harness.campaign.plan import ONLY_HELP, selected
from harness.campaign.pool import PROFILES, Job
from harness.model.outcome import generalise
from harness.model.results import FunctionResult, describe_case
from harness.report import export
from harness.report.findings import not_judged, ranked, show_differences, show_notes, show_unjudged
from harness.review import hooks as review
from harness.review.exits import EXIT_AGREE, EXIT_DIFFER, EXIT_USAGE, NOTHING_JUDGED
from harness.review.sources import SOURCE_SPEC

from .common import NOTHING, expected_differences


def add_parser(sub: Any) -> None:
    """``diff`` and its options."""
    p = sub.add_parser("diff", help="C against C: which functions changed behaviour from OLD to NEW")
    p.add_argument("old", help=f"the iov.c before the change: {SOURCE_SPEC}")
    p.add_argument("new", help="the iov.c after it (the same forms)")
    p.add_argument("--only", help=ONLY_HELP)
    p.add_argument("--profile", choices=sorted(PROFILES), default="quick", help="how hard to look")
    p.add_argument("--seed", type=int, help="campaign seed (printed when not given)")
    p.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="worker processes")
    p.add_argument(
        "--report", default="iovconf-reports", help="directory for the cases that show each change"
    )
    p.add_argument("--expect-diff", help="a known-differences file: changes it lists are not reported")
    p.add_argument(
        "--strict-asserts",
        action="store_true",
        help="a call that aborts by another assert (same state) is a change, not a note",
    )
    review.add_arguments(p)  # --bisect, --summary
    cluster.add_argument(p)  # --cluster local:N|tcp://HOST:PORT
    export.add_arguments(p)  # --json, --junitxml
    p.set_defaults(handler=cmd_diff)


def cmd_diff(args: argparse.Namespace) -> int | str:
    """Which functions changed behaviour from OLD to NEW, each distinct change with its smallest case."""
    console = Console(highlight=False, markup=False, width=None if sys.stdout.isatty() else 140)
    for path in (args.old, args.new):
        if not Path(path).is_file():
            console.print(f"diff: {path} is not a file")
            return EXIT_USAGE
    funcs = selected(args.only) if args.only else None
    if isinstance(funcs, str):
        console.print(funcs)
        return EXIT_USAGE
    expected = expected_differences(console, args.expect_diff)
    if expected is None:
        return EXIT_USAGE
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 32)
    old_shown, new_shown = review.shown(args, "old", args.old), review.shown(args, "new", args.new)
    console.print(f"iovconf diff: {old_shown} -> {new_shown}, profile {args.profile}, seed {seed}")
    report_dir = Path(args.report)
    old, new = str(Path(args.old).resolve()), str(Path(args.new).resolve())
    start = time.perf_counter()
    try:
        found = revisions.diff(
            args.old,
            args.new,
            funcs,
            PROFILES[args.profile],
            seed,
            args.jobs,
            _as_found(console),
            expect_diff=args.expect_diff,
            strict_asserts=args.strict_asserts,
            cluster=args.cluster,
        )
    except Exception as exc:
        console.print(f"build error: {type(exc).__name__}: {exc}")
        return EXIT_USAGE
    elapsed = time.perf_counter() - start
    shown = show_differences(
        console,
        found.results,
        report_dir,
        new,
        old,
        headline=lambda r, f: f"CHANGED {r.func}",
        strict_asserts=args.strict_asserts,
    )
    rows = show_notes(console, found.results, lambda r: "diff")
    for name, protos in found.found.respelt.items():
        console.print(f"\nnote: {name}: its prototype is spelt otherwise (judged as usual): {protos}")
        rows.append(export.Row("diff", name, "note", difference=protos, kind="prototype respelt"))
    cases = {d.func: d.cases for d in found.functions}
    unjudged = not_judged(found.selected, found.found, expected, cases)
    table = Table(title=f"{old_shown} -> {new_shown}")
    for col in ("function", "verdict", "cases", "changes"):
        table.add_column(col)
    for d in found.functions:
        kinds = "; ".join(f"{c.kind} ({c.where})" for c in d.changes) or d.detail or "-"
        table.add_row(d.func, d.status, str(d.cases), kinds)
    for u in unjudged:
        table.add_row(u.func, f"not judged ({u.category})", "0", u.why)
    console.print(table)
    rows += show_unjudged(console, unjudged, "diff")
    scripts = {(s.result.func, *s.finding.key): str(s.reproducer) for s in shown}
    for d in found.functions:
        red = d.status not in ("same", "changed (listed)")
        if not d.changes:
            rows.append(export.Row("diff", d.func, d.status, d.cases, difference=d.detail, red=red))
        for c in d.changes:
            detail = describe_case(c.case_json, c.how)
            script = scripts.get((c.func, c.kind, generalise(c.where)), "")
            rows.append(
                export.Row(
                    "diff",
                    d.func,
                    d.status,
                    d.cases,
                    0.0,
                    c.difference,
                    c.kind,
                    c.where,
                    detail,
                    script,
                    red,
                    case_json=c.case_json or "",  # the change's case itself (--summary shows it as C)
                )
            )
    changed = [d for d in found.functions if d.status == "changed"]
    red_unjudged = [u for u in unjudged if u.red]
    console.print(
        f"\n{sum(d.status == 'same' for d in found.functions)} functions the same, {len(changed)} changed, "
        f"{len(unjudged)} not judged ({len(red_unjudged)} of them a difference) ({elapsed:.0f}s)"
    )
    judged = sum(d.cases for d in found.functions)
    judged_nothing = False
    if changed or red_unjudged:
        status = EXIT_DIFFER
    elif any(d.status == "error" for d in found.functions):
        status = EXIT_USAGE
    elif judged == 0:
        console.print(NOTHING)
        status, judged_nothing = EXIT_USAGE, True
    else:
        status = EXIT_AGREE
    replay = ["python", "-m", "harness", "diff", review.replayed(args, "old", old)]
    replay += [review.replayed(args, "new", new), "--profile", args.profile, "--seed", str(seed)]
    for flag in ("only", "expect_diff", "jobs"):
        if getattr(args, flag) is not None:
            replay += [f"--{flag.replace('_', '-')}", str(getattr(args, flag))]
    if args.strict_asserts:
        replay.append("--strict-asserts")
    record = export.Record("diff", shlex.join(replay), seed, args.profile, status, elapsed, new, ranked(rows))
    export.write(record, args.json, args.junitxml)
    review.finish(args, record)  # --summary
    return NOTHING_JUDGED if judged_nothing else status


def _as_found(console: Console) -> Callable[[Job, int, FunctionResult | None], None]:
    """Progress of a diff: each campaign as it ends, labelled, and each change the moment its
    campaign finds it (told in full, the most telling first, once every campaign is done)."""
    done: list[int] = [0]
    told: set[tuple[str, str, str]] = set()

    def show(job: Job, cases: int, result: FunctionResult | None) -> None:
        if result is None:
            return
        done[0] += 1
        engine, func = job
        console.print(f"  campaign {done[0]}: {engine} {func}: {result.cases} cases, {result.seconds:.1f}s")
        for f in result.findings:
            key = (func, *f.key)
            if key not in told:
                told.add(key)
                console.print(f"  FOUND a change of {func}: {f.kind} ({f.where}): {f.difference[:200]}")

    return show
