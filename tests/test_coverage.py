"""``python -m harness coverage``: the reports, the exceptions file and the gate."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.gates.coverage import EXCEPTIONS, Exception_, Uncovered, judge_coverage, load_exceptions

ROOT = Path(__file__).resolve().parent.parent


def test_the_gate_accepts_listed_lines_only(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "m.py").write_text("a = 1\nif a:\n    pass\nif a:\n    pass\n")
    repeated = Uncovered("py", "pkg/m.py", 4, 1, 2, "if a:")
    other = Uncovered("py", "pkg/m.py", 2, 1, 2, "if a:")
    listing = [
        Exception_("py", "pkg/m.py", "if a:", "the second one, found by its text near line 5", 5),
        Exception_("py", "pkg/m.py", "gone = 1", "a line no longer in the file"),
    ]
    v = judge_coverage([repeated, other], listing, root=tmp_path)
    assert [u for u, _ in v.listed] == [repeated]  # the repeat nearest the hint
    assert v.unlisted == [other] and v.exit_status == 1
    assert [e.text for e in v.stale] == ["gone = 1"]
    v = judge_coverage([repeated], listing[:1], root=tmp_path)
    assert v.exit_status == 0 and not v.unneeded
    v = judge_coverage([], listing[:1], root=tmp_path)
    assert v.exit_status == 0 and v.unneeded == listing[:1]  # covered now: a note, not a failure


def test_a_function_entry_lists_every_line_of_that_function_only(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(
        "def strict(x):\n    if x:\n        return 1\n    return 2\n\n\n"
        "class C:\n    def check(self, y):\n        if y:\n            pass\n\n\n"
        "def other(z):\n    if z:\n        pass\n"
    )
    inside = Uncovered("py", "m.py", 2, 1, 2, "if x:")
    method = Uncovered("py", "m.py", 9, 1, 2, "if y:")
    outside = Uncovered("py", "m.py", 14, 1, 2, "if z:")
    listing = [
        Exception_("py", "m.py", "", "strict-memory checks: no campaign runs them", function="strict"),
        Exception_("py", "m.py", "", "a method, named with its class", function="C.check"),
        Exception_("py", "m.py", "", "a function that is not in the file", function="gone"),
    ]
    v = judge_coverage([inside, method, outside], listing, root=tmp_path)
    assert [u for u, _ in v.listed] == [inside, method]
    assert v.unlisted == [outside] and [e.function for e in v.stale] == ["gone"]
    v = judge_coverage([], listing[:1], root=tmp_path)
    assert v.unneeded == listing[:1]  # every line covered: a note


def test_c_entries_are_checked_against_their_line(tmp_path: Path) -> None:
    c = ROOT / "reference_c" / "iov.c"
    line = next(n for n, t in enumerate(c.read_text().splitlines(), 1) if "assert(offset == 0);" in t)
    right = Exception_("c", "reference_c/iov.c", "assert(offset == 0);", "r", line)
    wrong = Exception_("c", "reference_c/iov.c", "assert(offset == 0);", "r", line + 1)
    uncovered = Uncovered("c", "reference_c/iov.c", line, 1, 2, "assert(offset == 0);")
    v = judge_coverage([uncovered], [right, wrong])
    assert v.exit_status == 0 and v.stale == [wrong]


def test_the_checked_in_exceptions_are_current_and_reasoned() -> None:
    exceptions = load_exceptions(EXCEPTIONS)
    assert exceptions, "the exceptions file lists the branches no campaign reaches"
    v = judge_coverage([], exceptions)
    assert not v.stale, [f"{e.file}: {e.function or e.text}" for e in v.stale]
    for e in exceptions:
        assert len(e.reason) >= 30, f"give a reason: {e}"


def test_a_malformed_exceptions_file_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "x.toml"
    bad.write_text('[[py]]\nfile = "pyimpl/iov.py"\ntext = "x"\n')
    with pytest.raises(ValueError, match="reason"):
        load_exceptions(bad)


def coverage_run(tmp_path: Path, exceptions: Path, html: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *(sys.executable, "-m", "harness", "coverage", "--profile", "quick", "--only", "iov_size"),
            *("--engine", "hypothesis", "--examples", "20", "--jobs", "1", "--seed", "3"),
            *("--ub-cases", "0"),
            *("--exceptions", str(exceptions), "--html", str(html)),
        ],
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_a_small_measured_campaign_gates_on_what_it_left_uncovered(tmp_path: Path) -> None:
    """iov_size's campaign alone: its own branches are covered, the rest of iov.c is not, so the
    gate fails and prints entries; listing exactly those makes it pass."""
    empty = tmp_path / "none.toml"
    empty.write_text("")
    first = coverage_run(tmp_path, empty, tmp_path / "html")
    assert first.returncode == 1, first.stdout + first.stderr
    m = re.search(r"branch coverage: iov\.c (\d+)/(\d+) .*iovspec/ (\d+)/(\d+)", first.stdout)
    assert m, first.stdout
    taken, total = int(m.group(1)), int(m.group(2))
    assert 0 < taken < total and total > 150
    assert "GCC Code Coverage Report" in first.stdout and "pyimpl/iov.py" in first.stdout
    assert "for (i = 0; i < iov_cnt; i++) {" not in first.stdout.split("not listed in")[1].split("\n[[")[0]
    assert (tmp_path / "html" / "c" / "index.html").is_file()
    assert (tmp_path / "html" / "py" / "index.html").is_file()
    entries = first.stdout.split("cannot be reached:\n\n", 1)[1]
    listed = tmp_path / "listed.toml"
    listed.write_text(entries.replace('reason = ""', 'reason = "not reached by this small test campaign"'))
    second = coverage_run(tmp_path, listed, tmp_path / "html2")
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr
    assert "0 not listed" in second.stdout
