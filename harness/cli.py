"""``python -m harness run|list|replay|mutate|coverage``: the command-line face of the harness.

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
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

import pyimpl
from harness.campaign.pool import CAMPAIGNS, PROFILES, STATEFUL, Config, Job
from harness.model.case import case_to_json
from harness.model.outcome import generalise
from harness.model.results import HOW, FunctionResult, describe_case
from harness.report.findings import not_judged, ranked, show_differences, show_notes, show_unjudged
from harness.report.reports import load_case, replay_case_json, strict_asserts_named, write_report
from harness.review.exits import EXIT_AGREE, EXIT_DIFFER, EXIT_USAGE, NOTHING_JUDGED
from harness.verdict.expected import Expected
from harness.verdict.functions_in_source import in_source
from iovspec.ctable import BY_NAME

from .campaign import cluster
from .model import sites as sites_mod
from .report import export
from .review import hooks as review
from .worlds import inflight

#: the environment variables the harness reads (shown by --help)
ENVIRONMENT = """\
environment:
  IOVCONF_C_SOURCE      C source standing in for reference_c/iov.c when --c-source is not given
                        (a path, -, REV:PATH or a pipe, as --c-source)
  IOVCONF_CACHE_DIR     where C builds are cached (default ~/.cache/iovconf)
  IOVCONF_CACHE_KEEP    builds kept per flavour when old ones are evicted (default 16)
  IOVCONF_CACHE_MAX_AGE_DAYS  builds unused this long are evicted (default 30)
  CC, CFLAGS, CPPFLAGS, LDFLAGS, LDSHARED (and gcc's CPATH, ...)  read by the C build, and part of
                        its cache key (reference_c.build.BUILD_ENVIRONMENT)
  IOVCONF_DB            the example database when --db is not given (a directory, redis://HOST:PORT,
                        github:OWNER/REPO, readonly:SPEC, SPEC+SPEC or none; default .hypothesis/iovconf)
  IOVCONF_NO_DB         set: no example database (the same as --db none)
  IOVCONF_FUZZ_EXAMPLES examples per function of the fuzz targets (pytest --pyargs
                        harness.engines.fuzz_targets)
  IOVCONF_FUZZ_CC       the clang that builds C for harness fuzz (default clang on PATH)
  CI                    set: plain progress lines instead of a live table
  HYPOTHESIS_PROFILE    not read by the harness commands (their settings come from --profile);
                        the test suite reads it (see --iovconf-profile in pytest --help)
"""


#: what a run that judged no case says (exit 2: nothing judged is not a pass; skip under --bisect)
NOTHING = "NOTHING JUDGED: no case of any selected function was judged, which is not a pass (exit 2)"


def jobs_count(text: str) -> int:
    """``--jobs``: a positive number, or ``auto`` for one worker per CPU."""
    if text == "auto":
        return os.cpu_count() or 1
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'auto', got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {n}")
    return n


def _profiles_help() -> str:
    rows = [
        f"{p.name} ({p.examples} examples/function, {p.sequences} stateful sequences, "
        f"exhaustive bound {p.bound}, {p.ub_cases} UB cases/kind)"
        for p in PROFILES.values()
    ]
    return "how hard to try: " + "; ".join(rows) + " (default: %(default)s)"


#: the forms a C source argument takes (harness.review.sources)
SOURCE_SPEC = "a path, - (standard input), REV:PATH (a git object of the current repository) or a pipe"
#: --only of run and diff
ONLY_HELP = (
    "comma-separated C function names; 'changed': the functions whose code differs (diff: OLD against "
    "NEW; run: the C source against the original) and every function that calls them"
)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m harness",
        description=__doc__,
        epilog=ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run",
        help="run a differential campaign",
        description="Run the port and the compiled C side by side on generated cases.\n"
        "Exit status: 0 every case agreed; 1 a discrepancy (report and reproducers written);\n"
        "2 a usage or build error.",
        epilog=ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("--profile", choices=sorted(PROFILES), default="default", help=_profiles_help())
    run.add_argument("--only", help=ONLY_HELP)
    run.add_argument(
        "--c-source", help=f"another iov.c to compare against: {SOURCE_SPEC} (default: the original)"
    )
    run.add_argument("--seed", type=int, help="campaign seed (printed when not given)")
    run.add_argument(
        "--assert-mode",
        choices=("trap", "abort"),
        default="trap",
        help="trap: a failing C assert is caught in-process (fast); abort: the C library's own assert "
        "aborts a forked child per call (slower; checks the trap changes nothing) (default: %(default)s)",
    )
    run.add_argument("--report", default="iovconf-reports", help="directory for reports and reproducers")
    run.add_argument(
        "--engine",
        choices=("all", "hypothesis", "batched", "exhaustive", "stateful"),
        default="all",
        help="Hypothesis one case per example, batched Hypothesis (every boundary test of each drawn "
        "layout), the exhaustive bounded engine, the stateful machine, or all of them (default)",
    )
    run.add_argument(
        "--shard",
        metavar="K/N",
        help="judge only shard K of N of the exhaustive engine's bound (with --engine exhaustive and "
        "--json); python -m harness merge combines the N result files",
    )
    run.add_argument(
        "--jobs",
        type=jobs_count,
        default="auto",
        help="worker processes: a number, or auto (one per CPU, the default)",
    )
    run.add_argument("--examples", type=int, help="override the profile's examples per function")
    run.add_argument(
        "--db",
        help="the example database: a directory (default .hypothesis/iovconf), redis://HOST:PORT, "
        "github:OWNER/REPO[/ARTIFACT], readonly:SPEC, SPEC+SPEC, or none (env IOVCONF_DB)",
    )
    run.add_argument(
        "--expect-diff",
        help="a known-differences file (TOML): the differences it lists pass, and each one not seen "
        "among the functions run is reported (and fails the run)",
    )
    run.add_argument(
        "--strict-asserts",
        action=argparse.BooleanOptionalAction,
        help="two aborts of a call agree only if the same assert (function, expression, ordinal) fails; "
        "otherwise any assert of the same call with the same state agrees, and which one is a note "
        "(default: strict on the original iov.c, which the port must mirror assert for assert; not "
        "on a --c-source)",
    )
    run.add_argument(
        "--ub-cases",
        type=int,
        help="UB cases per kind to confirm with the sanitizers (default: the profile's)",
    )
    from .gates import coverage, mutate
    from .integrations import fuzz

    mutate.add_parser(sub, jobs_count)
    coverage.add_parser(sub, jobs_count)
    fuzz.add_parser(sub, jobs_count)
    lst = sub.add_parser("list", help="functions covered and assert sites reached")
    lst.add_argument(
        "--sample",
        action="store_true",
        help="count sites on a fresh sample, not the counts the last run here left (.iovconf/sites.json)",
    )
    lst.add_argument("--examples", type=int, default=10, help="cases per function of the sample")
    dif = sub.add_parser("diff", help="C against C: which functions changed behaviour from OLD to NEW")
    dif.add_argument("old", help=f"the iov.c before the change: {SOURCE_SPEC}")
    dif.add_argument("new", help="the iov.c after it (the same forms)")
    dif.add_argument("--only", help=ONLY_HELP)
    dif.add_argument("--profile", choices=sorted(PROFILES), default="quick", help="how hard to look")
    dif.add_argument("--seed", type=int, help="campaign seed (printed when not given)")
    dif.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="worker processes")
    dif.add_argument(
        "--report", default="iovconf-reports", help="directory for the cases that show each change"
    )
    dif.add_argument("--expect-diff", help="a known-differences file: changes it lists are not reported")
    dif.add_argument(
        "--strict-asserts",
        action="store_true",
        help="a call that aborts by another assert (same state) is a change, not a note",
    )
    revs = sub.add_parser("revisions", help="every shipped upstream revision against the port")
    revs.add_argument("--only", help="comma-separated release tags (e.g. v8.1.0,v10.0.0)")
    revs.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="worker processes")
    revs.add_argument(
        "--discover", action="store_true", help="print the known differences the harness finds, as TOML"
    )
    for command in (run, dif):
        review.add_arguments(command)  # --bisect, --summary
    for command in (run, dif, revs):
        cluster.add_argument(command)  # --cluster local:N|tcp://HOST:PORT
        command.add_argument("--json", metavar="FILE", help="also write the results as JSON")
        command.add_argument("--junitxml", metavar="FILE", help="also write the results as JUnit XML")
    mrg = sub.add_parser("merge", help="combine the --json files of a sharded exhaustive run")
    mrg.add_argument("files", nargs="+", help="one results file per shard (harness run --shard K/N --json)")
    mrg.add_argument("--json", metavar="FILE", help="write the merged results as JSON")
    mrg.add_argument("--junitxml", metavar="FILE", help="write the merged results as JUnit XML")
    mrg.add_argument(
        "--report", default="iovconf-reports", help="directory for the merged failures' reproducers"
    )
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
    ben.add_argument(
        "--diff",
        action="store_true",
        help="what harness diff costs beside harness run on the same functions and profile (CPU and wall)",
    )
    ben.add_argument(
        "--functions",
        default="iov_to_buf_full;iov_copy;qemu_iovec_concat;qemu_iovec_compare;qemu_iovec_clone",
        help="--diff: groups of functions (';' between groups, ',' within one), each timed on its own",
    )
    ben.add_argument("--profile", choices=sorted(PROFILES), default="quick", help="--diff: the profile")
    ben.add_argument("--seed", type=int, default=1, help="--diff: the seed of both commands")
    ben.add_argument("--jobs", type=jobs_count, default=2, help="--diff: worker processes of both")
    ben.add_argument("--c-source", help="--diff: the NEW source (default: the original with a comment added)")
    rep = sub.add_parser("replay", help="re-run a reproducer (.py) or case (.json)")
    rep.add_argument("file")
    rep.add_argument("--c-source", help=f"override the C source named in the reproducer: {SOURCE_SPEC}")
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return review.parse_failed(argv, exc.code)  # 2 (128 under --bisect); 0 for --help
    # source specs and --only changed resolved, then the command; --bisect maps its exit status
    return review.run(args, _dispatch)


def _dispatch(args: argparse.Namespace) -> int | str:
    if hasattr(args, "handler"):  # commands that live in their own modules (mutate, coverage)
        return int(args.handler(args))
    if args.command == "run":
        return cmd_run(args)
    if args.command == "list":
        return cmd_list(args)
    if args.command == "diff":
        return cmd_diff(args)
    if args.command == "revisions":
        return cmd_revisions(args)
    if args.command == "merge":
        return cmd_merge(args)
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
    if args.diff:
        from harness.bench.diff import main as diff_main

        groups = [g.strip() for g in args.functions.split(";") if g.strip()]
        out = "bench_diff.json" if args.out is None else args.out
        return diff_main(
            groups, args.profile, args.seed, args.jobs, args.c_source, Path(out) if out else None
        )
    if not args.library:
        from harness.bench.engines import main as bench_main

        out = "bench.json" if args.out is None else args.out
        return bench_main(args.seconds, Path(out) if out else None)
    from .bench import library as lib

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
    from harness.engines.exhaustive import FUNCTIONS

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


def _shard(text: str | None, engine: str) -> tuple[int, int] | str | None:
    """``--shard K/N`` as (K, N), or what is wrong with it."""
    if text is None:
        return None
    k, slash, n = text.partition("/")
    if not (slash and k.isdigit() and n.isdigit() and 1 <= int(k) <= int(n)):
        return f"--shard: {text!r}: say K/N with 1 <= K <= N, e.g. 2/4"
    if engine != "exhaustive":
        return "--shard: only the exhaustive engine splits its cases: add --engine exhaustive"
    return int(k), int(n)


def cmd_run(args: argparse.Namespace) -> int | str:
    console = Console(highlight=False, markup=False, width=None if sys.stdout.isatty() else 140)
    funcs = _selected(args.only)
    if isinstance(funcs, str):
        console.print(funcs)
        return EXIT_USAGE
    shard = _shard(args.shard, args.engine)
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
    from harness.engines.database import DatabaseSpecError, open_database, spec_from_env

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
    expected = Expected()
    if args.expect_diff:
        try:
            expected = Expected.load(args.expect_diff)
        except (OSError, ValueError, KeyError) as exc:
            console.print(f"--expect-diff: {args.expect_diff}: {type(exc).__name__}: {exc}")
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
    jobs = _jobs(funcs, args.engine, profile.sequences, bool(args.only))
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
    from harness.worlds.oracle import shared_server

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
    from harness.engines.ub import run_ub_campaign

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
    from harness.campaign.pool import Profile, run_hypothesis
    from harness.verdict.judge import Judge
    from harness.worlds.oracle import Trusting
    from harness.worlds.world import PyWorld

    config = Config(Profile("list", examples), None, "trap", 0, None)
    # the port alone is enough to see which sites cases reach: not a verdict, so nothing to confirm
    judge = Judge(PyWorld(), PyWorld(), oracle=Trusting())
    results = [run_hypothesis(func, config, judge) for func in CAMPAIGNS]
    return sites_mod.Counts.of(results, f"a sample of {examples} cases per function, the port alone")


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


def cmd_diff(args: argparse.Namespace) -> int | str:
    """Which functions changed behaviour from OLD to NEW, each distinct change with its smallest case."""
    from harness.campaign.revisions import diff

    console = Console(highlight=False, markup=False, width=None if sys.stdout.isatty() else 140)
    for path in (args.old, args.new):
        if not Path(path).is_file():
            console.print(f"diff: {path} is not a file")
            return EXIT_USAGE
    funcs = _selected(args.only) if args.only else None
    if isinstance(funcs, str):
        console.print(funcs)
        return EXIT_USAGE
    expected = Expected()
    if args.expect_diff:
        try:
            expected = Expected.load(args.expect_diff)
        except (OSError, ValueError, KeyError) as exc:
            console.print(f"--expect-diff: {args.expect_diff}: {type(exc).__name__}: {exc}")
            return EXIT_USAGE
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 32)
    old_shown, new_shown = review.shown(args, "old", args.old), review.shown(args, "new", args.new)
    console.print(f"iovconf diff: {old_shown} -> {new_shown}, profile {args.profile}, seed {seed}")
    report_dir = Path(args.report)
    old, new = str(Path(args.old).resolve()), str(Path(args.new).resolve())
    start = time.perf_counter()
    try:
        found = diff(
            args.old,
            args.new,
            funcs,
            PROFILES[args.profile],
            seed,
            args.jobs,
            _as_found(console),
            expect_diff=args.expect_diff,
            strict_asserts=args.strict_asserts,
            cluster=args.cluster,
        )
    except Exception as exc:
        console.print(f"build error: {type(exc).__name__}: {exc}")
        return EXIT_USAGE
    elapsed = time.perf_counter() - start
    shown = show_differences(
        console,
        found.results,
        report_dir,
        new,
        old,
        headline=lambda r, f: f"CHANGED {r.func}",
        strict_asserts=args.strict_asserts,
    )
    rows = show_notes(console, found.results, lambda r: "diff")
    for name, protos in found.found.respelt.items():
        console.print(f"\nnote: {name}: its prototype is spelt otherwise (judged as usual): {protos}")
        rows.append(export.Row("diff", name, "note", difference=protos, kind="prototype respelt"))
    cases = {d.func: d.cases for d in found.functions}
    unjudged = not_judged(found.selected, found.found, expected, cases)
    table = Table(title=f"{old_shown} -> {new_shown}")
    for col in ("function", "verdict", "cases", "changes"):
        table.add_column(col)
    for d in found.functions:
        kinds = "; ".join(f"{c.kind} ({c.where})" for c in d.changes) or d.detail or "-"
        table.add_row(d.func, d.status, str(d.cases), kinds)
    for u in unjudged:
        table.add_row(u.func, f"not judged ({u.category})", "0", u.why)
    console.print(table)
    rows += show_unjudged(console, unjudged, "diff")
    scripts = {(s.result.func, *s.finding.key): str(s.reproducer) for s in shown}
    for d in found.functions:
        red = d.status not in ("same", "changed (listed)")
        if not d.changes:
            rows.append(export.Row("diff", d.func, d.status, d.cases, difference=d.detail, red=red))
        for c in d.changes:
            detail = describe_case(c.case_json, c.how)
            script = scripts.get((c.func, c.kind, generalise(c.where)), "")
            rows.append(
                export.Row(
                    "diff",
                    d.func,
                    d.status,
                    d.cases,
                    0.0,
                    c.difference,
                    c.kind,
                    c.where,
                    detail,
                    script,
                    red,
                    case_json=c.case_json or "",  # the change's case itself (--summary shows it as C)
                )
            )
    changed = [d for d in found.functions if d.status == "changed"]
    red_unjudged = [u for u in unjudged if u.red]
    console.print(
        f"\n{sum(d.status == 'same' for d in found.functions)} functions the same, {len(changed)} changed, "
        f"{len(unjudged)} not judged ({len(red_unjudged)} of them a difference) ({elapsed:.0f}s)"
    )
    judged = sum(d.cases for d in found.functions)
    judged_nothing = False
    if changed or red_unjudged:
        status = EXIT_DIFFER
    elif any(d.status == "error" for d in found.functions):
        status = EXIT_USAGE
    elif judged == 0:
        console.print(NOTHING)
        status, judged_nothing = EXIT_USAGE, True
    else:
        status = EXIT_AGREE
    replay = ["python", "-m", "harness", "diff", review.replayed(args, "old", old)]
    replay += [review.replayed(args, "new", new), "--profile", args.profile, "--seed", str(seed)]
    for flag in ("only", "expect_diff", "jobs"):
        if getattr(args, flag) is not None:
            replay += [f"--{flag.replace('_', '-')}", str(getattr(args, flag))]
    if args.strict_asserts:
        replay.append("--strict-asserts")
    record = export.Record("diff", shlex.join(replay), seed, args.profile, status, elapsed, new, ranked(rows))
    export.write(record, args.json, args.junitxml)
    review.finish(args, record)  # --summary
    return NOTHING_JUDGED if judged_nothing else status


def _as_found(console: Console) -> Callable[[Job, int, FunctionResult | None], None]:
    """Progress of a diff: each campaign as it ends, labelled, and each change the moment its
    campaign finds it (told in full, the most telling first, once every campaign is done)."""
    done: list[int] = [0]
    told: set[tuple[str, str, str]] = set()

    def show(job: Job, cases: int, result: FunctionResult | None) -> None:
        if result is None:
            return
        done[0] += 1
        engine, func = job
        console.print(f"  campaign {done[0]}: {engine} {func}: {result.cases} cases, {result.seconds:.1f}s")
        for f in result.findings:
            key = (func, *f.key)
            if key not in told:
                told.add(key)
                console.print(f"  FOUND a change of {func}: {f.kind} ({f.where}): {f.difference[:200]}")

    return show


def cmd_merge(args: argparse.Namespace) -> int:
    """The verdict of the whole bound from its shards' result files."""
    from harness.campaign.merge import MergeError, load, merge

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


def _quiet(job: Job, cases: int, result: FunctionResult | None) -> None:
    if result is not None:
        print(f"  {job[0]} {job[1]}: {result.cases} cases, {result.status}", flush=True)


def cmd_revisions(args: argparse.Namespace) -> int:
    """Every shipped revision against the port with its known differences: a table."""
    from harness.campaign.revisions import REVISIONS_PROFILE, REVISIONS_SEED, check_revision, discover
    from reference_c.revisions import REVISIONS

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
