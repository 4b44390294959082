"""``python -m harness run``: the port against the compiled C, every engine, one verdict."""

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
from typing import Any

from rich.console import Console
from rich.table import Table

from harness.campaign import cluster, plan
from harness.campaign.plan import ONLY_HELP, jobs_count
from harness.campaign.pool import PROFILES, Config, Job
from harness.engines.database import DatabaseSpecError, open_database, spec_from_env
from harness.engines.ub import run_ub_campaign
from harness.model import sites as sites_mod
from harness.model.case import case_to_json
from harness.model.results import HOW, FunctionResult
from harness.report import export
from harness.report.findings import not_judged, ranked, show_differences, show_notes, show_unjudged
from harness.report.reports import write_report
from harness.review import hooks as review
from harness.review.exits import EXIT_AGREE, EXIT_DIFFER, EXIT_USAGE, NOTHING_JUDGED
from harness.review.sources import SOURCE_SPEC
from harness.verdict.expected import Expected
from harness.verdict.functions_in_source import in_source
from harness.worlds import inflight
from harness.worlds.oracle import shared_server
from iovspec.ctable import BY_NAME

from .common import ENVIRONMENT, NOTHING, expected_differences


def _profiles_help() -> str:
    rows = [
        f"{p.name} ({p.examples} examples/function, {p.sequences} stateful sequences, "
        f"exhaustive bound {p.bound}, {p.ub_cases} UB cases/kind)"
        for p in PROFILES.values()
    ]
    return "how hard to try: " + "; ".join(rows) + " (default: %(default)s)"


