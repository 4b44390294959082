"""Differential campaigns: (engine, function) jobs on long-lived worker processes.

Engines: ``hypothesis`` (a function's strategy, shrinking to a minimal case),
``exhaustive`` (every case up to a bound, smallest first) and ``stateful`` (the
QEMUIOVector lifecycle machine).  Every engine judges through the one
:class:`~harness.verdict.judge.Judge` step and reports a :class:`~harness.model.results.FunctionResult`.

A worker per core takes one job at a time (each with a judge of its own), which
isolates the jobs from the parent: a C crash that kills a worker, or leaves it
hung, is reported with the case it had in flight (``harness.worlds.inflight``), and the
campaign goes on with a fresh worker; a worker on which C crashed in a trapped
way leaves after reporting it (its C memory is not trusted).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import signal
import time
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Flaky

from harness.generate.strategies import STRATEGIES
from harness.model.case import Case, case_to_json
from harness.model.outcome import differences, rank
from harness.model.results import HOW, Finding, FunctionResult
from harness.verdict.expected import Expected
from harness.verdict.judge import (
    CCrashed,
    CHung,
    Discrepancy,
    Judge,
    PortHung,
    Tally,
    describe_failure,
    discrepancy_in,
)
from harness.worlds import inflight
from harness.worlds.world import CWorld, PyWorld, World
from pyimpl.hooks import observing_asserts


@dataclass(frozen=True)
class Profile:
    """How hard a campaign tries."""

    name: str
    examples: int  # Hypothesis examples per function, one case each
    sequences: int = 0  # stateful machine: QEMUIOVector call sequences
    bound: str = "default"  # the exhaustive engine's bound (harness.generate.bounds.BOUNDS)
    ub_cases: int = 0  # UB campaign: generated cases per kind
    batches: int = 0  # batched Hypothesis examples per function (each: every boundary test)


PROFILES = {
    "quick": Profile("quick", 300, 40, "default", 0, 100),
    "default": Profile("default", 1500, 300, "default", 0, 1000),
    "deep": Profile("deep", 8000, 2000, "default", 8, 3000),
}


@dataclass(frozen=True)
class Config:
    """Everything a worker needs to run campaigns: plain data, so it pickles."""

    profile: Profile
    c_source: str | None
    assert_mode: str
    seed: int
    database: str | None
    inflight_dir: str | None = None
    #: a known-differences file (harness.verdict.expected): its differences are accepted, and seen
    expect_diff: str | None = None
    #: C against C: this source stands where the port stands (``harness diff OLD NEW``)
    old_source: str | None = None
    #: the exhaustive engine judges only shard K of N (``--shard K/N``; merged by ``harness merge``)
    shard: tuple[int, int] | None = None
    #: the C side's build flavour; None: the assert mode's (``coverage`` for gcov counts)
    flavour: str | None = None
    #: two aborts of a call agree only if by the same assert (the port against the original);
    #: otherwise a different assert alone is a note
    strict_asserts: bool = False


#: every function's Hypothesis campaign, in table order
CAMPAIGNS = STRATEGIES
#: the stateful machine's name in campaigns and tables
STATEFUL = "stateful (QEMUIOVector lifecycles)"

#: a job: (engine, function)
Job = tuple[str, str]


def function_seed(seed: int, func: str) -> int:
    return seed ^ zlib.crc32(func.encode())


Worlds = tuple[World, World, World | None]  # (port or OLD, reference or NEW, UB filter)


def make_worlds(config: Config) -> Worlds:
    """The two worlds a campaign compares (the port and C, or two C sources) and, for C against
    C, the port that screens out the cases on which it claims undefined behaviour."""
    import reference_c

    reference = reference_c.load(config.c_source, flavour=config.flavour or config.assert_mode)
    if config.old_source is not None:
        old = CWorld(reference_c.load(config.old_source, flavour=config.assert_mode), "OLD")
        return old, CWorld(reference, "NEW"), PyWorld()
    return PyWorld(), CWorld(reference), None


def make_judge(
    config: Config, worlds: Worlds | None = None, flight: inflight.InFlight | None = None
) -> Judge:
    """A judge of its own (no claim settled by another) over ``worlds`` (made afresh if None)."""
    port, reference, ub_filter = worlds if worlds is not None else make_worlds(config)
    if flight is None and config.inflight_dir:
        flight = inflight.InFlight(Path(config.inflight_dir))
    expected = Expected.load(config.expect_diff) if config.expect_diff else None
    return Judge(
        port,
        reference,
        flight=flight,
        expected=expected,
        ub_filter=ub_filter,
        strict_asserts=config.strict_asserts,
    )


def _key(*parts: object) -> str:
    return "|".join(map(str, parts))


def _fill(result: FunctionResult, tally: Tally, evaluated: Counter[tuple[str, str, int]]) -> None:
    _noted(result, tally)
    result.cases = tally.cases
    result.ub = dict(tally.ub)
    result.fired = {_key(*k): n for k, n in tally.fired.items()}
    result.evaluated = {_key(*k): n for k, n in evaluated.items()}
    result.ub_checked = {_key(*k): v for k, v in tally.ub_checked.items()}


def finding_of(exc: BaseException, how: str) -> Finding | None:
    """The finding of a failure the judge raised; None if ``exc`` is not one."""
    found = describe_failure(exc)
    if found is None:
        return None
    difference, case = found
    if isinstance(exc, Discrepancy):
        kind, where = exc.kind, exc.where
    else:
        kind, where = ("a hang" if isinstance(exc, PortHung | CHung) else "a crash"), ""
    return Finding(
        difference,
        kind,
        where,
        case_to_json(case),
        HOW["crash"] if isinstance(exc, CCrashed) else how,
        fields=fields_of(exc),
    )


def fields_of(exc: BaseException) -> list[str]:
    """Every field that differs on a failure's case, one sentence each."""
    if isinstance(exc, Discrepancy):
        ours, theirs = exc.outcomes
        if ours is not None and theirs is not None:
            return differences(ours, theirs, exc.names)
    found = describe_failure(exc)
    return [found[0]] if found is not None else []


