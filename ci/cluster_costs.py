#!/usr/bin/env python3
"""What ``--cluster`` costs on this machine (the numbers of the README's "On a Dask cluster").

    .venv/bin/python ci/cluster_costs.py [--campaign ARGS]

Measures the start-up of a ``local:2`` cluster and of a ``dask scheduler`` with two ``dask
worker`` processes on loopback, the memory of their workers (idle, and at most while they run
jobs: the worker, its task's subprocess and that one's child running C), and a task's own
start-up (a one-second job on the cluster against the same job under ``--jobs 1``).  With
``--campaign ARGS`` it also runs ``harness run ARGS`` with ``--jobs 2``, ``--cluster local:2``
and on the scheduler's two workers, and prints each run's cases, seconds and cases per second.
Prints JSON.  A measurement, not a test: it takes minutes, and its numbers depend on the load.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]  # comes with distributed

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MB = 1 << 20


def tree_pss(pid: int) -> int:
    """The memory of a process and every process under it (proportional set size: pages a
    forked child shares with its parent counted once between them, not in each)."""
    try:
        proc = psutil.Process(pid)
        return int(sum(p.memory_full_info().pss for p in [proc, *proc.children(recursive=True)]))
    except psutil.NoSuchProcess:
        return 0


def dask() -> Any:
    """The ``distributed`` module (untyped)."""
    import distributed

    return distributed


def local_start() -> dict[str, float]:
    """As ``--cluster local:2`` starts it (harness.campaign.cluster)."""
    from harness.campaign.cluster import _client

    start = time.perf_counter()
    with _client("local:2") as client:
        seconds = time.perf_counter() - start
        pss = client.run(lambda: psutil.Process().memory_full_info().pss)
    return {"start_s": round(seconds, 2), "worker_pss_mb": round(sum(pss.values()) / MB / len(pss), 1)}


def start_cli_cluster(tmp: Path) -> tuple[str, list[subprocess.Popen[bytes]], float]:
    """A scheduler and two workers, as tests/test_cluster.py starts them; its address, processes
    and start-up time (until both workers joined)."""
    start = time.perf_counter()
    file = tmp / "scheduler.json"
    cli = [sys.executable, "-m", "dask"]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "start_new_session": True}
    procs = [
        subprocess.Popen(
            [*cli, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file",
             str(file)], **quiet,  # type: ignore[call-overload]
        )
    ]  # fmt: skip
    while not file.is_file():
        time.sleep(0.05)
    for k in range(2):
        procs.append(
            subprocess.Popen(
                [*cli, "worker", "--scheduler-file", str(file), "--nthreads", "1", "--no-nanny",
                 "--no-dashboard", "--memory-limit", "1GiB", "--local-directory", str(tmp / f"w{k}")],
                **quiet,  # type: ignore[call-overload]
            )
        )  # fmt: skip
    address = json.loads(file.read_text())["address"]
    with dask().Client(address) as client:
        client.wait_for_workers(2)
    return address, procs, time.perf_counter() - start


def task_start(address: str) -> dict[str, float]:
    """A short job on the cluster against the same job on --jobs 1: what a task adds."""
    from harness.campaign.cluster import run_jobs_on_cluster
    from harness.campaign.pool import PROFILES, Config, run_jobs

    config = Config(PROFILES["quick"], None, "trap", 1, None)
    job = ("exhaustive", "iov_size")
    out = {}
    runs: tuple[tuple[str, Any], ...] = (
        ("jobs", lambda: run_jobs([job], config, 1, lambda *_: None)),
        ("cluster", lambda: run_jobs_on_cluster([job], config, address, lambda *_: None)),
    )
    for name, run in runs:
        start = time.perf_counter()
        (result,) = run()
        out[f"{name}_wall_s"] = round(time.perf_counter() - start, 2)
        out[f"{name}_job_s"] = round(result.seconds, 2)
    return out


def campaign(args: list[str], where: list[str], pids: list[int], tmp: Path) -> dict[str, Any]:
    """``harness run ARGS`` on ``where``; its cases, seconds, cases/s, the most memory the
    processes ``pids`` (with theirs) held at once while it ran, and its verdict per campaign
    (engine, function, verdict, cases)."""
    peak, done = [0], threading.Event()

    def watch() -> None:
        while not done.wait(0.5):
            peak[0] = max(peak[0], sum(tree_pss(p) for p in pids))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    start = time.perf_counter()
    record = tmp / "run.json"
    run = subprocess.run(
        [sys.executable, "-m", "harness", "run", *args, *where, "--json", str(record)],
        capture_output=True,
        text=True,
        env=dict(os.environ, IOVCONF_NO_DB="1", CI="1"),
        check=False,
    )
    wall = time.perf_counter() - start
    done.set()
    watcher.join()
    found = re.search(r"(\d+) cases judged in ([\d.]+)s \((\d+) cases/s", run.stdout)
    out: dict[str, Any] = {"exit": run.returncode, "wall_s": round(wall, 1)}
    if found:
        out |= {"cases": int(found[1]), "seconds": float(found[2]), "cases_per_s": int(found[3])}
    if pids:
        out["workers_peak_pss_mb"] = round(peak[0] / MB)
    rows = json.loads(record.read_text())["rows"] if record.is_file() else []
    out["verdicts"] = sorted((r["group"], r["function"], r["verdict"], r["cases"]) for r in rows)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--campaign", nargs=argparse.REMAINDER, help="harness run arguments to compare")
    args = parser.parse_args()
    report: dict[str, Any] = {"load_average": os.getloadavg()}
    report["local:2"] = local_start()
    with tempfile.TemporaryDirectory() as tmp:
        address, procs, seconds = start_cli_cluster(Path(tmp))
        try:
            workers = [p.pid for p in procs[1:]]
            report["scheduler+2 workers"] = {
                "start_s": round(seconds, 2),
                "worker_pss_mb": round(sum(tree_pss(p) for p in workers) / MB / 2, 1),
            }
            report["a task"] = task_start(address)
            if args.campaign:
                runs = {
                    "--jobs 2": campaign(args.campaign, ["--jobs", "2"], [], Path(tmp)),
                    "--cluster local:2": campaign(args.campaign, ["--cluster", "local:2"], [], Path(tmp)),
                    "--cluster tcp (2 workers)": campaign(
                        args.campaign, ["--cluster", address], workers, Path(tmp)
                    ),
                }
                verdicts = [run.pop("verdicts") for run in runs.values()]
                report["campaign"] = {"args": args.campaign, **runs}
                report["campaign"]["same verdicts and counts"] = all(v == verdicts[0] for v in verdicts)
        finally:
            for proc in reversed(procs):
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait()
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
