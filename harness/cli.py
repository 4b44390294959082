"""``python -m harness run|list|replay``: the command-line face of the harness.

Exit status: 0 every case agreed; 1 a discrepancy (report + reproducer written);
2 usage or build error.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import shlex
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table

import pyimpl

from . import inflight
from . import sites as sites_mod
from .campaign import CAMPAIGNS, PROFILES, STATEFUL, Config, Job, default_database, run_jobs
from .case import case_to_json
from .report import load_case, replay_case_json, write_report
from .results import HOW, FunctionResult, dedupe

EXIT_AGREE, EXIT_DIFFER, EXIT_USAGE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m harness", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a differential campaign")
    run.add_argument("--profile", choices=sorted(PROFILES), default="default")
    run.add_argument("--only", help="comma-separated C function names")
    run.add_argument("--c-source", help="another iov.c to compare against (default: reference_c/iov.c)")
    run.add_argument("--seed", type=int, help="campaign seed (printed when not given)")
    run.add_argument("--assert-mode", choices=("trap", "abort"), default="trap")
    run.add_argument("--report", default="iovconf-reports", help="directory for reports and reproducers")
    run.add_argument(
        "--engine",
        choices=("all", "hypothesis", "batched", "exhaustive", "stateful"),
        default="all",
        help="Hypothesis one case per example, batched Hypothesis (every boundary test of each drawn "
        "layout), the exhaustive bounded engine, the stateful machine, or all of them (default)",
    )
    run.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="worker processes")
    run.add_argument("--examples", type=int, help="override the profile's examples per function")
    run.add_argument(
        "--ub-cases",
        type=int,
        help="UB cases per kind to confirm with the sanitizers (default: the profile's)",
    )
    lst = sub.add_parser("list", help="functions covered and assert sites reached")
    lst.add_argument("--examples", type=int, default=100, help="generated cases per function to count sites")
    ben = sub.add_parser(
        "bench",
        help="differential cases per second per core, per engine and group; --library: pyimpl/C ratios",
    )
    ben.add_argument("--seconds", type=float, default=3.0, help="CPU seconds per function and engine")
    ben.add_argument(
        "--out", help="the table as JSON (default: bench.json; with --library, bench_library.json)"
    )
    ben.add_argument(
        "--library",
        action="store_true",
        help="time the port as a library against the C facade: a pyimpl/C ratio per op, size and entries",
    )
    ben.add_argument(
        "--png", default="bench_library.png", help="--library: the ratio plot (needs matplotlib)"
    )
    ben.add_argument("--ops", help="--library: ops to time, comma-separated (default: all)")
    ben.add_argument("--sizes", help="--library: data sizes, comma-separated, e.g. 64,4K,1M (default: all)")
    ben.add_argument("--entries", help="--library: entry counts, comma-separated (default: 1,16,256,1024)")
    ben.add_argument("--budget", type=float, default=0.05, help="--library: CPU seconds per cell and side")
    ben.add_argument("--non-strict", action="store_true", help="--library: time on Memory(strict=False)")
    rep = sub.add_parser("replay", help="re-run a reproducer (.py) or case (.json)")
    rep.add_argument("file")
    rep.add_argument("--c-source", help="override the C source named in the reproducer")
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return EXIT_USAGE if exc.code else EXIT_AGREE
    if args.command == "run":
        return cmd_run(args)
    if args.command == "list":
        return cmd_list(args)
    if args.command == "bench":
        return cmd_bench(args)
    return cmd_replay(args)


def _sizes(text: str) -> tuple[int, ...]:
    """``64,4K,1M`` as bytes."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    out = []
    for part in text.split(","):
        part = part.strip().upper().removesuffix("B").removesuffix("I")
        scale = units.get(part[-1:], 1)
        out.append(int(part[:-1] if scale > 1 else part) * scale)
    return tuple(out)


