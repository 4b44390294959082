#!/usr/bin/env python3
"""Are narrowings caught?  Every ``size_t``/``ssize_t``/``unsigned`` variable of the functions
that read lengths without touching the bytes, declared ``int``, judged by a campaign.

    python ci/narrowing.py [--profile quick] [--functions F,G|all] [--json FILE] [--jobs 2]

For each such parameter or local (``harness.gates.narrowing``: found with pycparser, rewritten so
that names, assert texts and lines stay), the mutant is judged by
``python -m harness run --profile P --c-source MUTANT --only FUNC,ITS-CALLERS`` in a scratch
directory.  Each mutant is then one of:

- caught: the run went red (exit 1);
- survived: the run stayed green, and nothing below explains why;
- equivalent: no input tells it apart (argued in :data:`ARGUED` for that very variable; it is
  run anyway, and one that is caught is reported as a contradiction);
- needs gigabytes: on defined inputs it changes behaviour only where the original copies,
  sets or reads 2**31 bytes or more of real memory (argued likewise), which no case holds.
  Where the original's copy of such a length is undefined, the narrowed one may copy less
  and run to its end, and the oracle refutes the port's claim when it checks that case; it
  trusts a (function, kind) it has confirmed once, so such a catch is luck: reported as caught;
- not rewritten: its address is passed on as a pointer to a wider type (``harness.gates.narrowing``).

``--from-json FILE`` applies the arguments again to the verdicts a run saved (after editing
them), without judging anything.

Exit status: 0 when every mutant is caught or argued, 1 when one survives unargued (or an
argued equivalent one is caught), 2 on a usage error or a mutant that does not build.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.gates.narrowing import Variable, mutant, variables  # noqa: E402
from harness.generate.families import WIDE  # noqa: E402
from iovspec.ctable import BY_NAME  # noqa: E402
from reference_c.csource import read_source  # noqa: E402

IOV_C = ROOT / "reference_c" / "iov.c"

#: the functions that read iov_len (and sizes) without touching the bytes, for some arguments:
#: those the families give wide entries, qemu_iovec_is_zero (harness.generate.families.WIDE says why it
#: gets none; its sizes meet the wide values as amounts) and iov_discard_undo (nothing to narrow)
LENGTH_ONLY = frozenset(WIDE) | {"qemu_iovec_is_zero", "iov_discard_undo"}

_COUNT_WITH_UNSIGNED = (
    "its one use compares it with an unsigned int counter ({counter} < {name}): the usual arithmetic "
    "conversions turn the int back into the very unsigned value it came from (GCC converts modulo "
    "2**32), so every comparison is the same"
)
_COUNTER = (
    "it counts entries from 0, one per iteration, and each iteration {reads}: to pass INT_MAX the "
    "loop must go through 2**31 entries, a 32 GiB array; below that int and unsigned int hold the "
    "same value, and {compare} converts it back unchanged"
)
_COPIED = (
    "it grows only by bytes really {verb} (each {what}'s length): it passes INT_MAX only after 2 GiB "
    "are {verb}, more memory than a case holds"
)
_ONE_COPY = (
    "it is the length of one {what}: 2**31 or more only where the original {verb} 2 GiB at once, "
    "undefined in every case (a case's regions are kilobytes); there the narrowed length may be "
    "short and defined, which the oracle sees only if it checks that very claim (see the module doc)"
)

#: (function, variable) -> (class, why): the mutants that cannot be caught, argued one by one
ARGUED: dict[tuple[str, str], tuple[str, str]] = {}
for _f, _verb, _what in (
    ("iov_from_buf_full", "copied", "memcpy"),
    ("iov_to_buf_full", "copied", "memcpy"),
    ("iov_memset", "set", "memset"),
):
    ARGUED[(_f, "iov_cnt")] = ("equivalent", _COUNT_WITH_UNSIGNED.format(counter="i", name="iov_cnt"))
    ARGUED[(_f, "i")] = (
        "equivalent",
        _COUNTER.format(reads="loads iov[i].iov_len", compare="i < iov_cnt (unsigned)"),
    )
    ARGUED[(_f, "done")] = ("needs gigabytes", _COPIED.format(verb=_verb, what=_what))
    ARGUED[(_f, "len")] = ("needs gigabytes", _ONE_COPY.format(what=_what, verb=_verb))
ARGUED[("iov_size", "iov_cnt")] = ("equivalent", _COUNT_WITH_UNSIGNED.format(counter="i", name="iov_cnt"))
ARGUED[("iov_size", "i")] = (
    "equivalent",
    _COUNTER.format(reads="loads iov[i].iov_len", compare="i < iov_cnt (unsigned)"),
)
ARGUED[("iov_copy", "iov_cnt")] = ("equivalent", _COUNT_WITH_UNSIGNED.format(counter="i", name="iov_cnt"))
ARGUED[("iov_copy", "dst_iov_cnt")] = (
    "equivalent",
    _COUNT_WITH_UNSIGNED.format(counter="j", name="dst_iov_cnt"),
)
ARGUED[("iov_copy", "i")] = (
    "equivalent",
    _COUNTER.format(reads="loads iov[i].iov_len", compare="i < iov_cnt (unsigned)"),
)
ARGUED[("iov_copy", "j")] = (
    "equivalent",
    _COUNTER.format(
        reads="stores dst_iov[j] (j counts entries written)", compare="j < dst_iov_cnt (unsigned)"
    ),
)
ARGUED[("qemu_iovec_is_zero", "len")] = (
    "needs gigabytes",
    _ONE_COPY.format(what="buffer_is_zero read", verb="reads"),
)
ARGUED[("qemu_iovec_discard_back", "niov")] = (
    "equivalent",
    "int and unsigned int have the same width and representation: it is loaded from the int "
    "qiov->niov, passed as unsigned int * to iov_discard_back (which stores through it) and stored "
    "back into the int qiov->niov; every conversion on the way is modulo 2**32 in GCC, so the same "
    "bits arrive either way",
)


@dataclass
class Result:
    """One mutant and what became of it."""

    func: str
    variable: str
    declared: str
    param: bool
    line: int
    status: str  # caught, survived, equivalent, needs gigabytes, not rewritten, contradicts, no build
    why: str = ""
    verdict: str = ""  # the run's own, before any argument: caught, survived, not rewritten, no build
    exit_code: int | None = None
    cases: int = 0
    seconds: float = 0.0
    only: str = ""
    red: str = ""  # the first red row: engine, function, kind, difference


def _scope(source: Path, var: Variable) -> list[str]:
    """The mutated function and every function of the source that calls it (which the port has)."""
    callers = read_source(source).callers(var.func)
    return [var.func, *sorted(c for c in callers if c in BY_NAME)]


def judge(var: Variable, text: str, source: Path, args: argparse.Namespace) -> Result:
    """Build and judge the mutant of ``var``; the result before any argument is applied."""
    result = Result(var.func, var.name, var.ctype, var.param, var.line, "survived")
    if not var.rewritable:
        result.status = "not rewritten"
        result.why = "its address is passed on as a pointer to a wider type: int would be a type confusion"
        return result
    only = ",".join(_scope(source, var))
    result.only = only
    with tempfile.TemporaryDirectory(prefix="narrow-") as tmp:
        path = Path(tmp) / f"iov-{var.func}-{var.name}.c"
        path.write_text(mutant(text, var))
        if args.keep:
            keep = Path(args.keep)
            keep.mkdir(parents=True, exist_ok=True)
            (keep / path.name).write_text(path.read_text())
        out = Path(tmp) / "run.json"
        command = [
            sys.executable, "-m", "harness", "run", "--profile", args.profile, "--engine", args.engine,
            "--c-source", str(path), "--only", only, "--jobs", str(args.jobs), "--seed", str(args.seed),
            "--db", "none", "--report", str(Path(tmp) / "reports"), "--json", str(out),
        ]  # fmt: skip
        env = dict(os.environ, PYTHONPATH=str(ROOT), IOVCONF_NO_DB="1")
        start = time.monotonic()
        proc = subprocess.run(command, cwd=tmp, env=env, capture_output=True, text=True, check=False)
        result.seconds = round(time.monotonic() - start, 1)
        result.exit_code = proc.returncode
        if out.exists():
            rows = json.loads(out.read_text()).get("rows", [])
            result.cases = sum(int(r.get("cases") or 0) for r in rows)
            red = next((r for r in rows if r.get("red")), None)
            if red is not None:
                first = str(red.get("difference", "")).splitlines()[:1]
                result.red = f"{red['group']} {red['function']}: {red.get('kind', '')}: {' '.join(first)}"[
                    :300
                ]
    if proc.returncode == 1:
        result.status = "caught"
    elif proc.returncode != 0:
        result.status = "no build"
        result.why = (
            (proc.stderr or proc.stdout).strip().splitlines()[-1:][0] if proc.stderr or proc.stdout else ""
        )
    return result


def argue(result: Result) -> Result:
    """Apply the argument of :data:`ARGUED` to the verdict of a judged mutant."""
    result.verdict = result.verdict or result.status
    result.status = result.verdict
    argued = ARGUED.get((result.func, result.variable))
    if argued is None or result.verdict not in ("survived", "caught"):
        return result
    status, why = argued
    result.why = why
    if result.verdict == "survived":
        result.status = status
    elif status == "equivalent":
        result.status = "contradicts"
    return result


def _saved(path: str) -> list[Result]:
    """The results a run wrote with ``--json``, their verdicts as the run saw them."""
    results = []
    for raw in json.loads(Path(path).read_text())["mutants"]:
        result = Result(**{k: v for k, v in raw.items() if k in Result.__dataclass_fields__})
        if not result.verdict:  # written before verdicts were saved: from the exit status
            code = result.exit_code
            result.verdict = {None: "not rewritten", 0: "survived", 1: "caught"}.get(code, "no build")
        results.append(result)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--source", default=str(IOV_C), help="the C source to mutate (default: the original)")
    parser.add_argument(
        "--functions", default="", help="comma-separated, or 'all' (default: those reading lengths only)"
    )
    parser.add_argument("--profile", default="quick", choices=("quick", "default", "deep"))
    parser.add_argument("--engine", default="all", help="as harness run --engine (default: all)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", default="2")
    parser.add_argument("--json", help="write every result here")
    parser.add_argument("--keep", help="keep the mutant sources in this directory")
    parser.add_argument("--list", action="store_true", help="only list the mutants, judge none")
    parser.add_argument("--from-json", help="apply the arguments to the verdicts this file saved; judge none")
    args = parser.parse_args(argv)
    if args.from_json:
        again = [argue(r) for r in _saved(args.from_json)]
        for r in again:
            print(f"{r.func}: {'parameter' if r.param else 'local'} {r.declared} {r.variable}: {r.status}")
        saved = json.loads(Path(args.from_json).read_text())
        return _summarise(again, args, saved.get("seconds", 0.0), saved)

    source = Path(args.source).resolve()
    funcs = (
        None
        if args.functions == "all"
        else frozenset(args.functions.split(","))
        if args.functions
        else LENGTH_ONLY
    )
    if funcs is not None and (unknown := sorted(funcs - set(BY_NAME))):
        parser.error(f"--functions: unknown {', '.join(unknown)}")
    found = variables(source, funcs)
    text = source.read_text()
    print(f"{len(found)} narrowable variables in {len({v.func for v in found})} functions")
    if args.list:
        for var in found:
            print(f"  {var.label} (line {var.line})" + ("" if var.rewritable else ": not rewritten"))
        return 0
    results: list[Result] = []
    started = time.monotonic()
    for k, var in enumerate(found, 1):
        result = argue(judge(var, text, source, args))
        results.append(result)
        print(f"[{k}/{len(found)}] {var.label}: {result.status} ({result.cases} cases, {result.seconds}s)")
        if result.red:
            print(f"    {result.red}")
        if result.why and result.status != "caught":
            print(f"    why: {result.why}")
        sys.stdout.flush()
    run = {"source": str(source), "profile": args.profile, "engine": args.engine, "seed": args.seed}
    return _summarise(results, args, round(time.monotonic() - started, 1), {**run, "jobs": args.jobs})


def _summarise(
    results: list[Result], args: argparse.Namespace, seconds: float, run: dict[str, object]
) -> int:
    """Print the counts, write ``--json``; the exit status."""
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    print("summary: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    if args.json:
        keep = ("source", "profile", "engine", "seed", "jobs")
        report = {**{k: run[k] for k in keep if k in run}, "seconds": seconds, "counts": counts}
        report["mutants"] = [asdict(r) for r in results]
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    if counts.get("no build"):
        return 2
    return 1 if counts.get("survived") or counts.get("contradicts") else 0


if __name__ == "__main__":
    raise SystemExit(main())
