#!/usr/bin/env python3
"""Mutation check of the harness: every one-line change of iov.c must be caught.

Generates one-line mutants of reference_c/iov.c (relational and arithmetic
operator swaps, constants off by one, && <-> ||, MIN <-> MAX, a deleted statement;
line numbers are kept so assert records stay comparable), builds each through
``reference_c.load(path)`` and runs the campaign for the function it touches and
the functions that call it.  A mutant is *killed* when a discrepancy is found.

    python ci/mutants.py [--limit N] [--examples N] [--jobs 2] [--func NAME] [--out FILE]

Survivors are listed with their line so they can be judged equivalent or not.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


IOV_C = ROOT / "reference_c" / "iov.c"
PORT = ROOT / "pyimpl" / "iov.py"

#: operator swaps both languages share
_COMMON = [
    (r"<=", "<"),
    (r"(?<![<-])<(?![<=])", "<="),
    (r">=", ">"),
    (r"(?<![->])>(?![>=])", ">="),
    (r"==", "!="),
    (r"!=", "=="),
    (r"\+=", "-="),
    (r"-=", "+="),
    (r"(?<=\w) \+ (?=\w)", " - "),
    (r"(?<=\w) - (?=\w)", " + "),
]
PY_SWAPS = [
    *_COMMON,
    (r"\band\b", "or"),
    (r"\bor\b", "and"),
    (r"\bmin\(", "max("),
    (r"\bmax\(", "min("),
    (r"(?<![\w.])0(?![\w.x])", "1"),
    (r"(?<![\w.])1(?![\w.])", "0"),
    (r"(?<![\w.])1(?![\w.])", "2"),
    (r"\bnot ", ""),
    (r"\bTrue\b", "False"),
    (r"\bFalse\b", "True"),
]

SWAPS = [
    *_COMMON,
    (r"&&", "||"),
    (r"\|\|", "&&"),
    (r"\+\+", "--"),
    (r"--", "++"),
    (r"\bMIN\(", "MAX("),
    (r"\bMAX\(", "MIN("),
    (r"(?<![\w.])0(?![\w.x])", "1"),
    (r"(?<![\w.])1(?![\w.])", "0"),
    (r"(?<![\w.])1(?![\w.])", "2"),
    (r"!(?!=)", ""),
    (r"\btrue\b", "false"),
    (r"\bfalse\b", "true"),
]

#: who calls whom, so a mutant inside a helper is looked for through its callers too
CALLERS = {
    "iov_from_buf_full": ["iov_from_buf", "qemu_iovec_from_buf"],
    "iov_to_buf_full": ["iov_to_buf", "qemu_iovec_to_buf"],
    "iov_memset": ["qemu_iovec_memset"],
    "qemu_iovec_add": ["qemu_iovec_init", "qemu_iovec_concat_iov", "qemu_iovec_concat", "qemu_iovec_clone"],
    "qemu_iovec_concat_iov": ["qemu_iovec_concat"],
    "iov_skip_offset": [
        "qiov_slice",
        "qemu_iovec_subvec_niov",
        "qemu_iovec_init_extended",
        "qemu_iovec_is_zero",
        "qemu_iovec_init_slice",
    ],
    "qiov_slice": ["qemu_iovec_subvec_niov", "qemu_iovec_init_extended", "qemu_iovec_init_slice"],
    "qemu_iovec_init_extended": ["qemu_iovec_init_slice"],
    "sortelem_cmp_src_base": ["qemu_iovec_clone"],
    "sortelem_cmp_src_index": ["qemu_iovec_clone"],
    "iov_discard_front_undoable": ["iov_discard_front", "iov_discard_undo"],
    "iov_discard_back_undoable": ["iov_discard_back", "qemu_iovec_discard_back", "iov_discard_undo"],
    "iov_discard_back": ["qemu_iovec_discard_back"],
    "iov_discard_undo": ["iov_discard_front_undoable"],
    "do_send_recv": ["iov_send_recv", "iov_send", "iov_recv"],
    "iov_send_recv": ["iov_send", "iov_recv"],
    "iov_copy": ["iov_send_recv", "iov_recv"],
}


def swapped(text: str, code: str, swaps: list[tuple[str, str]]) -> list[str]:
    """Each distinct line made by applying one swap at one place in ``code`` (a prefix of ``text``)."""
    seen: list[str] = []
    for pattern, repl in swaps:
        for m in re.finditer(pattern, code):
            new = text[: m.start()] + repl + text[m.end() :]
            if new != text and new not in seen:
                seen.append(new)
    return seen


def function_of_lines(lines: list[str]) -> list[str]:
    func, out = "?", []
    for text in lines:
        m = re.match(r"^(?:static\s+)?[\w\s\*]*?\b(\w+)\s*\(", text)
        if text and not text[0].isspace() and m and not text.rstrip().endswith(";"):
            func = m.group(1)
        out.append(func)
    return out


def mutants() -> list[tuple[int, str, str, str]]:
    """(line number, function, original line, mutated line) for every one-line mutant."""
    lines = IOV_C.read_text().split("\n")
    funcs = function_of_lines(lines)
    out = []
    in_comment = False
    dead = False  # inside `#else` of `#ifdef CONFIG_POSIX`: never compiled here
    for i, text in enumerate(lines):
        stripped = text.strip()
        if stripped.startswith("#else"):
            dead = True
        elif stripped.startswith("#endif"):
            dead = False
        if dead:
            continue
        if stripped.startswith("/*"):
            in_comment = not stripped.endswith("*/")
            continue
        if in_comment:
            in_comment = "*/" not in stripped
            continue
        if i < 24 or not stripped or stripped.startswith(("//", "*", "#")) or funcs[i] == "?":
            continue
        out += [(i + 1, funcs[i], text, new) for new in swapped(text, text.split("/*")[0], SWAPS)]
        if stripped.endswith(";") and not stripped.startswith(("return", "}")) and "{" not in stripped:
            out.append((i + 1, funcs[i], text, ""))  # the statement deleted, line kept
    return out


def port_mutants() -> list[tuple[int, str, str, str]]:
    """One-line mutants of the port's function bodies (a deleted statement becomes ``pass``)."""
    lines = PORT.read_text().split("\n")
    out, func = [], "?"
    in_docstring = False
    for i, text in enumerate(lines):
        m = re.match(r"^def (\w+)\(", text)
        if m:
            func = m.group(1)
            continue
        stripped = text.strip()
        if text.count('"""') % 2:  # a docstring opens or closes on this line
            in_docstring = not in_docstring
            continue
        if in_docstring:
            continue
        if (
            func.startswith("_")
            or not text.startswith("    ")
            or not stripped
            or stripped.startswith(("#", '"""', "@", "def ", "return (", ")"))
        ):
            continue
        code = text.split("#")[0]
        if re.search(r'"[^"]*"', code) and "_assert(" in code:
            code = code.split('"')[0]  # mutate the condition, not the expression text
        out += [(i + 1, func, text, new) for new in swapped(text, code, PY_SWAPS)]
        if not stripped.endswith((":", ",", "(")) and not stripped.startswith(
            ("return", "raise", "if ", "while ")
        ):
            indent = text[: len(text) - len(text.lstrip())]
            out.append((i + 1, func, text, indent + "pass"))
    return out


