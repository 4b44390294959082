"""``python -m harness mutate``: mutation testing of the harness, with a gate.

Every one-line mutant of ``reference_c/iov.c`` (``--side c``) or of the port's
``pyimpl/iov.py`` (``--side py``) must be caught: relational and arithmetic operators
swapped, constants off by one, ``&&``/``||`` and ``MIN``/``MAX`` (``and``/``or``,
``min``/``max``) swapped, negations dropped, a statement deleted (``pass`` in Python;
line numbers are kept, so assert records stay comparable).  Each mutant runs in a
process of its own with a time limit: it is built (C) or imported (Python), then the
Hypothesis campaign (``campaign.ENGINES``) of the function it sits in and of that
function's callers is judged by the usual judge, UB claims confirmed by the UB oracle
(for a C mutant, the mutant's own sanitize build).

A mutant is *killed* when a campaign finds a difference (or the mutant hangs past
``--timeout``, or kills its process), *survives* when every campaign agrees, and *does
not build* when the compiler or the import refuses it.  A survivor that does not change
behaviour is listed, with the reason, in ``harness/gates/mutants_equivalent.toml``: ``kind =
"equivalent"`` when no input tells it apart, ``"ub-only"`` when only undefined behaviour
that the trap build cannot observe does (see :data:`KINDS`).  A mutant is named there by
(side, function, original line, mutated line), never by line number.

Exit status: 0 every mutant killed, listed as equivalent or not building; 1 a survivor
not listed; 2 a usage error, or a mutant whose check itself failed (a harness error).
"""

from __future__ import annotations

import argparse
import ast
import functools
import json
import math
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.campaign.plan import jobs_count
from reference_c.csource import read_source

ROOT = Path(__file__).resolve().parents[2]
IOV_C = ROOT / "reference_c" / "iov.c"
PORT = ROOT / "pyimpl" / "iov.py"
#: the port's fast paths (pyimpl.iov calls them): mutated as helpers of the functions that use them
FASTPATHS = ROOT / "pyimpl" / "fastpaths.py"
EQUIVALENTS = Path(__file__).resolve().parent / "mutants_equivalent.toml"

