"""Readable reports: every differing field in one bounded sentence each, report files under
100 KB however big the case, and minimal hexdump cases that keep only the bytes they need."""

from __future__ import annotations

import random
import re
import shutil
from pathlib import Path

import pytest
from changes import changed_iov_c
from cli_runs import harness
from hypothesis import HealthCheck, find, settings
from test_creproducer import run_as_downloaded

import reference_c
from harness.generate.io_strategies import BIG_DUMP, IO_STRATEGIES, tiled
from harness.model.case import Builder, Case, Ref, Stream, case_to_json
from harness.model.compact import pieces, rebuild
from harness.model.outcome import (
    FIELD_LIMIT,
    SENTENCE_LIMIT,
    AssertFailed,
    Observed,
    Outcome,
    Returned,
    differences,
    first_difference,
)
from harness.report.creproducer import PROGRAM_LIMIT
from harness.report.reports import REPORT_LIMIT, format_fields, load_case, write_report
from harness.verdict.judge import Discrepancy, Judge
from harness.worlds.world import CWorld, PyWorld

GUARD = b"\xa5" * 16


def hexdump_lines(n: int, changed: dict[int, str] | None = None) -> str:
    """``n`` lines shaped like qemu_hexdump's, line k (from 1) replaced by ``changed[k]``."""
    changed = changed or {}
    return "".join(changed.get(k, f": {(k - 1) * 16:04x}:  00 00 00 00  ...") + "\n" for k in range(1, n + 1))


# -- differences --------------------------------------------------------------------------------
def test_every_differing_field_is_named_in_the_outcomes_order() -> None:
    """A result, a guard, a region's bytes, an undo record and the heap differ: one sentence
    each, in that order, and the first is what first_difference says."""
    port = Outcome(
        (Returned(3), Returned(7)),
        (
            Observed("guard before the first region", GUARD, "guard"),
            Observed("bytes of buf0", b"abcdefgh", "bytes", "buf0"),
            Observed("guard after buf0", GUARD, "guard", "buf0"),
            Observed("undo1.modified_iov", ("arena", 48)),
            Observed("undo1.orig", (("arena", 16), 4)),
            Observed("heap (allocs, reallocs, frees, live)", (1, 0, 1, 0)),
            Observed("errno", 0),
        ),
    )
    c = Outcome(
        (Returned(3), AssertFailed("iov_copy", "offset == 0", 0, 280)),
        (
            Observed("guard before the first region", GUARD, "guard"),
            Observed("bytes of buf0", b"abcXefgZ", "bytes", "buf0"),
            Observed("guard after buf0", b"\xa5\x00" + GUARD[2:], "guard", "buf0"),
            Observed("undo1.modified_iov", ("arena", 48)),
            Observed("undo1.orig", (("arena", 16), 5)),
            Observed("heap (allocs, reallocs, frees, live)", (1, 0, 0, 1)),
            Observed("errno", 0),
        ),
    )
    found = differences(port, c)
    assert len(found) == 5
    call, data, guard, undo, heap = found
    assert call.startswith("result of call 2: pyimpl returned 7 vs C failed assert `offset == 0` in iov_copy")
    # the first differing byte (3: 'd' against 'X') with its neighbours, and the count of all
    assert data.startswith(
        "byte 3 of `buf0`: pyimpl 61 62 63 [64] 65 66 67 68 vs C 61 62 63 [58] 65 66 67 5a"
    )
    assert data.endswith("2 of 8 bytes differ, the last at byte 7")
    assert guard.startswith("2 bytes past the end of `buf0`")
    assert undo == "undo1.orig: pyimpl (arena + 16, 4) vs C (arena + 16, 5)"
    assert heap.startswith("heap (allocs, reallocs, frees, live): pyimpl (1, 0, 1, 0) vs C (1, 0, 0, 1)")
    assert first_difference(port, c) == call
    assert first_difference(port, port) is None and differences(port, port) == []


