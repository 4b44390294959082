"""``python -m harness coverage``: branch coverage of iov.c and of the port by a campaign, with a gate.

It runs the campaigns of a profile (the same jobs as ``harness run``, through
:func:`harness.campaign.pool.run_jobs`) with the C side in the ``coverage`` flavour (gcov), then
``--ub-cases`` cases of each UB kind from the UB campaign's generators (the port's
undefined-behaviour paths; C runs those sanitized, not counted), all under coverage.py
(branch mode, ``pyimpl/`` and the spec it runs on, ``iovspec/``, forked workers included), and reports

- gcov branch coverage of ``iov.c`` through gcovr, and
- coverage.py branch coverage of ``pyimpl/`` and ``iovspec/``,

as text, and as HTML with ``--html DIR`` (``DIR/c/index.html``, ``DIR/py/index.html``).

Every branch left uncovered must be listed, with the reason, in
``harness/gates/coverage_exceptions.toml``; the command exits 1 when one is not (printing the
entries to add), 0 when every uncovered branch is listed, 2 on a usage, build or harness
error.  A discrepancy the campaign finds on the way also exits 1.

An exception names a source line: ``[[c]]`` entries by ``line`` of ``iov.c`` (which never
changes) and its ``text`` as a check; ``[[py]]`` entries by ``file`` and ``text`` (the
stripped source line, so they survive lines moving; ``line`` picks among repeats).  It
accepts every uncovered branch of that line.

gcov counts are written when a process exits normally; campaign workers leave through
``os._exit``, so each worker calls ``iovconf_coverage_dump`` (``__gcov_dump``, exported
by the coverage flavour's shim) as it ends.  Each run points ``GCOV_PREFIX`` at a
directory of its own, so runs in parallel (or left over) never mix their counts.
"""

from __future__ import annotations

import argparse
import ast
import ctypes
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.campaign.plan import jobs_count, plan_jobs, selected

ROOT = Path(__file__).resolve().parents[2]
#: the Python the gate measures: the port and the spec it is driven by
PORT_SOURCES = (ROOT / "pyimpl", ROOT / "iovspec")
IOV_C = ROOT / "reference_c" / "iov.c"
EXCEPTIONS = Path(__file__).resolve().parent / "coverage_exceptions.toml"

EXIT_OK, EXIT_UNCOVERED, EXIT_USAGE = 0, 1, 2


# -- what is uncovered, and what is listed --------------------------------------------------------


@dataclass(frozen=True)
class Uncovered:
    """The uncovered branches of one source line."""

    side: str  # "c" or "py"
    file: str  # relative to the project root
    line: int
    missing: int  # branches of the line never taken
    total: int  # branches of the line
    text: str  # the stripped source line

    def entry(self) -> str:
        """The exceptions-file entry for this line (reason left to write)."""
        head = f"[[{self.side}]]\n"
        if self.side == "py":
            head += f"file = {json.dumps(self.file)}\n"
        return f'{head}line = {self.line}\ntext = {json.dumps(self.text)}\nreason = ""\n'


@dataclass(frozen=True)
class Exception_:
    side: str
    file: str
    text: str  # the line's stripped text; "" for a whole function
    reason: str
    line: int | None = None
    #: py only: every line of this function (``def NAME`` or ``Class.NAME``, ``*`` for every
    #: function of the file), for code no campaign means to reach (the strict-memory checks)
    function: str | None = None


def load_exceptions(path: Path = EXCEPTIONS) -> list[Exception_]:
    """The listed uncovered branches; a malformed entry is a ValueError."""
    if not path.exists():
        return []
    data = tomllib.loads(path.read_text())
    unknown = set(data) - {"c", "py"}
    if unknown:
        raise ValueError(f"{path}: unknown tables {sorted(unknown)} (expected [[c]] and [[py]])")
    out: list[Exception_] = []
    for side in ("c", "py"):
        for k, e in enumerate(data.get(side, [])):
            need = ("line", "text", "reason") if side == "c" else ("file", "reason")
            missing = [key for key in need if not e.get(key)]
            if side == "py" and not (e.get("text") or e.get("function")):
                missing.append("text or function")
            if missing:
                raise ValueError(f"{path}: [[{side}]] entry {k + 1} lacks {', '.join(missing)}")
            file = "reference_c/iov.c" if side == "c" else e["file"]
            text = e.get("text", "").strip()
            out.append(Exception_(side, file, text, e["reason"], e.get("line"), e.get("function")))
    return out


