"""``python -m harness revisions``: every shipped upstream revision of iov.c against the port."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from typing import Any

from rich.console import Console
from rich.table import Table

from harness.campaign import cluster
from harness.campaign.pool import Job
from harness.campaign.revisions import REVISIONS_PROFILE, REVISIONS_SEED, check_revision, discover
from harness.model.results import FunctionResult
from harness.report import export
from harness.review.exits import EXIT_AGREE, EXIT_DIFFER, EXIT_USAGE
from reference_c.revisions import REVISIONS


def add_parser(sub: Any) -> None:
    """``revisions`` and its options."""
    p = sub.add_parser("revisions", help="every shipped upstream revision against the port")
    p.add_argument("--only", help="comma-separated release tags (e.g. v8.1.0,v10.0.0)")
    p.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="worker processes")
    p.add_argument(
        "--discover", action="store_true", help="print the known differences the harness finds, as TOML"
    )
    cluster.add_argument(p)  # --cluster local:N|tcp://HOST:PORT
    export.add_arguments(p)  # --json, --junitxml
    p.set_defaults(handler=cmd_revisions)


def _quiet(job: Job, cases: int, result: FunctionResult | None) -> None:
    if result is not None:
        print(f"  {job[0]} {job[1]}: {result.cases} cases, {result.status}", flush=True)


def cmd_revisions(args: argparse.Namespace) -> int:
    """Every shipped revision against the port with its known differences: a table."""
    console = Console(highlight=False, markup=False, width=None if sys.stdout.isatty() else 160)
    tags = [r.tag for r in REVISIONS[1:]]
    if args.only:
        wanted = [t.strip() for t in args.only.split(",") if t.strip()]
        unknown = [t for t in wanted if t not in tags]
        if unknown:
            console.print(f"--only: no shipped revision {', '.join(unknown)} (shipped: {', '.join(tags)})")
            return EXIT_USAGE
        tags = wanted
    if args.discover:
        found = (discover(tag, args.jobs, _quiet) for tag in tags)
        for text in cluster.discover_on_cluster(tags, args.cluster) if args.cluster else found:
            print(text)
        return EXIT_AGREE
    start = time.perf_counter()
    if args.cluster:  # one task a revision
        results = cluster.check_revisions_on_cluster(tags, args.cluster, print)
    else:
        results = [check_revision(tag, args.jobs, _quiet) for tag in tags]
    table = Table(title="upstream revisions of util/iov.c against the port (known differences listed)")
    table.add_column("function")
    for r in results:
        table.add_column(r.tag)
    funcs = list(dict.fromkeys(f for r in results for f in r.verdicts))
    for func in funcs:
        table.add_row(func, *(r.verdicts.get(func, "") for r in results))
    console.print(table)
    failed = any(not r.ok for r in results)
    for r in results:
        for finding in r.ub_findings:
            console.print(f"{r.tag}: C UB: {finding}")
        for entry in r.expected.unseen():  # a note: only an unlisted difference is red
            console.print(
                f"{r.tag}: known, not seen in this run: {entry.function}: {entry.kind} ({entry.where}): "
                f"{entry.reason}"
            )
        for f in r.failures:
            failed = True
            console.print(f"{r.tag}: {f.func} ({f.engine} engine): {f.difference or f.error}\n{f.detail}")
    elapsed = time.perf_counter() - start
    console.print(f"{len(results)} revisions in {elapsed:.0f}s")
    status = EXIT_DIFFER if failed else EXIT_AGREE
    rows = []
    for r in results:
        shown = {f.func: f for f in r.failures}
        for func, verdict in r.verdicts.items():
            bad = shown.get(func)
            red = verdict.startswith("FAILED") or "UNLISTED" in verdict
            difference = (bad.difference or bad.error or "") if bad else ""
            case = bad.detail if bad else ""
            rows.append(export.Row(r.tag, func, verdict, difference=difference, case=case, red=red))
        rows += [export.Row(r.tag, "C UB", finding, red="UNLISTED" in finding) for finding in r.ub_findings]
    replay = ["python", "-m", "harness", "revisions", *(["--only", args.only] if args.only else [])]
    record = export.Record(
        "revisions", shlex.join(replay), REVISIONS_SEED, REVISIONS_PROFILE.name, status, elapsed, "", rows
    )
    export.write(record, args.json, args.junitxml)
    return status