def test_an_undo_record_that_alone_differs_is_named() -> None:
    port = Outcome((Returned(None),), (Observed("undo0.orig", ((("arena", 16)), 8)),))
    c = Outcome((Returned(None),), (Observed("undo0.orig", (0, 8)),))
    assert differences(port, c) == ["undo0.orig: pyimpl (arena + 16, 8) vs C (0, 8)"]
    assert first_difference(port, c) == differences(port, c)[0]


@pytest.mark.parametrize("k", [1, 2, 4097, 10_000])
def test_a_text_difference_names_its_first_differing_line_with_context(k: int) -> None:
    """Two 10,000-line texts that differ at line k (and again later): the sentence names line k,
    shows it on both sides with the lines around it, and nothing else of the texts."""
    n = 10_000
    ours = hexdump_lines(n)
    later = {k + 50: "later"} if k + 50 <= n else {}
    theirs = hexdump_lines(n, {k: f": {(k - 1) * 16:04x}:  ff ff", **later})
    port = Outcome((Returned(None),), (Observed("text of out", ours),))
    c = Outcome((Returned(None),), (Observed("text of out", theirs),))
    (sentence,) = differences(port, c)
    assert sentence.startswith(f"text of out: line {k} differs ({n} lines each)")
    lines = ours.splitlines()
    assert repr(lines[k - 1]) in sentence and repr(f": {(k - 1) * 16:04x}:  ff ff") in sentence
    if k > 1:
        # the line before, the same on both sides
        assert re.search(rf"both +{k - 1} \| {re.escape(repr(lines[k - 2]))}", sentence)
    if k < n:
        assert repr(lines[k]) in sentence  # the line after
    assert "later" not in sentence and (k < 10 or repr(lines[0]) not in sentence)
    assert len(sentence) <= SENTENCE_LIMIT


def test_a_text_one_side_ends_early_is_named_at_the_line_it_lacks() -> None:
    port = Outcome((Returned(None),), (Observed("text of out", hexdump_lines(5)),))
    c = Outcome((Returned(None),), (Observed("text of out", hexdump_lines(3)),))
    (sentence,) = differences(port, c)
    assert sentence.startswith("text of out: line 4 differs (pyimpl wrote 5 lines, C 3)")
    assert "(no such line)" in sentence


def test_texts_with_the_same_lines_ended_otherwise_say_so() -> None:
    port = Outcome((Returned(None),), (Observed("text of out", "p: 0000:  01\n"),))
    c = Outcome((Returned(None),), (Observed("text of out", "p: 0000:  01"),))
    (sentence,) = differences(port, c)
    assert sentence.startswith("text of out: the same 1 line, ended otherwise")
    empty = Outcome((Returned(None),), (Observed("text of out", ""),))
    assert differences(port, empty)[0].startswith("text of out: line 1 differs (pyimpl wrote 1 line, C 0)")


def test_huge_values_make_bounded_sentences() -> None:
    """1 MiB regions differing in three bytes, a field only one side has and 100 other differing
    fields: every sentence is at most SENTENCE_LIMIT characters, the count is exact, and past
    the limit one last sentence says how many more fields differ."""
    size = 1 << 20
    ours = bytes(size)
    theirs = bytearray(size)
    for at in (5, 500_000, size - 1):
        theirs[at] = 1
    entries = [Observed(f"q0.iov[{i}]", (("heap", 1, i), 1)) for i in range(100)]
    port = Outcome(
        (Returned(("x" * 100_000,)),),
        (Observed("bytes of buf0", ours, "bytes", "buf0"), *entries),
    )
    c = Outcome(
        (Returned(("y" * 100_000,)),),
        (
            Observed("bytes of buf0", bytes(theirs), "bytes", "buf0"),
            *[Observed(o.label, (("heap", 2, i), 1)) for i, o in enumerate(entries)],
            Observed("q0.iov[100]", (("heap", 2, 100), 1)),
        ),
    )
    found = differences(port, c, limit=FIELD_LIMIT)
    assert len(found) == FIELD_LIMIT + 1
    assert all(len(s) <= SENTENCE_LIMIT for s in found)
    assert found[1].endswith(f"3 of {size} bytes differ, the last at byte {size - 1}")
    assert found[-1] == f"... and {1 + 1 + 100 + 1 - FIELD_LIMIT} more differing fields"
    everything = differences(port, c, limit=1000)
    assert everything[-1] == "q0.iov[100]: only C has it ((heap block 2 + 100, 1))"
    with pytest.raises(ValueError, match="limit"):
        differences(port, c, limit=0)


