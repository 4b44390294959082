"""``python -m harness run|list|replay|mutate|coverage``: the command-line face of the harness.

Exit status: 0 every case agreed; 1 a discrepancy (report + reproducer written);
2 usage or build error.
"""

from __future__ import annotations

import argparse

from harness.commands import COMMANDS
from harness.commands.common import ENVIRONMENT
from harness.review import hooks as review


def parser() -> argparse.ArgumentParser:
    """Every command's options (each command adds its own: :data:`harness.commands.COMMANDS`)."""
    p = argparse.ArgumentParser(
        prog="python -m harness",
        description=__doc__,
        epilog=ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:
        return review.parse_failed(argv, exc.code)  # 2 (128 under --bisect); 0 for --help
    # source specs and --only changed resolved, then the command; --bisect maps its exit status
    return review.run(args, _dispatch)


def _dispatch(args: argparse.Namespace) -> int | str:
    result: int | str = args.handler(args)
    return result
