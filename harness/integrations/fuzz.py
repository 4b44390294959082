"""``python -m harness fuzz``: coverage-guided search for differences, through libFuzzer (atheris).

Each function's fuzz target (``harness.engines.fuzz_targets``) runs under libFuzzer in a child
process of its own (:mod:`harness.integrations.libfuzzer`), ``--jobs`` of them at a time, for
``--max-time`` seconds each: libFuzzer owns its process and ends it, and a C crash that the
shims do not trap ends only that child, which is reported with the case it had in flight.

What a child finds is saved in the example database (``--db``) under the fuzz target's key
and the ``hypothesis`` engine's, then replayed by the Hypothesis engine of ``run`` here (a
worker process, as ``run``'s): Hypothesis shrinks it, and the smallest case is reported as
``run`` reports one (a ``.txt`` report, the ``.py`` and ``.c`` reproducers).  ``harness run
--engine hypothesis`` and ``pytest harness/engines/fuzz_targets.py`` replay it the same way later.

With clang, C is built in the ``fuzz`` flavour (``-fsanitize=fuzzer-no-link``) so that
libFuzzer's coverage sees C's branches too; without it, C is the usual gcc build and the
port's branches alone guide the search (said so when the command starts).

Exit status as ``run``'s: 0 every case agreed; 1 a difference (report and reproducers
written); 2 a usage, build or harness error (atheris not installed: the ``fuzz`` extra).
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rich.console import Console

from harness.campaign.plan import ONLY_HELP, jobs_count, selected
from harness.model.results import HOW, FunctionResult
from harness.review.exits import EXIT_AGREE, EXIT_DIFFER, EXIT_USAGE, NOTHING_JUDGED
from harness.review.sources import SOURCE_SPEC

from .libfuzzer import Counts, Job

#: the optional dependency that brings atheris
EXTRA = "fuzz"
#: examples the shrinking step may generate besides replaying the saved failure
SHRINK_EXAMPLES = 20
#: what a child may take beyond --max-time (start-up, the last input, writing its result)
GRACE_SECONDS = 120.0
#: how a case libFuzzer found and Hypothesis shrank came to be the one reported
HOW_SHRUNK = "found by libFuzzer, then " + HOW["hypothesis"]


def add_parser(sub: Any) -> None:

    p = sub.add_parser(
        "fuzz",
        help="coverage-guided search through libFuzzer (atheris), one process per function",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--only", help=ONLY_HELP.split("; 'changed'")[0])
    p.add_argument(
        "--c-source", help=f"another iov.c to compare against: {SOURCE_SPEC} (default: the original)"
    )
    p.add_argument(
        "--max-time", type=float, default=60.0, help="seconds of fuzzing per function (default %(default)s)"
    )
    p.add_argument("--jobs", type=jobs_count, default=1, help="fuzzer processes at a time (a number or auto)")
    p.add_argument("--seed", type=int, help="libFuzzer's seeds derive from it (printed when not given)")
    p.add_argument("--report", default="iovconf-reports", help="directory for reports and reproducers")
    p.add_argument("--db", help="the example database, as run's --db (env IOVCONF_DB)")
    p.set_defaults(handler=cmd_fuzz)


def atheris_missing() -> str | None:
    """What to say when atheris cannot be imported (None: it can)."""
    try:
        import atheris  # noqa: F401
    except ImportError as exc:
        return (
            f"fuzz: needs atheris, the '{EXTRA}' extra: pip install 'iovconf[{EXTRA}]' "
            f"(or pip install atheris) ({exc})"
        )
    return None


def libfuzzer_seed(seed: int, func: str) -> int:
    """libFuzzer's seed for ``func`` (1 to 2**31 - 1: 0 would mean a random one)."""
    from harness.campaign.pool import function_seed

    return function_seed(seed, f"fuzz {func}") % (2**31 - 1) + 1


@dataclass
class _Child:
    job: Job
    proc: subprocess.Popen[bytes]
    log: Path
    started: float


