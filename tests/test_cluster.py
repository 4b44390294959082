"""``--cluster``: campaigns as tasks on a Dask cluster reach the verdict ``--jobs`` reaches.

- On a real ``dask scheduler`` with two ``dask worker`` processes on loopback, one worker
  killed while it runs a job: the job runs again on the other worker, and every campaign's
  verdict and case count are those of ``--jobs 2`` with the same seed.
- On ``local:2`` (a ``LocalCluster`` the command starts): the same.
- A C crash under ``--cluster`` (one that kills the process running C, one that is trapped)
  is reported with its reproducers, as under ``--jobs``, and the cluster's workers live on.
- Without Dask, or with a spec that is neither ``local:N`` nor ``tcp://HOST:PORT``,
  ``--cluster`` is a usage error (exit 2) that says what to do; a scheduler that does not
  answer is a harness error (exit 2).
- No shared disk: a task writes the client's files where its machine lacks them.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import distributed
import psutil  # type: ignore[import-untyped]  # comes with distributed
import pytest
from changes import changed_iov_c
from cli_runs import ROOT, harness

from harness import cli

#: untyped: its calls are the ones a run makes
dask: Any = distributed

#: long enough jobs (seconds each) that a worker can be killed in the middle of one; the
#: batched engine, whose case counts depend on what Hypothesis draws: equal counts show equal
#: draws (the same seed, and the same project modules in the process that runs the job, whose
#: constants Hypothesis draws from now and then: iov_copy's count changes without them)
CAMPAIGN = ("run", "--engine", "batched", "--profile", "quick", "--seed", "1")
CAMPAIGN_ONLY = ("--only", "iov_copy,iov_to_buf_full")


def verdicts(path: Path) -> tuple[int, list[tuple[Any, ...]]]:
    """A run's exit status and, per campaign, its verdict, case count and failure, from --json."""
    record = json.loads(path.read_text())
    keys = ("group", "function", "verdict", "cases", "kind", "where", "case_json")
    return record["exit_status"], sorted(tuple(row[k] for k in keys) for row in record["rows"])


@pytest.fixture(scope="module")
def on_two_processes(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, list[tuple[Any, ...]]]:
    """What ``--jobs 2`` says of the campaign."""
    tmp = tmp_path_factory.mktemp("jobs")
    r = harness(*CAMPAIGN, *CAMPAIGN_ONLY, "--jobs", "2", "--json", str(tmp / "jobs.json"), cwd=tmp)
    assert r.returncode == 0, r.stdout + r.stderr
    return verdicts(tmp / "jobs.json")


@dataclass
class DaskCluster:
    address: str
    workers: list[subprocess.Popen[bytes]]

    def alive_workers(self) -> int:
        with dask.Client(self.address, timeout=30) as client:
            return len(client.scheduler_info()["workers"])


def _start(args: list[str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with open(log, "wb") as out:  # the child keeps its own descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "dask", *args],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its group: whatever it starts is stopped with it
        )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(wait)
            break
        except subprocess.TimeoutExpired:
            continue
    proc.wait()


@pytest.fixture
def dask_cluster(tmp_path: Path) -> Iterator[DaskCluster]:
    """A ``dask scheduler`` and two single-threaded ``dask worker`` processes (no nanny: killing
    one is killing the worker) on loopback, on ports of their choosing; stopped, every process
    of theirs, whatever the test did."""
    scheduler_file = tmp_path / "scheduler.json"
    procs = [
        _start(
            ["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file",
             str(scheduler_file)],
            tmp_path,
            tmp_path / "scheduler.log",
        )
    ]  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.is_file():
            assert procs[0].poll() is None and time.monotonic() < deadline, "the scheduler did not start"
            time.sleep(0.1)
        for k in range(2):
            procs.append(
                _start(
                    ["worker", "--scheduler-file", str(scheduler_file), "--nthreads", "1", "--no-nanny",
                     "--no-dashboard", "--memory-limit", "1GiB", "--name", f"worker-{k}",
                     "--local-directory", str(tmp_path / f"worker-{k}")],
                    tmp_path,
                    tmp_path / f"worker-{k}.log",
                )
            )  # fmt: skip
        address = json.loads(scheduler_file.read_text())["address"]
        with dask.Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=60)
        yield DaskCluster(address, procs[1:])
    finally:
        for proc in reversed(procs):
            _stop(proc)


