"""One ``--cluster`` task (:mod:`harness.campaign.cluster`) in a process of its own.

The task, in a Dask worker's thread, starts ``python -m harness.campaign.cluster_job REQUEST ANSWER``
in a session of its own and keeps its standard input open.  This process reads the request
(a pickle of what to run: a job with its config, or a revision tag), runs it as ``--jobs 1``
would (``campaign.run_jobs``: C in a child process, a crash reported with its case), and
writes the answer (a pickle of the result) to ANSWER, atomically; progress goes to standard
output as ``iovconf-progress N`` lines.  When its standard input closes (the task's worker
died, or the task was cancelled), the process and all it started end at once.

Before it runs anything it imports the project's modules the client had imported
(:func:`loaded_modules`): Hypothesis draws now and then from the constants of the local
modules a process has imported (``hypothesis.internal.conjecture.providers``), so a job
given the same seed draws the same cases only in a process with the same project modules
as the one ``--jobs`` forks its workers from.

Pickles, not JSON: the request and the answer cross only from one process to another of the
same installation on the same machine, and are the harness's own objects, which Dask
pickles from machine to machine anyway.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import pickle
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.model.results import FunctionResult

from .pool import Job

#: the start of a progress line on standard output (the rest: the job's case count)
PROGRESS = "iovconf-progress"
#: the project's packages (whose modules' constants Hypothesis draws from)
PACKAGES = ("harness", "iovspec", "pyimpl", "reference_c")


def loaded_modules() -> list[str]:
    """The project's modules this process has imported."""
    return sorted(name for name in sys.modules if name.partition(".")[0] in PACKAGES)


def _progress(job: Job, cases: int, result: FunctionResult | None) -> None:
    if result is None:
        print(f"{PROGRESS} {cases}", flush=True)


def _quiet(job: Job, cases: int, result: FunctionResult | None) -> None:
    pass


def _job(payload: Any) -> FunctionResult:
    from .pool import run_jobs

    job, config = payload
    (result,) = run_jobs([job], config, 1, _progress)
    return result


def _revision(tag: str) -> Any:
    from .revisions import check_revision

    return check_revision(tag, 1, _quiet)


def _discover(tag: str) -> str:
    from .revisions import discover

    return discover(tag, 1, _quiet)


#: what a request can ask for
KINDS: dict[str, Callable[[Any], Any]] = {"job": _job, "revision": _revision, "discover": _discover}


def _lifeline() -> None:
    """Wait for standard input to close, then end this process group (the task started it as
    its own: the group is this process and what it started): the task is gone."""
    while os.read(0, 4096):
        pass
    if os.getpgid(0) == os.getpid():
        os.killpg(0, signal.SIGKILL)
    os._exit(1)  # not a group of our own: only this process


def main(argv: list[str]) -> int:
    request, answer = (Path(a) for a in argv)
    threading.Thread(target=_lifeline, daemon=True).start()
    kind, payload, modules = pickle.loads(request.read_bytes())
    for name in modules:  # the client's (see above)
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    result = KINDS[kind](payload)
    partial = answer.with_name(f".{answer.name}")
    partial.write_bytes(pickle.dumps(result))
    os.replace(partial, answer)  # whole or absent, whenever this process is killed
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