def test_format_fields_lists_every_sentence_with_its_continuation_lines() -> None:
    text = format_fields(["a: 1 vs 2", "text of out: line 2 differs\n    both 1 | 'x'"])
    assert (
        text == "every differing field:\n  - a: 1 vs 2\n  - text of out: line 2 differs\n        both 1 | 'x'"
    )
    assert format_fields([]) == ""


# -- compact C ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"abc",
        bytes(1 << 16),
        tiled(bytes(range(7, 55)), 70_000),
        bytes(range(256)) * 4 + bytes(2),
        b"HEAD" + bytes(1000) + tiled(b"xyz", 3000) + bytes(random.Random(1).randbytes(300)),
    ],
)
def test_compact_pieces_rebuild_the_bytes(data: bytes) -> None:
    """Literals, fills and repeats made the same bytes again, whatever the data."""
    made = list(pieces(data))
    assert rebuild(len(data), made) == data
    if len(data) > 4096 and len(set(data)) < 64:  # a pattern compresses to a few statements
        assert len(made) < 16


# -- report files -------------------------------------------------------------------------------------
def big_case() -> Case:
    """A 1 MiB region: 1,025 one-byte entries copied to a 64 KiB buffer, then a 10,000-line hexdump."""
    b = Builder()
    buf = b.data(tiled(bytes(range(1, 49)), 1 << 20))
    out = b.data(bytes(1 << 16))
    iov = b.iovs([(buf + 7 * k, 1) for k in range(1025)])
    whole = b.iovs([(buf, 160_000)])
    b.call("iov_to_buf_full", iov, 1025, 0, out, 1025)
    b.call("iov_hexdump", whole, 1, Stream("out"), "p", (1 << 64) - 1)
    return b.case()


def report(directory: Path, case: Case, c_source: str | None) -> Path:
    """A campaign's report of ``case`` against ``c_source``, every differing field listed."""
    judge = Judge(PyWorld(), CWorld(reference_c.load(c_source)))
    try:
        judge.check(case)
        difference, fields = "agrees", []
    except Discrepancy as d:
        ours, theirs = d.outcomes
        assert ours is not None and theirs is not None
        difference, fields = d.difference, differences(ours, theirs, d.names)
    return write_report(
        directory, case.func, difference, case_to_json(case), case.describe(), c_source, None, fields
    )


needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")


@needs_gcc
def test_a_big_case_with_a_long_text_difference_makes_small_files_and_a_working_c_program(
    tmp_path: Path,
) -> None:
    """A 1 MiB region, 1,025 entries and a 10,000-line hexdump that differs from line 2 on:
    the .txt, .py and .c each stay under 100 KB, the .txt lists the field, the .py holds the
    whole case, and the .c still checks the text (by CRCs, which it says) and finds it differs."""
    changed = changed_iov_c(
        tmp_path,
        "    iov_to_buf(iov, iov_cnt, 0, buf, size);\n",
        "    iov_to_buf(iov, iov_cnt, 0, buf, 16);\n",
    )
    case = big_case()
    script = report(tmp_path / "reports", case, str(changed))
    files = [script.with_suffix(s) for s in (".txt", ".py", ".c")]
    for f in files:
        assert f.stat().st_size < REPORT_LIMIT, f
    txt = files[0].read_text()
    assert "every differing field:\n  - text of out: line 2 differs (10000 lines each)" in txt
    assert "note: text of out (" in txt and "CRC-32" in txt
    assert load_case(script)[0] == case
    ran = run_as_downloaded(files[2], tmp_path / "run")
    assert ran.returncode == 1, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert "DIFFERENT text of out" in ran.stdout and "from its line 1" in ran.stdout
    assert "DIFFERENT bytes of" not in ran.stdout  # the rest of the state is what the port says