def _failed(result: FunctionResult, exc: BaseException, how: str, prefix: str = "") -> bool:
    """Record every failure the judge raised in ``exc`` (one, or a group of distinct ones that
    Hypothesis kept apart); False if ``exc`` holds none."""
    if isinstance(exc, Flaky):
        inner = discrepancy_in(exc)
        if inner is None:
            return False
        # the C side differed but not every time (e.g. it read uninitialised stack)
        return _failed(result, inner, how, "nondeterministic: ")
    if isinstance(exc, BaseExceptionGroup):
        found = [_failed(result, sub, how, prefix) for sub in exc.exceptions]
        return any(found)
    finding = finding_of(exc, how)
    if finding is None:
        return False
    finding.difference = prefix + finding.difference
    result.add(finding)
    return True


def _noted(result: FunctionResult, tally: Tally) -> None:
    """The tally's notes as findings of the result (one case each)."""
    for note in tally.notes.values():
        result.notes.append(
            Finding(note.difference, note.kind, note.where, case_to_json(note.case), "the first case seen")
        )


def run_hypothesis(
    func: str, config: Config, judge: Judge, on_case: Callable[[int], None] | None = None
) -> FunctionResult:
    """The Hypothesis campaign for one function, one case per example; a failure ends it, shrunk."""
    tally = Tally()
    test = hypothesis_test(func, judge, tally, on_case)
    return _hypothesis_result(
        func, "hypothesis", config, tally, test, config.profile.examples, HOW["hypothesis"]
    )


def hypothesis_test(
    func: str, judge: Judge, tally: Tally, on_case: Callable[[int], None] | None = None
) -> Any:
    """The Hypothesis engine's test of one function (a ``@given`` test, before its settings and
    its key, :func:`harness.engines.database.keyed` with engine ``hypothesis``): ``harness fuzz`` saves
    what it finds under this test's key too, so that ``run`` replays it."""

    def agrees(case: Case) -> None:
        judge.check(case, tally)
        if on_case is not None:
            on_case(tally.cases)

    # its own name gives each function its own entries in the example database
    agrees.__name__ = agrees.__qualname__ = f"agrees_{func}"
    return given(CAMPAIGNS[func])(agrees)