def load_port_mutant(path: Path) -> object:
    import importlib.util

    spec = importlib.util.spec_from_file_location("pyimpl._mutant_iov", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "pyimpl"
    spec.loader.exec_module(module)
    return module


def unconfirmed_ub(samples: dict[str, str]) -> str | None:
    """The first UB claim of the port that the sanitizers do not confirm (as the CLI checks)."""
    from harness.case import case_from_json
    from harness.ub import EXPECTED, confirms, sanitizer_report

    for kind, text in samples.items():
        report = sanitizer_report(case_from_json(text), None)
        if kind not in EXPECTED or not confirms(kind, report):
            return f"{kind}: {report}"
    return None


def check_port(args: tuple[int, int, str, str, str, int, int]) -> dict[str, object]:
    """Run the campaign with a mutated port against the original C."""
    index, lineno, func, old, new, examples, seed = args
    import reference_c
    from harness.campaign import Config, Profile, run_function
    from harness.judge import Judge
    from harness.worlds import CWorld, PyWorld

    lines = PORT.read_text().split("\n")
    lines[lineno - 1] = new
    verdict: dict[str, object] = {
        "index": index,
        "line": lineno,
        "func": func,
        "old": old.strip(),
        "new": new.strip(),
    }
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "iov_mutant.py"
        path.write_text("\n".join(lines))
        try:
            module = load_port_mutant(path)
        except Exception as exc:
            verdict.update(status="does-not-build", detail=str(exc)[:200])
            return verdict
        judge = Judge(PyWorld(module), CWorld(reference_c.load(None)))  # type: ignore[arg-type]
        config = Config(Profile("mutant", examples), None, "trap", seed, None)
        for name in targets(func):
            r = run_function(name, config, judge)
            if r.difference or r.error:
                verdict.update(status="killed", by=name, detail=(r.difference or r.error or "")[:200])
                break
            claim = unconfirmed_ub(r.ub_samples)
            if claim:
                verdict.update(status="killed", by=name, detail=f"UB claim not confirmed: {claim}"[:200])
                break
        else:
            verdict.update(status="survived", tried=targets(func))
    verdict["seconds"] = round(time.perf_counter() - start, 2)
    return verdict


def targets(func: str) -> list[str]:
    from harness.campaign import CAMPAIGNS as STRATEGIES

    names = [func, *CALLERS.get(func, [])]
    return [n for n in dict.fromkeys(names) if n in STRATEGIES]


def check(args: tuple[int, int, str, str, str, int, int]) -> dict[str, object]:
    index, lineno, func, old, new, examples, seed = args
    import reference_c
    from harness.campaign import Config, Profile, make_judge, run_function

    lines = IOV_C.read_text().split("\n")
    lines[lineno - 1] = new
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"mutant{index}.c"
        path.write_text("\n".join(lines))
        start = time.perf_counter()
        verdict: dict[str, object] = {
            "index": index,
            "line": lineno,
            "func": func,
            "old": old.strip(),
            "new": new.strip() or "<deleted>",
        }
        try:
            reference_c.load(str(path))
        except Exception as exc:
            verdict.update(status="does-not-build", detail=str(exc)[:200])
            return verdict
        config = Config(Profile("mutant", examples), str(path), "trap", seed, None)
        judge = make_judge(config)
        for name in targets(func):
            r = run_function(name, config, judge)
            if r.difference:
                verdict.update(status="killed", by=name, detail=r.difference[:200])
                break
            if r.error:
                verdict.update(status="error", by=name, detail=r.error[:200])
                break
        else:
            verdict.update(status="survived", tried=targets(func))
        verdict["seconds"] = round(time.perf_counter() - start, 2)
        return verdict


def isolated(job: tuple[int, int, str, str, str, int, int], target: str, timeout: float) -> dict[str, object]:
    """Check one mutant in a fresh process: a mutant that wrecks or hangs it cannot stall the run.

    A process that outlives ``timeout`` is what the CLI's watchdog reports as a hung
    worker, so the mutant counts as caught."""
    index, lineno, func, old, new = job[:5]
    try:
        out = subprocess.run(
            [sys.executable, __file__, "--one", json.dumps([target, *job])],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        verdict: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    except subprocess.TimeoutExpired:
        verdict = {"status": "killed", "by": "watchdog", "detail": f"no verdict in {timeout:.0f}s (hung)"}
    except (IndexError, json.JSONDecodeError):
        verdict = {"status": "killed", "by": "crash", "detail": f"checker died: {out.returncode}"}
    verdict.update(index=index, line=lineno, func=func, old=old.strip(), new=new.strip() or "<deleted>")
    return verdict


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--limit", type=int, help="check a random sample of this many mutants")
    ap.add_argument("--examples", type=int, default=300)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--func", help="only mutants inside this C function")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default="mutants.json")
    ap.add_argument(
        "--timeout", type=float, default=300.0, help="seconds per mutant before it counts as hung"
    )
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--rerun", help="a previous --out file: check only the mutants it did not kill")
    ap.add_argument("--target", choices=("c", "port"), default="c", help="mutate iov.c or pyimpl/iov.py")
    a = ap.parse_args()
    if a.one:
        target, *job = json.loads(a.one)
        verdict = (check if target == "c" else check_port)(tuple(job))  # type: ignore[arg-type]
        print(json.dumps(verdict, default=str))
        return 0
    source = mutants() if a.target == "c" else port_mutants()
    todo = list(source)
    if a.rerun:
        previous = json.loads(Path(a.rerun).read_text())
        again = {(v["line"], v["new"]) for v in previous if v["status"] != "killed"}
        todo = [m for m in todo if (m[0], m[3].strip() or "<deleted>") in again]
    if a.func:
        todo = [m for m in todo if m[1] == a.func]
    if a.limit and a.limit < len(todo):
        todo = random.Random(a.seed).sample(todo, a.limit)
    print(f"{len(todo)} mutants", flush=True)
    jobs = [(k, ln, f, old, new, a.examples, a.seed) for k, (ln, f, old, new) in enumerate(todo)]
    results = []
    with ThreadPoolExecutor(a.jobs) as pool:
        for v in pool.map(lambda job: isolated(job, a.target, a.timeout), jobs):
            results.append(v)
            print(
                f"[{len(results)}/{len(jobs)}] {v['status']:14} {v['func']}:{v['line']} "
                f"{v['old']!r} -> {v['new']!r}",
                flush=True,
            )
    Path(a.out).write_text(json.dumps(sorted(results, key=lambda v: int(str(v["index"]))), indent=1))
    counts: dict[str, int] = {}
    for v in results:
        counts[str(v["status"])] = counts.get(str(v["status"]), 0) + 1
    print(counts)
    for v in results:
        if v["status"] != "killed" and v["status"] != "does-not-build":
            print(f"  {v['status']}: {v['func']}:{v['line']} {v['old']!r} -> {v['new']!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
