"""``python -m harness run|list|replay``: the command-line face of the harness.

Exit status: 0 every case agreed; 1 a discrepancy (report + reproducer written);
2 usage or build error.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table

import pyimpl

from . import sites as sites_mod
from .campaign import CAMPAIGNS, PROFILES, STATEFUL, Config, FunctionResult, default_database, run_campaign
from .report import load_case, replay_case_json, write_report

EXIT_AGREE, EXIT_DIFFER, EXIT_USAGE = 0, 1, 2

#: functions exercised only through another one, and through which
COVERED_VIA = {
    "do_send_recv": "iov_send_recv",
    "sortelem_cmp_src_base": "qemu_iovec_clone",
    "sortelem_cmp_src_index": "qemu_iovec_clone",
}


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
        choices=("all", "hypothesis", "exhaustive"),
        default="all",
        help="Hypothesis campaigns, the exhaustive bounded engine, or both (default)",
    )
    run.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="worker processes")
    run.add_argument("--examples", type=int, help="override the profile's examples per function")
    run.add_argument(
        "--ub-cases",
        type=int,
        help="UB cases per kind to confirm with the sanitizers (default: 8 in the deep profile, else 0)",
    )
    lst = sub.add_parser("list", help="functions covered and assert sites reached")
    lst.add_argument("--examples", type=int, default=100, help="generated cases per function to count sites")
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
    return cmd_replay(args)


def _selected(only: str | None) -> list[str] | str:
    if not only:
        return list(CAMPAIGNS)
    names = [n.strip() for n in only.split(",") if n.strip()]
    unknown = [n for n in names if n not in CAMPAIGNS]
    if unknown:
        return f"--only: no campaign for {', '.join(unknown)} (known: {', '.join(CAMPAIGNS)})"
    return names


def cmd_run(args: argparse.Namespace) -> int:
    console = Console(highlight=False, markup=False, width=None if sys.stdout.isatty() else 140)
    funcs = _selected(args.only)
    if isinstance(funcs, str):
        console.print(funcs)
        return EXIT_USAGE
    if args.ub_cases is None:
        args.ub_cases = 8 if args.profile == "deep" else 0
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
        profile = type(profile)(profile.name, args.examples, profile.sequences)
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
    replayed = _replay_leftovers(console, config, Path(args.report))
    results: list[FunctionResult] = []
    if args.engine in ("all", "hypothesis"):
        start = time.perf_counter()
        stateful = [STATEFUL] if profile.sequences and not args.only else []
        show = _progress(console, len(funcs) + len(stateful))
        results = run_campaign([*funcs, *stateful], config, args.jobs, show)
        elapsed = time.perf_counter() - start
        _table(console, results, missing)
        total = sum(r.cases for r in results)
        console.print(
            f"Hypothesis: {total} cases in {elapsed:.1f}s "
            f"({total / max(elapsed, 1e-9):.0f} cases/s), seed {seed}"
        )
    if args.engine in ("all", "exhaustive"):
        results += _exhaustive(console, funcs, config, args)
    unconfirmed = _confirm_port_ub(console, results, c_source, args)
    if args.ub_cases:
        unconfirmed += _ub_campaign(console, args, seed, c_source)
    failed = [r for r in results if r.difference]
    errors = [r for r in results if r.error]
    for r in failed:
        assert r.case_json is not None
        if "crashed" in (r.difference or ""):
            console.print(f"\nC CRASHED on case ({r.func}):\n{r.detail}")
        script = write_report(
            Path(args.report), r.func, r.difference or "", r.case_json, r.detail or "", c_source
        )
        console.print(
            f"\nDISCREPANCY in {r.func}: {r.difference}\nshrunk case:\n{r.detail}\n"
            f"reproducer: {script}  (python -m harness replay {script})"
        )
    for r in errors:
        console.print(f"\nHARNESS ERROR in {r.func}: {r.error}")
    if failed or missing or replayed or unconfirmed:
        return EXIT_DIFFER
    return EXIT_USAGE if errors else EXIT_AGREE


def _exhaustive(
    console: Console, funcs: list[str], config: Config, args: argparse.Namespace
) -> list[FunctionResult]:
    """The exhaustive bounded engine over the memory functions; prints its table and totals."""
    from .campaign import run_exhaustive_campaign
    from .exhaustive import DEFAULT_BOUND, QUICK_BOUND

    bound_name = "quick" if args.profile == "quick" else "default"
    bound = QUICK_BOUND if bound_name == "quick" else DEFAULT_BOUND
    console.print(f"exhaustive engine: {bound.describe()}")
    start = time.perf_counter()
    results = run_exhaustive_campaign(funcs, config, args.jobs, bound_name)
    elapsed = time.perf_counter() - start
    _table(console, results, [], title="exhaustive bounded proof")
    cases = sum(r.cases for r in results)
    bad = [r for r in results if r.difference or r.error]
    verdict = "all agree" if not bad else f"{len(bad)} functions differ"
    console.print(
        f"exhaustive: {cases} cases, {verdict}, in {elapsed:.1f}s ({cases / max(elapsed, 1e-9):.0f} cases/s "
        f"on {args.jobs} processes)"
    )
    return results


def _confirm_port_ub(
    console: Console, results: list[FunctionResult], c_source: str | None, args: argparse.Namespace
) -> int:
    """Cases the port called UB were not run in C: the sanitizers must confirm one per kind
    and function, or a port that wrongly claims UB would dodge the judge."""
    from concurrent.futures import ThreadPoolExecutor

    from reference_c import build

    from .case import case_from_json
    from .ub import EXPECTED, confirms, sanitizer_report

    samples = [(r.func, kind, text) for r in results for kind, text in r.ub_samples.items()]
    if not samples:
        return 0
    build.build(c_source, flavour="sanitize")
    start = time.perf_counter()
    with ThreadPoolExecutor(max(args.jobs, 1)) as pool:
        reports = list(pool.map(lambda s: sanitizer_report(case_from_json(s[2]), c_source), samples))
    unconfirmed = 0
    for (func, kind, text), report in zip(samples, reports, strict=True):
        if kind in EXPECTED and confirms(kind, report):
            continue
        unconfirmed += 1
        script = write_report(
            Path(args.report),
            func,
            f"the port claims UB ({kind}); sanitizers: {report}",
            text,
            case_from_json(text).describe(),
            c_source,
        )
        console.print(
            f"\nUNCONFIRMED UB in {func}: the port says {kind}, the sanitizers say: {report}\n"
            f"reproducer: {script}"
        )
    console.print(
        f"UB claims of the port: {len(samples)} sampled, {len(samples) - unconfirmed} confirmed by "
        f"ASan/UBSan ({time.perf_counter() - start:.1f}s)"
    )
    return unconfirmed


def _ub_campaign(console: Console, args: argparse.Namespace, seed: int, c_source: str | None) -> int:
    """Confirm the port's UB kinds with the sanitizers; returns how many cases were not confirmed."""
    from .ub import run_ub_campaign

    console.print(f"UB campaign: {args.ub_cases} cases per kind, sanitize flavour in child processes")
    start = time.perf_counter()
    results = run_ub_campaign(args.ub_cases, seed, c_source, show=console.print)
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
                Path(args.report),
                f"ub-{r.kind}",
                "UB not confirmed by the sanitizers",
                case_json,
                "",
                c_source,
            )
            console.print(f"UNCONFIRMED {r.kind}: reproducer {script}")
    return unconfirmed


