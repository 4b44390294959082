"""Differential campaigns: Hypothesis drives every function's strategy through the judge."""

from __future__ import annotations

import multiprocessing
import os
import queue
import sys
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.database import DirectoryBasedExampleDatabase, ReadOnlyDatabase

from .case import case_from_json
from .io_strategies import IO_STRATEGIES
from .judge import Discrepancy, Judge, Tally, counting_asserts
from .strategies import STRATEGIES
from .worlds import CWorld, PyWorld


@dataclass(frozen=True)
class Profile:
    """How hard a campaign tries."""

    name: str
    examples: int  # Hypothesis examples per function


PROFILES = {
    "quick": Profile("quick", 500),
    "default": Profile("default", 1500),
    "deep": Profile("deep", 8000),
}


@dataclass
class FunctionResult:
    """The outcome of one function's campaign, small enough to pass between processes."""

    func: str
    cases: int = 0
    ub: dict[str, int] = field(default_factory=dict)
    fired: dict[int, int] = field(default_factory=dict)
    evaluated: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0
    difference: str | None = None
    case_json: str | None = None
    detail: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class Config:
    """Everything a worker needs to run campaigns: plain data, so it pickles."""

    profile: Profile
    c_source: str | None
    assert_mode: str
    seed: int
    database: str | None
    inflight_dir: str | None = None


#: every function's campaign: memory functions, then sockets and hexdump
CAMPAIGNS = {**STRATEGIES, **IO_STRATEGIES}


def function_seed(seed: int, func: str) -> int:
    return seed ^ zlib.crc32(func.encode())


def make_judge(config: Config) -> Judge:
    import reference_c

    reference = reference_c.load(config.c_source, flavour=config.assert_mode)
    inflight = None
    if config.inflight_dir:
        Path(config.inflight_dir).mkdir(parents=True, exist_ok=True)
        inflight = Path(config.inflight_dir) / f"inflight-{os.getpid()}.json"
    return Judge(PyWorld(), CWorld(reference), inflight)


def finish_inflight(judge: Judge) -> None:
    """The run ended normally: nothing was left in flight."""
    if judge.inflight is not None:
        judge.inflight.unlink(missing_ok=True)


def leftover_inflight(config: Config) -> list[Path]:
    """Cases a previous run was running in C when its process died."""
    if not config.inflight_dir or not Path(config.inflight_dir).is_dir():
        return []
    return sorted(Path(config.inflight_dir).glob("inflight-*.json"))


def run_function(
    func: str, config: Config, judge: Judge, on_case: Callable[[str, int], None] | None = None
) -> FunctionResult:
    """Run the Hypothesis campaign for one function; a discrepancy ends it, shrunk."""
    from .case import case_to_json

    tally = Tally()
    db: Any = None
    if config.database:
        db = DirectoryBasedExampleDatabase(config.database)
        if os.environ.get("CI"):
            db = ReadOnlyDatabase(db)

    @settings(
        max_examples=config.profile.examples,
        deadline=None,
        database=db,
        suppress_health_check=list(HealthCheck),
        phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink),
        report_multiple_bugs=False,
    )
    @given(CAMPAIGNS[func])
    def agrees(case: Any) -> None:
        judge.check(case, tally)
        if on_case is not None:
            on_case(func, tally.cases)

    test = hypothesis_seed(function_seed(config.seed, func))(agrees)
    result = FunctionResult(func)
    start = time.perf_counter()
    with counting_asserts() as evaluated:
        before = Counter(evaluated)
        try:
            test()
        except Discrepancy as d:
            result.difference = d.difference
            result.case_json = case_to_json(d.case)
            result.detail = d.case.describe()
        except Exception as exc:
            inner = _discrepancy_in(exc)
            if inner is not None:
                # the C side differed but not every time (e.g. it read uninitialised
                # stack): still a discrepancy, reported as nondeterministic
                result.difference = f"nondeterministic: {inner.difference}"
                result.case_json = case_to_json(inner.case)
                result.detail = inner.case.describe()
            else:  # a harness or build failure, not a verdict on the code
                result.error = f"{type(exc).__name__}: {exc}"
        result.evaluated = dict(evaluated - before)
    result.seconds = time.perf_counter() - start
    result.cases = tally.cases
    result.ub = dict(tally.ub)
    result.fired = dict(tally.fired)
    return result


def _discrepancy_in(exc: BaseException) -> Discrepancy | None:
    """The Discrepancy inside a Hypothesis flaky-failure group, if there is one."""
    if isinstance(exc, Discrepancy):
        return exc
    for sub in getattr(exc, "exceptions", ()):
        found = _discrepancy_in(sub)
        if found is not None:
            return found
    return None


