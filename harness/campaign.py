"""Differential campaigns: Hypothesis drives every function's strategy through the judge."""

from __future__ import annotations

import multiprocessing
import os
import queue
import sys
import time
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.database import DirectoryBasedExampleDatabase, ReadOnlyDatabase

from .case import case_from_json
from .io_strategies import IO_STRATEGIES
from .judge import CCrashed, Discrepancy, Judge, Tally, counting_asserts
from .strategies import STRATEGIES
from .worlds import CWorld, PyWorld


@dataclass(frozen=True)
class Profile:
    """How hard a campaign tries."""

    name: str
    examples: int  # Hypothesis examples per function
    sequences: int = 0  # stateful machine: QEMUIOVector call sequences


PROFILES = {
    "quick": Profile("quick", 300, 40),
    "default": Profile("default", 1500, 300),
    "deep": Profile("deep", 8000, 2000),
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
    ub_samples: dict[str, str] = field(default_factory=dict)  # kind -> case JSON


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
#: the stateful machine's name in campaigns and tables
STATEFUL = "stateful (QEMUIOVector lifecycles)"


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

    def agrees(case: Any) -> None:
        judge.check(case, tally)
        if on_case is not None:
            on_case(func, tally.cases)

    # its own name gives each function its own entries in the example database
    agrees.__name__ = agrees.__qualname__ = f"agrees_{func}"
    test = hypothesis_seed(function_seed(config.seed, func))(
        settings(
            max_examples=config.profile.examples,
            deadline=None,
            database=db,
            suppress_health_check=list(HealthCheck),
            phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink),
            report_multiple_bugs=False,
        )(given(CAMPAIGNS[func])(agrees))
    )
    result = FunctionResult(func)
    start = time.perf_counter()
    with counting_asserts() as evaluated:
        before = Counter(evaluated)
        try:
            test()
        except CCrashed as crash:
            result.difference = f"{crash.what}: {crash.difference}"
            result.case_json = case_to_json(crash.case)
            note = "(not shrunk: C crashed, and the process was not trusted any further)"
            result.detail = f"{crash.case.describe()}\n  {note}"
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
    result.ub_samples = {kind: case_to_json(case) for kind, case in tally.ub_samples.items()}
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


# -- running many functions, each in its own child process -----------------------------------------
#: a child that reports no progress for this long is stuck (e.g. C left the heap locked): killed
SILENCE_LIMIT = 120.0


def _run_stateful(config: Config) -> FunctionResult:
    import reference_c

    from .stateful import run_stateful

    reference = reference_c.load(config.c_source, flavour=config.assert_mode)
    out = run_stateful(reference, config.profile.sequences, config.seed)
    result = FunctionResult(STATEFUL, cases=out["cases"], seconds=out["seconds"], error=out["error"])
    if out["case_json"] is not None:
        result.difference = out["difference"]
        result.case_json = out["case_json"]
        result.detail = out["failure"]
    return result


def _child_main(func: str, config: Config, conn: Any, progress: Any) -> None:
    """In a fresh process: one function's campaign; the result goes back through ``conn``."""
    if func == STATEFUL:
        conn.send(_run_stateful(config))
        conn.close()
        return
    judge = make_judge(config)
    last = [0.0]

    def report(f: str, n: int) -> None:
        now = time.monotonic()
        if now - last[0] > 0.25:
            last[0] = now
            progress.put((f, n))

    result = run_function(func, config, judge, report)
    if judge.tainted_by is None:
        finish_inflight(judge)
    conn.send(result)
    conn.close()
    if judge.tainted_by is not None:
        os._exit(0)  # C wrote wild memory here: leave without running any more of this process


def _lost_child(func: str, config: Config, pid: int, why: str) -> FunctionResult:
    """A child died or hung: the case it had in flight in C is the culprit."""
    path = Path(config.inflight_dir or ".") / f"inflight-{pid}.json"
    if not path.is_file():
        return FunctionResult(func, error=f"worker {why} with no C case in flight")
    text = path.read_text()
    path.unlink()
    case = case_from_json(text)
    return FunctionResult(
        func,
        difference=f"C crashed: the worker {why} on this case (C was running it)",
        case_json=text,
        detail=case.describe(),
    )


def run_campaign(
    funcs: Sequence[str], config: Config, jobs: int, show: Callable[[str, int, FunctionResult | None], None]
) -> list[FunctionResult]:
    """Run every function in ``funcs``, ``jobs`` child processes at a time.

    A child per function isolates the functions from each other and from the parent:
    a C crash that kills a child, or leaves it hung, is reported with the case it had
    in flight, and the campaign goes on.
    """
    ctx = multiprocessing.get_context("fork")
    progress: Any = ctx.Queue()
    pending = list(funcs)
    running: dict[str, tuple[Any, Any, float]] = {}
    results: list[FunctionResult] = []

    def finish(func: str, result: FunctionResult, pid: int | None) -> None:
        show(func, result.cases, result)
        results.append(result)
        if config.inflight_dir and pid is not None:  # reported now: nothing left for the next run
            (Path(config.inflight_dir) / f"inflight-{pid}.json").unlink(missing_ok=True)

    while pending or running:
        while pending and len(running) < max(jobs, 1):
            func = pending.pop(0)
            parent, child = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_child_main, args=(func, config, child, progress), daemon=True)
            proc.start()
            child.close()
            running[func] = (proc, parent, time.monotonic())
        try:
            func, n = progress.get(timeout=0.2)
            if func in running:
                proc, conn, _ = running[func]
                running[func] = (proc, conn, time.monotonic())
            show(func, n, None)
        except queue.Empty:
            pass
        now = time.monotonic()
        for func, (proc, conn, last) in list(running.items()):
            if conn.poll():
                try:
                    result: FunctionResult | None = conn.recv()
                except EOFError:
                    result = None
                proc.join(5)
                del running[func]
                finish(
                    func, result or _lost_child(func, config, proc.pid, f"died ({proc.exitcode})"), proc.pid
                )
            elif not proc.is_alive():
                del running[func]
                finish(
                    func, _lost_child(func, config, proc.pid, f"died (exit status {proc.exitcode})"), proc.pid
                )
            elif now - last > SILENCE_LIMIT:
                proc.kill()
                proc.join(5)
                del running[func]
                finish(func, _lost_child(func, config, proc.pid, f"hung for {SILENCE_LIMIT:.0f}s"), proc.pid)
    order = {f: k for k, f in enumerate(funcs)}
    return sorted(results, key=lambda r: order.get(r.func, 0))


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