def _named(e: Exception_) -> str:
    return f"function {e.function}" if e.function is not None else repr(e.text)


def _function_lines(path: Path, name: str) -> list[int]:
    """The lines of function ``name`` (``Class.method``; ``*``: every function) in ``path``."""
    tree = ast.parse(path.read_text())
    out: list[int] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                if name in ("*", prefix + child.name):
                    out.extend(range(child.lineno, (child.end_lineno or child.lineno) + 1))
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")

    visit(tree, "")
    return out


def _resolve(e: Exception_, root: Path) -> list[int]:
    """The lines an exception names in the current source; none if its text (or function) is gone."""
    path = root / e.file
    if not path.is_file():
        return []
    if e.function is not None:
        return _function_lines(path, e.function)
    return [] if (line := _resolve_line(e, path)) is None else [line]


def _resolve_line(e: Exception_, path: Path) -> int | None:
    lines = [t.strip() for t in path.read_text().splitlines()]
    if e.side == "c":
        assert e.line is not None
        return e.line if 0 < e.line <= len(lines) and lines[e.line - 1] == e.text else None
    found = [n for n, t in enumerate(lines, start=1) if t == e.text]
    if not found:
        return None
    hint = e.line or found[0]
    return min(found, key=lambda n: abs(n - hint))


@dataclass
class Verdict:
    """The gate over one run: uncovered lines not listed, listed ones, and stale entries."""

    unlisted: list[Uncovered] = field(default_factory=list)
    listed: list[tuple[Uncovered, Exception_]] = field(default_factory=list)
    stale: list[Exception_] = field(default_factory=list)  # text not found in the source
    unneeded: list[Exception_] = field(default_factory=list)  # its line is covered now

    @property
    def exit_status(self) -> int:
        return EXIT_UNCOVERED if self.unlisted else EXIT_OK


def judge_coverage(uncovered: list[Uncovered], exceptions: list[Exception_], root: Path = ROOT) -> Verdict:
    v = Verdict()
    where: dict[tuple[str, int], Exception_] = {}
    for e in sorted(exceptions, key=lambda e: e.function is not None):
        lines = _resolve(e, root)
        if not lines:
            v.stale.append(e)
        for line in lines:
            where.setdefault((e.file, line), e)  # a line's own entry first, then its function's
    used: set[tuple[str, int]] = set()
    for u in uncovered:
        found = where.get((u.file, u.line))
        if found is None:
            v.unlisted.append(u)
        else:
            v.listed.append((u, found))
            used.add((u.file, u.line))
    used_entries = {id(where[key]) for key in used}
    v.unneeded = list({id(e): e for e in where.values() if id(e) not in used_entries}.values())
    return v


# -- reading the two reports -----------------------------------------------------------------------


def _source_line(path: Path, line: int) -> str:
    lines = path.read_text().splitlines()
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""


def c_uncovered(gcovr_json: dict[str, Any]) -> tuple[list[Uncovered], int, int]:
    """Uncovered iov.c lines from gcovr's JSON, and (branches taken, branches) of iov.c."""
    out: list[Uncovered] = []
    taken = total = 0
    for f in gcovr_json.get("files", []):
        if Path(f["file"]).name != "iov.c":
            continue
        per_line: dict[int, list[int]] = {}
        for ln in f.get("lines", []):
            counts = [b.get("count", 0) for b in ln.get("branches", [])]
            if counts:
                per_line.setdefault(ln["line_number"], []).extend(counts)
        for line, counts in sorted(per_line.items()):
            total += len(counts)
            missing = sum(1 for c in counts if c == 0)
            taken += len(counts) - missing
            if missing:
                out.append(
                    Uncovered("c", "reference_c/iov.c", line, missing, len(counts), _source_line(IOV_C, line))
                )
    return out, taken, total


