"""``python -m harness list``: the functions covered and the assert sites reached."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

import pyimpl
from harness.campaign.pool import CAMPAIGNS, Config, Profile, run_hypothesis
from harness.model import sites as sites_mod
from harness.review.exits import EXIT_AGREE
from harness.verdict.judge import Judge
from harness.worlds.oracle import Trusting
from harness.worlds.world import PyWorld


def add_parser(sub: Any) -> None:
    """``list`` and its options."""
    p = sub.add_parser("list", help="functions covered and assert sites reached")
    p.add_argument(
        "--sample",
        action="store_true",
        help="count sites on a fresh sample, not the counts the last run here left (.iovconf/sites.json)",
    )
    p.add_argument("--examples", type=int, default=10, help="cases per function of the sample")
    p.set_defaults(handler=cmd_list)


def cmd_list(args: argparse.Namespace) -> int:
    """Every C function with its coverage, and every assert site with how often cases reach it:
    the counts of the last ``harness run`` on the original here, or of a quick sample."""
    counts = None if args.sample else sites_mod.Counts.load()
    if counts is None:
        counts = _sample_counts(args.examples)
    console = Console(highlight=False, markup=False, width=None if sys.stdout.isatty() else 160)
    funcs = Table(title="C functions")
    for col in ("line", "function", "kind", "status"):
        funcs.add_column(col)
    for cf in pyimpl.TABLE:
        if cf.name in CAMPAIGNS:
            status = "covered"
        elif cf.via is not None:
            status = f"covered via {cf.via}" if cf.via in CAMPAIGNS else "not yet"
        else:
            status = "not yet"
        funcs.add_row(cf.where, cf.name, cf.kind, status)
    console.print(funcs)
    table = Table(title=f"assert sites of iov.c (counts of {counts.source})")
    for col in ("line", "function", "assert", "reached", "failed", "note"):
        table.add_column(col)
    all_sites = sites_mod.assert_sites(sites_mod.ORIGINAL)
    for s in all_sites:
        note = sites_mod.unreachable(s.func, s.expr) or ""
        table.add_row(
            str(s.line),
            s.func,
            s.expr,
            str(counts.reached(s)),
            str(counts.failed(s)),
            f"unreachable: {note}" if note else "",
        )
    console.print(table)
    console.print(
        "reached: cases that evaluated the assert in the port (Hypothesis engine); failed: cases where "
        "it failed on both sides (every engine)"
    )
    n_fired = sum(1 for s in all_sites if counts.failed(s))
    console.print(f"{n_fired}/{len(all_sites)} assert sites made to fail ({counts.source})")
    return EXIT_AGREE


def _sample_counts(examples: int) -> sites_mod.Counts:
    """Site counts of a quick sample: ``examples`` Hypothesis cases per function, port alone."""
    config = Config(Profile("list", examples), None, "trap", 0, None)
    # the port alone is enough to see which sites cases reach: not a verdict, so nothing to confirm
    judge = Judge(PyWorld(), PyWorld(), oracle=Trusting())
    results = [run_hypothesis(func, config, judge) for func in CAMPAIGNS]
    return sites_mod.Counts.of(results, f"a sample of {examples} cases per function, the port alone")