def add_parser(sub: Any) -> None:
    """``run`` and its options."""
    p = sub.add_parser(
        "run",
        help="run a differential campaign",
        description="Run the port and the compiled C side by side on generated cases.\n"
        "Exit status: 0 every case agreed; 1 a discrepancy (report and reproducers written);\n"
        "2 a usage or build error.",
        epilog=ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--profile", choices=sorted(PROFILES), default="default", help=_profiles_help())
    p.add_argument("--only", help=ONLY_HELP)
    p.add_argument(
        "--c-source", help=f"another iov.c to compare against: {SOURCE_SPEC} (default: the original)"
    )
    p.add_argument("--seed", type=int, help="campaign seed (printed when not given)")
    p.add_argument(
        "--assert-mode",
        choices=("trap", "abort"),
        default="trap",
        help="trap: a failing C assert is caught in-process (fast); abort: the C library's own assert "
        "aborts a forked child per call (slower; checks the trap changes nothing) (default: %(default)s)",
    )
    p.add_argument("--report", default="iovconf-reports", help="directory for reports and reproducers")
    p.add_argument(
        "--engine",
        choices=("all", "hypothesis", "batched", "exhaustive", "stateful"),
        default="all",
        help="Hypothesis one case per example, batched Hypothesis (every boundary test of each drawn "
        "layout), the exhaustive bounded engine, the stateful machine, or all of them (default)",
    )
    p.add_argument(
        "--shard",
        metavar="K/N",
        help="judge only shard K of N of the exhaustive engine's bound (with --engine exhaustive and "
        "--json); python -m harness merge combines the N result files",
    )
    p.add_argument(
        "--jobs",
        type=jobs_count,
        default="auto",
        help="worker processes: a number, or auto (one per CPU, the default)",
    )
    p.add_argument("--examples", type=int, help="override the profile's examples per function")
    p.add_argument(
        "--db",
        help="the example database: a directory (default .hypothesis/iovconf), redis://HOST:PORT, "
        "github:OWNER/REPO[/ARTIFACT], readonly:SPEC, SPEC+SPEC, or none (env IOVCONF_DB)",
    )
    p.add_argument(
        "--expect-diff",
        help="a known-differences file (TOML): the differences it lists pass, and each one not seen "
        "among the functions run is reported (and fails the run)",
    )
    p.add_argument(
        "--strict-asserts",
        action=argparse.BooleanOptionalAction,
        help="two aborts of a call agree only if the same assert (function, expression, ordinal) fails; "
        "otherwise any assert of the same call with the same state agrees, and which one is a note "
        "(default: strict on the original iov.c, which the port must mirror assert for assert; not "
        "on a --c-source)",
    )
    p.add_argument(
        "--ub-cases",
        type=int,
        help="UB cases per kind to confirm with the sanitizers (default: the profile's)",
    )
    review.add_arguments(p)  # --bisect, --summary
    cluster.add_argument(p)  # --cluster local:N|tcp://HOST:PORT
    export.add_arguments(p)  # --json, --junitxml
    p.set_defaults(handler=cmd_run)


def cmd_run(args: argparse.Namespace) -> int | str:
    console = Console(highlight=False, markup=False, width=None if sys.stdout.isatty() else 140)
    funcs = plan.selected(args.only)
    if isinstance(funcs, str):
        console.print(funcs)
        return EXIT_USAGE
    shard = plan.shard(args.shard, args.engine)
    if isinstance(shard, str):
        console.print(shard)
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
    if args.strict_asserts is None:
        args.strict_asserts = c_source is None
    selected = funcs
    found = in_source(reference, funcs)
    funcs = found.run
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 32)
    profile = PROFILES[args.profile]
    if args.examples:
        profile = dataclasses.replace(profile, examples=args.examples)
    ub_cases = profile.ub_cases if args.ub_cases is None else args.ub_cases
    spec = spec_from_env(args.db)
    try:
        open_database(spec)  # a bad spec or a server that does not answer: say so before running
    except DatabaseSpecError as exc:
        console.print(str(exc))
        return EXIT_USAGE
    database = None if spec == "none" else spec
    config = Config(
        profile,
        c_source,
        args.assert_mode,
        seed,
        database,
        inflight_dir=str(Path(".iovconf") / "inflight"),
        expect_diff=args.expect_diff,
        shard=shard,
        strict_asserts=args.strict_asserts,
    )
    expected = expected_differences(console, args.expect_diff)
    if expected is None:
        return EXIT_USAGE
    console.print(
        f"iovconf: profile {profile.name} ({profile.examples} examples/function), {len(funcs)} functions, "
        f"seed {seed}, C source {review.shown(args, 'c_source', c_source or 'reference_c/iov.c')} "
        f"({args.assert_mode} mode), {f'cluster {args.cluster}' if args.cluster else f'jobs {args.jobs}'}"
        + (", strict asserts" if args.strict_asserts else "")
    )
    for name, proto in found.respelt.items():
        console.print(
            f"  {name}: note: the C source spells its prototype otherwise, judged as usual: {proto}"
        )
        console.print(f"    (the port's: {BY_NAME[name].prototype})")
    report_dir = Path(args.report)
    failures = _replay_leftovers(console, config, report_dir)
    jobs = plan.plan_jobs(funcs, args.engine, profile.sequences, bool(args.only))
    engines = Counter(engine for engine, _ in jobs)
    console.print(
        f"  {len(jobs)} campaigns: "
        + ", ".join(f"{n} {engine}" for engine, n in engines.items())
        + (f"; shard {args.shard} of the exhaustive bound" if args.shard else "")
    )
    if args.only and args.engine == "all" and profile.sequences:
        console.print(
            "  the stateful machine is not run with --only (it mixes every function); "
            "--engine stateful runs it"
        )
    with shared_server(c_source):  # one UB oracle for every worker of this run
        start = time.perf_counter()
        results = cluster.run_campaigns(jobs, config, args.jobs, _progress(console, len(jobs)), args.cluster)
        elapsed = time.perf_counter() - start
        for engine in ("batched", "hypothesis", "stateful", "exhaustive"):
            mine = [r for r in results if r.engine == engine]
            if mine:
                _table(console, mine, f"{engine} engine")
        total = sum(r.cases for r in results)
        console.print(
            f"{total} cases judged in {elapsed:.1f}s ({total / max(elapsed, 1e-9):.0f} cases/s "
            f"on {args.cluster or f'{args.jobs} processes'}), seed {seed}"
        )
        if ub_cases:
            failures += _ub_campaign(console, ub_cases, seed, c_source, report_dir)
    replay_cmd = _replay_command(args, seed)
    again = f"the whole run again: {replay_cmd}"
    strict = args.strict_asserts
    shown = show_differences(console, results, report_dir, c_source, trailer=again, strict_asserts=strict)
    failures += len(shown)
    rows = show_notes(console, results, lambda r: r.engine)
    errors = [r for r in results if r.error]
    for r in errors:
        console.print(f"\nHARNESS ERROR in {r.func} ({r.engine} engine): {r.error}")
    if args.expect_diff:
        _known_differences(console, expected, results, funcs)
    cases: Counter[str] = Counter()
    for r in results:
        cases[r.func] += r.cases
    unjudged = not_judged(selected if not args.shard else [], found, expected, cases)
    if unjudged:
        console.print("functions not judged:")
    rows += show_unjudged(console, unjudged, "-")
    judged_nothing = False
    if failures or any(u.red for u in unjudged):
        status = EXIT_DIFFER
    elif errors:
        status = EXIT_USAGE
    elif total == 0:
        console.print(NOTHING)
        status, judged_nothing = EXIT_USAGE, True
    else:
        status = EXIT_AGREE
    if c_source is None:  # what `harness list` shows: the last run on the original here
        what = f"the run of {time.strftime('%Y-%m-%d %H:%M')}: profile {profile.name}, seed {seed}"
        what += f", engine {args.engine}" + (f", only {args.only}" if args.only else "")
        sites_mod.Counts.of(results, what).save()
    scripts = {(s.result.func, *s.finding.key): str(s.reproducer) for s in shown}
    rows = [row for r in results for row in _run_rows(r, scripts)] + rows
    rows += [
        export.Row(
            "-", name, "note", difference=f"prototype spelt otherwise: {proto}", kind="prototype respelt"
        )
        for name, proto in found.respelt.items()
    ]
    rows = ranked(rows)
    record = export.Record("run", replay_cmd, seed, profile.name, status, elapsed, c_source or "", rows)
    record.shard = args.shard or ""
    export.write(record, args.json, args.junitxml)
    review.finish(args, record)  # --summary
    return NOTHING_JUDGED if judged_nothing else status