def py_uncovered(report: dict[str, Any], root: Path = ROOT) -> tuple[list[Uncovered], int, int]:
    """Uncovered port lines from coverage.py's JSON report, and (branches taken, branches)."""
    out: list[Uncovered] = []
    taken = total = 0
    for name, f in sorted(report.get("files", {}).items()):
        path = Path(name) if Path(name).is_absolute() else root / name
        rel = str(path.resolve().relative_to(root))
        s = f["summary"]
        total += s.get("num_branches", 0)
        taken += s.get("covered_branches", 0)
        per_line: dict[int, int] = {}
        for src, _dst in f.get("missing_branches", []):
            per_line[src] = per_line.get(src, 0) + 1
        executed: dict[int, int] = {}
        for src, _dst in f.get("executed_branches", []):
            executed[src] = executed.get(src, 0) + 1
        for line, missing in sorted(per_line.items()):
            out.append(
                Uncovered("py", rel, line, missing, missing + executed.get(line, 0), _source_line(path, line))
            )
    return out, taken, total


# -- running the campaign under measurement ---------------------------------------------------------


def _coverage_so() -> Path:
    from reference_c import build

    return build.build(None, flavour="coverage").so_path


def _dump_gcov(so_path: str) -> None:
    """In a worker that is about to leave: write its gcov counters (if it loaded the build)."""
    try:
        lib = ctypes.CDLL(so_path, mode=os.RTLD_NOLOAD | os.RTLD_NOW)
    except OSError:
        return  # this worker never loaded the coverage build
    lib.iovconf_coverage_dump()


def _arm_workers(so_path: str) -> None:
    """Make every worker forked from here dump its gcov counters when its job ends."""
    import multiprocessing.util as mp_util

    def armed(_: object) -> None:
        mp_util.Finalize(None, _dump_gcov, args=(so_path,), exitpriority=-100)

    mp_util.register_after_fork(_arm_workers, armed)


def _campaign_main(spec_path: str) -> int:
    """In the measured process: the campaign of ``harness run``'s jobs, C in the coverage flavour."""
    import dataclasses

    from hypothesis import settings

    from harness.campaign.pool import PROFILES, Config, run_jobs
    from harness.verdict.functions_in_source import in_source
    from harness.worlds.oracle import shared_server

    # the cases are the seed's, wherever this runs: under $CI Hypothesis would load its own
    # derandomized "ci" profile, and CI would measure other cases than the ones the
    # exceptions file was checked against
    settings.load_profile("default")
    spec = json.loads(Path(spec_path).read_text())
    profile = PROFILES[spec["profile"]]
    if spec.get("examples"):
        profile = dataclasses.replace(profile, examples=spec["examples"])
    funcs = selected(spec.get("only"))
    assert isinstance(funcs, list)
    import reference_c

    funcs = in_source(reference_c.load(None), funcs).run  # the original's functions
    config = Config(profile, None, "trap", spec["seed"], None, flavour="coverage", strict_asserts=True)
    jobs = plan_jobs(funcs, spec["engine"], profile.sequences, bool(spec.get("only")))
    _arm_workers(spec["so_path"])
    from harness.worlds import world as worlds

    # tracing every line of the port makes it several times slower: a call that takes a second
    # in a loaded campaign must not count as hung (the limit catches loops, not slowness)
    worlds.PORT_TIME_LIMIT = max(worlds.PORT_TIME_LIMIT, 120.0)

    def show(job: Any, cases: int, result: Any) -> None:
        if result is not None:
            print(
                f"  {job[0]} {job[1]}: {result.cases} cases, {result.seconds:.1f}s, {result.status}",
                flush=True,
            )

    with shared_server(None):
        results = run_jobs(jobs, config, spec["jobs"], show)
    summary = [
        {"func": r.func, "engine": r.engine, "cases": r.cases, "difference": r.difference, "error": r.error}
        for r in results
    ]
    if spec.get("ub_cases"):
        # the port's undefined-behaviour paths: only cases made to be UB reach them (C runs them
        # sanitized, so they add nothing to the gcov counts)
        from harness.engines.ub import run_ub_campaign

        for u in run_ub_campaign(spec["ub_cases"], spec["seed"], None, show=print):
            summary.append(
                {
                    "func": f"UB {u.kind}",
                    "engine": "ub",
                    "cases": u.cases,
                    "difference": f"{len(u.unconfirmed)} claims not confirmed" if u.unconfirmed else None,
                    "error": None,
                }
            )
    Path(spec["summary"]).write_text(json.dumps(summary))
    return 0


# -- the command ----------------------------------------------------------------------------------