def test_a_worker_killed_mid_run_loses_no_job(
    tmp_path: Path, dask_cluster: DaskCluster, on_two_processes: tuple[int, list[tuple[Any, ...]]]
) -> None:
    out = tmp_path / "cluster.json"
    env = dict(os.environ, IOVCONF_NO_DB="1", PYTHONPATH=str(ROOT))
    run = subprocess.Popen(
        [sys.executable, "-m", "harness", *CAMPAIGN, *CAMPAIGN_ONLY, "--cluster", dask_cluster.address,
         "--json", str(out)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    try:
        # a worker running a job (the job's process is its child) is killed, job and all
        victim: subprocess.Popen[bytes] | None = None
        job: Any = None
        deadline = time.monotonic() + 120
        while victim is None:
            assert run.poll() is None and time.monotonic() < deadline, "no worker took a job"
            for worker in dask_cluster.workers:
                children = psutil.Process(worker.pid).children()
                jobs = [p for p in children if "harness.campaign.cluster_job" in p.cmdline()]
                if jobs:
                    victim, job = worker, jobs[0]
                    break
            time.sleep(0.05)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(10)
        stdout, _ = run.communicate(timeout=300)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 0, stdout
    assert verdicts(out) == on_two_processes
    # the killed worker's job process followed it (its lifeline closed) instead of running on
    deadline = time.monotonic() + 30
    while job.is_running() and job.status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "the dead worker's job process lives on"
        time.sleep(0.1)
    assert dask_cluster.alive_workers() == 1


def test_local_cluster_gives_the_verdict_of_jobs(
    tmp_path: Path, on_two_processes: tuple[int, list[tuple[Any, ...]]]
) -> None:
    out = tmp_path / "local.json"
    r = harness(*CAMPAIGN, *CAMPAIGN_ONLY, "--cluster", "local:2", "--json", str(out), cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "on local:2" in r.stdout
    assert verdicts(out) == on_two_processes


def test_a_c_crash_on_the_cluster_is_reported_and_the_workers_live_on(
    tmp_path: Path, dask_cluster: DaskCluster
) -> None:
    """iov_size dereferences NULL (a crash the C side traps) and iov_memset aborts (which kills
    the process running C), each on a vector of two entries whose second is one byte long."""
    condition = "iov_cnt == 2 && iov[1].iov_len == 1"
    source = changed_iov_c(
        tmp_path,
        "        len += iov[i].iov_len;\n",
        f"        len += ({condition} ? (const struct iovec *)0 : iov)[i].iov_len;\n",
    )
    text = source.read_text()
    memset = "            memset(iov[i].iov_base + offset, fillc, len);\n"
    source.write_text(text.replace(memset, f"            if ({condition}) {{ abort(); }}\n{memset}"))
    report = tmp_path / "rep"
    r = harness(
        "run", "--engine", "exhaustive", "--profile", "quick", "--only", "iov_size,iov_memset",
        "--c-source", str(source), "--report", str(report), "--cluster", dask_cluster.address,
        cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Traceback" not in r.stdout + r.stderr
    for func in ("iov_size", "iov_memset"):
        assert f"C CRASHED on case {func} (exhaustive engine)" in r.stdout, r.stdout
        (script,) = report.glob(f"{func}-*.py")
        assert script.with_suffix(".c").is_file()
        case = json.loads(script.read_text().split('CASE = r"""\n', 1)[1].split('\n"""', 1)[0])
        arrays = [region for region in case["regions"] if region[1] == "iovs"]
        assert case["calls"][-1][0] == func and [n for _, n in arrays[0][3]][1] == 1
    assert "the worker died of SIGABRT" in r.stdout  # iov_memset's process, not a Dask worker
    assert all(w.poll() is None for w in dask_cluster.workers)
    assert dask_cluster.alive_workers() == 2


def test_cluster_without_dask_is_a_usage_error_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed: ImportError
    assert cli.main(["run", "--only", "iov_size", "--cluster", "local:2"]) == 2
    assert "pip install 'iovconf[cluster]'" in capsys.readouterr().err


@pytest.mark.parametrize("spec", ["local:0", "local", "tcp://host", "http://host:8786", "tcp://h:99999"])
def test_a_bad_cluster_spec_is_a_usage_error(spec: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["diff", "a.c", "b.c", "--cluster", spec]) == 2
    err = capsys.readouterr().err
    assert "--cluster" in err and "expected local:N (N >= 1) or tcp://HOST:PORT" in err


def test_an_unreachable_scheduler_is_a_harness_error(tmp_path: Path) -> None:
    with socket.socket() as bound:  # a port of ours that nothing listens on: connections refused
        bound.bind(("127.0.0.1", 0))
        port = bound.getsockname()[1]
        r = harness(
            "run", "--engine", "exhaustive", "--profile", "quick", "--only", "iov_size",
            "--cluster", f"tcp://127.0.0.1:{port}", cwd=tmp_path,
            env={"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"},  # Dask's own setting
        )  # fmt: skip
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"--cluster tcp://127.0.0.1:{port}: no Dask scheduler answers there" in r.stdout


def test_a_task_gets_the_clients_files_where_it_has_not_got_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No shared disk: a source the worker does not have at the client's path is written from
    the bytes the task carries; one it has there with the same bytes is used where it is."""
    from harness.campaign.cluster import _localised
    from harness.campaign.pool import PROFILES, Config

    monkeypatch.setenv("IOVCONF_CACHE_DIR", str(tmp_path / "cache"))
    here = tmp_path / "here.c"
    here.write_bytes(b"/* here */")
    elsewhere = str(tmp_path / "on-the-client" / "iov.c")  # not on this machine
    known = str(tmp_path / "on-the-client" / "known.toml")
    files = {elsewhere: b"/* theirs */", str(here): here.read_bytes(), known: b"# known\n"}
    config = Config(
        PROFILES["quick"], elsewhere, "trap", 1, None, inflight_dir=".iovconf/inflight",
        expect_diff=known, old_source=str(here),
    )  # fmt: skip
    task_dir = tmp_path / "task"
    task_dir.mkdir()
    local = _localised(config, files, task_dir)
    assert local.c_source is not None and Path(local.c_source).read_bytes() == b"/* theirs */"
    assert local.old_source == str(here)
    assert local.expect_diff is not None and Path(local.expect_diff).read_bytes() == b"# known\n"
    assert local.inflight_dir == str(task_dir / "inflight")
    assert (local.profile, local.seed, local.assert_mode) == (config.profile, config.seed, config.assert_mode)
