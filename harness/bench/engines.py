"""``python -m harness bench``: differential cases per second per core, per engine and group.

Every row runs in this one process (one core) against the original iov.c, for a few
seconds per function, and counts the process's own CPU time: the UB oracle runs in its
own process and is not counted.  Engines:

- ``hypothesis``: one case per Hypothesis example, judged (port and C);
- ``pyimpl only``: the same strategy, the port alone: what a plain property test of the
  port costs, the baseline the one-case path is measured against (the two rows run in
  turns, half their time each twice, so a drifting machine load weighs on both alike);
- ``batched``: each example draws one layout and runs every boundary test of it;
- ``exhaustive``: the default bound, group by group.

The table is printed and written as JSON (``--out``).
"""

from __future__ import annotations

import contextlib
import json
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings

#: the function groups of the table
GROUPS: dict[str, tuple[str, ...]] = {
    "buffer": ("iov_from_buf_full", "iov_to_buf_full", "iov_memset", "iov_copy", "iov_size"),
    "QEMUIOVector": (
        "qemu_iovec_to_buf",
        "qemu_iovec_from_buf",
        "qemu_iovec_memset",
        "qemu_iovec_is_zero",
        "qemu_iovec_add",
        "qemu_iovec_concat",
        "qemu_iovec_init_slice",
        "qemu_iovec_discard_back",
    ),
}
ENGINES = ("hypothesis", "pyimpl only", "batched", "exhaustive")


@dataclass
class Row:
    engine: str
    group: str
    cases: int = 0
    cpu_seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.cases / self.cpu_seconds if self.cpu_seconds > 0 else 0.0


class _Enough(BaseException):
    """The time for this function is up (a BaseException: Hypothesis stops, it does not shrink)."""


def _timed(budget: float, run: Callable[[Callable[[int], None]], int]) -> tuple[int, float]:
    """Run ``run(progress)`` until it ends or ``budget`` CPU seconds pass; (cases, cpu seconds)."""
    start = time.process_time()
    seen = [0]

    def progress(n: int) -> None:
        seen[0] = n
        if time.process_time() - start > budget:
            raise _Enough

    with contextlib.suppress(_Enough):
        seen[0] = run(progress)
    return seen[0], time.process_time() - start


def _hypothesis(func: str, judge: Any, budget: float, port_only: bool) -> tuple[int, float]:
    from harness.generate.strategies import STRATEGIES
    from harness.worlds.world import run_case

    count = [0]

    def run(progress: Callable[[int], None]) -> int:
        def body(case: Any) -> None:
            if port_only:
                run_case(judge.port, case, mirror=judge.reference)
            else:
                judge.check(case)
            count[0] += 1
            progress(count[0])

        body.__name__ = f"bench_{func}"
        test = settings(
            max_examples=10**9,
            deadline=None,
            database=None,
            derandomize=True,
            phases=(Phase.generate,),
            suppress_health_check=list(HealthCheck),
        )(given(STRATEGIES[func])(body))
        test()
        return count[0]

    return _timed(budget, run)


def _batched(func: str, judge: Any, budget: float) -> tuple[int, float]:
    import dataclasses

    from harness.campaign.pool import PROFILES, Config, run_batched

    config = Config(dataclasses.replace(PROFILES["quick"], batches=10**9), None, "trap", 0, None)
    cases = [0]

    def run(progress: Callable[[int], None]) -> int:
        def on_case(n: int) -> None:
            cases[0] = n
            progress(n)

        result = run_batched(func, config, judge, on_case)
        if result.error:
            raise RuntimeError(result.error)
        return result.cases

    n, seconds = _timed(budget, run)
    return max(n, cases[0]), seconds


def _exhaustive(func: str, judge: Any, budget: float) -> tuple[int, float]:
    from harness.engines.exhaustive import check_function
    from harness.generate.bounds import DEFAULT_BOUND

    return _timed(budget, lambda progress: check_function(func, DEFAULT_BOUND, judge, None, progress))


def bench(seconds: float = 3.0, engines: tuple[str, ...] = ENGINES) -> list[Row]:
    """Every (engine, group) row, ``seconds`` of CPU per function."""
    import reference_c
    from harness.verdict.judge import Judge
    from harness.worlds.world import CWorld, PyWorld

    judge = Judge(PyWorld(), CWorld(reference_c.load()))
    _hypothesis("iov_size", judge, 0.5, False)  # start the UB oracle outside the rows
    rows = {(engine, group): Row(engine, group) for engine in engines for group in GROUPS}
    paired = "hypothesis" in engines and "pyimpl only" in engines
    for engine in engines:
        for group, funcs in GROUPS.items():
            row = rows[engine, group]
            for func in funcs:
                if engine in ("hypothesis", "pyimpl only") and paired:
                    if engine == "pyimpl only":
                        continue  # measured with the hypothesis row
                    # the two one-case rows in turns, half the time each twice (one, alone,
                    # alone, one): a machine load that drifts weighs on both alike
                    alone = rows["pyimpl only", group]
                    for port_only in (False, True, True, False):
                        n, s = _hypothesis(func, judge, seconds / 2, port_only=port_only)
                        target = alone if port_only else row
                        target.cases += n
                        target.cpu_seconds += s
                    continue
                if engine == "hypothesis":
                    n, s = _hypothesis(func, judge, seconds, port_only=False)
                elif engine == "pyimpl only":
                    n, s = _hypothesis(func, judge, seconds, port_only=True)
                elif engine == "batched":
                    n, s = _batched(func, judge, seconds)
                else:
                    n, s = _exhaustive(func, judge, seconds)
                row.cases += n
                row.cpu_seconds += s
    return list(rows.values())


def report(rows: list[Row]) -> dict[str, Any]:
    """The rows, and each one-case row's cost relative to the pyimpl-only baseline."""
    by = {(r.engine, r.group): r for r in rows}
    ratios = {}
    for group in GROUPS:
        one, alone = by.get(("hypothesis", group)), by.get(("pyimpl only", group))
        if one is not None and alone is not None and one.rate:
            ratios[group] = round(alone.rate / one.rate, 2)
    return {
        "machine": {"python": platform.python_version(), "machine": platform.machine()},
        "rows": [{**asdict(r), "cases_per_second_per_core": round(r.rate)} for r in rows],
        "one_case_cost_vs_pyimpl_only": ratios,
    }


def main(seconds: float, out: Path | None) -> int:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    rows = bench(seconds)
    data = report(rows)
    table = Table(title="differential cases per second per core (original iov.c)")
    for col in ("engine", "group", "cases", "CPU s", "cases/s/core"):
        table.add_column(col, justify="right" if col not in ("engine", "group") else "left")
    for r in rows:
        table.add_row(r.engine, r.group, str(r.cases), f"{r.cpu_seconds:.1f}", f"{r.rate:,.0f}")
    console.print(table)
    for group, ratio in data["one_case_cost_vs_pyimpl_only"].items():
        console.print(f"one case per example, {group}: {ratio}x the cost of a pyimpl-only test")
    if out is not None:
        out.write_text(json.dumps(data, indent=1))
        console.print(f"written: {out}")
    return 0
