"""``--summary``: a reviewer's Markdown of at most 40 lines, and cases as C calls (harness.report.ccalls)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from hypothesis import HealthCheck, given, settings

from harness.campaign.pool import CAMPAIGNS
from harness.model.case import Builder, Case, case_to_json
from harness.report.ccalls import c_int, c_lines, c_string
from harness.report.export import Record, Row
from harness.report.summary import MAX_LINES, render
from reference_c.build import HERE, compile_flags


def copy_case() -> Case:
    """iov_copy of 5 bytes from a 2-entry vector over "abc" (the second entry NULL and empty)."""
    b = Builder()
    src = b.data(b"abc")
    iov = b.iovs([(src, 3), (0, 0)])
    dst = b.iovs([(src + 1, 2)])
    b.call("iov_copy", dst, 1, iov, 2, 0, 5)
    return b.case()


def test_a_case_reads_as_declarations_then_calls() -> None:
    assert c_lines(copy_case()) == [
        'uint8_t buf0[3] = "abc";',
        "struct iovec iov1[2] = {{buf0, 3}, {NULL, 0}};",
        "struct iovec iov2[1] = {{buf0 + 1, 2}};",
        "iov_copy(iov2, 1, iov1, 2, 0, 5);",
    ]


def test_out_parameters_and_objects_by_address() -> None:
    b = Builder()
    q = b.qiov()
    b.call("qemu_iovec_init", q, 2)
    b.call("qiov_slice", q, 0, (1 << 64) - 1)  # head, tail and niov are the function's out parameters
    lines = c_lines(b.case())
    assert lines[0] == "QEMUIOVector q0 = {0};"
    assert lines[1] == "qemu_iovec_init(&q0, 2);"
    assert lines[2] == "size_t head; size_t tail; int niov;"
    assert lines[3] == "qiov_slice(&q0, 0, SIZE_MAX, &head, &tail, &niov);"


def test_numbers_and_strings() -> None:
    assert c_int(5) == "5" and c_int(-1) == "-1" and c_int((1 << 64) - 3) == "SIZE_MAX - 2"
    assert c_int(1 << 63) == "0x8000000000000000"
    assert c_string(b'a"\\?\x01') == '"a\\"\\\\\\?\\001"'
    long = Builder()
    long.data(bytes(range(40)))
    (line,) = c_lines(long.case())
    assert line.startswith("uint8_t buf0[40] = ") and "the first 16 of 40 bytes" in line


CASES_PER_CAMPAIGN = 8


def test_every_campaigns_cases_render_as_c_that_compiles(tmp_path: Path) -> None:
    """Property: for cases drawn from every campaign, the rendered lines compile as the body of a
    function after iov.c (the calls match the prototypes iov.c and our headers declare)."""
    bodies: list[str] = []

    @settings(
        max_examples=CASES_PER_CAMPAIGN,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def draw(case: Case) -> None:
        body = "\n    ".join(c_lines(case))
        bodies.append(f"void case_{len(bodies)}(FILE *out, int sock)\n{{\n    {body}\n}}\n")

    for strategy in CAMPAIGNS.values():
        given(strategy)(draw)()
    shutil.copyfile(HERE / "iov.c", tmp_path / "iov.c")
    (tmp_path / "cases.c").write_text('#include "iov.c"\n#include <stdint.h>\n\n' + "\n".join(bodies))
    warnings = ["-Wall", "-Werror", "-Wno-unused-variable"]
    includes = [f"-I{HERE / 'include'}", f"-I{HERE}"]
    cmd = ["gcc", "-fsyntax-only", *warnings, *compile_flags("trap"), *includes, "cases.c"]
    built = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert built.returncode == 0, built.stderr[:4000]
    assert len(bodies) >= len(CAMPAIGNS)


def change_row(func: str, kind: str, case: Case, reproducer: str = "") -> Row:
    return Row(
        "diff", func, "changed", 10, difference=f"{func} returned otherwise", kind=kind, where="call 1",
        red=True, case_json=case_to_json(case), reproducer=reproducer,
    )  # fmt: skip


def record(rows: list[Row]) -> Record:
    return Record("diff", "python -m harness diff a.c b.c --seed 3", 3, "quick", 1, 1.0, "b.c", rows)


def test_per_function_verdicts_and_each_change_with_its_case() -> None:
    rows = [
        *(Row(engine, "iov_size", "agree", 5) for engine in ("batched", "exhaustive")),
        change_row("iov_copy", "a different value", copy_case(), "rep/iov_copy-1.py"),
        Row("hypothesis", "qemu_iovec_clone", "not judged", difference="prototype changed", red=True),
        Row("hypothesis", "qemu_iovec_slice", "absent", difference="not in the C source"),
        Row("hypothesis", "iov_memset", "agree", 5),
        Row("hypothesis", "iov_memset", "note", difference="same abort, different assert"),
        Row("hypothesis", "iov_hexdump", "frobbed", difference="a verdict of tomorrow"),
    ]
    text = render(record(rows), "`a.c` -> `b.c`")
    lines = text.splitlines()
    assert len(lines) <= MAX_LINES
    assert lines[0] == "### iovconf diff: `a.c` -> `b.c`"
    assert lines[1].startswith("**1 changed**, **1 not judged**, 1 same")
    assert "| `iov_copy` | **changed**: a different value (call 1) |" in lines
    assert "| `qemu_iovec_clone` | **not judged**: prototype changed |" in lines
    assert "| `qemu_iovec_slice` | absent: not in the C source |" in lines
    assert "| `iov_memset` | same, note: same abort, different assert |" in lines
    assert "| `iov_hexdump` | frobbed: a verdict of tomorrow |" in lines
    assert "same: `iov_size`" in lines
    start = lines.index("```c")
    assert lines[start + 1 : start + 1 + len(c_lines(copy_case()))] == c_lines(copy_case())
    assert "reproduce: `python -m harness replay rep/iov_copy-1.py`" in lines
    assert lines[-1] == "the whole run again: `python -m harness diff a.c b.c --seed 3`"


def test_more_than_fits_leaves_out_the_later_changes_and_says_how_many() -> None:
    funcs = list(CAMPAIGNS)[:12]
    rows = [change_row(f, "different memory", copy_case()) for f in funcs]
    lines = render(record(rows), "x").splitlines()
    assert len(lines) <= MAX_LINES
    shown = lines.count("```c")
    assert 1 <= shown < len(funcs)
    assert f"({len(funcs) - shown} changes left out" in "\n".join(lines)
    for f in funcs:  # every changed function keeps its row
        assert any(line.startswith(f"| `{f}` | **changed**") for line in lines)


def test_rows_too_are_left_out_when_they_do_not_fit() -> None:
    rows = [Row("r", f"func_{k}", "crashed", difference="SIGSEGV", red=True) for k in range(60)]
    lines = render(record(rows), "x").splitlines()
    assert len(lines) <= MAX_LINES
    kept = sum(line.startswith("| `func_") for line in lines)
    assert f"({60 - kept} functions left out" in "\n".join(lines)


def test_a_case_json_that_is_missing_is_taken_from_the_reproducer(tmp_path: Path) -> None:
    from harness.report.reports import write_report

    case = copy_case()
    script = write_report(tmp_path, "iov_copy", "x", case_to_json(case), case.describe(), None)
    row = Row("diff", "iov_copy", "changed", kind="a different value", red=True, reproducer=str(script))
    assert "iov_copy(iov2, 1, iov1, 2, 0, 5);" in render(record([row]), "x").splitlines()