def cmd_bench(args: argparse.Namespace) -> int:
    if not args.library:
        from .bench import main as bench_main

        out = "bench.json" if args.out is None else args.out
        return bench_main(args.seconds, Path(out) if out else None)
    from . import bench_library as lib

    try:
        ops = tuple(o.strip() for o in args.ops.split(",")) if args.ops else lib.OPS
        sizes = _sizes(args.sizes) if args.sizes else lib.SIZES
        entries = tuple(int(n) for n in args.entries.split(",")) if args.entries else lib.ENTRIES
    except ValueError as exc:
        print(f"bench --library: bad --sizes/--entries: {exc}", file=sys.stderr)
        return EXIT_USAGE
    unknown = [o for o in ops if o not in lib.OPS]
    if unknown or any(n <= 0 for n in (*sizes, *entries)):
        print(
            f"bench --library: ops are {', '.join(lib.OPS)}; sizes and entries are positive",
            file=sys.stderr,
        )
        return EXIT_USAGE
    out = "bench_library.json" if args.out is None else args.out
    return lib.main(
        Path(out) if out else None,
        Path(args.png) if args.png else None,
        budget=args.budget,
        strict=not args.non_strict,
        sizes=sizes,
        entries=entries,
        ops=ops,
    )


def _selected(only: str | None) -> list[str] | str:
    if not only:
        return list(CAMPAIGNS)
    names = [n.strip() for n in only.split(",") if n.strip()]
    unknown = [n for n in names if n not in CAMPAIGNS]
    if unknown:
        return f"--only: no campaign for {', '.join(unknown)} (known: {', '.join(CAMPAIGNS)})"
    return names


def _jobs(funcs: list[str], engine: str, sequences: int, only: bool) -> list[Job]:
    from .exhaustive import FUNCTIONS

    jobs: list[Job] = []
    if engine in ("all", "batched"):
        jobs += [("batched", f) for f in funcs if f in FUNCTIONS]
    if engine in ("all", "hypothesis"):
        jobs += [("hypothesis", f) for f in funcs]
    if engine in ("all", "stateful") and sequences and (not only or engine == "stateful"):
        jobs.append(("stateful", STATEFUL))
    if engine in ("all", "exhaustive"):
        jobs += [("exhaustive", f) for f in funcs if f in FUNCTIONS]
    return jobs


def cmd_run(args: argparse.Namespace) -> int:
    console = Console(highlight=False, markup=False, width=None if sys.stdout.isatty() else 140)
    funcs = _selected(args.only)
    if isinstance(funcs, str):
        console.print(funcs)
        return EXIT_USAGE
    c_source = args.c_source or os.environ.get("IOVCONF_C_SOURCE")
    if c_source and not Path(c_source).is_file():
        console.print(f"--c-source: {c_source} is not a file")
        return EXIT_USAGE
    c_source = str(Path(c_source).resolve()) if c_source else None
    try:
        import reference_c

        reference = reference_c.load(c_source, flavour=args.assert_mode)
    except Exception as exc:  # a build failure is a usage/build error, exit 2
        console.print(f"build error: {type(exc).__name__}: {exc}")
        return EXIT_USAGE
    missing = sorted(set(getattr(reference, "missing", ())) & set(funcs))
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 32)
    profile = PROFILES[args.profile]
    if args.examples:
        profile = dataclasses.replace(profile, examples=args.examples)
    ub_cases = profile.ub_cases if args.ub_cases is None else args.ub_cases
    config = Config(
        profile,
        c_source,
        args.assert_mode,
        seed,
        None if os.environ.get("IOVCONF_NO_DB") else default_database(),
        inflight_dir=str(Path(".iovconf") / "inflight"),
    )
    console.print(
        f"iovconf: profile {profile.name} ({profile.examples} examples/function), {len(funcs)} functions, "
        f"seed {seed}, C source {c_source or 'reference_c/iov.c'} ({args.assert_mode} mode), jobs {args.jobs}"
    )
    for name in missing:
        console.print(f"  {name}: MISSING from the C source (reported, not run)")
    funcs = [f for f in funcs if f not in missing]
    report_dir = Path(args.report)
    failures = _replay_leftovers(console, config, report_dir)
    jobs = _jobs(funcs, args.engine, profile.sequences, bool(args.only))
    from .oracle import Sanitizer

    oracle = Sanitizer(c_source)  # one UB oracle for every worker of this run
    try:
        os.environ["IOVCONF_ORACLE"] = f"{oracle._ensure()}|{c_source or ''}"
        start = time.perf_counter()
        results = run_jobs(jobs, config, args.jobs, _progress(console, len(jobs)))
        elapsed = time.perf_counter() - start
        for engine in ("batched", "hypothesis", "stateful", "exhaustive"):
            mine = [r for r in results if r.engine == engine]
            if mine:
                _table(console, mine, missing if engine == "hypothesis" else [], f"{engine} engine")
        total = sum(r.cases for r in results)
        console.print(
            f"{total} cases judged in {elapsed:.1f}s ({total / max(elapsed, 1e-9):.0f} cases/s "
            f"on {args.jobs} processes), seed {seed}"
        )
        if ub_cases:
            failures += _ub_campaign(console, ub_cases, seed, c_source, report_dir)
    finally:
        os.environ.pop("IOVCONF_ORACLE", None)
        oracle.close()
    replay_cmd = _replay_command(args, seed)
    for r in dedupe([r for r in results if r.failed]):
        assert r.case_json is not None
        failures += 1
        script = write_report(report_dir, r.func, r.difference or "", r.case_json, r.detail, c_source)
        headline = "C CRASHED on case" if r.crashed else "DISCREPANCY in"
        also = f" (also found by the {', '.join(r.also_found_by)} engine)" if r.also_found_by else ""
        console.print(
            f"\n{headline} {r.func} ({r.engine} engine{also}): {r.difference}\ncase:\n{r.detail}\n"
            f"reproducer: {script}  (python -m harness replay {script})\n"
            f"the whole run again: {replay_cmd}"
        )
    errors = [r for r in results if r.error]
    for r in errors:
        console.print(f"\nHARNESS ERROR in {r.func} ({r.engine} engine): {r.error}")
    if failures or missing:
        return EXIT_DIFFER
    return EXIT_USAGE if errors else EXIT_AGREE