def _hypothesis_result(
    func: str, engine: str, config: Config, tally: Tally, test: Any, examples: int, how: str
) -> FunctionResult:
    """Run a Hypothesis test of ``func`` with the campaign's settings; its result."""
    from harness.engines.database import keyed, open_database

    configured = settings(
        max_examples=examples,
        deadline=None,
        database=open_database(config.database) if config.database else None,
        suppress_health_check=list(HealthCheck),
        phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink),
        # every distinct difference (each kind and place raises its own Discrepancy type), each
        # shrunk to its own minimal case
        report_multiple_bugs=True,
    )
    # a key of the campaign's own: Hypothesis would hash the inner test's source, the same for all
    run = keyed(configured(test), func, engine, function_seed(config.seed, f"{engine} {func}"))
    result = FunctionResult(func, engine)
    evaluated: Counter[tuple[str, str, int]] = Counter()
    start = time.perf_counter()
    with observing_asserts(lambda f, e, line, ok: evaluated.update(((f, e, line),))):
        try:
            run()
        except (CCrashed, Discrepancy, BaseExceptionGroup) as exc:
            if not _failed(result, exc, how):
                result.error = f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # a harness or build failure, not a verdict on the code
            result.error = f"{type(exc).__name__}: {exc}"
    result.seconds = time.perf_counter() - start
    _fill(result, tally, evaluated)
    return result


def run_batched(
    func: str, config: Config, judge: Judge, on_case: Callable[[int], None] | None = None
) -> FunctionResult:
    """The batched Hypothesis campaign for one function: each example draws one layout and runs
    every boundary test against it (``harness.generate.choices.sweep``) plus a few drawn ones, as one
    batch; a failure is shrunk by Hypothesis (the layout and the drawn choices), the failing
    test of the smallest layout being the first in the sweep's order."""
    from hypothesis import strategies as st

    from harness.generate.bounds import DRAWN
    from harness.generate.choices import Drawn, sweep
    from harness.generate.families import FAMILIES
    from harness.model.case import Builder
    from harness.verdict.batch import make_batch

    fam = FAMILIES[func]
    tally = Tally()
    label = f"batched {func}"

    def batch(data: st.DataObject) -> None:
        # the draws straight from the example's choice data: what data.draw does, less its
        # per-draw bookkeeping for printing drawn values (the case is reported instead)
        inner = getattr(data, "conjecture_data", None)
        c = Drawn(data.draw if inner is None else inner.draw, DRAWN)
        b = Builder()
        test = fam.build(c, b)
        tests = sweep(c, test, BATCH_LIMIT) + [test(c) for _ in range(BATCH_DRAWN)]
        runner = make_batch(judge, Case(tuple(b.regions), tuple(b.calls), label))
        failures: list[Discrepancy] = []

        def failed(d: Discrepancy) -> bool:
            failures.append(d)
            return len(failures) >= BATCH_FAILURES

        try:
            runner.judge_tests(tests, label, tally, failed)
        finally:
            runner.close()
        if on_case is not None:
            on_case(tally.cases)
        if failures:  # the most telling difference of the layout, the first of its rank
            raise min(failures, key=lambda d: rank(d.kind))

    batch.__name__ = batch.__qualname__ = f"batched_{func}"
    return _hypothesis_result(
        func, "batched", config, tally, given(st.data())(batch), config.profile.batches, HOW["batched"]
    )


#: boundary tests per batched example at most, and drawn ones besides
BATCH_LIMIT = 512
BATCH_DRAWN = 2
#: failing tests of one batched example judged (each decoded in full) before the most telling
#: of them is raised
BATCH_FAILURES = 16


def run_exhaustive(
    func: str, config: Config, judge: Judge, on_case: Callable[[int], None] | None = None
) -> FunctionResult:
    """Every case of the profile's bound for one function, smallest first."""
    from harness.engines import exhaustive

    result = FunctionResult(func, "exhaustive")
    tally = Tally()
    start = time.perf_counter()
    place = [-1]
    bound = exhaustive.BOUNDS[config.profile.bound]

    def found(exc: Discrepancy) -> bool:
        """Keep the first (smallest) case of each distinct difference; True: enough of them."""
        finding = finding_of(exc, HOW["exhaustive"])
        assert finding is not None
        finding.place = place[0]
        if all(f.key != finding.key for f in result.findings):
            result.add(finding)
        first = since.setdefault("first failure", time.perf_counter())
        failures[0] += 1
        return (
            len(result.findings) >= MAX_FINDINGS
            or failures[0] > LOOKING_ON
            or time.perf_counter() - first > LOOKING_ON_SECONDS
        )

    since: dict[str, float] = {}
    failures = [0]
    judge.recheck_refuted = False  # the first case of a refuted claim is the one kept
    try:
        exhaustive.check_function(
            func,
            bound,
            judge,
            tally,
            on_case,
            shard=config.shard,
            on_group=lambda k: place.__setitem__(0, k),
            on_failure=found,
        )
    except CCrashed as exc:
        _failed(result, exc, HOW["exhaustive"])
        if result.first is not None:
            result.first.place = place[0]
    except Exception as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    result.seconds = time.perf_counter() - start
    _fill(result, tally, Counter())
    return result


