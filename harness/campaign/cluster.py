"""``--cluster``: the jobs of ``run`` and ``diff``, and the revisions of ``revisions``, as tasks
on a Dask cluster.

``--cluster local:N`` starts a Dask ``LocalCluster`` of N single-threaded worker processes for
the command; ``--cluster tcp://HOST:PORT`` sends the tasks to a running ``dask scheduler``.
A task is one job of the plan ``--jobs`` runs (an (engine, function) campaign of ``run`` or
``diff``, one revision of ``revisions``), with the same seed, so the cases, the counts and
the first failure are the ones ``--jobs`` gives; the results come back as the objects
``--jobs`` returns, and the command reports them as it always does.

Each task runs its job in a subprocess of the Dask worker (:mod:`harness.campaign.cluster_job`),
through :func:`harness.campaign.pool.run_jobs` with one process, as ``--jobs`` does: Dask runs
tasks in threads, and the port's time limit needs a main thread; C runs in a child of that
subprocess, so a C crash kills the child, never the Dask worker, and comes back as a crash
with the case C had in flight, and a hang is killed after ``campaign.SILENCE_LIMIT``.
The subprocess holds its standard input from the task: when the task's worker dies, or the
task is cancelled, the subprocess and everything it started die with it.

A worker that dies (a lost machine, memory) has its tasks run again elsewhere by the
scheduler, from their start (a job is deterministic), up to
``distributed.scheduler.allowed-failures`` times (:data:`ALLOWED_FAILURES` on a local
cluster; the scheduler's own setting, 3 by default, on a remote one); a job whose workers
keep dying is an error of that job (exit 2).  Tasks are not retried on an exception: a
verdict is never an exception, and a harness error would only repeat.

There is no shared disk: the C sources and the known-differences file go with each task, as
bytes, and are written on the worker where they are not there already.  A remote worker
needs iovconf installed (the same version) with its ``cluster`` extra; its example database
is its own directory unless ``--db`` names a shared one (``redis://``).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import logging
import os
import pickle
import queue
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from harness.model.results import FunctionResult

from . import cluster_job
from .pool import Config, Job, run_jobs

if TYPE_CHECKING:
    from .revisions import RevisionResult

#: what to install for --cluster (named by the usage error when Dask is missing)
EXTRA = "pip install 'iovconf[cluster]'"
#: a local cluster's scheduler runs a task again on another worker this many times when the
#: worker running it dies (Dask's default); then the job is an error
ALLOWED_FAILURES = 3
#: how long to wait for a first worker to join a remote scheduler (how long to wait for the
#: scheduler to answer is Dask's distributed.comm.timeouts.connect, 30 s unless configured)
WORKERS_TIMEOUT = 120
#: how often the client looks at its tasks, and the longest a task waits between progress reports
POLL = 0.2
PROGRESS_EVERY = 1.0

_LOCAL = re.compile(r"local:(\d+)")
_TCP = re.compile(r"tcp://([^\s:/]+|\[[0-9a-fA-F:]+\]):(\d+)")

_HELP = (
    "run each campaign (revisions: each revision) as a task on a Dask cluster instead of --jobs "
    "processes, with the same verdict: local:N (a LocalCluster of N workers, here) or tcp://HOST:PORT "
    f"(a running dask scheduler); needs {EXTRA}"
)


def cluster_spec(text: str) -> str:
    """``--cluster``: ``local:N`` or ``tcp://HOST:PORT``, with Dask installed."""
    local, tcp = _LOCAL.fullmatch(text), _TCP.fullmatch(text)
    if not (local and int(local[1]) >= 1) and not (tcp and 0 < int(tcp[2]) < 65536):
        raise argparse.ArgumentTypeError(f"expected local:N (N >= 1) or tcp://HOST:PORT, got {text!r}")
    try:
        import distributed  # noqa: F401
    except ImportError as exc:
        raise argparse.ArgumentTypeError(f"needs Dask, which is not installed ({exc}): {EXTRA}") from None
    return text


