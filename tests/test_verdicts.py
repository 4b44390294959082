"""Verdicts that can be trusted: the original is never red, and every red verdict replays red.

- An exact-alias ``memcpy(p, p, n)`` is undefined in ISO C; the port says so, and the UB oracle
  confirms it with a check of our own (AddressSanitizer does not report ``dst == src``).
- A UB claim the C code does not share is a discrepancy, and its report replays red.
- Every engine reports a C crash (trapped, or one that kills the worker) with its case.
- Two runs in one checkout never take each other's in-flight files for a dead run's leftovers,
  and a leftover that agrees when replayed is a note, not a failure.
- An assert is identified by (function, expression, ordinal), not by its line: a source whose
  lines moved is judged on behaviour.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from changes import changed_iov_c
from cli_runs import harness

import reference_c
from harness.engines.exhaustive import QUICK_BOUND, check_function
from harness.model.case import Builder, Case, case_to_json
from harness.model.outcome import AssertFailed, Undefined
from harness.report.reports import write_report
from harness.verdict.judge import Discrepancy, Judge
from harness.worlds.oracle import for_source
from harness.worlds.world import CWorld, PyWorld, run_case

ROOT = Path(__file__).resolve().parent.parent


def alias_case() -> Case:
    """qemu_iovec_init_buf(&q, &buf, 5), then qemu_iovec_init_extended(&q, 0, 0, &q, 0, 5, 0, 0):
    the middle vector is q itself, so its one entry is copied onto itself: memcpy(p, p, 16)."""
    b = Builder()
    q = b.qiov()
    buf = b.data(bytes(5))
    b.call("qemu_iovec_init_buf", q, buf, 5)
    b.call("qemu_iovec_init_extended", q, 0, 0, q, 0, 5, 0, 0)
    return b.case()


def test_an_exact_alias_memcpy_is_undefined_and_confirmed(judge: Judge) -> None:
    outcome = judge.check(alias_case())  # raises Discrepancy if the oracle did not confirm it
    assert outcome.ub == Undefined("overlapping-memcpy")
    report = for_source(None).confirm(alias_case(), "overlapping-memcpy")
    assert report.confirmed and report.report.startswith("iovconf overlapping-memcpy: memcpy(")


def test_a_ub_claim_c_does_not_share_is_red_and_replays_red(tmp_path: Path) -> None:
    """A source whose init_extended copies with memmove (defined for overlap): the port's claim
    of an overlapping memcpy is refuted, in the judge and in the replay of its report."""
    path = changed_iov_c(
        tmp_path,
        "        memcpy(p, mid_iov, mid_niov * sizeof(*p));",
        "        memmove(p, mid_iov, mid_niov * sizeof(*p));",
    )
    judge = Judge(PyWorld(), CWorld(reference_c.load(path)))
    with pytest.raises(
        Discrepancy, match=r"the port says undefined behaviour \(overlapping-memcpy\)"
    ) as info:
        judge.check(alias_case())
    script = write_report(
        tmp_path / "rep",
        "qemu_iovec_init_extended",
        info.value.difference,
        case_to_json(info.value.case),
        info.value.case.describe(),
        str(path),
    )
    replay = harness("replay", str(script), cwd=tmp_path)
    assert replay.returncode == 1, replay.stdout + replay.stderr
    assert "DIFFERENT: the port says undefined behaviour (overlapping-memcpy)" in replay.stdout
    again = harness("replay", str(script), "--c-source", str(ROOT / "reference_c" / "iov.c"), cwd=tmp_path)
    assert again.returncode == 0 and "confirmed in C" in again.stdout


def test_the_exhaustive_engine_reports_a_trapped_crash_with_its_smallest_case(tmp_path: Path) -> None:
    crashing = changed_iov_c(
        tmp_path,
        "        len += iov[i].iov_len;\n",
        "        len += (iov_cnt == 2 ? (const struct iovec *)0 : iov)[i].iov_len;\n",
    )
    r = harness(
        "run",
        "--engine",
        "exhaustive",
        "--profile",
        "quick",
        "--only",
        "iov_size,iov_memset",
        "--c-source",
        str(crashing),
        "--report",
        str(tmp_path / "rep"),
        cwd=tmp_path,
    )
    assert r.returncode == 1, r.stdout + r.stderr
    assert "C CRASHED on case iov_size (exhaustive engine)" in r.stdout
    assert "Traceback" not in r.stdout + r.stderr
    (script,) = (tmp_path / "rep").glob("iov_size-*.py")
    assert (tmp_path / "rep" / script.with_suffix(".c").name).exists()
    case = json.loads(script.read_text().split('CASE = r"""\n', 1)[1].split('\n"""', 1)[0])
    (call,) = case["calls"]
    assert call[0] == "iov_size" and call[1][1] == 2
    # the smallest: two entries of length 0 (the enumeration starts with the smallest layouts)
    arrays = [r for r in case["regions"] if r[1] == "iovs"]
    assert [n for _, n in arrays[0][3]] == [0, 0]
    assert "iov_memset" in r.stdout  # the other function's campaign still ran
    assert harness("replay", str(script), cwd=tmp_path).returncode == 1


def test_a_crash_that_kills_the_worker_is_reported_by_every_engine(tmp_path: Path) -> None:
    dying = changed_iov_c(
        tmp_path,
        "        len += iov[i].iov_len;\n",
        "        if (iov_cnt == 2 && iov[1].iov_len == 1) { abort(); }\n        len += iov[i].iov_len;\n",
    )
    for engine in ("exhaustive", "hypothesis"):
        rep = tmp_path / f"rep-{engine}"
        r = harness(
            "run",
            "--engine",
            engine,
            "--profile",
            "quick",
            "--only",
            "iov_size",
            "--seed",
            "1",
            "--c-source",
            str(dying),
            "--report",
            str(rep),
            cwd=tmp_path,
        )
        assert r.returncode == 1, r.stdout + r.stderr
        assert "C CRASHED on case iov_size" in r.stdout and "the worker died" in r.stdout, r.stdout
        (script,) = rep.glob("iov_size-*.py")
        case = json.loads(script.read_text().split('CASE = r"""\n', 1)[1].split('\n"""', 1)[0])
        assert case["calls"][-1][0] == "iov_size" and case["calls"][-1][1][1] == 2
        arrays = [r for r in case["regions"] if r[1] == "iovs"]
        assert arrays[0][3][1][1] == 1  # the second entry is one byte long
    assert not list((tmp_path / ".iovconf" / "inflight").glob("inflight-*.json"))


def test_two_runs_in_one_checkout_do_not_red_each_other(tmp_path: Path) -> None:
    args = (
        "run",
        "--profile",
        "quick",
        "--only",
        "iov_to_buf_full,qemu_iovec_add",
        "--examples",
        "150",
        "--jobs",
        "1",
    )
    env = dict(os.environ, IOVCONF_NO_DB="1", PYTHONPATH=str(ROOT))
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "harness", *args, "--seed", str(k)],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for k in (1, 2)
    ]
    outs = [p.communicate(timeout=900)[0] for p in procs]
    for p, out in zip(procs, outs, strict=True):
        assert p.returncode == 0, out
        assert "run that died" not in out, out


def test_a_leftover_that_agrees_is_a_note_and_one_that_fails_is_red(tmp_path: Path) -> None:
    inflight = tmp_path / ".iovconf" / "inflight"
    inflight.mkdir(parents=True)
    # a dead process's record (no process holds its lock): a case that agrees
    agreeing = Builder()
    arr = agreeing.iovs([(agreeing.data(b"abc"), 3)])
    agreeing.call("iov_size", arr, 1)
    (inflight / "inflight-999999-dead.json").write_text(
        json.dumps({"case": json.loads(case_to_json(agreeing.case()))})
    )
    r = harness(
        "run", "--profile", "quick", "--only", "iov_size", "--examples", "20", "--seed", "1", cwd=tmp_path
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "note: a run that died was running a case of iov_size in C; it agrees" in r.stdout
    assert not list(inflight.glob("inflight-*.json"))
    # the same against a source on which that case crashes: red
    crashing = changed_iov_c(
        tmp_path, "        len += iov[i].iov_len;\n", "        len += ((const struct iovec *)0)[i].iov_len;\n"
    )
    (inflight / "inflight-999998-dead.json").write_text(
        json.dumps({"case": json.loads(case_to_json(agreeing.case()))})
    )
    r = harness(
        "run",
        "--engine",
        "exhaustive",
        "--profile",
        "quick",
        "--only",
        "iov_memset",
        "--seed",
        "1",
        "--c-source",
        str(crashing),
        cwd=tmp_path,
    )
    assert r.returncode == 1 and "LEFTOVER of a run that died, still failing (iov_size)" in r.stdout, r.stdout


def test_a_pure_line_shift_is_no_difference(tmp_path: Path) -> None:
    """A comment line added at the top moves every assert one line down: same verdicts, and a
    failed assert shows each side's own line."""
    text = (ROOT / "reference_c" / "iov.c").read_text()
    shifted = tmp_path / "shifted.c"
    shifted.write_text("/* one more line */\n" + text)
    judge = Judge(PyWorld(), CWorld(reference_c.load(shifted)))
    for func in (
        "iov_to_buf_full",
        "qemu_iovec_discard_back",
        "qiov_slice",
        "qemu_iovec_compare",
        "iov_copy",
    ):
        check_function(func, QUICK_BOUND, judge)  # raises Discrepancy on any difference
    b = Builder()
    arr = b.iovs([(b.data(b"ab"), 2)])
    b.call("iov_to_buf_full", arr, 1, 3, b.data(bytes(2)), 1)  # offset past the data
    case = b.case()
    ours = judge.check(case).assertion
    theirs = run_case(judge.reference, case).assertion
    assert isinstance(ours, AssertFailed) and isinstance(theirs, AssertFailed)
    assert ours == theirs and theirs.line == ours.line + 1