def run_children(
    jobs: list[Job], n_jobs: int, show: Callable[[FunctionResult, int], None]
) -> list[FunctionResult]:
    """Run each job's libFuzzer child, ``n_jobs`` at a time; results in the order of ``jobs``."""
    pending, running = list(jobs), list[_Child]()
    results: dict[str, FunctionResult] = {}
    try:
        while pending or running:
            while pending and len(running) < max(n_jobs, 1):
                running.append(_start(pending.pop(0)))
            time.sleep(0.2)
            for child in list(running):
                overdue = time.monotonic() - child.started > child.job.max_time + GRACE_SECONDS
                if child.proc.poll() is None and not overdue:
                    continue
                why = None
                if child.proc.returncode is None:
                    child.proc.kill()
                    child.proc.wait()
                    why = f"hung for {child.job.max_time + GRACE_SECONDS:.0f}s"
                running.remove(child)
                result, inputs = _collect(child, why)
                results[child.job.func] = result
                show(result, inputs)
    finally:
        for child in running:
            child.proc.kill()
            child.proc.wait()
    return [results[j.func] for j in jobs]


def _start(job: Job) -> _Child:
    directory = Path(job.result).parent
    directory.mkdir(parents=True, exist_ok=True)
    spec = directory / "job.json"
    job.write(spec)
    log = directory / "libfuzzer.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "harness.integrations.libfuzzer", "--job", str(spec)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return _Child(job, proc, log, time.monotonic())


def _collect(child: _Child, why: str | None) -> tuple[FunctionResult, int]:
    """A finished child's result and the inputs libFuzzer tried; a child that died or hung is
    reported with the case it had in flight in C (as ``run`` reports a worker that died)."""
    import pickle

    from harness.campaign.pool import Config, Profile, _lost_child

    path = Path(child.job.result)
    if why is None and path.is_file():
        with open(path, "rb") as f:
            done = pickle.load(f)
        return done["result"], int(done["inputs"])
    if why is None:
        from harness.campaign.pool import _died

        why = _died(child.proc.returncode)
    config = Config(Profile("fuzz", 0), child.job.c_source, "trap", 0, None, child.job.inflight)
    result = _lost_child(("fuzz", child.job.func), config, child.proc.pid, why)
    result.cases, inputs = Counts.read(child.job.result)
    result.cases += bool(result.findings)  # the case it died on was judged too
    result.seconds = time.monotonic() - child.started
    if result.error:
        tail = child.log.read_text(errors="replace")[-1500:] if child.log.is_file() else ""
        result.error = f"the fuzzer process {why}; its last output:\n{tail}"
    return result, inputs


def shrink(
    found: list[FunctionResult],
    c_source: str | None,
    database: str,
    seed: int,
    strict: bool,
    n_jobs: int,
    scratch: Path,
) -> list[str]:
    """Replace each raw finding by the case the Hypothesis engine of ``run`` replays from the
    database and shrinks; notes on what it could not shrink."""
    from harness.campaign.pool import PROFILES, Config, run_jobs

    profile = replace(PROFILES["quick"], name="fuzz-shrink", examples=SHRINK_EXAMPLES)
    config = Config(
        profile, c_source, "trap", seed, database, str(scratch / "inflight-shrink"), strict_asserts=strict
    )
    jobs = [("hypothesis", r.func) for r in found]
    shrunk = run_jobs(jobs, config, n_jobs, lambda job, cases, result: None)
    notes = []
    for raw, again in zip(found, shrunk, strict=True):
        if again.findings:
            raw.findings = [replace(f, how=HOW_SHRUNK) for f in again.findings]
        else:
            why = again.error or "it agreed when replayed"
            notes.append(f"{raw.func}: reported as libFuzzer found it (the shrinking step: {why})")
    return notes