# -- running many functions, possibly in parallel ------------------------------------------------
_worker_judge: Judge | None = None
_worker_queue: Any = None


def _worker_init(config: Config, progress: Any) -> None:
    global _worker_judge, _worker_queue
    _worker_judge = make_judge(config)
    _worker_queue = progress


def _worker_run(func: str, config: Config) -> FunctionResult:
    assert _worker_judge is not None
    last = [0.0]

    def report(f: str, n: int) -> None:
        now = time.monotonic()
        if now - last[0] > 0.25:
            last[0] = now
            _worker_queue.put((f, n))

    result = run_function(func, config, _worker_judge, report)
    _worker_queue.put((func, result.cases))
    return result


def run_campaign(
    funcs: Sequence[str], config: Config, jobs: int, show: Callable[[str, int, FunctionResult | None], None]
) -> list[FunctionResult]:
    """Run every function in ``funcs``; ``show`` hears (func, cases so far, result when done)."""
    if jobs <= 1:
        judge = make_judge(config)
        serial: list[FunctionResult] = []
        for func in funcs:
            result = run_function(func, config, judge, lambda f, n: show(f, n, None))
            show(func, result.cases, result)
            serial.append(result)
        finish_inflight(judge)
        return serial
    ctx = multiprocessing.get_context("fork" if sys.platform != "win32" else "spawn")
    progress: Any = ctx.Queue()
    crashed: list[FunctionResult] = []
    done = threading.Event()

    def pump() -> None:
        while not done.is_set():
            try:
                f, n = progress.get(timeout=0.2)
            except queue.Empty:
                continue
            show(f, n, None)

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    results: list[FunctionResult] = []
    try:
        with ProcessPoolExecutor(
            jobs, mp_context=ctx, initializer=_worker_init, initargs=(config, progress)
        ) as pool:
            pending = {pool.submit(_worker_run, f, config): f for f in funcs}
            for future in as_completed(pending):
                try:
                    r = future.result()
                except BrokenProcessPool:
                    crashed.append(FunctionResult(pending[future], error="worker process died"))
                    continue
                show(r.func, r.cases, r)
                results.append(r)
    finally:
        done.set()
        thread.join()
    if crashed:
        # a worker died in C despite the signal guard: its case is still in flight
        for path in leftover_inflight(config):
            case = case_from_json(path.read_text())
            results.append(
                FunctionResult(
                    case.func,
                    difference="C crashed: it killed the worker process on this case",
                    case_json=path.read_text(),
                    detail=case.describe(),
                )
            )
        results += crashed
    for path in leftover_inflight(config):
        path.unlink(missing_ok=True)
    return results


def default_database() -> str:
    return str(Path.cwd() / ".hypothesis" / "iovconf")


# -- the exhaustive engine, split over worker processes --------------------------------------------
def _exhaustive_chunk(funcs: list[str], config: Config, bound_name: str) -> list[FunctionResult]:
    import reference_c

    from . import exhaustive

    bound = exhaustive.QUICK_BOUND if bound_name == "quick" else exhaustive.DEFAULT_BOUND
    reference = reference_c.load(config.c_source, flavour=config.assert_mode)
    result = exhaustive.run_exhaustive(reference, bound, funcs)
    out = []
    for f in result.functions:
        out.append(
            FunctionResult(
                f.func,
                cases=f.cases,
                ub={"undefined": f.ub_skipped} if f.ub_skipped else {},
                seconds=f.seconds,
                difference=f.difference,
                case_json=f.case_json,
                detail=f.case.describe() if f.case is not None else None,
                error=f.error,
            )
        )
    return out


def run_exhaustive_campaign(
    funcs: Sequence[str], config: Config, jobs: int, bound_name: str
) -> list[FunctionResult]:
    """Every case up to the bound for each memory function, ``jobs`` processes sharing them."""
    from .exhaustive import NOT_MEMORY

    todo = [f for f in funcs if f not in NOT_MEMORY and f in STRATEGIES]
    if jobs <= 1 or len(todo) < 2:
        return _exhaustive_chunk(todo, config, bound_name)
    chunks = [todo[k::jobs] for k in range(jobs)]
    ctx = multiprocessing.get_context("fork" if sys.platform != "win32" else "spawn")
    results: list[FunctionResult] = []
    with ProcessPoolExecutor(jobs, mp_context=ctx) as pool:
        for part in pool.map(_exhaustive_chunk, chunks, [config] * jobs, [bound_name] * jobs):
            results += part
    order = {f: k for k, f in enumerate(todo)}
    return sorted(results, key=lambda r: order[r.func])
