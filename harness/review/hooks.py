"""What a patch reviewer's workflow adds to ``run`` and ``diff``, and the hooks ``harness.cli`` calls.

- Source specs (``harness.review.sources``): ``--c-source``, ``$IOVCONF_C_SOURCE``, ``OLD``, ``NEW``
  and ``replay --c-source`` take a path, ``-``, ``REV:PATH`` or a pipe.  :func:`run` resolves
  them before the command runs and puts a real file's path in their place on ``args``
  (``args.sources`` keeps each :class:`~harness.review.sources.Source`: :func:`shown` and
  :func:`replayed` give the spelling to print and the form a replay command repeats).
- ``--only changed[,NAME...]`` (``harness.review.changed``): replaced by the functions it selects,
  each printed with why; when none changed, the command judges nothing and exits 0.
- ``--bisect``: the exit status ``git bisect run`` wants (``harness.review.exits``); a source that
  does not build is found before the campaigns (its build is the one they would use: the
  cache is keyed by content) and skipped (125).
- ``--summary FILE`` (``harness.report.summary``): written from the command's record by
  :func:`finish`.

The hooks: :func:`add_arguments` (each of ``run`` and ``diff``), :func:`parse_failed` and
:func:`run` (``main``), :func:`shown`/:func:`replayed` (what the commands print and replay),
:func:`finish` (after the command's record is written).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from harness.report import export

from .exits import (
    BISECT_BAD,
    BISECT_GOOD,
    BISECT_SKIP,
    BISECT_STOP,
    DOES_NOT_BUILD,
    EXIT_AGREE,
    EXIT_USAGE,
    NOTHING_JUDGED,
    exit_status,
)
from .sources import Source, SourceError, resolve, resolve_all

#: the commands that take --bisect and --summary
COMMANDS = ("run", "diff")
_MEANING = {BISECT_GOOD: "same", BISECT_BAD: "changed", BISECT_SKIP: "skip", BISECT_STOP: "stop"}


def add_arguments(command: argparse.ArgumentParser) -> None:
    """``--bisect`` and ``--summary`` of ``run`` or ``diff``."""
    command.add_argument(
        "--bisect",
        action="store_true",
        help="exit as git bisect run wants: 0 same, 1 changed, 125 the source does not build or nothing "
        "could be judged (skip the commit), 128 a usage or harness error (stop the bisection)",
    )
    command.add_argument(
        "--summary",
        metavar="FILE",
        help="also write a Markdown summary (at most 40 lines) to paste into a review: per function same "
        "or changed, each change's minimal case as C calls, and the commands that reproduce it",
    )


def parse_failed(argv: Sequence[str] | None, code: Any) -> int:
    """The exit status of a command line argparse refused (``code``: its SystemExit code)."""
    if not code:  # --help
        return EXIT_AGREE
    words = sys.argv[1:] if argv is None else list(argv)
    return exit_status(EXIT_USAGE, "--bisect" in words)


def run(args: argparse.Namespace, dispatch: Callable[[argparse.Namespace], int | str]) -> int:
    """Resolve the sources and ``--only changed`` of ``args``, run the command (``dispatch``),
    and give its exit status (mapped for ``--bisect``)."""
    bisect = bool(getattr(args, "bisect", False))
    try:
        outcome = _prepare(args)
        if outcome is None:
            outcome = dispatch(args)
    except Exception:
        if not bisect:
            raise
        traceback.print_exc()  # a harness error says nothing about the commit: stop
        outcome = EXIT_USAGE
    status = exit_status(outcome, bisect)
    if bisect:
        print(f"--bisect: exit {status} ({_MEANING.get(status, 'stop')})", flush=True)
    return status


def shown(args: argparse.Namespace, name: str, default: str) -> str:
    """How to print the source argument ``name`` (``c_source``, ``old``, ``new``): as the user spelt it."""
    source = getattr(args, "sources", {}).get(name)
    return source.spelling if isinstance(source, Source) else default


def replayed(args: argparse.Namespace, name: str, value: Any) -> Any:
    """The value of argument ``name`` a replay command gives: for a source, a form that reads
    the same bytes again (``REV:PATH`` pinned to its commit, or the file), else ``value``."""
    source = getattr(args, "sources", {}).get(name)
    return source.replay if isinstance(source, Source) else value


def finish(args: argparse.Namespace, record: export.Record) -> None:
    """After a command wrote its record: the ``--summary``, if asked for."""
    if getattr(args, "summary", None):
        from harness.report import summary

        selection = getattr(args, "selection", None)
        reasons = dict(selection.reasons) if selection is not None else {}
        Path(args.summary).write_text(summary.render(record, _title(args), reasons))


# -- before the command ---------------------------------------------------------------------------


def _prepare(args: argparse.Namespace) -> int | str | None:
    """Resolve what the command needs; an outcome to exit with, or None to run it."""
    try:
        _resolve_sources(args)
    except SourceError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    unwritable = _unwritable_outputs(args)
    if unwritable:
        print(unwritable, file=sys.stderr)
        return EXIT_USAGE
    if args.command not in COMMANDS:
        return None
    from .changed import split_only

    wants_changed, named = split_only(args.only)
    if wants_changed:
        outcome = _only_changed(args, named)
        if outcome is not None:
            return outcome
    if getattr(args, "bisect", False):
        return _check_builds(args)
    return None


#: the options that name a file the command writes when it is done
OUTPUTS = ("json", "junitxml", "summary")


def _unwritable_outputs(args: argparse.Namespace) -> str | None:
    """Why a file the command would write at its end cannot be written, or None: found before
    the campaigns, not after them (a late failure would exit 1, "a difference", to CI)."""
    for name in OUTPUTS:
        value = getattr(args, name, None)
        if not value:
            continue
        path = Path(value)
        parent = path.parent
        if path.is_dir():
            why = "it is a directory"
        elif not parent.is_dir():
            why = f"the directory {str(parent)!r} does not exist"
        elif not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
            why = "permission denied"
        else:
            continue
        return f"--{name}: cannot write {value}: {why}"
    return None


def _resolve_sources(args: argparse.Namespace) -> None:
    """Put a real file's path in place of each source spec of ``args``; keep the specs."""
    sources: dict[str, Source] = {}
    if args.command == "diff":
        sources["old"], sources["new"] = resolve_all([(args.old, "OLD"), (args.new, "NEW")])
        args.old, args.new = sources["old"].path, sources["new"].path
    elif args.command in ("run", "replay"):
        spec, what = args.c_source, "--c-source"
        from_env = spec is None and args.command == "run" and bool(os.environ.get("IOVCONF_C_SOURCE"))
        if from_env:
            spec, what = os.environ["IOVCONF_C_SOURCE"], "IOVCONF_C_SOURCE"
        if spec is not None:
            sources["c_source"] = resolve(spec, what)
            args.c_source = sources["c_source"].path
            if from_env:  # what a child process reads: the same file
                os.environ["IOVCONF_C_SOURCE"] = args.c_source
    args.sources = sources


