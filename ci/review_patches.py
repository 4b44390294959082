#!/usr/bin/env python3
"""Review the patch corpus (tests/patches) with the harness, as a QEMU developer would.

For each patch of ``tests/patches/patches.toml``: apply it to a copy of
``reference_c/iov.c`` in a work directory, then run, as subprocesses,

    python -m harness run --c-source PATCHED --only FUNCS --profile P --json run.json
    python -m harness diff reference_c/iov.c PATCHED --only FUNCS --profile P --json diff.json

(``--mode`` picks one or both) and judge what they say against what the patch is.

The expectation checked, per patch and command:

- a patch without causes (every refactor, and upstream changes that preserve behaviour)
  must be **green**: exit status 0;
- a patch with causes (every bug, and upstream behaviour changes) must be **red**, exit
  status 1, and the **first red row** of the command's ``--json`` record (rows in the order
  the command reports them) must name one of the patch's causes: its function, and a kind
  the manifest allows for that function.

A verdict is ``ok``, ``false red`` (a patch without causes is red), ``missed`` (a patch
with causes is green), ``cause not first`` (a cause is in a later red row only), ``cause
not shown`` (red, but no row names a cause) or ``error`` (any other exit status, no
record, a time-out).  The rows are read generically (a dict per row; fields the CLI adds
are ignored, a row without ``red`` is red unless its verdict is a green one), so the
checker survives the CLI growing rows per difference or rows for functions not judged.

FUNCS is every function the patch touches that has a campaign, plus, for a touched function
without one (a static helper such as a qsort comparator), its nearest callers that have one.
Each command runs in the patch's own work directory, so each starts with an empty example
database.  ``--jobs N`` is passed to the harness; patches run one after the other, so the
times of ``run`` and ``diff`` on a patch are comparable.

Exit status: 0 every patch met its expectation in every command run; 1 some did not;
2 usage error (unknown patch, bad manifest).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere: the project's packages
    sys.path.insert(0, str(ROOT))

from harness.campaign.pool import CAMPAIGNS  # noqa: E402
from harness.model.outcome import KINDS  # noqa: E402
from reference_c.csource import SourceInfo, read_source  # noqa: E402

PATCHES = ROOT / "tests" / "patches"
MANIFEST = PATCHES / "patches.toml"
ORIGINAL = ROOT / "reference_c" / "iov.c"
CLASSES = ("refactor", "bug", "upstream")
MODES = ("run", "diff")
#: row verdicts that never fail a command (a row that carries no ``red`` field is judged by these)
GREEN_VERDICTS = frozenset({"agree", "same", "changed (listed)", "absent", "added"})
VERDICTS = ("ok", "false red", "missed", "cause not first", "cause not shown", "error")


class ManifestError(ValueError):
    """The manifest is not what this runner (and the corpus test) can trust; says where."""


@dataclass(frozen=True)
class Cause:
    """A function whose behaviour the patch changes, and the kinds a report may call it."""

    function: str
    kinds: tuple[str, ...]


@dataclass(frozen=True)
class Patch:
    """One entry of the manifest."""

    name: str
    klass: str  # refactor, bug or upstream
    functions: tuple[str, ...]
    description: str
    bug: str = ""
    causes: tuple[Cause, ...] = ()

    @property
    def path(self) -> Path:
        return PATCHES / f"{self.name}.patch"

    @property
    def expect_red(self) -> bool:
        return bool(self.causes)

    def is_cause(self, function: str, kind: str) -> bool:
        return any(c.function == function and kind in c.kinds for c in self.causes)


_KEYS = {"name", "class", "functions", "description", "bug", "causes"}


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise ManifestError(f"{where}: must be a non-empty list of names")
    if len(set(value)) != len(value):
        raise ManifestError(f"{where}: names a function twice")
    return tuple(value)


def _patch(entry: Mapping[str, Any], k: int) -> Patch:
    name = entry.get("name")
    where = f"patch {k + 1}" + (f" ({name})" if isinstance(name, str) else "")
    unknown = set(entry) - _KEYS
    if unknown:
        raise ManifestError(f"{where}: unknown keys {sorted(unknown)}")
    for key in ("name", "class", "description"):
        if not isinstance(entry.get(key), str) or not entry[key]:
            raise ManifestError(f"{where}: {key} must be a non-empty string")
    klass = entry["class"]
    if klass not in CLASSES:
        raise ManifestError(f"{where}: class must be one of {', '.join(CLASSES)}, not {klass!r}")
    functions = _strings(entry.get("functions"), f"{where}: functions")
    causes: list[Cause] = []
    raw_causes = entry.get("causes", [])
    if not isinstance(raw_causes, list):
        raise ManifestError(f"{where}: causes must be a list of tables")
    for c in raw_causes:
        if not isinstance(c, dict) or set(c) != {"function", "kinds"}:
            raise ManifestError(f"{where}: each cause is a table with exactly function and kinds")
        kinds = _strings(c["kinds"], f"{where}: kinds of {c['function']}")
        bad = [kind for kind in kinds if kind not in KINDS]
        if bad:
            raise ManifestError(
                f"{where}: kinds {bad} are not among harness.model.outcome.KINDS {list(KINDS)}"
            )
        if c["function"] not in functions:
            raise ManifestError(f"{where}: cause {c['function']} is not among the functions it touches")
        causes.append(Cause(c["function"], kinds))
    if klass == "refactor" and causes:
        raise ManifestError(f"{where}: a refactor preserves behaviour, it has no causes")
    if klass == "bug" and not causes:
        raise ManifestError(f"{where}: a bug needs causes (the functions and kinds of its real change)")
    bug = entry.get("bug", "")
    if not isinstance(bug, str) or bool(bug) != bool(causes):
        raise ManifestError(f"{where}: bug (what is wrong) is given exactly when there are causes")
    return Patch(entry["name"], klass, functions, entry["description"], bug, tuple(causes))


def load_manifest(path: Path = MANIFEST) -> list[Patch]:
    """Every patch of the manifest, validated; raises ManifestError naming what is wrong."""
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ManifestError(f"{path}: {exc}") from exc
    if set(data) != {"patch"} or not isinstance(data["patch"], list):
        raise ManifestError(f"{path}: expected only [[patch]] tables")
    patches = [_patch(entry, k) for k, entry in enumerate(data["patch"])]
    names = [p.name for p in patches]
    if len(set(names)) != len(names):
        raise ManifestError(f"{path}: a patch name is listed twice")
    return patches


# -- applying a patch and choosing the functions ----------------------------------------------


def apply(patch: Path, workdir: Path, original: Path = ORIGINAL) -> Path:
    """``workdir/iov.c``: the original with ``patch`` applied exactly (no fuzz); raises
    RuntimeError with patch's output when it does not apply."""
    workdir.mkdir(parents=True, exist_ok=True)
    target = workdir / "iov.c"
    shutil.copyfile(original, target)
    proc = subprocess.run(
        ["patch", "-p1", "-F0", "-N", "-s", "--no-backup-if-mismatch", "-d", str(workdir), "-i", str(patch)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{patch.name} does not apply to {original}:\n{proc.stdout}{proc.stderr}")
    return target


def _callers_with_campaigns(info: SourceInfo, function: str, seen: set[str]) -> set[str]:
    """The nearest callers of ``function`` in ``info`` that have a campaign."""
    found: set[str] = set()
    for caller, callees in info.calls.items():
        if function in callees and caller not in seen:
            seen.add(caller)
            found |= {caller} if caller in CAMPAIGNS else _callers_with_campaigns(info, caller, seen)
    return found


def functions_to_run(patch: Patch, sources: Iterable[SourceInfo]) -> list[str]:
    """The ``--only`` list: the touched functions with a campaign, and for each one without,
    its nearest callers with one (in the original or the patched source), in campaign order."""
    infos = list(sources)
    chosen = {f for f in patch.functions if f in CAMPAIGNS}
    for f in patch.functions:
        if f not in CAMPAIGNS:
            for info in infos:
                chosen |= _callers_with_campaigns(info, f, {f})
    return [f for f in CAMPAIGNS if f in chosen]


# -- judging one command -------------------------------------------------------------------


def is_red(row: Mapping[str, Any]) -> bool:
    if "red" in row:
        return bool(row["red"])
    return row.get("verdict") not in GREEN_VERDICTS


def row_kind(row: Mapping[str, Any]) -> str:
    """The kind a row names: its ``kind``, or its verdict when that is a kind ("missing")."""
    kind = row.get("kind") or ""
    if not kind and row.get("verdict") in KINDS:
        kind = str(row["verdict"])
    return str(kind)


@dataclass
class Judgement:
    """What one command said about one patch, and whether that is what the patch expects."""

    mode: str
    exit_status: int | None
    seconds: float
    verdict: str  # one of VERDICTS
    why: str = ""
    first_red: dict[str, str] | None = None  # function, kind, verdict, engine, difference
    red_rows: list[dict[str, str]] = field(default_factory=list)
    seed: int | None = None  # the command's seed, from its record: to repeat it
    harness_seconds: float | None = None  # the campaigns' own time, from its record (no build, no start-up)

    def as_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "exit_status": self.exit_status,
            "seconds": round(self.seconds, 1),
            "verdict": self.verdict,
            "why": self.why,
            "first_red": self.first_red,
            "red_rows": self.red_rows,
            "seed": self.seed,
            "harness_seconds": self.harness_seconds,
        }


def _brief(row: Mapping[str, Any]) -> dict[str, str]:
    return {
        "function": str(row.get("function", "")),
        "kind": row_kind(row),
        "verdict": str(row.get("verdict", "")),
        "engine": str(row.get("group", "")),
        "difference": str(row.get("difference", ""))[:300],
    }


def judge(
    patch: Patch, mode: str, exit_status: int | None, record: Mapping[str, Any] | None, seconds: float = 0.0
) -> Judgement:
    """The verdict of one command on one patch (see the module docstring)."""
    rows = [r for r in (record or {}).get("rows", []) if isinstance(r, Mapping)]
    red = [_brief(r) for r in rows if is_red(r)]
    first = red[0] if red else None
    seed = (record or {}).get("seed")
    j = Judgement(mode, exit_status, seconds, "error", first_red=first, red_rows=red)
    j.seed = seed if isinstance(seed, int) else None
    inner = (record or {}).get("seconds")
    j.harness_seconds = round(inner, 1) if isinstance(inner, int | float) else None
    if exit_status not in (0, 1) or record is None:
        j.why = f"exit status {exit_status}" + ("" if record is not None else ", no JSON record")
        return j
    if not patch.expect_red:
        j.verdict = "ok" if exit_status == 0 else "false red"
        if first is not None:
            j.why = f"{first['function']}: {first['kind'] or first['verdict']}: {first['difference']}"
        elif exit_status:
            j.why = "exit status 1 without a red row"
        return j
    if exit_status == 0:
        j.verdict, j.why = "missed", "exit status 0"
        return j
    if first is not None and patch.is_cause(first["function"], first["kind"]):
        j.verdict = "ok"
    elif any(patch.is_cause(r["function"], r["kind"]) for r in red):
        j.verdict = "cause not first"
    else:
        j.verdict = "cause not shown"
    if first is not None and j.verdict != "ok":
        j.why = f"first: {first['function']}: {first['kind'] or first['verdict']}: {first['difference']}"
    elif first is None:
        j.why = "exit status 1 without a red row"
    return j


# -- running ----------------------------------------------------------------------------------


@dataclass
class Options:
    profile: str
    jobs: int
    seed: int | None
    timeout: float


def _command(mode: str, patched: Path, only: list[str], out: Path, opts: Options) -> list[str]:
    common = ["--only", ",".join(only), "--profile", opts.profile, "--jobs", str(opts.jobs)]
    common += ["--json", str(out / f"{mode}.json"), "--report", str(out / f"reports-{mode}")]
    if opts.seed is not None:
        common += ["--seed", str(opts.seed)]
    if mode == "run":
        return [sys.executable, "-m", "harness", "run", "--c-source", str(patched), *common]
    return [sys.executable, "-m", "harness", "diff", str(ORIGINAL), str(patched), *common]


def run_mode(patch: Patch, mode: str, patched: Path, only: list[str], opts: Options) -> Judgement:
    """Run one harness command on the patched source in its work directory and judge it."""
    out = patched.parent
    record_path = out / f"{mode}.json"
    record_path.unlink(missing_ok=True)
    cmd = _command(mode, patched, only, out, opts)
    start = time.perf_counter()
    with (out / f"{mode}.log").open("w") as log:
        log.write(" ".join(cmd) + "\n")
        log.flush()
        try:
            proc = subprocess.run(cmd, cwd=out, stdout=log, stderr=subprocess.STDOUT, timeout=opts.timeout)
            status: int | None = proc.returncode
        except subprocess.TimeoutExpired:
            status = None
    seconds = time.perf_counter() - start
    record = None
    if record_path.is_file():
        try:
            record = json.loads(record_path.read_text())
        except json.JSONDecodeError:
            record = None
    j = judge(patch, mode, status, record, seconds)
    if status is None:
        j.why = f"timed out after {opts.timeout:.0f}s"
    return j


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def _tally(mine: list[tuple[dict[str, Any], dict[str, Any]]], klass: str, expect_red: bool) -> str:
    """Of the patches of ``klass`` expecting red (or green): how many were, and (red) how many
    showed a real cause first; "" when there are none."""
    group = [j for r, j in mine if r["class"] == klass and r["expect_red"] == expect_red]
    if not group:
        return ""
    if not expect_red:
        return f"{sum(j['exit_status'] == 0 for j in group)}/{len(group)}"
    red = sum(j["exit_status"] == 1 for j in group)
    first = sum(j["verdict"] == "ok" for j in group)
    return f"{red}/{len(group)}, real cause first {first}/{len(group)}"


def summarise(results: list[dict[str, Any]], modes: tuple[str, ...]) -> dict[str, Any]:
    """Counts and times per command: refactors green, bugs red, real cause first, upstream."""
    counts: dict[str, Any] = {}
    for mode in modes:
        mine = [(r, r["modes"][mode]) for r in results if mode in r["modes"]]
        times = [j["seconds"] for _, j in mine]
        counts[mode] = {
            "refactors green": _tally(mine, "refactor", False),
            "bugs red": _tally(mine, "bug", True),
            "upstream without causes green": _tally(mine, "upstream", False),
            "upstream with causes red": _tally(mine, "upstream", True),
            "met expectation": f"{sum(j['verdict'] == 'ok' for _, j in mine)}/{len(mine)}",
            "median seconds": round(_median(times), 1),
            "total seconds": round(sum(times), 1),
        }
    if set(MODES) <= set(modes):
        ratios = [r["diff/run"] for r in results if r.get("diff/run") is not None]
        counts["diff/run time ratio"] = {
            "median": round(_median(ratios), 2),
            "max": round(max(ratios), 2) if ratios else 0.0,
        }
    return counts


def _cell(j: dict[str, Any]) -> str:
    first = j.get("first_red")
    shown = f"{first['function']}: {first['kind'] or first['verdict']}" if first else "-"
    return f"{j['exit_status']} {j['seconds']:.0f}s {j['verdict']}; {shown}"


def print_table(results: list[dict[str, Any]], modes: tuple[str, ...], counts: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, markup=False, width=None if sys.stdout.isatty() else 200)
    table = Table(title="patch review: exit status, time, verdict; first red row (function: kind)")
    for col in ("patch", "class", "expect", *modes, *(("diff/run",) if len(modes) == 2 else ())):
        table.add_column(col)
    for r in results:
        cells = [_cell(r["modes"][m]) if m in r["modes"] else "-" for m in modes]
        ratio = r.get("diff/run")
        extra = (f"{ratio:.2f}" if ratio is not None else "-",) if len(modes) == 2 else ()
        table.add_row(r["name"], r["class"], "red" if r["expect_red"] else "green", *cells, *extra)
    console.print(table)
    for r in results:
        for m in modes:
            j = r["modes"].get(m)
            if j and j["verdict"] != "ok":
                console.print(f"{r['name']} ({m}): {j['verdict']}: {j['why']}")
    for mode, c in counts.items():
        console.print(f"{mode}: " + ", ".join(f"{k} {v}" for k, v in c.items() if v != ""))


def review(patch: Patch, modes: tuple[str, ...], opts: Options, workdir: Path) -> dict[str, Any]:
    """Apply one patch, run the chosen commands, judge each."""
    patched = apply(patch.path, workdir / patch.name)
    only = functions_to_run(patch, [read_source(ORIGINAL), read_source(patched)])
    result: dict[str, Any] = {
        "name": patch.name,
        "class": patch.klass,
        "description": patch.description,
        "expect_red": patch.expect_red,
        "causes": [{"function": c.function, "kinds": list(c.kinds)} for c in patch.causes],
        "only": only,
        "modes": {},
    }
    for mode in modes:
        j = run_mode(patch, mode, patched, only, opts)
        result["modes"][mode] = j.as_json()
        print(f"  {patch.name} {mode}: {_cell(result['modes'][mode])}", flush=True)
    if set(MODES) <= set(modes) and result["modes"]["run"]["seconds"] > 0:
        result["diff/run"] = round(result["modes"]["diff"]["seconds"] / result["modes"]["run"]["seconds"], 2)
    return result


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profile", default="quick", help="the harness profile (default: %(default)s)")
    p.add_argument("--only", help="comma-separated patch names (default: every patch of the manifest)")
    p.add_argument("--json", metavar="FILE", help="write every judgement, the counts and times as JSON")
    p.add_argument("--jobs", type=int, default=2, help="worker processes of each harness command (default 2)")
    p.add_argument("--mode", choices=("run", "diff", "both"), default="both", help="which commands to run")
    p.add_argument("--seed", type=int, help="the campaign seed of every command (default: each picks one)")
    p.add_argument("--timeout", type=float, default=3600, help="seconds one command may take (default 3600)")
    p.add_argument(
        "--workdir",
        help="keep each patch's source, logs, JSON records and reports under DIR/NAME "
        "(default: a temporary directory, removed at the end)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.jobs < 1:
        print("--jobs must be at least 1", file=sys.stderr)
        return 2
    try:
        patches = load_manifest()
    except ManifestError as exc:
        print(f"manifest: {exc}", file=sys.stderr)
        return 2
    if args.only:
        wanted = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = sorted(set(wanted) - {p.name for p in patches})
        if unknown:
            print(f"--only: no such patch: {', '.join(unknown)}", file=sys.stderr)
            return 2
        patches = [p for p in patches if p.name in wanted]
    modes = MODES if args.mode == "both" else (args.mode,)
    opts = Options(args.profile, args.jobs, args.seed, args.timeout)
    temp = None if args.workdir else tempfile.TemporaryDirectory(prefix="iovconf-review-")
    workdir = Path(args.workdir) if args.workdir else Path(temp.name)  # type: ignore[union-attr]
    start = time.perf_counter()
    results = []
    try:
        for k, patch in enumerate(patches):
            print(f"[{k + 1}/{len(patches)}] {patch.name} ({patch.klass})", flush=True)
            results.append(review(patch, modes, opts, workdir))
    finally:
        if temp is not None:
            temp.cleanup()
    counts = summarise(results, modes)
    print_table(results, modes, counts)
    ok = all(j["verdict"] == "ok" for r in results for j in r["modes"].values())
    elapsed = time.perf_counter() - start
    print(f"{len(results)} patches in {elapsed:.0f}s: {'every one as expected' if ok else 'NOT as expected'}")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "profile": args.profile,
                    "seed": args.seed,
                    "modes": list(modes),
                    "jobs": args.jobs,
                    "seconds": round(elapsed, 1),
                    "ok": ok,
                    "counts": counts,
                    "patches": results,
                },
                indent=2,
            )
            + "\n"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