def add_argument(command: argparse.ArgumentParser) -> None:
    """``--cluster`` of ``run``, ``diff`` or ``revisions``."""
    command.add_argument("--cluster", metavar="local:N|tcp://HOST:PORT", type=cluster_spec, help=_HELP)


class ClusterError(RuntimeError):
    """No cluster to run on: the scheduler does not answer, or no worker joined it."""


class JobProcessDied(RuntimeError):
    """A task's subprocess ended without an answer (killed from outside: C runs in a child of it)."""


# -- the client's side ------------------------------------------------------------------------------


def run_campaigns(
    jobs: Sequence[Job],
    config: Config,
    n_jobs: int,
    show: Callable[[Job, int, FunctionResult | None], None],
    cluster: str | None = None,
) -> list[FunctionResult]:
    """:func:`harness.campaign.pool.run_jobs` on ``n_jobs`` processes here, or on ``cluster``."""
    if cluster is None:
        return run_jobs(jobs, config, n_jobs, show)
    return run_jobs_on_cluster(jobs, config, cluster, show)


def run_jobs_on_cluster(
    jobs: Sequence[Job], config: Config, cluster: str, show: Callable[[Job, int, FunctionResult | None], None]
) -> list[FunctionResult]:
    """What :func:`harness.campaign.pool.run_jobs` returns, each job a task on ``cluster``; results in
    the order of ``jobs``, ``show`` called with each job's progress and result as they come."""
    files = {p: Path(p).read_bytes() for p in (config.c_source, config.old_source, config.expect_diff) if p}
    return _on_cluster(cluster, [_job_task(job, config, show) for job in jobs], files)


def _job_task(
    job: Job, config: Config, show: Callable[[Job, int, FunctionResult | None], None]
) -> _Task[FunctionResult]:
    def failed(why: str) -> FunctionResult:
        return FunctionResult(job[1], job[0], error=why)

    def done(result: FunctionResult) -> None:
        show(job, result.cases, result)

    def progress(n: int) -> None:
        show(job, n, None)

    return _Task("job", (job, config), f"{job[0]}-{job[1]}", failed, done, progress)


def check_revisions_on_cluster(
    tags: Sequence[str], cluster: str, say: Callable[[str], None]
) -> list[RevisionResult]:
    """What ``harness.campaign.revisions.check_revision`` gives for each of ``tags``, one task a revision."""
    from harness.verdict.expected import Expected

    from .revisions import RevisionResult

    def failed(tag: str, why: str) -> RevisionResult:
        whole = FunctionResult("(the whole revision)", "cluster", error=why)
        return RevisionResult(tag, {}, [whole], Expected())

    def done(result: RevisionResult) -> None:
        say(f"  {result.tag}: {'ok' if result.ok else 'FAILED'} ({len(result.verdicts)} functions)")

    tasks = [_Task("revision", t, t, functools.partial(failed, t), done) for t in tags]
    return _on_cluster(cluster, tasks, {})


def discover_on_cluster(tags: Sequence[str], cluster: str) -> list[str]:
    """What ``harness.campaign.revisions.discover`` gives for each of ``tags``, one task a revision."""

    def failed(tag: str, why: str) -> str:
        return f"# ERROR: {tag}: {why}"

    tasks = [_Task("discover", t, f"discover-{t}", functools.partial(failed, t)) for t in tags]
    return _on_cluster(cluster, tasks, {})


R = TypeVar("R")


@dataclasses.dataclass(frozen=True)
class _Task(Generic[R]):
    """One task: what :mod:`harness.campaign.cluster_job` runs, and what the client does with its answer."""

    kind: str  # job, revision or discover (harness.campaign.cluster_job.KINDS)
    payload: Any
    name: str  # in the task's key, as a dashboard shows it
    failed: Callable[[str], R]  # the answer of a task that gave none, and why
    done: Callable[[R], None] | None = None  # called with the answer as it comes
    progress: Callable[[int], None] | None = None  # called with the case count now and then