def _sides(args: argparse.Namespace) -> tuple[str, str]:
    """(the source before, the source after) of the command: OLD and NEW, or the original and
    the source run against the port."""
    from reference_c import DEFAULT_SOURCE

    if args.command == "diff":
        return args.old, args.new
    return str(DEFAULT_SOURCE), args.c_source or str(DEFAULT_SOURCE)


def _title(args: argparse.Namespace) -> str:
    """What the summary says was compared."""
    if args.command == "diff":
        return f"`{_shown_side(args, 'before')}` -> `{_shown_side(args, 'after')}`"
    return f"`{_shown_side(args, 'after')}` against the port"


def _only_changed(args: argparse.Namespace, named: list[str]) -> int | str | None:
    """Replace ``--only changed[,NAME...]`` by the functions it selects; an outcome when there
    is nothing to run."""
    from harness.generate.strategies import STRATEGIES as CAMPAIGNS  # the campaigned functions
    from reference_c.csource import CSourceError, read_source

    from .changed import select

    unknown = [n for n in named if n not in CAMPAIGNS]
    if unknown:
        print(f"--only: no campaign for {', '.join(unknown)} (known: changed, {', '.join(CAMPAIGNS)})")
        return EXIT_USAGE
    before, after = _sides(args)
    for path, side in ((before, "before"), (after, "after")):
        try:
            read_source(path)
        except CSourceError as exc:
            print(f"--only changed: cannot read the functions of {_shown_side(args, side)}: {exc}")
            # under --bisect, the side that changes from commit to commit may simply not build
            builds = side == "before" or not getattr(args, "bisect", False) or _builds(path, args)
            return EXIT_USAGE if builds else DOES_NOT_BUILD
    selection = select(before, after, named)
    what = f"{_shown_side(args, 'before')} -> {_shown_side(args, 'after')}"
    if not selection.funcs:
        if selection.changed:
            print(f"--only changed: {what}: functions changed, but nothing the harness judges reaches them:")
            print("\n".join(selection.lines()))
            print("nothing judged")
            return NOTHING_JUDGED
        print(
            f"--only changed: no function changed from {what} (comments, whitespace and line moves do "
            "not count): nothing to judge"
        )
        _write_empty(args)
        return EXIT_AGREE
    n = len(selection.funcs)
    print(f"--only changed: {n} function{'s' if n > 1 else ''} to judge ({what}):")
    print("\n".join(selection.lines()), flush=True)
    args.only = ",".join(selection.funcs)
    args.selection = selection
    return None


