"""``python -m harness bench --diff``: what ``harness diff`` costs beside ``harness run``.

For each function (or all), ``run --c-source SOURCE`` (the port against C) and ``diff
ORIGINAL SOURCE`` (C against C) run as a user runs them, one process tree each, on the
same functions, profile, seed and number of workers; SOURCE is the original with a comment
added (the same behaviour, another file), or ``--c-source``.  Both are timed by wall clock
and by the CPU time of the whole process tree (``RUSAGE_CHILDREN``), which a busy machine
disturbs less; the table gives each and the diff/run ratio.  The target: at most 1.5.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

#: what diff may cost at most, as a multiple of run on the same functions and profile
TARGET = 1.5


@dataclass
class Timing:
    """One command's cost."""

    wall: float
    cpu: float
    status: int


@dataclass
class Row:
    functions: str
    run: Timing
    diff: Timing

    @property
    def ratio(self) -> float:
        return self.diff.cpu / self.run.cpu if self.run.cpu > 0 else 0.0


def _timed(args: Sequence[str], cwd: Path) -> Timing:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "harness", *args], cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Timing(round(wall, 2), round(cpu, 2), done.returncode)


def measure(
    functions: Sequence[str], profile: str, seed: int, jobs: int, source: str | None = None
) -> list[Row]:
    """Time run and diff on each of ``functions`` (a comma-separated group each)."""
    from reference_c import DEFAULT_SOURCE

    rows = []
    with tempfile.TemporaryDirectory(prefix="iovconf-bench-diff-") as tmp:
        work = Path(tmp)
        if source is None:
            copy = work / "iov.c"
            copy.write_text(Path(DEFAULT_SOURCE).read_text() + "/* the same code, another file */\n")
            source = str(copy)
        common = ["--profile", profile, "--seed", str(seed), "--jobs", str(jobs), "--report", str(work / "r")]
        for only in functions:
            _timed(["run", "--c-source", source, "--only", only, *common], work)  # builds, caches: untimed
            run = _timed(["run", "--c-source", source, "--only", only, *common], work)
            diff = _timed(["diff", str(DEFAULT_SOURCE), source, "--only", only, *common], work)
            rows.append(Row(only, run, diff))
    return rows


def main(
    functions: Sequence[str], profile: str, seed: int, jobs: int, source: str | None, out: Path | None
) -> int:
    from rich.console import Console
    from rich.table import Table

    rows = measure(functions, profile, seed, jobs, source)
    table = Table(title=f"harness diff against harness run (profile {profile}, {jobs} workers, seed {seed})")
    for col in ("functions", "run wall s", "run CPU s", "diff wall s", "diff CPU s", "diff/run (CPU)"):
        table.add_column(col, justify="left" if col == "functions" else "right")
    for r in rows:
        table.add_row(
            r.functions, f"{r.run.wall:.1f}", f"{r.run.cpu:.1f}", f"{r.diff.wall:.1f}", f"{r.diff.cpu:.1f}",
            f"{r.ratio:.2f}",
        )  # fmt: skip
    run_cpu, diff_cpu = sum(r.run.cpu for r in rows), sum(r.diff.cpu for r in rows)
    total = diff_cpu / run_cpu if run_cpu else 0.0
    Console(highlight=False).print(table)
    print(
        f"all: run {run_cpu:.1f} s CPU, diff {diff_cpu:.1f} s CPU: diff/run {total:.2f} (target <= {TARGET})"
    )
    if out is not None:
        record = {"profile": profile, "seed": seed, "jobs": jobs, "ratio": total, "target": TARGET}
        record["rows"] = [{**asdict(r), "ratio": r.ratio} for r in rows]
        out.write_text(json.dumps(record, indent=2) + "\n")
    bad = [r for r in rows if r.run.status != 0 or r.diff.status != 0]
    for r in bad:
        print(f"{r.functions}: run exit {r.run.status}, diff exit {r.diff.status} (both should agree: 0)")
    return 1 if bad else 0