def _on_cluster(cluster: str, tasks: Sequence[_Task[R]], files: dict[str, bytes]) -> list[R]:
    """Run ``tasks`` on ``cluster`` (``files``: the client's files they read, as bytes); their
    answers in order."""
    token = secrets.token_hex(4)
    topic = f"iovconf-progress-{token}"  # this run's own, on a cluster others may share
    answers: dict[int, R] = {}
    try:
        with _client(cluster) as client:
            updates: queue.Queue[list[int]] = queue.Queue()
            client.subscribe_topic(topic, lambda event: updates.put(event[1]))
            oracle = _shared_oracle()
            modules = cluster_job.loaded_modules()
            futures = [
                client.submit(
                    _task,
                    t.kind,
                    t.payload,
                    files,
                    topic,
                    k,
                    oracle,
                    modules,
                    key=f"iovconf-{t.name}-{token}",
                    pure=False,
                    retries=0,
                )
                for k, t in enumerate(tasks)
            ]
            try:
                while len(answers) < len(futures):
                    while not updates.empty():
                        k, n = updates.get()
                        progress = tasks[k].progress
                        if k not in answers and progress is not None:
                            progress(n)
                    for k, future in enumerate(futures):
                        if k not in answers and future.done():
                            answers[k] = _answer(future, tasks[k].failed)
                            done = tasks[k].done
                            if done is not None:
                                done(answers[k])
                    time.sleep(POLL)
            finally:
                client.cancel([f for f in futures if not f.done()])
                client.unsubscribe_topic(topic)
    except ClusterError as exc:
        for k, t in enumerate(tasks):
            answers.setdefault(k, t.failed(str(exc)))
    return [answers[k] for k in range(len(tasks))]


def _answer(future: Any, failed: Callable[[str], R]) -> R:
    """A finished task's answer, or what ``failed`` makes of why it has none."""
    try:
        answer: R = future.result()
        return answer
    except _distributed().KilledWorker:
        return failed(
            "every Dask worker that ran this job died (the scheduler's allowed-failures were spent); not C "
            "(C runs in a child process of the task): memory, or the machines"
        )
    except JobProcessDied as exc:
        return failed(str(exc))
    except Exception as exc:  # e.g. a worker without iovconf installed
        return failed(f"the task failed on its Dask worker: {type(exc).__name__}: {exc}")


def _distributed() -> Any:
    """The ``distributed`` module (untyped: its calls are checked by the tests)."""
    import distributed

    return distributed


@contextlib.contextmanager
def _client(cluster: str) -> Iterator[Any]:
    """A Dask client of ``cluster`` (a local cluster started for the block, or a running scheduler)."""
    import dask

    dd = _distributed()
    local = _LOCAL.fullmatch(cluster)
    if local:
        try:
            with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
                # processes (the C side's state is per process), one thread each: one job a core
                lc = dd.LocalCluster(
                    n_workers=int(local[1]),
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    silence_logs=logging.ERROR,
                )
        except Exception as exc:
            raise ClusterError(f"--cluster {cluster}: the local cluster did not start ({exc})") from exc
        with lc, dd.Client(lc) as client:
            yield client
        return
    try:
        client = dd.Client(cluster)
    except (OSError, TimeoutError) as exc:
        raise ClusterError(f"--cluster {cluster}: no Dask scheduler answers there ({exc})") from exc
    with client:
        try:
            client.wait_for_workers(1, timeout=WORKERS_TIMEOUT)
        except TimeoutError:
            raise ClusterError(
                f"--cluster {cluster}: no worker joined the scheduler in {WORKERS_TIMEOUT}s"
            ) from None
        yield client


def _shared_oracle() -> tuple[str, str]:
    """This run's shared UB oracle (``harness.worlds.oracle.shared_server``) and the host it is on: a
    task on the same host uses it, one elsewhere starts its own."""
    from harness.worlds.oracle import SHARED_ENV

    return socket.gethostname(), os.environ.get(SHARED_ENV, "")


# -- the worker's side ------------------------------------------------------------------------------