def _shown_side(args: argparse.Namespace, side: str) -> str:
    """The source ``before`` or ``after`` the change (see :func:`_sides`), as the user spelt it."""
    if args.command == "diff":
        name = "old" if side == "before" else "new"
        return shown(args, name, getattr(args, name))
    if side == "before":
        return "reference_c/iov.c"
    return shown(args, "c_source", args.c_source or "reference_c/iov.c")


def _write_empty(args: argparse.Namespace) -> None:
    """The record of a command that judged nothing because nothing changed: its --json,
    --junitxml and --summary say so too."""
    command = ["python", "-m", "harness", args.command]
    if args.command == "diff":
        command += [replayed(args, "old", args.old), replayed(args, "new", args.new)]
    elif args.c_source:
        command += ["--c-source", replayed(args, "c_source", args.c_source)]
    command += ["--only", "changed"]
    record = export.Record(
        args.command,
        shlex.join(command),
        None,
        args.profile,
        EXIT_AGREE,
        0.0,
        args.new if args.command == "diff" else (args.c_source or ""),
        [],
        ["no function changed: nothing judged"],
    )
    export.write(record, args.json, args.junitxml)
    if getattr(args, "summary", None):
        from harness.report import summary

        note = "No function changed (comments, whitespace and line moves do not count): nothing was judged."
        Path(args.summary).write_text(summary.render(record, _title(args), notes=[note]))


def _builds(path: str, args: argparse.Namespace) -> bool:
    """Whether ``path`` builds in the flavours the command uses: its assert mode's, and the UB
    oracle's (``sanitize``).  Those are the builds the command makes next: the cache is keyed by
    content, so nothing is built twice."""
    from reference_c import BuildError
    from reference_c.build import build
    from reference_c.csource import CSourceError

    try:
        for flavour in dict.fromkeys((getattr(args, "assert_mode", "trap"), "sanitize")):
            build(path, flavour)
    except (BuildError, CSourceError) as exc:
        print(f"{path} does not build: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
        return False
    return True


def _check_builds(args: argparse.Namespace) -> int | str | None:
    """--bisect: the source under test must build, else the commit is skipped; the side that stays
    good (OLD, or the original for ``run``) must too, else the set-up is wrong and the bisection stops."""
    before, after = _sides(args)
    if not _builds(before, args):
        print(f"{_shown_side(args, 'before')} does not build: it is the side that stays good under --bisect")
        return EXIT_USAGE
    return None if _builds(after, args) else DOES_NOT_BUILD