def _replay_command(args: argparse.Namespace, seed: int) -> str:
    """The command that runs this campaign again with the same seed."""
    parts = ["python", "-m", "harness", "run", "--profile", args.profile, "--seed", str(seed)]
    for flag in ("only", "c_source", "engine", "examples", "assert_mode", "jobs"):
        value = getattr(args, flag)
        if value is not None:
            parts += [f"--{flag.replace('_', '-')}", str(value)]
    return shlex.join(parts)


def _ub_campaign(console: Console, per_kind: int, seed: int, c_source: str | None, report: Path) -> int:
    """Confirm the port's UB kinds with the sanitizers; returns how many cases were not confirmed."""
    from .ub import run_ub_campaign

    console.print(f"UB campaign: {per_kind} cases per kind, confirmed by the UB oracle")
    start = time.perf_counter()
    results = run_ub_campaign(per_kind, seed, c_source, show=console.print)
    cases = sum(r.cases for r in results)
    confirmed = sum(r.confirmed for r in results)
    unconfirmed = sum(len(r.unconfirmed) for r in results)
    console.print(
        f"UB campaign: {cases} cases, {confirmed} confirmed, {unconfirmed} unconfirmed "
        f"({time.perf_counter() - start:.1f}s)"
    )
    for r in results:
        for case_json in r.unconfirmed:
            script = write_report(
                report, f"ub-{r.kind}", "UB not confirmed by the sanitizers", case_json, "", c_source
            )
            console.print(f"UNCONFIRMED {r.kind}: reproducer {script}")
    return unconfirmed


def _replay_leftovers(console: Console, config: Config, report: Path) -> int:
    """Cases a run that died was running in C: replayed first, each in a child process.

    Only a dead process's files are taken (their locks are free).  A leftover that now
    agrees is a note; one that still fails is a failure of this run.  Returns the failures.
    """
    failures = 0
    with inflight.claimed(Path(config.inflight_dir or ".iovconf/inflight")) as leftovers:
        for left in leftovers:
            case = left.cases[0]
            with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
                f.write(case_to_json(case))
            try:
                cmd = [sys.executable, "-m", "harness", "replay", f.name]
                if config.c_source:
                    cmd += ["--c-source", config.c_source]
                child = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
            finally:
                os.unlink(f.name)
            if child.returncode == 0:
                console.print(
                    f"note: a run that died was running a case of {case.func} in C; it agrees when "
                    f"replayed alone ({left.path.name})"
                )
                continue
            failures += 1
            script = write_report(
                report,
                case.func,
                f"a run died while C ran this case, and it still fails alone (exit {child.returncode})",
                case_to_json(case),
                f"{case.describe()}\n  ({HOW['leftover']})",
                config.c_source,
            )
            console.print(
                f"\nLEFTOVER of a run that died, still failing ({case.func}):\n{child.stdout[-2000:]}"
                f"reproducer: {script}"
            )
    return failures


