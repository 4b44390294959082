"""``python -m harness merge``: the verdict of a sharded exhaustive run, from its shards' files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from harness.report import export
from harness.report.merge import MergeError, load, merge
from harness.report.reports import write_report
from harness.review.exits import EXIT_DIFFER, EXIT_USAGE


def add_parser(sub: Any) -> None:
    """``merge`` and its options."""
    p = sub.add_parser("merge", help="combine the --json files of a sharded exhaustive run")
    p.add_argument("files", nargs="+", help="one results file per shard (harness run --shard K/N --json)")
    export.add_arguments(p, "write the merged results")  # --json, --junitxml
    p.add_argument(
        "--report", default="iovconf-reports", help="directory for the merged failures' reproducers"
    )
    p.set_defaults(handler=cmd_merge)


def cmd_merge(args: argparse.Namespace) -> int:
    """The verdict of the whole bound from its shards' result files."""
    console = Console(highlight=False, markup=False, width=None if sys.stdout.isatty() else 140)
    try:
        record = merge(load(args.files), args.files)
    except MergeError as exc:
        console.print(str(exc))
        return EXIT_USAGE
    table = Table(title=f"merged: {record.notes[0]}")
    for col in ("engine", "function", "cases", "verdict"):
        table.add_column(col)
    for row in record.rows:
        table.add_row(row.group, row.function, str(row.cases), row.verdict)
    console.print(table)
    for row in record.rows:
        if row.red and row.case_json:
            script = write_report(Path(args.report), row.function, row.difference, row.case_json, row.case,
                                  record.c_source or None)  # fmt: skip
            row.reproducer = str(script)
            console.print(
                f"\nDISCREPANCY in {row.function}: {row.difference}\ncase:\n{row.case}\nreproducer: {script}"
            )
    console.print(f"{sum(r.cases for r in record.rows)} cases in all; the whole run again: {record.replay}")
    export.write(record, args.json, args.junitxml)
    return EXIT_DIFFER if any(r.red for r in record.rows) else record.exit_status