def cmd_fuzz(args: argparse.Namespace) -> int | str:
    console = Console(highlight=False, markup=False, width=None if sys.stdout.isatty() else 140)
    missing = atheris_missing()
    if missing:
        console.print(missing)
        return EXIT_USAGE
    if not math.isfinite(args.max_time) or args.max_time <= 0:  # nan is not <= 0
        console.print(f"--max-time: expected a positive number of seconds, got {args.max_time}")
        return EXIT_USAGE
    funcs = selected(args.only)
    if isinstance(funcs, str):
        console.print(funcs)
        return EXIT_USAGE
    from harness.review.sources import SourceError, resolve

    spec = args.c_source or os.environ.get("IOVCONF_C_SOURCE")
    try:
        source = resolve(spec, "--c-source" if args.c_source else "IOVCONF_C_SOURCE") if spec else None
    except SourceError as exc:
        console.print(str(exc))
        return EXIT_USAGE
    c_source = source.path if source else None
    from harness.engines.database import DatabaseSpecError, open_database, spec_from_env

    db_spec = spec_from_env(args.db)
    try:
        open_database(db_spec)
    except DatabaseSpecError as exc:
        console.print(str(exc))
        return EXIT_USAGE
    from harness.verdict.functions_in_source import in_source

    from .libfuzzer import fuzz_flavour

    try:
        import reference_c

        found = in_source(reference_c.load(c_source), funcs)
        flavour, said = fuzz_flavour(c_source)
    except Exception as exc:  # a build failure is a usage/build error, exit 2
        console.print(f"build error: {type(exc).__name__}: {exc}")
        return EXIT_USAGE
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 32)
    strict = c_source is None
    shown = source.spelling if source else "reference_c/iov.c"
    console.print(
        f"iovconf fuzz: {len(found.run)} functions, {args.max_time:g}s each, {args.jobs} at a time, "
        f"seed {seed}, C source {shown} ({flavour} build)" + (", strict asserts" if strict else "")
    )
    console.print(f"  {said}")
    scratch = Path(tempfile.mkdtemp(prefix="iovconf-fuzz-"))
    try:
        return _fuzz(console, args, funcs, found, c_source, flavour, db_spec, seed, strict, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _fuzz(
    console: Console,
    args: argparse.Namespace,
    selected: list[str],
    found: Any,
    c_source: str | None,
    flavour: str,
    db_spec: str,
    seed: int,
    strict: bool,
    scratch: Path,
) -> int | str:
    from harness.report.findings import not_judged, show_differences, show_unjudged
    from harness.verdict.expected import Expected
    from harness.worlds.oracle import shared_server

    # a scratch database beside the user's: the shrinking step replays from it even when --db
    # saves nothing (none, readonly:)
    database = str(scratch / "db") + ("" if db_spec == "none" else f"+{db_spec}")
    jobs = [
        Job(
            func,
            c_source,
            flavour,
            database,
            libfuzzer_seed(seed, func),
            args.max_time,
            str(scratch / func / "result.pkl"),
            str(scratch / func / "inflight"),
            strict,
        )
        for func in found.run
    ]

    def show(result: FunctionResult, inputs: int) -> None:
        status = result.status if not result.crashed else "C CRASHED"
        said = f"{result.cases} cases judged of {inputs} inputs"
        console.print(f"  fuzz {result.func}: {said}, {result.seconds:.1f}s, {status}")

    start = time.perf_counter()
    with shared_server(c_source):  # one UB oracle for every child
        results = run_children(jobs, args.jobs, show)
        failing = [r for r in results if r.findings and not r.crashed]
        notes = shrink(failing, c_source, database, seed, strict, args.jobs, scratch) if failing else []
    elapsed = time.perf_counter() - start
    total = sum(r.cases for r in results)
    console.print(f"{total} cases judged in {elapsed:.1f}s, seed {seed}")
    for note in notes:
        console.print(f"note: {note}")
    again = f"the whole run again: {_replay_command(args, seed, c_source)}"
    shown = show_differences(
        console, results, Path(args.report), c_source, trailer=again, strict_asserts=strict
    )
    errors = [r for r in results if r.error]
    for r in errors:
        console.print(f"\nHARNESS ERROR in {r.func} (fuzz): {r.error}")
    cases = {r.func: r.cases for r in results}
    unjudged = not_judged(selected, found, Expected(), cases)
    if unjudged:
        console.print("functions not judged:")
    show_unjudged(console, unjudged, "-")
    if shown or any(u.red for u in unjudged):
        return EXIT_DIFFER
    if errors:
        return EXIT_USAGE
    if total == 0:
        console.print("NOTHING JUDGED: libFuzzer made no case of any selected function, which is not a pass")
        return NOTHING_JUDGED
    return EXIT_AGREE


def _replay_command(args: argparse.Namespace, seed: int, c_source: str | None) -> str:
    """The command that fuzzes the same functions again from the same seeds (libFuzzer stops on
    the clock, so a run again tries about as many inputs, not exactly the same ones)."""
    parts = ["python", "-m", "harness", "fuzz", "--max-time", f"{args.max_time:g}", "--seed", str(seed)]
    for flag, value in (("--only", args.only), ("--c-source", c_source), ("--db", args.db)):
        if value is not None:
            parts += [flag, str(value)]
    parts += ["--jobs", str(args.jobs)]
    return shlex.join(parts)