@needs_gcc
def test_a_big_case_agrees_on_the_original_and_a_changed_byte_is_found(tmp_path: Path) -> None:
    """The .c of the big case checks every byte of its 1 MiB and 64 KiB regions (rebuilt, not
    spelt out), its 1,025 entries (one loop) and its text: C agrees with the port on the
    original, and one byte iov_to_buf_full now copies from the next byte is found, by place."""
    case = big_case()
    original = report(tmp_path / "original", case, None).with_suffix(".c")
    assert original.stat().st_size < PROGRAM_LIMIT
    text = original.read_text()
    assert "repro_repeat(" in text and "check_iovecs(" in text
    agrees = run_as_downloaded(original, tmp_path / "run-original")
    assert agrees.returncode == 0, agrees.stdout[-3000:] + agrees.stderr[-3000:]

    changed = changed_iov_c(
        tmp_path,
        "            memcpy(buf + done, iov[i].iov_base + offset, len);\n",
        "            memcpy(buf + done, iov[i].iov_base + offset + (done == 1000), len);\n",
    )
    script = report(tmp_path / "changed", case, str(changed))
    # entry 1000 is buf0 + 7000: C now copies byte 7001 of the region instead (tile 1..48)
    out = bytes(7 * k % 48 + 1 for k in range(1025))  # what the port copies: byte 7k of the tile
    want, got = out[1000], 7001 % 48 + 1
    before, after = out[996:1000].hex(" "), out[1001:1008].hex(" ")
    txt = script.with_suffix(".txt").read_text()
    assert (
        f"byte 1000 of `buf1`: pyimpl ... {before} [{want:02x}] {after} ... vs C ... {before} [{got:02x}] "
        f"{after} ...; 1 of 65536 bytes differs" in txt
    )
    differs = run_as_downloaded(script.with_suffix(".c"), tmp_path / "run-changed")
    assert differs.returncode == 1, differs.stdout[-3000:] + differs.stderr[-3000:]
    assert (
        f"DIFFERENT bytes of buf1: byte 1000: C {got:02x}, the port {want:02x} (1 of 65536 bytes differ"
        in differs.stdout
    )


def test_a_case_too_big_to_compress_is_kept_beside_its_reproducer(tmp_path: Path) -> None:
    """Random bytes do not compress: the .py stays small and reads the case from a file beside
    it; the .c cannot (it must write those bytes), and the .txt says both."""
    b = Builder()
    buf = b.data(random.Random(5).randbytes(200_000))
    iov = b.iovs([(buf, 3)])
    b.call("iov_size", iov, 1)
    case = b.case()
    script = write_report(
        tmp_path, "iov_size", "a made-up difference", case_to_json(case), case.describe(), None
    )
    assert script.stat().st_size < REPORT_LIMIT
    assert load_case(script)[0] == case
    txt = script.with_suffix(".txt").read_text()
    assert "kept beside it in" in txt
    assert "past the 100 KB reproducers are kept under: the case's initial contents do not compress" in txt


def test_the_reports_list_every_field_and_survive_odd_text(tmp_path: Path) -> None:
    """Backslashes, triple quotes and comment ends in the sentences neither break the .py
    (it still loads its case) nor the .c's header comment."""
    b = Builder()
    buf = b.data(b"abc")
    b.call("iov_size", b.iovs([(buf, 3)]), 1)
    case = b.case()
    fields = ['text of out: line 1 differs\n    pyimpl 1 | \'a\\x00 */ """\'', "b: 1 vs 2"]
    script = write_report(
        tmp_path, "iov_size", fields[0], case_to_json(case), case.describe(), None, None, fields
    )
    compile(script.read_text(), str(script), "exec")
    assert load_case(script)[0] == case
    c_text = script.with_suffix(".c").read_text()
    header = c_text.split("*/", 1)[0]
    assert "  - b: 1 vs 2" in header and "#include" not in header
    assert "  - b: 1 vs 2" in script.with_suffix(".txt").read_text()


