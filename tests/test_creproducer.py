"""The standalone C reproducer checks itself: it carries the port's outcome, exits 1 while C
differs and 0 once C agrees, poisons its guards for ASan, and builds from wherever it and its
support directory are copied, with the command written in its own header."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from changes import changed_iov_c

import reference_c
from harness.model.case import Builder, Case, case_to_json
from harness.report.reports import write_report
from harness.verdict.judge import Discrepancy, Judge
from harness.worlds.world import CWorld, PyWorld

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")


def two_calls() -> Case:
    """iov_size, then iov_to_buf_full of two entries into a buffer."""
    b = Builder()
    buf = b.data(b"hello world")
    iov = b.iovs([(buf, 5), (buf + 6, 5)])
    out = b.data(bytes(10))
    b.call("iov_size", iov, 2)
    b.call("iov_to_buf_full", iov, 2, 0, out, 10)
    return b.case()


def report_for(directory: Path, case: Case, c_source: str | None) -> Path:
    """What a campaign writes for ``case`` judged against ``c_source``: returns the .c file."""
    judge = Judge(PyWorld(), CWorld(reference_c.load(c_source)))
    try:
        judge.check(case)
        difference = "agrees"
    except Discrepancy as d:
        difference = d.difference
    script = write_report(directory, case.func, difference, case_to_json(case), case.describe(), c_source)
    return script.with_suffix(".c")


def run_as_downloaded(c_file: Path, where: Path, sanitize: bool = False) -> subprocess.CompletedProcess[str]:
    """Copy the reproducer and the support directory it names to ``where``, then run the exact
    build line of its header from there."""
    text = c_file.read_text()
    (support,) = set(re.findall(r"iovconf-c-[0-9a-f]{12}", text))
    where.mkdir(parents=True)
    shutil.copy(c_file, where / c_file.name)
    shutil.copytree(c_file.parent / support, where / support)
    lines = [ln.strip(" *") for ln in text.splitlines() if ln.startswith(" *   gcc ")]
    command = lines[1] if sanitize else lines[0]
    assert f" {c_file.name} " in command and "repro.c" not in command  # it names itself
    return subprocess.run(["sh", "-c", command], cwd=where, capture_output=True, text=True, timeout=300)


def test_a_reproducer_of_a_changed_source_fails_until_c_matches_the_port(tmp_path: Path) -> None:
    changed = changed_iov_c(
        tmp_path, "        len += iov[i].iov_len;\n", "        len += iov[i].iov_len + 1;\n"
    )
    case = two_calls()
    c_file = report_for(tmp_path / "reports", case, str(changed))
    text = c_file.read_text()
    assert "DIFFERENT" not in c_file.with_suffix(".txt").read_text().split("case:")[0]
    assert "ASAN_POISON_MEMORY_REGION" in text

    differs = run_as_downloaded(c_file, tmp_path / "download")
    assert differs.returncode == 1, differs.stdout + differs.stderr
    assert "DIFFERENT return value of call 1: C 12 (0xc), the port 10 (0xa)" in differs.stdout

    # the same case against the original: C does what the port says
    original = report_for(tmp_path / "reports-original", case, None)
    agrees = run_as_downloaded(original, tmp_path / "download-original")
    assert agrees.returncode == 0, agrees.stdout + agrees.stderr
    assert "AGREE" in agrees.stdout
    # and under ASan, with the guards poisoned, the legitimate accesses do not trip it
    sanitized = run_as_downloaded(original, tmp_path / "download-asan", sanitize=True)
    assert sanitized.returncode == 0, sanitized.stdout + sanitized.stderr


def test_a_write_into_a_guard_is_a_difference_and_an_asan_report(tmp_path: Path) -> None:
    changed = changed_iov_c(
        tmp_path,
        "            memcpy(buf + done, iov[i].iov_base + offset, len);\n",
        "            memcpy(buf + done, iov[i].iov_base + offset, len + 1);\n",
    )
    b = Builder()
    buf = b.data(b"abcdefg")  # the entry holds 6 bytes: the changed copy takes the "g" too
    iov = b.iovs([(buf, 6)])
    out = b.data(bytes(6))
    b.call("iov_to_buf_full", iov, 1, 0, out, 6)
    c_file = report_for(tmp_path / "reports", b.case(), str(changed))
    plain = run_as_downloaded(c_file, tmp_path / "plain")
    assert plain.returncode == 1, plain.stdout + plain.stderr
    assert "DIFFERENT guard after buf2" in plain.stdout
    sanitized = run_as_downloaded(c_file, tmp_path / "asan", sanitize=True)
    assert sanitized.returncode not in (0, 3), sanitized.stdout
    assert "AddressSanitizer: use-after-poison" in sanitized.stderr


def test_an_expected_assert_and_an_expected_glib_error_agree(tmp_path: Path) -> None:
    b = Builder()
    buf = b.data(b"abc")
    iov = b.iovs([(buf, 3)])
    out = b.data(bytes(4))
    b.call("iov_to_buf_full", iov, 1, 10, out, 4)  # offset past the end: assert(offset == 0)
    asserting = report_for(tmp_path / "a", b.case(), None)
    assert "the port failed assert `offset == 0` in iov_to_buf_full" in asserting.read_text()
    r = run_as_downloaded(asserting, tmp_path / "run-a")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Assertion `offset == 0' failed." in r.stderr

    b = Builder()
    q = b.qiov()
    b.call("qemu_iovec_init", q, -1)  # g_new(struct iovec, -1): a fatal GLib error
    fatal = report_for(tmp_path / "f", b.case(), None)
    r = run_as_downloaded(fatal, tmp_path / "run-f")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "GLib-ERROR" in r.stderr


def test_undefined_behaviour_is_undecided(tmp_path: Path) -> None:
    b = Builder()
    out = b.data(bytes(4))
    b.call("iov_to_buf_full", 0, 1, 0, out, 4)  # a NULL iovec array with one entry
    c_file = report_for(tmp_path / "u", b.case(), None)
    assert "undefined behaviour" in c_file.read_text()
    r = run_as_downloaded(c_file, tmp_path / "run-u")
    assert r.returncode != 0 and r.returncode != 1, r.stdout  # 3 (undecided) or a crash signal


def test_a_source_that_changes_a_public_prototype_builds_and_so_does_its_reproducer(tmp_path: Path) -> None:
    """A patch that changes ``iov_memset``'s prototype (QEMU's header would change with it;
    ours keeps the original's) still builds: ``iov_memset`` is reported changed, the rest is
    judged, and the reproducer of a difference elsewhere builds against that source too."""
    text = changed_iov_c(
        tmp_path,
        "                  size_t offset, int fillc, size_t bytes)\n{",
        "                  size_t offset, unsigned char fillc, size_t bytes)\n{",
    ).read_text()
    changed = tmp_path / "reshaped.c"
    changed.write_text(
        text.replace("        len += iov[i].iov_len;\n", "        len += iov[i].iov_len + 1;\n")
    )
    ref = reference_c.load(changed)
    assert "unsigned char fillc" in ref.changed["iov_memset"]
    assert "iov_memset" not in ref.available and "qemu_iovec_memset" in ref.available
    c_file = report_for(tmp_path / "reports", two_calls(), str(changed))
    differs = run_as_downloaded(c_file, tmp_path / "download")
    assert differs.returncode == 1, differs.stdout + differs.stderr
    assert "DIFFERENT return value of call 1" in differs.stdout