EXIT_OK, EXIT_SURVIVOR, EXIT_USAGE = 0, 1, 2

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
C_SWAPS = [
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

#: the campaigns whose cases call a function besides their own (their family makes the call),
#: which see its mutants too; who calls whom in C is read from the source (:func:`callers`)
CALLED_BY_CASES_OF = {
    "qemu_iovec_add": ("qemu_iovec_init",),
    "iov_discard_front_undoable": ("iov_discard_undo",),
    "iov_discard_back_undoable": ("iov_discard_undo",),
    "iov_discard_undo": ("iov_discard_front_undoable",),
}


@functools.cache
def callers(func: str) -> list[str]:
    """The functions whose campaigns can see a change in ``func`` besides its own: every function
    of iov.c that reaches it (the call graph of the parsed source, ``reference_c.csource``),
    then those whose cases call it (:data:`CALLED_BY_CASES_OF`)."""
    source = read_source(IOV_C)
    reach = sorted(source.callers(func)) if func in source.functions else []
    return list(dict.fromkeys([*reach, *CALLED_BY_CASES_OF.get(func, ())]))


@dataclass(frozen=True)
class Mutant:
    """One one-line change: ``line`` (1-based) of ``side``'s file becomes ``mutated``."""

    side: str  # "c" or "py"
    line: int
    func: str
    original: str
    mutated: str
    #: the mutated file, relative to the checkout, when not the side's own (pyimpl/fastpaths.py)
    file: str = ""

    @property
    def path(self) -> Path:
        if self.file:
            return ROOT / self.file
        return IOV_C if self.side == "c" else PORT

    @property
    def identity(self) -> tuple[str, str, str, str]:
        """How the equivalents file names it: never by line number, which moves."""
        return (self.side, self.func, self.original.strip(), self.shown)

    @property
    def shown(self) -> str:
        return self.mutated.strip() or "<deleted>"


@dataclass
class Verdict:
    """What checking one mutant found."""

    mutant: Mutant
    status: str  # killed, survived, does-not-build, error
    by: str = ""
    detail: str = ""
    seconds: float = 0.0
    tried: list[str] = field(default_factory=list)


# -- the mutants --------------------------------------------------------------------------------


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
    """The C function each line sits in ("?" outside functions)."""
    func, out = "?", []
    for text in lines:
        m = re.match(r"^(?:static\s+)?[\w\s\*]*?\b(\w+)\s*\(", text)
        if text and not text[0].isspace() and m and not text.rstrip().endswith(";"):
            func = m.group(1)
        out.append(func)
    return out


def c_mutants(source: Path = IOV_C) -> list[Mutant]:
    """Every one-line mutant of a C source's function bodies."""
    lines = source.read_text().split("\n")
    funcs = function_of_lines(lines)
    out: list[Mutant] = []
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
        code = text.split("/*")[0]
        out += [Mutant("c", i + 1, funcs[i], text, new) for new in swapped(text, code, C_SWAPS)]
        if stripped.endswith(";") and not stripped.startswith(("return", "}")) and "{" not in stripped:
            out.append(Mutant("c", i + 1, funcs[i], text, ""))  # the statement deleted, line kept
    return out


def py_mutants(source: Path = PORT) -> list[Mutant]:
    """One-line mutants of the port's function bodies (a deleted statement becomes ``pass``),
    and of the fast paths that stand for the body of one or two of them."""
    out = _py_mutants(source, helper_callers(source), public=True)
    if source == PORT:
        out += _py_mutants(FASTPATHS, fastpath_callers(), public=False)
    return out


def _py_mutants(source: Path, helpers: dict[str, list[str]], public: bool) -> list[Mutant]:
    """The mutants of ``source``'s functions (and methods, as ``Class.name``): the public ones
    (``public``) and the ``helpers``."""
    lines = source.read_text().split("\n")
    file = "" if source == PORT else str(source.relative_to(ROOT))
    out: list[Mutant] = []
    func = cls = "?"
    in_docstring = False
    for i, text in enumerate(lines):
        m = re.match(r"^(class|def) (\w+)\b", text) or re.match(r"^    (def) (\w+)\(", text)
        if m:
            if m.group(1) == "class":
                cls, func = m.group(2), "?"  # its own lines (__slots__) are no code to mutate
            else:
                func = m.group(2) if not text.startswith(" ") else f"{cls}.{m.group(2)}"
            continue
        stripped = text.strip()
        if text.count('"""') % 2:  # a docstring opens or closes on this line
            in_docstring = not in_docstring
            continue
        if in_docstring:
            continue
        if (
            func == "?"
            or ((func.startswith("_") or not public) and func not in helpers)
            or not text.startswith("    ")
            or not stripped
            or stripped.startswith(("#", '"""', "@", "def ", "return (", ")"))
        ):
            continue
        code = text.split("#")[0]
        if re.search(r'"[^"]*"', code) and "_assert(" in code:
            code = code.split('"')[0]  # mutate the condition, not the expression text
        out += [Mutant("py", i + 1, func, text, new, file) for new in swapped(text, code, PY_SWAPS)]
        if not stripped.endswith((":", ",", "(")) and not stripped.startswith(
            ("return", "raise", "if ", "while ")
        ):
            indent = text[: len(text) - len(text.lstrip())]
            out.append(Mutant("py", i + 1, func, text, indent + "pass", file))
    return out


#: a private helper of the port is mutated when at most this many ported functions call it (a
#: body two C functions share, as ``_send_recv``); one that everything calls (``_len``) is not
MAX_HELPER_CALLERS = 2


def helper_callers(source: Path = PORT) -> dict[str, list[str]]:
    """The port's private helpers that stand for the body of one or two ported functions, with
    those functions: the campaigns of the functions (and of their callers) judge its mutants."""
    text = source.read_text()
    bodies = dict(re.findall(r"(?ms)^def (\w+)\((.*?)(?=^def |^@|\Z)", text))
    out: dict[str, list[str]] = {}
    for helper in (name for name in bodies if name.startswith("_")):
        called = re.compile(rf"(?<![\w.]){helper}\(")
        callers = [n for n, body in bodies.items() if not n.startswith("_") and called.search(body)]
        if 1 <= len(callers) <= MAX_HELPER_CALLERS:
            out[helper] = callers
    return out


def fastpath_callers() -> dict[str, list[str]]:
    """The fast paths (functions, and each method as ``Class.name``) that one or two ported
    functions use, directly or through other fast paths, with those functions."""
    uses = {
        name: set(re.findall(r"\bfastpaths\.(\w+)", body))
        for name, body in re.findall(r"(?ms)^def (\w+)\((.*?)(?=^def |^@|\Z)", PORT.read_text())
        if not name.startswith("_")
    }
    tops = [
        node
        for node in ast.parse(FASTPATHS.read_text()).body
        if isinstance(node, ast.FunctionDef | ast.ClassDef)
    ]
    names = {node.name for node in tops}
    calls = {  # the fast paths each one names in its code (not in its docstring)
        node.name: {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and n.id in names} - {node.name}
        for node in tops
    }
    out: dict[str, list[str]] = {}
    for node in tops:
        reached, todo = {node.name}, [node.name]
        while todo:  # what uses it within the fast paths, transitively
            callee = todo.pop()
            for caller, callees in calls.items():
                if callee in callees and caller not in reached:
                    reached.add(caller)
                    todo.append(caller)
        callers = [p for p, used in uses.items() if used & reached]
        if 1 <= len(callers) <= MAX_HELPER_CALLERS:
            out[node.name] = callers
            if isinstance(node, ast.ClassDef):
                methods = (m.name for m in node.body if isinstance(m, ast.FunctionDef))
                out.update({f"{node.name}.{m}": callers for m in methods})
    return out


def targets(func: str) -> list[str]:
    """The campaigns that can see a change in ``func``: its own and its callers' (for a helper of
    the port, those of the functions it is the body of)."""
    from harness.campaign.pool import CAMPAIGNS

    names = [func, *callers(func)]
    for public in {**helper_callers(), **fastpath_callers()}.get(func, []):
        names += [public, *callers(public)]
    return [n for n in dict.fromkeys(names) if n in CAMPAIGNS]


# -- the equivalents file -------------------------------------------------------------------------


#: what a listed survivor is: no input tells it apart, or only undefined behaviour does
KINDS = {
    "equivalent": "no input can tell it from the original (dead code, or the same machine code)",
    "ub-only": "it differs only by undefined behaviour (an out-of-bounds read, say) that the trap "
    "build cannot observe; only a sanitized run of C on a case the port calls defined would",
}


@dataclass(frozen=True)
class Equivalent:
    side: str
    function: str
    original: str
    mutated: str
    reason: str
    kind: str = "equivalent"

    @property
    def identity(self) -> tuple[str, str, str, str]:
        return (self.side, self.function, self.original.strip(), self.mutated.strip())


def load_equivalents(path: Path = EQUIVALENTS) -> dict[tuple[str, str, str, str], Equivalent]:
    """The mutants listed as equivalent, by identity; a malformed entry is a ValueError."""
    if not path.exists():
        return {}
    data = tomllib.loads(path.read_text())
    found: dict[tuple[str, str, str, str], Equivalent] = {}
    for side in ("c", "py"):
        for k, entry in enumerate(data.get(side, [])):
            missing = [key for key in ("function", "original", "mutated", "reason") if not entry.get(key)]
            if missing:
                raise ValueError(f"{path}: [[{side}]] entry {k + 1} lacks {', '.join(missing)}")
            kind = entry.get("kind", "equivalent")
            if kind not in KINDS:
                raise ValueError(
                    f"{path}: [[{side}]] entry {k + 1}: kind {kind!r} is not one of {sorted(KINDS)}"
                )
            eq = Equivalent(
                side, entry["function"], entry["original"], entry["mutated"], entry["reason"], kind
            )
            found[eq.identity] = eq
    unknown = set(data) - {"c", "py"}
    if unknown:
        raise ValueError(f"{path}: unknown tables {sorted(unknown)} (expected [[c]] and [[py]])")
    return found


def toml_entry(m: Mutant) -> str:
    """The entry to paste into the equivalents file for ``m`` (reason left to write)."""
    return (
        f"[[{m.side}]]\nfunction = {json.dumps(m.func)}\noriginal = {json.dumps(m.original.strip())}\n"
        f'mutated = {json.dumps(m.shown)}\nkind = "equivalent"  # or "ub-only"\nreason = ""\n'
    )


@dataclass
class Gate:
    """The verdict over a run: survivors not listed, listed ones, errors, and the exit status."""

    unlisted: list[Verdict]
    equivalent: list[Verdict]
    errors: list[Verdict]
    killed: int
    unbuildable: int

    @property
    def exit_status(self) -> int:
        if self.unlisted:
            return EXIT_SURVIVOR
        return EXIT_USAGE if self.errors else EXIT_OK

    @property
    def score(self) -> float:
        """Killed among the mutants that build and are not equivalent (1.0 when there are none)."""
        judged = self.killed + len(self.unlisted) + len(self.errors)
        return self.killed / judged if judged else 1.0


def gate(verdicts: Iterable[Verdict], equivalents: dict[tuple[str, str, str, str], Equivalent]) -> Gate:
    g = Gate([], [], [], 0, 0)
    for v in verdicts:
        if v.status == "killed":
            g.killed += 1
        elif v.status == "does-not-build":
            g.unbuildable += 1
        elif v.status == "survived":
            (g.equivalent if v.mutant.identity in equivalents else g.unlisted).append(v)
        else:
            g.errors.append(v)
    return g


# -- checking one mutant (in a process of its own) -------------------------------------------------


def _load_port_mutant(path: Path, fastpaths: Path | None = None) -> Any:
    """The port's functions from ``path`` (a mutated iov.py), or from a fresh iov.py over the
    mutated ``fastpaths`` (this process is the mutant's own: pyimpl.fastpaths stays replaced)."""
    import importlib.util

    import pyimpl

    def load(name: str, where: Path) -> Any:
        spec = importlib.util.spec_from_file_location(f"pyimpl.{name}", where)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        module.__package__ = "pyimpl"
        spec.loader.exec_module(module)
        return module

    if fastpaths is not None:
        sys.modules["pyimpl.fastpaths"] = pyimpl.fastpaths = load("fastpaths", fastpaths)
    return load("_mutant_iov", path)


def engines_of(profile: str | None, func: str) -> list[str]:
    """The engines that judge a mutant's campaign ``func``: the Hypothesis engine alone (with
    ``--examples``), or every engine a run of ``profile`` gives the function (the stateful
    machine aside), cheapest first."""
    from harness.engines.exhaustive import FUNCTIONS

    if profile is None:
        return ["hypothesis"]
    return ["batched", "hypothesis", "exhaustive"] if func in FUNCTIONS else ["hypothesis"]


def check_mutant(m: Mutant, examples: int, seed: int, profile_name: str | None = None) -> Verdict:
    """Build or import the mutant, then run the campaigns that can see it (in this process)."""
    import reference_c
    from harness.campaign.pool import ENGINES, PROFILES, Config, Profile, make_judge
    from harness.verdict.functions_in_source import in_source
    from harness.verdict.judge import Judge
    from harness.worlds.world import CWorld, PyWorld

    source = m.path
    lines = source.read_text().split("\n")
    lines[m.line - 1] = m.mutated
    verdict = Verdict(m, "survived", tried=targets(m.func))
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="iovconf-mutant-") as tmp:
        path = Path(tmp) / ("mutant.c" if m.side == "c" else f"mutant_{source.name}")
        path.write_text("\n".join(lines))
        try:
            if m.side == "c":
                built = reference_c.load(str(path))
            else:
                module = _load_port_mutant(PORT, path) if source == FASTPATHS else _load_port_mutant(path)
                built = reference_c.load(None)
        except Exception as exc:
            verdict.status, verdict.detail = "does-not-build", f"{type(exc).__name__}: {exc}"[:300]
            return verdict
        found = in_source(built, verdict.tried)
        if found.changed:  # the mutant changed a prototype: a difference before any case
            name, proto = next(iter(found.changed.items()))
            verdict.status, verdict.by, verdict.detail = "killed", name, f"prototype changed: {proto}"[:300]
            verdict.seconds = round(time.perf_counter() - start, 2)
            return verdict
        verdict.tried = found.run  # not the functions of later revisions
        profile = PROFILES[profile_name] if profile_name else Profile("mutant", examples, 0, "quick", 0)
        if m.side == "c":
            config = Config(profile, str(path), "trap", seed, None, strict_asserts=True)
            judge = make_judge(config)
        else:
            config = Config(profile, None, "trap", seed, None, strict_asserts=True)
            judge = Judge(PyWorld(module), CWorld(reference_c.load(None)), strict_asserts=True)
        runs = [(engine, name) for name in verdict.tried for engine in engines_of(profile_name, name)]
        for engine, name in runs:
            r = ENGINES[engine](name, config, judge)
            by = name if profile_name is None else f"{engine} {name}"
            if r.difference:
                verdict.status, verdict.by, verdict.detail = "killed", by, r.difference[:300]
                break
            if r.error:
                # a port mutant that raises what C cannot is a difference the port shows itself
                status = "killed" if m.side == "py" else "error"
                verdict.status, verdict.by, verdict.detail = status, by, r.error[:300]
                break
    verdict.seconds = round(time.perf_counter() - start, 2)
    return verdict