def _run_rows(r: FunctionResult, scripts: dict[tuple[str, str, str], str]) -> list[export.Row]:
    """A campaign's rows: one per distinct difference it found, or its verdict."""
    if not r.findings:
        verdict = "error" if r.error else "agree"
        return [export.Row(r.engine, r.func, verdict, r.cases, r.seconds, r.error or "", red=bool(r.error))]
    return [
        export.Row(
            r.engine,
            r.func,
            "crashed" if f.crashed else "differs",
            r.cases,
            r.seconds,
            f.difference,
            f.kind,
            f.where,
            f.detail,
            scripts.get((r.func, *f.key), ""),
            red=True,
            case_json=f.case_json or "",
            place=f.place,
        )
        for f in r.findings
    ]


def _known_differences(
    console: Console, expected: Expected, results: list[FunctionResult], funcs: list[str]
) -> None:
    """Name the listed differences the run saw and those it did not (a note: a shorter run may
    miss a difference it would find with more cases; only an unlisted difference fails)."""
    for r in results:
        expected.merge_seen(r.expected_seen)
    for entry in expected.entries:
        if entry.key() in expected.seen:
            console.print(f"known difference seen: {entry.key()}: {expected.seen[entry.key()]}")
        elif entry.function in funcs:
            console.print(f"known difference not seen in this run: {entry.key()} ({entry.reason})")


def _replay_command(args: argparse.Namespace, seed: int) -> str:
    """The command that runs this campaign again with the same seed."""
    parts = ["python", "-m", "harness", "run", "--profile", args.profile, "--seed", str(seed)]
    for flag in (
        "only",
        "c_source",
        "engine",
        "examples",
        "assert_mode",
        "jobs",
        "expect_diff",
        "db",
        "shard",
    ):
        value = review.replayed(args, flag, getattr(args, flag))  # a source: a form that reads it again
        if value is not None:
            parts += [f"--{flag.replace('_', '-')}", str(value)]
    if args.strict_asserts != (args.c_source is None):  # not what the source alone implies
        parts.append("--strict-asserts" if args.strict_asserts else "--no-strict-asserts")
    return shlex.join(parts)


def _ub_campaign(console: Console, per_kind: int, seed: int, c_source: str | None, report: Path) -> int:
    """Confirm the port's UB kinds with the sanitizers; returns how many cases were not confirmed."""
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


def _table(console: Console, results: list[FunctionResult], title: str) -> None:
    """One engine's rows: cases, UB claims, asserts both sides failed, time, status."""
    table = Table(title=title)
    for col in ("function", "cases", "UB (C skipped)", "asserts failed on both sides", "time (s)", "status"):
        table.add_column(col, justify="right" if col in ("cases", "UB (C skipped)", "time (s)") else "left")
    for r in results:
        fired = Counter({key.split("|")[1]: n for key, n in r.fired.items()})
        shown = ", ".join(f"`{expr}` x{n}" for expr, n in sorted(fired.items())) or "-"
        status = r.status if len(r.findings) < 2 else f"DIFFERS ({len(r.findings)} ways)"
        table.add_row(r.func, str(r.cases), str(sum(r.ub.values())), shown, f"{r.seconds:.1f}", status)
    console.print(table)