def _replay_leftovers(console: Console, config: Config, report: Path) -> int:
    """Cases a previous run died on (in C), replayed first, each in a child process."""
    import subprocess

    from .campaign import leftover_inflight
    from .case import case_from_json

    leftovers = leftover_inflight(config)
    for path in leftovers:
        text = path.read_text()
        case = case_from_json(text)
        script = write_report(
            report,
            case.func,
            "the previous run died while C ran this case",
            text,
            case.describe(),
            config.c_source,
        )
        console.print(
            f"the previous run died while C ran a case of {case.func}; replaying it first "
            f"in a child process (reproducer: {script})"
        )
        child = subprocess.run(
            [sys.executable, "-m", "harness", "replay", str(script)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        console.print(child.stdout[-2000:] + f"child exit status {child.returncode}")
        path.unlink()
    return len(leftovers)


def _progress(console: Console, nfuncs: int):  # type: ignore[no-untyped-def]
    """Live progress on a terminal; plain lines (one per function, and a heartbeat) in CI."""
    live = console.is_terminal and not os.environ.get("CI")
    state = {"done": 0, "last": 0.0, "t0": time.monotonic()}
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
        task = progress.add_task("starting", total=nfuncs)
        progress.start()
    starts: dict[str, float] = {}

    def show(func: str, cases: int, result: FunctionResult | None) -> None:
        now = time.monotonic()
        t0 = starts.setdefault(func, now)
        rate = cases / max(now - t0, 1e-9)
        if result is not None:
            state["done"] += 1
            status = "DIFFERS" if result.difference else ("ERROR" if result.error else "agree")
            line = f"[{state['done']}/{nfuncs}] {func}: {result.cases} cases, {result.seconds:.1f}s, {status}"
            if live:
                progress.update(task, advance=1)
                progress.console.print(line)
                if state["done"] == nfuncs:
                    progress.stop()
            else:
                print(line, flush=True)
        elif live:
            progress.update(task, description=f"{func}: {cases} cases, {rate:.0f}/s")
        elif now - state["last"] > 10 and now - t0 > 1:
            state["last"] = now
            print(f"  ... {func}: {cases} cases, {rate:.0f}/s", flush=True)

    return show


def _table(
    console: Console, results: list[FunctionResult], missing: list[str], title: str = "per-function results"
) -> None:
    table = Table(title=title)
    for col in ("function", "cases", "UB (C skipped)", "asserts fired", "time (s)", "status"):
        table.add_column(
            col, justify="right" if col not in ("function", "status", "asserts fired") else "left"
        )
    for r in results:
        fired = ", ".join(f"{line}x{n}" for line, n in sorted(r.fired.items())) or "-"
        status = "DIFFERS" if r.difference else ("ERROR" if r.error else "agree")
        table.add_row(r.func, str(r.cases), str(sum(r.ub.values())), fired, f"{r.seconds:.1f}", status)
    for name in missing:
        table.add_row(name, "0", "0", "-", "0.0", "MISSING")
    console.print(table)


def cmd_list(args: argparse.Namespace) -> int:
    """Every C function with its coverage, and every assert site with how often cases reach it."""
    from .campaign import Profile, run_function
    from .judge import Judge
    from .worlds import PyWorld

    console = Console(highlight=False, markup=False, width=None if sys.stdout.isatty() else 160)
    config = Config(Profile("list", args.examples), None, "trap", 0, None)
    judge = Judge(PyWorld(), PyWorld())  # the port alone is enough to see which sites cases reach
    evaluated: Counter[int] = Counter()
    fired: Counter[int] = Counter()
    for func in CAMPAIGNS:
        r = run_function(func, config, judge)
        evaluated.update(r.evaluated)
        fired.update(r.fired)
    funcs = Table(title="C functions")
    for col in ("line", "function", "kind", "status"):
        funcs.add_column(col)
    for name, cf in pyimpl.REGISTRY.items():
        kind = "header inline" if cf.header else ("static" if cf.static else "public")
        if name in CAMPAIGNS:
            status = "covered"
        elif name in COVERED_VIA:
            status = f"covered via {COVERED_VIA[name]}" if COVERED_VIA[name] in CAMPAIGNS else "not yet"
        else:
            status = "not yet"
        funcs.add_row(str(cf.line or "iov.h"), name, kind, status)
    console.print(funcs)
    table = Table(title=f"assert sites of iov.c ({args.examples} generated cases per function)")
    for col in ("line", "function", "assert", "reached", "failed", "note"):
        table.add_column(col)
    source = Path(__file__).resolve().parent.parent / "reference_c" / "iov.c"
    all_sites = sites_mod.assert_sites(source)
    for s in all_sites:
        note = sites_mod.UNREACHABLE.get((s.func, s.expr), "")
        table.add_row(
            str(s.line),
            s.func,
            s.expr,
            str(evaluated[s.line]),
            str(fired[s.line]),
            f"unreachable: {note}" if note else "",
        )
    console.print(table)
    n_fired = sum(1 for s in all_sites if fired[s.line])
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
    from .case import case_to_json

    return replay_case_json(case_to_json(case), args.c_source or c_source)