def add_parser(sub: Any) -> None:
    from harness.campaign.pool import PROFILES

    p = sub.add_parser(
        "coverage",
        help="branch coverage of iov.c (gcov) and the port (coverage.py) by a campaign, with a gate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--profile", choices=sorted(n for n in PROFILES if n != "deep"), default="default")
    p.add_argument("--html", metavar="DIR", help="write the HTML reports to DIR/c and DIR/py")
    p.add_argument("--jobs", type=jobs_count, default="auto", help="worker processes (a number or auto)")
    p.add_argument("--seed", type=int, default=0, help="campaign seed (default %(default)s: repeatable)")
    p.add_argument("--only", help="comma-separated C function names (the gate then fails, as it should)")
    p.add_argument(
        "--engine", choices=("all", "hypothesis", "exhaustive", "stateful"), default="all", help="as for run"
    )
    p.add_argument("--examples", type=int, help="override the profile's examples per function")
    p.add_argument(
        "--ub-cases",
        type=int,
        default=2,
        help="cases per UB kind from the UB campaign's generators, for the port's UB paths (default 2)",
    )
    p.add_argument("--exceptions", default=str(EXCEPTIONS), help="the listed uncovered branches (TOML)")
    p.set_defaults(handler=cmd_coverage)


def cmd_coverage(args: argparse.Namespace) -> int:
    try:
        exceptions = load_exceptions(Path(args.exceptions))
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        print(f"coverage: {exc}", file=sys.stderr)
        return EXIT_USAGE
    funcs = selected(args.only)
    if isinstance(funcs, str):
        print(f"coverage: {funcs}", file=sys.stderr)
        return EXIT_USAGE
    for tool in ("gcovr", "coverage"):
        if not _importable(tool):
            print(f"coverage: needs {tool} (pip install {tool})", file=sys.stderr)
            return EXIT_USAGE
    try:
        so_path = _coverage_so()
    except Exception as exc:
        print(f"coverage: build error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    build_dir = so_path.parent
    html = Path(args.html).resolve() if args.html else None
    print(
        f"coverage: profile {args.profile}, seed {args.seed}, jobs {args.jobs}, engine {args.engine}, "
        f"C build {build_dir}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="iovconf-cov-") as t:
        tmp = Path(t)
        start = time.perf_counter()
        status = _measure(args, so_path, tmp)
        if status:
            return status
        print(f"coverage: campaign measured in {time.perf_counter() - start:.0f}s", flush=True)
        discrepancies = _campaign_failures(tmp / "summary.json")
        c_unc, c_taken, c_total = _c_report(build_dir, tmp, html)
        py_unc, py_taken, py_total = _py_report(tmp, html)
    verdict = judge_coverage(c_unc + py_unc, exceptions)
    print(
        f"\nbranch coverage: iov.c {c_taken}/{c_total} ({_pct(c_taken, c_total)}), "
        f"pyimpl/ and iovspec/ {py_taken}/{py_total} ({_pct(py_taken, py_total)}); "
        f"{len(verdict.listed)} uncovered line(s) listed with a reason, {len(verdict.unlisted)} not listed"
    )
    if html:
        print(f"HTML: {html / 'c' / 'index.html'} and {html / 'py' / 'index.html'}")
    for e in verdict.stale:
        print(f"note: exception for {e.file} {_named(e)} matches no line of the current source (stale)")
    for e in verdict.unneeded:
        print(f"note: exception for {e.file} {_named(e)}: every branch of it was covered in this run")
    if verdict.unlisted:
        print(f"\n{len(verdict.unlisted)} line(s) with uncovered branches not listed in {args.exceptions}:")
        for u in verdict.unlisted:
            print(f"  {u.file}:{u.line}: {u.missing}/{u.total} branches never taken: {u.text}")
        print("\nreach them (a case in the strategies), or list each with the reason it cannot be reached:\n")
        print("\n".join(u.entry() for u in verdict.unlisted))
    if discrepancies:
        print("\nthe campaign did not agree (run `python -m harness run` for reports):")
        for line in discrepancies:
            print(f"  {line}")
        return EXIT_UNCOVERED
    return verdict.exit_status


def _pct(a: int, b: int) -> str:
    return f"{100 * a / b:.1f}%" if b else "n/a"


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def _measure(args: argparse.Namespace, so_path: Path, tmp: Path) -> int:
    """Run the campaign in a child process under coverage.py; 0 when it ran."""
    rc = tmp / "coveragerc"
    rc.write_text(
        "[run]\nbranch = True\n"
        f"source = {', '.join(map(str, PORT_SOURCES))}\n"
        f"data_file = {tmp / '.coverage'}\n"
        "parallel = True\nconcurrency = multiprocessing\n"
        "disable_warnings = module-not-measured, no-data-collected\n"
    )
    spec = tmp / "spec.json"
    spec.write_text(
        json.dumps(
            {
                "profile": args.profile,
                "examples": args.examples,
                "only": args.only,
                "engine": args.engine,
                "seed": args.seed,
                "jobs": args.jobs,
                "ub_cases": args.ub_cases,
                "so_path": str(so_path),
                "summary": str(tmp / "summary.json"),
            }
        )
    )
    # this run's gcov counters go under tmp/gcda/<the build's absolute path>/ (libgcov's prefix)
    env = {**os.environ, "IOVCONF_NO_DB": "1", "GCOV_PREFIX": str(tmp / "gcda"), "GCOV_PREFIX_STRIP": "0"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    cmd = [
        sys.executable,
        "-m",
        "coverage",
        "run",
        f"--rcfile={rc}",
        "-m",
        "harness.gates.coverage",
        "--campaign",
    ]
    child = subprocess.run([*cmd, str(spec)], cwd=tmp, env=env, check=False)
    if child.returncode != 0 or not (tmp / "summary.json").exists():
        print(f"coverage: the measured campaign failed (exit {child.returncode})", file=sys.stderr)
        return EXIT_USAGE
    return 0


def _campaign_failures(summary: Path) -> list[str]:
    out = []
    for r in json.loads(summary.read_text()):
        if r["difference"]:
            out.append(f"{r['engine']} {r['func']}: DIFFERS: {r['difference']}")
        elif r["error"]:
            out.append(f"{r['engine']} {r['func']}: HARNESS ERROR: {r['error']}")
    return out


def _c_report(build_dir: Path, tmp: Path, html: Path | None) -> tuple[list[Uncovered], int, int]:
    """gcovr over the main module's counters (iov.c is #included there), in a clean directory:
    the build's own gcno records the temporary directory it was compiled in."""
    work = tmp / "gcov"
    work.mkdir()
    for f in build_dir.iterdir():
        if f.name.startswith("_iovconf_coverage_") and f.suffix in (".gcno", ".c"):
            shutil.copy(f, work / f.name)
    counted = tmp / "gcda" / build_dir.relative_to(build_dir.anchor)
    for f in counted.glob("_iovconf_coverage_*.gcda") if counted.is_dir() else ():
        shutil.copy(f, work / f.name)
    shutil.copy(build_dir / "iov.c", work / "iov.c")
    shutil.copytree(build_dir / "include", work / "include")
    if not list(work.glob("*.gcda")):
        raise RuntimeError(f"no gcov counters were written under {counted}")
    cmd = [
        sys.executable,
        "-m",
        "gcovr",
        "--root",
        str(work),
        "--filter",
        r"iov\.c$",
        "--gcov-executable",
        "gcov",
    ]
    outputs = ["--txt", "-", "--txt-metric", "branch", "--json", str(tmp / "gcovr.json")]
    if html:
        (html / "c").mkdir(parents=True, exist_ok=True)
        outputs += ["--html-details", str(html / "c" / "index.html")]
    out = subprocess.run([*cmd, *outputs, str(work)], cwd=work, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"gcovr failed ({out.returncode}): {out.stderr[-2000:]}")
    print("\ngcov branch coverage of iov.c (gcovr):")
    print(out.stdout.rstrip())
    return c_uncovered(json.loads((tmp / "gcovr.json").read_text()))


def _py_report(tmp: Path, html: Path | None) -> tuple[list[Uncovered], int, int]:
    import coverage

    cov = coverage.Coverage(config_file=str(tmp / "coveragerc"))
    cov.combine(data_paths=[str(tmp)])
    cov.save()
    cov.load()
    print("\ncoverage.py branch coverage of pyimpl/ and iovspec/:")
    cov.report(show_missing=False, file=sys.stdout)
    if html:
        cov.html_report(directory=str(html / "py"))
    cov.json_report(outfile=str(tmp / "py.json"))
    return py_uncovered(json.loads((tmp / "py.json").read_text()))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--campaign":
        raise SystemExit(_campaign_main(sys.argv[2]))
    raise SystemExit(f"usage: {sys.argv[0]} --campaign SPEC (what python -m harness coverage runs)")