#: the exhaustive engine stops looking once it holds this many distinct differences of a
#: function, or has judged this many failing cases since its first (each failing case is
#: judged alone and decoded in full; a patch that changes one thing everywhere would
#: otherwise cost that for every case of the bound).  A count, not a time, so the same
#: source finds the same differences on any machine: about 30 s of failing cases here (500
#: were too few: a value changed everywhere used them up before a memory change of the same
#: patch).  The seconds are only a safety net for a pathologically slow machine.
MAX_FINDINGS = 8
LOOKING_ON = 20_000
LOOKING_ON_SECONDS = 600.0


def run_stateful(
    func: str, config: Config, judge: Judge, on_case: Callable[[int], None] | None = None
) -> FunctionResult:
    """The QEMUIOVector lifecycle machine."""
    from harness.engines import stateful

    result = FunctionResult(STATEFUL, "stateful")
    tally = Tally()
    start = time.perf_counter()
    try:
        stateful.run(judge, config.profile.sequences, config.seed, tally, on_case)
    except (CCrashed, Discrepancy) as exc:
        _failed(result, exc, HOW["stateful"])
    except Exception as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    result.seconds = time.perf_counter() - start
    _fill(result, tally, Counter())
    return result


ENGINES: dict[str, Callable[..., FunctionResult]] = {
    "hypothesis": run_hypothesis,
    "batched": run_batched,
    "exhaustive": run_exhaustive,
    "stateful": run_stateful,
}


# -- running many jobs, each in its own child process -----------------------------------------------
#: a child that reports no progress for this long is stuck (e.g. C left the heap locked): killed
SILENCE_LIMIT = 120.0


def _reporter(job: Job, progress: Any) -> Callable[[int], None]:
    """Sends ``job``'s case count to the parent now and then."""
    last = [0.0]

    def report(n: int) -> None:
        now = time.monotonic()
        if now - last[0] > 0.25:
            last[0] = now
            progress.put((job, n))

    return report


def _worker_main(config: Config, conn: Any, progress: Any) -> None:
    """A worker process: runs the jobs the parent sends through ``conn`` (None: stop), one at a
    time, each with a judge of its own, and sends back (result, tainted).  After a job on which
    C crashed (a trapped crash: its memory is not to be trusted) it leaves at once."""
    worlds = make_worlds(config)  # the same worlds for every job (the sites once)
    flight = inflight.InFlight(Path(config.inflight_dir)) if config.inflight_dir else None
    while True:
        try:
            job = conn.recv()
        except EOFError:
            job = None
        if job is None:
            break
        engine, func = job
        judge = make_judge(config, worlds, flight)
        report = _reporter(job, progress)
        result = ENGINES[engine](func, config, judge, report)
        if judge.expected is not None:
            result.expected_seen = dict(judge.expected.seen)
        tainted = judge.tainted_by is not None
        if not tainted and flight is not None:
            flight.clear()  # the job is over: nothing of it in flight (a later death is not its doing)
        conn.send((result, tainted))
        if tainted:
            conn.close()
            os._exit(0)  # C wrote wild memory here: leave without running any more of this process
    if flight is not None:
        flight.close()
    conn.close()


def _died(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"died of {signal.Signals(-exitcode).name}"
        except ValueError:
            pass
    return f"died (exit status {exitcode})"


def _lost_child(job: Job, config: Config, pid: int, why: str) -> FunctionResult:
    """A child died or hung: the case it had in flight in C is the culprit."""
    engine, func = job
    name = STATEFUL if engine == "stateful" else func
    left = inflight.of_process(Path(config.inflight_dir), pid) if config.inflight_dir else None
    if left is None:
        return FunctionResult(name, engine, error=f"worker {why} with no C case in flight")
    case = left.cases[0] if not left.batch else locate(left.cases, config)
    difference = f"C crashed: the worker {why} on this case (C was running it)"
    finding = Finding(difference, "a crash", "", case_to_json(case), HOW["lost"], fields=[difference])
    return FunctionResult(name, engine, findings=[finding])


def _locate_child(cases: Sequence[Case], config: Config, conn: Any) -> None:
    judge = make_judge(config)
    for k, case in enumerate(cases):
        try:
            judge.check(case)
        except (CCrashed, Discrepancy):
            conn.send(k)
            os._exit(0)
        except Exception:
            continue
    conn.send(-1)
    os._exit(0)


def locate(cases: Sequence[Case], config: Config) -> Case:
    """The first of a dead worker's batch that kills C (or differs), run afresh in a child."""
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_locate_child, args=(cases, config, child), daemon=True)
    proc.start()
    child.close()
    proc.join(SILENCE_LIMIT)
    if proc.is_alive():
        proc.kill()
        proc.join()
    try:
        k = parent.recv() if parent.poll() else None
    except EOFError:  # it died without a word: on the case it had in flight
        k = None
    if k is None and config.inflight_dir:  # it died on a case: the one it had in flight
        left = inflight.of_process(Path(config.inflight_dir), proc.pid or 0)
        if left is not None:
            return left.cases[0]
    return cases[k] if isinstance(k, int) and k >= 0 else cases[0]