def isolated(m: Mutant, examples: int, seed: int, timeout: float, profile: str | None = None) -> Verdict:
    """Check ``m`` in a fresh process: a mutant that wrecks or hangs it cannot stall the run.
    A process that outlives ``timeout`` is what a campaign reports as a hung worker: caught."""
    job = json.dumps({"mutant": asdict(m), "examples": examples, "seed": seed, "profile": profile})
    start = time.perf_counter()
    try:
        out = subprocess.run(
            [sys.executable, "-m", "harness.gates.mutate", "--one", job],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=tempfile.gettempdir(),
            env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])},
        )
    except subprocess.TimeoutExpired:
        return Verdict(m, "killed", "watchdog", f"no verdict in {timeout:.0f}s (hung)", timeout)
    try:
        raw = json.loads(out.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        seconds = round(time.perf_counter() - start, 2)
        return Verdict(m, "killed", "crash", f"the checking process died ({out.returncode})", seconds)
    raw.pop("mutant", None)
    return Verdict(m, **raw)


# -- the command ----------------------------------------------------------------------------------


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "mutate",
        help="mutation testing of the harness: every one-line mutant must be caught",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--side", choices=("c", "py"), default="c", help="mutate iov.c (c) or pyimpl/iov.py (py)")
    p.add_argument("--limit", type=int, help="check a random sample (by --seed) of this many mutants")
    p.add_argument("--func", help="only mutants inside this function (comma-separated names)")
    p.add_argument("--examples", type=int, default=300, help="Hypothesis examples per campaign")
    p.add_argument(
        "--profile",
        choices=("quick", "default", "deep"),
        help="judge each mutant by every engine of this run profile (batched, Hypothesis, exhaustive), "
        "not the Hypothesis engine alone with --examples",
    )
    p.add_argument("--jobs", type=jobs_count, default="auto", help="mutants checked at once (number or auto)")
    p.add_argument("--seed", type=int, default=1, help="sample and campaign seed (default: %(default)s)")
    p.add_argument(
        "--timeout", type=float, default=300.0, help="seconds per mutant before it counts as hung (caught)"
    )
    p.add_argument("--equivalents", default=str(EQUIVALENTS), help="the equivalent mutants (TOML)")
    p.add_argument("--out", help="write every verdict to this JSON file")
    p.add_argument("--list", action="store_true", help="list the mutants, check none")
    p.set_defaults(handler=cmd_mutate)


def cmd_mutate(args: argparse.Namespace) -> int:
    try:
        equivalents = load_equivalents(Path(args.equivalents))
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        print(f"mutate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for name, value in (("--timeout", args.timeout), ("--limit", args.limit), ("--examples", args.examples)):
        if value is not None and not (math.isfinite(value) and value > 0):
            print(f"mutate: {name}: expected a positive number, got {value}", file=sys.stderr)
            return EXIT_USAGE
    todo = c_mutants() if args.side == "c" else py_mutants()
    if args.func:
        wanted = {f.strip() for f in args.func.split(",")}
        unknown = wanted - {m.func for m in todo}
        if unknown:
            print(f"mutate: no mutants in {', '.join(sorted(unknown))}", file=sys.stderr)
            return EXIT_USAGE
        todo = [m for m in todo if m.func in wanted]
    if args.limit is not None and args.limit < len(todo):
        todo = sorted(random.Random(args.seed).sample(todo, args.limit), key=lambda m: m.line)
    if args.list:
        for m in todo:
            print(f"{m.func}:{m.line} {m.original.strip()!r} -> {m.shown!r}")
        return EXIT_OK
    print(
        f"mutate: {len(todo)} mutants of {'iov.c' if args.side == 'c' else 'pyimpl/iov.py'}, "
        f"{f'profile {args.profile}' if args.profile else f'{args.examples} examples per campaign'}, "
        f"seed {args.seed}, jobs {args.jobs}",
        flush=True,
    )
    if args.side == "py":
        return _with_shared_oracle(lambda: _run(todo, args, equivalents))
    return _run(todo, args, equivalents)


def _with_shared_oracle(run: Callable[[], int]) -> int:
    """Port mutants all run against the original C: one sanitizer server serves them all."""
    from harness.worlds.oracle import shared_server

    with shared_server(None):
        return run()


def _run(todo: list[Mutant], args: argparse.Namespace, equivalents: dict[Any, Equivalent]) -> int:
    verdicts: list[Verdict] = []
    start = time.perf_counter()
    with ThreadPoolExecutor(max(args.jobs, 1)) as pool:
        for v in pool.map(lambda m: isolated(m, args.examples, args.seed, args.timeout, args.profile), todo):
            verdicts.append(v)
            m = v.mutant
            listed = " (listed equivalent)" if v.status == "survived" and m.identity in equivalents else ""
            print(
                f"[{len(verdicts)}/{len(todo)}] {v.status:14} {m.func}:{m.line} {m.original.strip()!r} -> "
                f"{m.shown!r}{listed} ({v.seconds:.1f}s{', by ' + v.by if v.by else ''})",
                flush=True,
            )
    if args.out:
        Path(args.out).write_text(json.dumps([asdict(v) for v in verdicts], indent=1))
    g = gate(verdicts, equivalents)
    counts = Counter(v.status for v in verdicts)
    kinds = Counter(equivalents[v.mutant.identity].kind for v in g.equivalent)
    print(
        f"mutate: {len(verdicts)} mutants in {time.perf_counter() - start:.0f}s: {counts['killed']} killed, "
        f"{len(g.equivalent)} survived as listed equivalents ({kinds['equivalent']} equivalent, "
        f"{kinds['ub-only']} ub-only), {len(g.unlisted)} survived unlisted, "
        f"{counts['does-not-build']} did not build, {len(g.errors)} errors; "
        f"mutation score {g.score:.1%} (killed / mutants that build and are not equivalent)"
    )
    seen = {v.mutant.identity for v in verdicts}
    stale = [
        e
        for e in equivalents.values()
        if e.identity in seen and e.identity not in {v.mutant.identity for v in g.equivalent}
    ]
    for e in stale:
        print(f"note: {e.function}: {e.original!r} -> {e.mutated!r} is listed as equivalent but was caught")
    for v in g.errors:
        print(f"HARNESS ERROR on {v.mutant.func}:{v.mutant.line} {v.mutant.shown!r}: {v.detail}")
    if g.unlisted:
        print(f"\n{len(g.unlisted)} SURVIVING mutant(s) not listed in {args.equivalents}:")
        for v in g.unlisted:
            m = v.mutant
            print(f"  {m.func}:{m.line} {m.original.strip()!r} -> {m.shown!r} (tried {', '.join(v.tried)})")
        print("\nstrengthen the strategies to catch them, or, if one cannot change behaviour, list it:\n")
        print("\n".join(toml_entry(v.mutant) for v in g.unlisted))
    return g.exit_status


def _one(job: str) -> int:
    raw = json.loads(job)
    m = Mutant(**raw["mutant"])
    try:
        v = check_mutant(m, raw["examples"], raw["seed"], raw.get("profile"))
    except Exception as exc:  # a harness failure, not a verdict on the mutant
        v = Verdict(m, "error", detail=f"{type(exc).__name__}: {exc}"[:300])
    out = asdict(v)
    print(json.dumps(out, default=str), flush=True)
    from harness.worlds import oracle

    oracle._close_all()  # the mutant's sanitizer server: this process leaves through os._exit
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        code = _one(sys.argv[2])
        sys.stdout.flush()
        os._exit(code)  # leave at once: a mutant may have left C memory in any state
    raise SystemExit(f"usage: {sys.argv[0]} --one JOB (what python -m harness mutate runs)")
