"""The command line: exit statuses, reports, reproducers and replay, as DESIGN.md's contract says."""

from __future__ import annotations

import os
from pathlib import Path

from changes import changed_iov_c
from cli_runs import harness

from harness.verdict.expected import KNOWN_DIR

ROOT = Path(__file__).resolve().parent.parent


def mutant(tmp_path: Path, old: str, new: str) -> Path:
    """reference iov.c with one line changed (the change must exist exactly once)."""
    return changed_iov_c(tmp_path, old, new)


def test_run_agrees_on_the_original(tmp_path: Path) -> None:
    """Green on the original, also for a function the port has from a later upstream file."""
    r = harness(
        "run",
        "--only",
        "iov_size,qemu_iovec_add,qemu_iovec_slice",
        "--examples",
        "30",
        "--seed",
        "7",
        "--jobs",
        "1",
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "hypothesis engine" in r.stdout and "exhaustive engine" in r.stdout
    assert "iov_size" in r.stdout and "qemu_iovec_add" in r.stdout
    assert (
        "qemu_iovec_slice: NOT JUDGED (not in this source): the port has it from upstream v8.1.0" in r.stdout
    )


def test_run_catches_a_changed_c_file_and_writes_a_reproducer(tmp_path: Path) -> None:
    changed = mutant(
        tmp_path,
        "        qiov->nalloc = 2 * qiov->nalloc + 1;",
        "        qiov->nalloc = 2 * qiov->nalloc + 2;",
    )
    r = harness(
        "run",
        "--engine",
        "hypothesis",
        "--only",
        "qemu_iovec_add",
        "--examples",
        "300",
        "--seed",
        "1",
        "--jobs",
        "1",
        "--c-source",
        str(changed),
        "--report",
        str(tmp_path / "rep"),
        cwd=tmp_path,
    )
    assert r.returncode == 1, r.stdout + r.stderr
    assert "DISCREPANCY in qemu_iovec_add" in r.stdout
    scripts = list((tmp_path / "rep").glob("qemu_iovec_add-*.py"))
    assert len(scripts) == 1
    replay = harness("replay", str(scripts[0]), cwd=tmp_path)
    assert replay.returncode == 1 and "DIFFERENT" in replay.stdout
    # the same case agrees against the original source
    again = harness(
        "replay", str(scripts[0]), "--c-source", str(ROOT / "reference_c" / "iov.c"), cwd=tmp_path
    )
    assert again.returncode == 0, again.stdout


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert harness("run", "--only", "no_such_function", cwd=tmp_path).returncode == 2
    assert harness("run", "--c-source", str(tmp_path / "missing.c"), cwd=tmp_path).returncode == 2
    assert harness("replay", str(tmp_path / "nothing.py"), cwd=tmp_path).returncode == 2
    assert harness("frobnicate", cwd=tmp_path).returncode == 2


def test_a_source_that_does_not_compile_is_a_build_error(tmp_path: Path) -> None:
    bad = mutant(
        tmp_path, "    size_t len;\n    unsigned int i;\n\n", "    size_t len\n    unsigned int i;\n\n"
    )
    r = harness("run", "--only", "iov_size", "--c-source", str(bad), cwd=tmp_path)
    assert r.returncode == 2
    assert "build error" in r.stdout


def test_a_function_missing_from_the_source_is_reported(tmp_path: Path) -> None:
    text = (ROOT / "reference_c" / "iov.c").read_text()
    start = text.index("void qemu_iovec_reset(QEMUIOVector *qiov)")
    end = text.index("size_t qemu_iovec_to_buf(")
    path = tmp_path / "lacking.c"
    path.write_text(text[:start] + "\n" * text[start:end].count("\n") + text[end:])
    r = harness(
        "run",
        "--only",
        "qemu_iovec_reset,iov_size",
        "--examples",
        "20",
        "--jobs",
        "1",
        "--c-source",
        str(path),
        cwd=tmp_path,
    )
    assert r.returncode == 1
    assert "qemu_iovec_reset: NOT JUDGED (missing): not in the C source [a difference]" in r.stdout


def test_run_reports_a_changed_prototype_and_honours_the_known_differences_file(tmp_path: Path) -> None:
    """v9.2 lacks the public ``qemu_iovec_init_extended``: a difference (red, named as what it
    is, not as a case) unless the known-differences file lists it; then the run is green and
    says so.  It gave the static ``do_send_recv`` a flags argument: not judged, and not red (a
    static helper is not observable outside the file; its callers are judged)."""
    import json

    v92 = ROOT / "reference_c" / "revisions" / "iov-v9.2.0.c"
    args: tuple[str, ...] = ("run", "--only", "do_send_recv,qemu_iovec_init_extended,iov_size")
    args += ("--engine", "exhaustive")
    args += ("--jobs", "1", "--seed", "3", "--c-source", str(v92))
    r = harness(*args, "--json", "red.json", cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert (
        "do_send_recv: NOT JUDGED (changed prototype): another prototype: ssize_t do_send_recv(int sockfd, "
        "int flags," in r.stdout
    )
    assert "qemu_iovec_init_extended: NOT JUDGED (missing): not in the C source [a difference]" in r.stdout
    assert "DISCREPANCY" not in r.stdout  # not judged as a case: there is no call to compare
    rows = {row["function"]: row for row in json.loads((tmp_path / "red.json").read_text())["rows"]}
    assert (rows["do_send_recv"]["verdict"], rows["do_send_recv"]["kind"]) == (
        "not judged",
        "changed prototype",
    )
    assert not rows["do_send_recv"]["red"] and "a static helper" in rows["do_send_recv"]["difference"]
    missing = rows["qemu_iovec_init_extended"]
    assert (missing["verdict"], missing["kind"], missing["red"]) == ("not judged", "missing", True)
    assert rows["iov_size"]["verdict"] == "agree" and not rows["iov_size"]["red"]

    known = KNOWN_DIR / "v9.2.0.toml"
    r = harness(*args, "--expect-diff", str(known), "--json", "green.json", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "(listed: v9.2 gave the static do_send_recv" in r.stdout
    assert (
        "qemu_iovec_init_extended: NOT JUDGED (missing): not in the C source (listed: v8.1 removed it"
        in r.stdout
    )
    rows = {row["function"]: row for row in json.loads((tmp_path / "green.json").read_text())["rows"]}
    assert not any(row["red"] for row in rows.values())


def test_run_names_a_function_only_the_source_has(tmp_path: Path) -> None:
    path = tmp_path / "added.c"
    path.write_text(
        (ROOT / "reference_c" / "iov.c").read_text()
        + "\nsize_t iov_count_empty(const struct iovec *iov, unsigned int iov_cnt)\n{\n"
        "    size_t n = 0;\n    while (iov_cnt--) {\n        n += iov[iov_cnt].iov_len == 0;\n    }\n"
        "    return n;\n}\n"
    )
    r = harness(
        "run", "--only", "iov_size", "--examples", "20", "--jobs", "1", "--c-source", str(path), cwd=tmp_path
    )
    assert r.returncode == 0, r.stdout + r.stderr  # nothing the port has differs
    assert "iov_count_empty: NOT JUDGED (added): only the C source has it" in r.stdout


def test_list_shows_functions_and_all_assert_sites(tmp_path: Path) -> None:
    r = harness("list", "--examples", "20", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    text = (ROOT / "reference_c" / "iov.c").read_text().splitlines()
    for lineno, line in enumerate(text, start=1):
        if "assert(" in line:
            assert f"│ {lineno} " in r.stdout or f" {lineno} " in r.stdout
    assert "/24 assert sites" in r.stdout
    assert "a sample of 20 cases per function" in r.stdout


def test_list_shows_the_counts_of_the_last_run_here(tmp_path: Path) -> None:
    run = harness(
        "run", "--only", "qemu_iovec_add", "--engine", "exhaustive", "--profile", "quick", cwd=tmp_path
    )
    assert run.returncode == 0, run.stdout + run.stderr
    r = harness("list", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "engine exhaustive, only qemu_iovec_add" in r.stdout
    cells = [[c.strip() for c in line.split("│")] for line in r.stdout.splitlines() if line.count("│") >= 7]
    failed = {(c[2], c[3]): int(c[5]) for c in cells if c[5].isdigit()}
    assert failed[("qemu_iovec_add", "qiov->nalloc != -1")] > 0  # the exhaustive cases made it fail
    assert failed[("iov_from_buf_full", "offset == 0")] == 0  # that run never called it
    assert "1/24 assert sites made to fail" in r.stdout
    sample = harness("list", "--sample", "--examples", "5", cwd=tmp_path)
    assert "a sample of 5 cases per function" in sample.stdout


def test_a_crashing_source_is_reported_with_its_case_and_reproducers(tmp_path: Path) -> None:
    """A source whose iov_size dereferences NULL for 3 entries: exit 1, 'C CRASHED on case',
    a Python and a C reproducer, and nothing left in flight for the next run."""
    crashing = mutant(
        tmp_path,
        "        len += iov[i].iov_len;\n",
        "        len += (iov_cnt == 3 ? (const struct iovec *)0 : iov)[i].iov_len;\n",
    )
    r = harness(
        "run",
        "--engine",
        "hypothesis",
        "--only",
        "iov_size,qemu_iovec_reset",
        "--examples",
        "300",
        "--seed",
        "3",
        "--c-source",
        str(crashing),
        "--report",
        str(tmp_path / "rep"),
        cwd=tmp_path,
    )
    assert r.returncode == 1, r.stdout + r.stderr
    assert "C CRASHED on case iov_size (hypothesis engine)" in r.stdout
    assert "call  iov_size(&iov" in r.stdout and ", 3)" in r.stdout
    assert "qemu_iovec_reset" in r.stdout  # the other function's campaign still ran
    assert list((tmp_path / "rep").glob("iov_size-*.py")) and list((tmp_path / "rep").glob("iov_size-*.c"))
    assert not list((tmp_path / ".iovconf" / "inflight").glob("*.json"))


def test_help_names_the_environment_variables_and_explains_the_options(tmp_path: Path) -> None:
    for args in (("--help",), ("run", "--help")):
        r = harness(*args, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        for var in ("IOVCONF_C_SOURCE", "IOVCONF_CACHE_DIR", "IOVCONF_NO_DB", "CI", "HYPOTHESIS_PROFILE"):
            assert var in r.stdout, (args, var)
    run_help = harness("run", "--help", cwd=tmp_path).stdout
    assert "how hard to try" in run_help and "stateful sequences" in run_help  # --profile
    assert "C library's own assert" in run_help  # --assert-mode
    assert "auto" in run_help  # --jobs


def test_jobs_accepts_auto_and_refuses_nonsense() -> None:
    import argparse

    import pytest

    from harness.campaign.plan import jobs_count

    assert jobs_count("auto") == (os.cpu_count() or 1)
    assert jobs_count("3") == 3
    for bad in ("0", "-1", "many"):
        with pytest.raises(argparse.ArgumentTypeError):
            jobs_count(bad)