# -- minimal hexdump cases --------------------------------------------------------------------------------
def dumped(case: Case) -> tuple[int, bytes]:
    """How many bytes iov_hexdump dumps in ``case``, and the data region's bytes."""
    (call,) = case.calls
    array, cnt, _, _, limit = call.args
    regions = {r.name: r for r in case.regions}
    assert isinstance(array, Ref)
    entries = regions[array.region].init[:cnt]
    data = next(r.init for r in case.regions if r.kind == "data")
    return min(sum(n for _, n in entries), limit), data


FIND = settings(database=None, max_examples=3000, suppress_health_check=list(HealthCheck), deadline=None)


def test_a_minimal_hexdump_case_of_two_lines_is_small_and_zero() -> None:
    """Property: the smallest hexdump case that dumps more than one line (with a non-zero byte
    on its second line) dumps a buffer of 17 bytes, none of them more than 1."""

    def second_line_set(case: Case) -> bool:
        n, data = dumped(case)
        return n > 16 and any(data[16:n])

    case = find(IO_STRATEGIES["iov_hexdump"], second_line_set, settings=FIND, random=random.Random(0))
    n, data = dumped(case)
    assert n == 17 and len(data) == 17
    assert max(data) == 1  # the bytes shrunk too: 1 is the least a byte can be and still be set


def test_a_minimal_hexdump_case_past_the_0x10000_edge_keeps_the_edge_with_zero_bytes() -> None:
    """Property: the smallest case dumping past offset 0x10000 (where the 6.x hexdump cuts its
    lines) dumps one of the edge sizes, and its bytes shrink to all zero."""
    case = find(
        IO_STRATEGIES["iov_hexdump"], lambda c: dumped(c)[0] > 0x10000, settings=FIND, random=random.Random(0)
    )
    n, data = dumped(case)
    assert n in BIG_DUMP and n == min(s for s in BIG_DUMP if s > 0x10000)
    assert not any(data)


@needs_gcc
def test_a_hexdump_change_is_reported_with_a_small_case_and_small_files(tmp_path: Path) -> None:
    """The campaign on an iov_hexdump that copies only the first 16 bytes: its minimal case
    dumps two lines (17 bytes), and every report file is small."""
    changed = changed_iov_c(
        tmp_path,
        "    iov_to_buf(iov, iov_cnt, 0, buf, size);\n",
        "    iov_to_buf(iov, iov_cnt, 0, buf, size > 16 ? 16 : size);\n",
    )
    r = harness(
        "run", "--profile", "quick", "--engine", "hypothesis", "--only", "iov_hexdump", "--seed", "1",
        "--jobs", "1", "--c-source", str(changed), "--report", str(tmp_path / "rep"), cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 1, r.stdout[-3000:] + r.stderr[-3000:]
    assert "DISCREPANCY in iov_hexdump" in r.stdout
    assert "text of out: line 2 differs (2 lines each)" in r.stdout
    assert len(r.stdout.splitlines()) < 60
    (script,) = (tmp_path / "rep").glob("iov_hexdump-*.py")
    n, _ = dumped(load_case(script)[0])
    assert n == 17
    for suffix in (".txt", ".py", ".c"):
        assert script.with_suffix(suffix).stat().st_size < 20_000


def test_a_pointer_field_reads_as_what_it_points_at() -> None:
    """The bug of a patch that gives an empty extended vector its local entry: the fields show
    NULL as 0, the local entry by name and a stale address as C writes it, not as tuples."""
    old = Outcome(
        (Returned(0),),
        (Observed("q0.iov", 0), Observed("q0.local_iov.iov_base", ("abs", 0x7777)), Observed("q0.x", "a")),
    )
    new = Outcome(
        (Returned(0),),
        (Observed("q0.iov", "&local_iov"), Observed("q0.local_iov.iov_base", 0), Observed("q0.x", "b")),
    )
    assert differences(old, new, ("OLD", "NEW")) == [
        "q0.iov: OLD 0 vs NEW &local_iov",
        "q0.local_iov.iov_base: OLD 0x7777 vs NEW 0",
        "q0.x: OLD 'a' vs NEW 'b'",
    ]