def test_a_killed_client_leaves_no_sanitizer_server_behind(tmp_path: Path) -> None:
    """A worker that dies without cleaning up (SIGKILL, ``os._exit``) must not leave its
    sanitizer server running: each holds a copy of the C library and its shadow memory."""
    script = (
        "import os, sys\n"
        "from harness.worlds.oracle import for_source\n"
        "from tests_alias import alias_case\n"
        "oracle = for_source(None)\n"
        "oracle.report(alias_case())\n"
        "print(oracle._server.pid, flush=True)\n"
        "os._exit(0)\n"  # no atexit, as a worker that leaves after a wild write
    )
    (tmp_path / "tests_alias.py").write_text(
        "from harness.model.case import Builder\n"
        "def alias_case():\n"
        "    b = Builder()\n"
        "    buf = b.data(bytes(4))\n"
        "    b.call('iov_size', b.iovs([(buf, 4)]), 1)\n"
        "    return b.case()\n"
    )
    env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{tmp_path}")
    env.pop("IOVCONF_ORACLE", None)
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    server = int(done.stdout.split()[-1])
    for _ in range(600):
        try:
            os.kill(server, 0)
        except ProcessLookupError:
            return
        with open(f"/proc/{server}/stat") as stat:  # a zombie has left: only its entry remains
            if stat.read().split(") ", 1)[1].startswith("Z"):
                return
        time.sleep(0.1)
    os.kill(server, 9)
    pytest.fail(f"sanitizer server {server} outlived its client")