@dataclass
class _Worker:
    proc: Any
    conn: Any
    job: Job | None = None
    last: float = 0.0  # when it last showed progress (or was given its job)


def run_jobs(
    jobs: Sequence[Job], config: Config, n_jobs: int, show: Callable[[Job, int, FunctionResult | None], None]
) -> list[FunctionResult]:
    """Run every job on ``n_jobs`` long-lived worker processes; results in the order of ``jobs``.

    Each worker takes one job at a time.  A worker that dies, or shows no progress for
    SILENCE_LIMIT seconds (then killed), is reported with the case it had in flight in C, and a
    fresh worker takes the next job; so does one that reported a trapped C crash (it leaves).
    """
    ctx = multiprocessing.get_context("fork")
    progress: Any = ctx.Queue()
    pending = list(jobs)
    workers: list[_Worker] = []
    results: dict[Job, FunctionResult] = {}

    def finish(job: Job, result: FunctionResult) -> None:
        show(job, result.cases, result)
        results[job] = result

    def start() -> _Worker:
        parent, child = ctx.Pipe(duplex=True)
        proc = ctx.Process(target=_worker_main, args=(config, child, progress), daemon=True)
        proc.start()
        child.close()
        worker = _Worker(proc, parent)
        workers.append(worker)
        return worker

    def retire(worker: _Worker, why: str | None) -> None:
        """Done with ``worker``: it left (why None: it reported first) or died or hung (why)."""
        workers.remove(worker)
        worker.conn.close()
        worker.proc.join(5)
        if why is None:
            if config.inflight_dir:  # it reported: nothing of it left in flight
                inflight.of_process(Path(config.inflight_dir), worker.proc.pid)
        elif worker.job is not None:
            finish(worker.job, _lost_child(worker.job, config, worker.proc.pid, why))

    try:
        while pending or any(w.job is not None for w in workers):
            for worker in [w for w in workers if w.job is None]:
                if not worker.proc.is_alive():  # it left between jobs: nothing of a job lost
                    retire(worker, None)
                elif not pending:
                    worker.conn.send(None)  # no more jobs for it
                    retire(worker, None)
            while pending and (any(w.job is None for w in workers) or len(workers) < max(n_jobs, 1)):
                worker = next((w for w in workers if w.job is None), None) or start()
                worker.job = pending.pop(0)
                worker.last = time.monotonic()
                worker.conn.send(worker.job)
            try:
                job, n = progress.get(timeout=0.2)
                for worker in workers:
                    if worker.job == job:
                        worker.last = time.monotonic()
                        show(job, n, None)
            except queue.Empty:
                pass
            now = time.monotonic()
            for worker in list(workers):
                job = worker.job
                if job is None:
                    continue
                if worker.conn.poll():
                    try:
                        result, tainted = worker.conn.recv()
                    except EOFError:
                        worker.proc.join(5)
                        retire(worker, _died(worker.proc.exitcode))
                        continue
                    worker.job = None
                    finish(job, result)
                    if tainted:
                        retire(worker, None)
                elif not worker.proc.is_alive():
                    retire(worker, _died(worker.proc.exitcode))
                elif now - worker.last > SILENCE_LIMIT:
                    worker.proc.kill()
                    worker.proc.join(5)
                    retire(worker, f"hung for {SILENCE_LIMIT:.0f}s")
    finally:
        for worker in list(workers):
            if worker.proc.is_alive():
                with contextlib.suppress(OSError):
                    worker.conn.send(None)
            worker.proc.join(10)
            if worker.proc.is_alive():
                worker.proc.kill()
                worker.proc.join(5)
            worker.conn.close()
    return [results[j] for j in jobs]
