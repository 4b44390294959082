"""``python -m harness replay``: a reproducer (.py) or a case (.json) run again."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from harness.model.case import case_to_json
from harness.report.reports import load_case, replay_case_json, strict_asserts_named
from harness.review.exits import EXIT_USAGE
from harness.review.sources import SOURCE_SPEC


def add_parser(sub: Any) -> None:
    """``replay`` and its options."""
    p = sub.add_parser("replay", help="re-run a reproducer (.py) or case (.json)")
    p.add_argument("file")
    p.add_argument("--c-source", help=f"override the C source named in the reproducer: {SOURCE_SPEC}")
    p.set_defaults(handler=cmd_replay)


def cmd_replay(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        print(f"replay: {path} is not a file", file=sys.stderr)
        return EXIT_USAGE
    try:
        case, c_source, old_source = load_case(path)
    except (ValueError, KeyError) as exc:
        print(f"replay: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return replay_case_json(
        case_to_json(case), args.c_source or c_source, old_source, strict_asserts_named(path)
    )