def _progress(console: Console, njobs: int):  # type: ignore[no-untyped-def]
    """Live progress on a terminal; plain lines (one per job, and a heartbeat) in CI."""
    live = console.is_terminal and not os.environ.get("CI")
    state = {"done": 0, "last": 0.0}
    if live:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        task = progress.add_task("starting", total=njobs)
        progress.start()
    starts: dict[Job, float] = {}

    def show(job: Job, cases: int, result: FunctionResult | None) -> None:
        now = time.monotonic()
        t0 = starts.setdefault(job, now)
        rate = cases / max(now - t0, 1e-9)
        engine, func = job
        if result is not None:
            state["done"] += 1
            line = (
                f"[{state['done']}/{njobs}] {engine} {func}: {result.cases} cases, "
                f"{result.seconds:.1f}s, {result.status}"
            )
            if live:
                progress.update(task, advance=1)
                progress.console.print(line)
                if state["done"] == njobs:
                    progress.stop()
            else:
                print(line, flush=True)
        elif live:
            progress.update(task, description=f"{engine} {func}: {cases} cases, {rate:.0f}/s")
        elif now - state["last"] > 10 and now - t0 > 1:
            state["last"] = now
            print(f"  ... {engine} {func}: {cases} cases, {rate:.0f}/s", flush=True)

    return show


def _table(console: Console, results: list[FunctionResult], missing: list[str], title: str) -> None:
    table = Table(title=title)
    for col in ("function", "cases", "UB (C skipped)", "asserts failed on both sides", "time (s)", "status"):
        table.add_column(col, justify="right" if col in ("cases", "UB (C skipped)", "time (s)") else "left")
    for r in results:
        fired = Counter({key.split("|")[1]: n for key, n in r.fired.items()})
        shown = ", ".join(f"`{expr}` x{n}" for expr, n in sorted(fired.items())) or "-"
        table.add_row(r.func, str(r.cases), str(sum(r.ub.values())), shown, f"{r.seconds:.1f}", r.status)
    for name in missing:
        table.add_row(name, "0", "0", "-", "0.0", "MISSING")
    console.print(table)


def cmd_list(args: argparse.Namespace) -> int:
    """Every C function with its coverage, and every assert site with how often cases reach it."""
    from .campaign import Profile, run_hypothesis
    from .judge import Judge
    from .oracle import Trusting
    from .worlds import PyWorld

    console = Console(highlight=False, markup=False, width=None if sys.stdout.isatty() else 160)
    config = Config(Profile("list", args.examples), None, "trap", 0, None)
    # the port alone is enough to see which sites cases reach: not a verdict, so nothing to confirm
    judge = Judge(PyWorld(), PyWorld(), oracle=Trusting())
    evaluated: Counter[tuple[str, str, int]] = Counter()
    fired: Counter[tuple[str, str]] = Counter()
    for func in CAMPAIGNS:
        r = run_hypothesis(func, config, judge)
        for key, n in r.evaluated.items():
            f, expr, line = key.split("|")
            evaluated[(f, expr, int(line))] += n
        for key, n in r.fired.items():
            f, expr, _ = key.split("|")
            fired[(f, expr)] += n
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
    table = Table(title=f"assert sites of iov.c ({args.examples} generated cases per function)")
    for col in ("line", "function", "assert", "reached", "failed", "note"):
        table.add_column(col)
    source = Path(__file__).resolve().parent.parent / "reference_c" / "iov.c"
    all_sites = sites_mod.assert_sites(source)
    for s in all_sites:
        note = sites_mod.unreachable(s.func, s.expr) or ""
        table.add_row(
            str(s.line),
            s.func,
            s.expr,
            str(evaluated[(s.func, s.expr, s.line)]),
            str(fired[(s.func, s.expr)]),
            f"unreachable: {note}" if note else "",
        )
    console.print(table)
    n_fired = sum(1 for s in all_sites if fired[(s.func, s.expr)])
    console.print(f"{n_fired}/{len(all_sites)} assert sites made to fail by generated cases")
    return EXIT_AGREE


def cmd_replay(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        print(f"replay: {path} is not a file", file=sys.stderr)
        return EXIT_USAGE
    try:
        case, c_source = load_case(path)
    except (ValueError, KeyError) as exc:
        print(f"replay: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return replay_case_json(case_to_json(case), args.c_source or c_source)