def _task(
    kind: str,
    payload: Any,
    files: dict[str, bytes],
    topic: str,
    index: int,
    oracle: tuple[str, str],
    modules: list[str],
) -> Any:
    """In a Dask worker's thread: run the task in a subprocess (:mod:`harness.campaign.cluster_job`), relay
    its progress, and give its answer."""
    from harness.worlds.oracle import SHARED_ENV

    worker = _distributed().get_worker()
    key = worker.get_current_task()
    env = dict(os.environ)
    host, address = oracle
    if address and host == socket.gethostname() and os.path.exists(address.partition("|")[0]):
        env[SHARED_ENV] = address
    # in the worker's own directory, which Dask clears of a dead worker's files
    with tempfile.TemporaryDirectory(prefix="iovconf-task-", dir=worker.local_directory) as tmp:
        if kind == "job":
            job, config = payload
            payload = (job, _localised(config, files, Path(tmp)))
        request, answer = Path(tmp) / "request.pickle", Path(tmp) / "answer.pickle"
        request.write_bytes(pickle.dumps((kind, payload, modules)))
        last = [0.0]

        def relay(n: int) -> None:
            now = time.monotonic()
            if now - last[0] >= PROGRESS_EVERY:
                last[0] = now
                worker.log_event(topic, [index, n])

        with open(Path(tmp) / "stderr", "w+b") as err:
            returncode = _subprocess(request, answer, err, env, relay, lambda: _cancelled(worker, key))
            if answer.is_file():
                return pickle.loads(answer.read_bytes())
            err.seek(0)
            tail = err.read()[-2000:].decode(errors="replace")
    from .pool import _died

    raise JobProcessDied(
        f"the job's process {_died(returncode)} without an answer (not of C: C runs in a child of it)"
        + (f"\n{tail}" if tail.strip() else "")
    )


def _subprocess(
    request: Path,
    answer: Path,
    err: Any,
    env: dict[str, str],
    relay: Callable[[int], None],
    cancelled: Callable[[], bool],
) -> int:
    """Run ``python -m harness.campaign.cluster_job REQUEST ANSWER`` in a session of its own, relaying its
    progress lines, until it ends or the task is cancelled; its exit status."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.campaign.cluster_job", str(request), str(answer)],
        stdin=subprocess.PIPE,  # its lifeline: it dies when this pipe closes
        stdout=subprocess.PIPE,
        stderr=err,
        env=env,
        start_new_session=True,  # one process group: itself and whatever it starts
        text=True,
    )

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(cluster_job.PROGRESS):
                with contextlib.suppress(ValueError):
                    relay(int(line.split()[1]))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        while True:
            try:
                proc.wait(timeout=1)
                break
            except subprocess.TimeoutExpired:
                if cancelled():
                    break
    finally:
        # whatever of its group is left (after it ended: a group outlives its leader, and its
        # number is not reused while it does)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait()
        reader.join(5)
    return proc.returncode


def _cancelled(worker: Any, key: Any) -> bool:
    """Whether the scheduler took the task back (its client went away, or cancelled it)."""
    try:
        state = worker.state.tasks.get(key)
        return state is not None and state.state == "cancelled"
    except AttributeError:  # another version of distributed: never cancelled from here
        return False


def _localised(config: Config, files: dict[str, bytes], tmp: Path) -> Config:
    """``config`` with its files on this machine: each path the client named where it holds the
    same bytes here, else a copy (a C source where ``harness.review.sources`` keeps copies, the
    known-differences file in ``tmp``), and an in-flight directory of the task's own."""
    from harness.review.sources import materialise

    def here(path: str | None, copy: Callable[[bytes], Path]) -> str | None:
        if path is None:
            return None
        data = files[path]
        local = Path(path)
        if local.is_file() and local.read_bytes() == data:
            return path
        return str(copy(data))

    def known(data: bytes) -> Path:
        out = tmp / "known.toml"
        out.write_bytes(data)
        return out

    return dataclasses.replace(
        config,
        c_source=here(config.c_source, materialise),
        old_source=here(config.old_source, materialise),
        expect_diff=here(config.expect_diff, known),
        inflight_dir=str(tmp / "inflight") if config.inflight_dir else None,
    )
