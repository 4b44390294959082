"""Patch review a QEMU developer can trust: verdicts follow behaviour, not spelling.

- Two aborts of the same call with the same state agree, whichever assert says so: a
  refactor that hoists a value into a local (the assert's text changes) or gives a fast path
  its own copy of an assert (the ordinal changes) is green, with a note; ``--strict-asserts``
  keeps the old rule (and is the default for the port against the original).
- A prototype spelt otherwise (``const`` added, a parameter renamed, ``unsigned`` for
  ``unsigned int``) is judged as usual, with a note; a bug in such a function is red.
- A selected function that is not judged is a row "not judged" with its reason, and a run
  that judges nothing exits 2: never green.
- Every distinct difference of a function is reported, each with its own case, behaviour
  changes before refuted UB claims; ``run`` and ``diff`` find the same ones.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from changes import IOV_C, changed_iov_c
from cli_runs import harness

import reference_c
from harness.campaign.pool import PROFILES, Config, make_judge
from harness.engines.exhaustive import QUICK_BOUND, ordered_groups
from harness.model.case import Case
from harness.model.outcome import SAME_ABORT, rank
from harness.model.results import Finding, FunctionResult, dedupe
from harness.verdict.batch import CBatch, make_batch
from iovspec.ctable import BY_NAME, compatible
from reference_c.build import source_prelude
from reference_c.revisions import revision

#: qemu_iovec_compare with the entry length hoisted into a local: the assert's text changes
HOISTED = (
    "        assert(a->iov[i].iov_len == b->iov[i].iov_len);\n"
    "        while (len < a->iov[i].iov_len && *p++ == *q++) {",
    "        size_t n = a->iov[i].iov_len;\n"
    "        assert(n == b->iov[i].iov_len);\n"
    "        while (len < n && *p++ == *q++) {",
)
#: iov_to_buf_full with a fast path for an empty vector that has its own copy of the final
#: assert: every later assert of that expression has another ordinal
FAST_PATH = (
    "size_t iov_to_buf_full(const struct iovec *iov, const unsigned int iov_cnt,\n"
    "                       size_t offset, void *buf, size_t bytes)\n{\n",
    "size_t iov_to_buf_full(const struct iovec *iov, const unsigned int iov_cnt,\n"
    "                       size_t offset, void *buf, size_t bytes)\n{\n"
    "    if (iov_cnt == 0) {\n        assert(offset == 0);\n        return 0;\n    }\n",
)


def _rows(path: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(path.read_text())["rows"]
    return rows


def _run(tmp_path: Path, source: Path, only: str, *extra: str) -> tuple[int, list[dict[str, Any]], str]:
    out = tmp_path / f"run-{len(list(tmp_path.glob('run-*.json')))}.json"
    done = harness(
        "run", "--c-source", str(source), "--only", only, "--engine", "exhaustive", "--profile", "quick",
        "--jobs", "1", "--seed", "1", "--json", str(out), "--report", str(tmp_path / "reports"), *extra,
        cwd=tmp_path,
    )  # fmt: skip
    return done.returncode, _rows(out) if out.exists() else [], done.stdout + done.stderr


def test_an_assert_hoisted_into_a_local_is_the_same_abort(tmp_path: Path) -> None:
    """The refactor aborts on the same inputs with the same state: green, with a note naming
    both asserts; under --strict-asserts the old rule makes it red."""
    source = changed_iov_c(tmp_path, *HOISTED)
    status, rows, out = _run(tmp_path, source, "qemu_iovec_compare")
    assert status == 0, out
    notes = [r for r in rows if r["verdict"] == "note" and r["kind"] == SAME_ABORT]
    assert notes and not any(r["red"] for r in rows), rows
    assert "n == b->iov[i].iov_len" in notes[0]["difference"]
    assert "a->iov[i].iov_len == b->iov[i].iov_len" in notes[0]["difference"]
    status, rows, out = _run(tmp_path, source, "qemu_iovec_compare", "--strict-asserts")
    assert status == 1, out
    assert {r["kind"] for r in rows if r["red"]} == {"a different assert"}


def test_a_fast_path_with_its_own_copy_of_an_assert_is_the_same_abort(tmp_path: Path) -> None:
    source = changed_iov_c(tmp_path, *FAST_PATH)
    status, rows, out = _run(tmp_path, source, "iov_to_buf_full")
    assert status == 0, out
    assert any(r["verdict"] == "note" and r["kind"] == SAME_ABORT for r in rows)


def test_the_port_against_the_original_is_strict_by_default() -> None:
    """A note is no excuse for the port: on the original iov.c, which assert fails counts."""
    from harness.cli import parser as _parser

    args = _parser().parse_args(["run"])
    assert args.strict_asserts is None  # decided by the source: strict when it is the original


def test_a_hoisted_assert_next_to_a_wrong_value_shows_the_value(tmp_path: Path) -> None:
    """The assert's new text does not hide the real change: a wrong return value of the same
    function is red, reported as a different value."""
    hoisted = IOV_C.read_text().replace(*HOISTED)
    broken = hoisted.replace(
        "    return -1;\n}\n\ntypedef struct {", "    return offset ? -1 : -2;\n}\n\ntypedef struct {"
    )
    assert broken != hoisted
    source = tmp_path / "both.c"
    source.write_text(broken)
    status, rows, out = _run(tmp_path, source, "qemu_iovec_compare")
    assert status == 1, out
    red = [r for r in rows if r["red"]]
    assert red[0]["kind"] == "a different value", red


def test_a_prototype_spelt_otherwise_is_judged_with_a_note(tmp_path: Path) -> None:
    """const added to both pointees, parameters renamed: the same values cross the call."""
    source = changed_iov_c(
        tmp_path,
        "ssize_t qemu_iovec_compare(QEMUIOVector *a, QEMUIOVector *b)",
        "ssize_t qemu_iovec_compare(const QEMUIOVector *a, const QEMUIOVector *b)",
    )
    ref = reference_c.load(source)
    assert "qemu_iovec_compare" in ref.respelt and "qemu_iovec_compare" not in ref.changed
    status, rows, out = _run(tmp_path, source, "qemu_iovec_compare")
    assert status == 0, out
    judged = [r for r in rows if r["function"] == "qemu_iovec_compare" and r["verdict"] == "agree"]
    assert judged and judged[0]["cases"] > 0
    assert any(r["kind"] == "prototype respelt" for r in rows)


def test_a_bug_in_a_function_whose_prototype_is_respelt_is_red(tmp_path: Path) -> None:
    text = IOV_C.read_text()
    text = text.replace(
        "size_t iov_size(const struct iovec *iov, const unsigned int iov_cnt)",
        "size_t iov_size(const struct iovec *vec, unsigned count)",
    )
    body_old = "    for (i = 0; i < iov_cnt; i++) {\n        len += iov[i].iov_len;"
    assert body_old in text
    text = text.replace(body_old, "    for (i = 0; i + 1 < count; i++) {\n        len += vec[i].iov_len;")
    source = tmp_path / "respelt_bug.c"
    source.write_text(text)
    assert "iov_size" in reference_c.load(source).respelt
    status, rows, out = _run(tmp_path, source, "iov_size")
    assert status == 1, out
    assert any(r["red"] and r["function"] == "iov_size" and r["kind"] == "a different value" for r in rows)


def test_compatible_prototypes() -> None:
    proto = BY_NAME["iov_size"].prototype
    assert compatible(proto, "size_t iov_size(struct iovec *v, unsigned n)")
    assert compatible(proto, "unsigned long iov_size(const struct iovec *const v, unsigned int n)")
    assert not compatible(proto, "size_t iov_size(const struct iovec *iov, int iov_cnt)")
    assert not compatible(proto, "size_t iov_size(const struct iovec *iov)")
    assert not compatible(proto, "ssize_t iov_size(const struct iovec *iov, unsigned iov_cnt)")
    assert not compatible(proto, "size_t iov_size(const QEMUIOVector *iov, unsigned iov_cnt)")


def test_a_run_that_judges_nothing_is_not_green(tmp_path: Path) -> None:
    """qemu_iovec_slice is not in the original (it came with v8.1): selected alone, nothing is
    judged, which exits 2 and says why in a row of its own."""
    out = tmp_path / "r.json"
    done = harness(
        "run", "--only", "qemu_iovec_slice", "--profile", "quick", "--jobs", "1", "--json", str(out),
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "NOTHING JUDGED" in done.stdout
    rows = _rows(out)
    assert [(r["function"], r["verdict"], r["kind"]) for r in rows] == [
        ("qemu_iovec_slice", "not judged", "not in this source")
    ]


def test_a_listed_prototype_change_is_not_judged_and_not_green(tmp_path: Path) -> None:
    """A [[changed]] entry makes a changed prototype a note, not a pass: with only that
    function selected, nothing is judged (exit 2); run and diff follow one rule."""
    source = changed_iov_c(
        tmp_path,
        "size_t iov_size(const struct iovec *iov, const unsigned int iov_cnt)",
        "size_t iov_size(const struct iovec *iov, const int iov_cnt)",
    )
    listed = tmp_path / "known.toml"
    listed.write_text('[[changed]]\nfunction = "iov_size"\nreason = "the count is signed now"\n')
    status, rows, out = _run(tmp_path, source, "iov_size", "--expect-diff", str(listed))
    assert status == 2, out
    assert [(r["verdict"], r["kind"], r["red"]) for r in rows if r["function"] == "iov_size"] == [
        ("not judged", "changed prototype", False)
    ]
    status, rows, out = _run(tmp_path, source, "iov_size")
    assert status == 1 and any(r["red"] and r["kind"] == "changed prototype" for r in rows), out
    diff = harness(
        "diff", str(IOV_C), str(source), "--only", "iov_size", "--expect-diff", str(listed), "--jobs", "1",
        "--seed", "1", "--json", str(tmp_path / "d.json"), cwd=tmp_path,
    )  # fmt: skip
    assert diff.returncode == 2, diff.stdout + diff.stderr
    assert [(r["verdict"], r["red"]) for r in _rows(tmp_path / "d.json")] == [("not judged", False)]


def test_every_distinct_difference_is_reported_most_telling_first(tmp_path: Path) -> None:
    """One patch, two bugs of one function: an empty copy now returns 1 (a value) and one
    byte too many is copied (memory); both are reported, each with a case of its own, by run
    and by diff alike."""
    text = IOV_C.read_text()
    old = "            memcpy(buf + done, iov[i].iov_base + offset, len);"
    assert text.count(old) == 1
    text = text.replace(old, "            memcpy(buf + done, iov[i].iov_base + offset, len + (len == 2));")
    ret = "    assert(offset == 0);\n    return done;\n}\n\nsize_t iov_memset"
    assert text.count(ret) == 1
    text = text.replace(ret, "    assert(offset == 0);\n    return done ? done : 1;\n}\n\nsize_t iov_memset")
    source = tmp_path / "two_bugs.c"
    source.write_text(text)
    status, rows, out = _run(tmp_path, source, "iov_to_buf_full")
    assert status == 1, out
    kinds = [r["kind"] for r in rows if r["red"]]
    assert {"a different value", "different memory"} <= set(kinds), rows
    assert kinds.index("a different value") < kinds.index("different memory")
    assert len({r["case_json"] for r in rows if r["red"]}) == len(kinds)
    diff = harness(
        "diff", str(IOV_C), str(source), "--only", "iov_to_buf_full", "--jobs", "1", "--seed", "1",
        "--json", str(tmp_path / "d.json"), "--report", str(tmp_path / "reports"), cwd=tmp_path,
    )  # fmt: skip
    assert diff.returncode == 1, diff.stdout
    changed = {r["kind"] for r in _rows(tmp_path / "d.json") if r["red"]}
    assert {"a different value", "different memory"} <= changed
    assert "FOUND a change of iov_to_buf_full" in diff.stdout


def test_findings_are_ordered_by_kind_and_kept_once_per_kind_and_place() -> None:
    def finding(kind: str, where: str, calls: int) -> Finding:
        case = {"label": "", "regions": [], "calls": [["iov_size", [0, 0]]] * calls}
        return Finding(f"{kind} at {where}", kind, where, json.dumps(case))

    r = FunctionResult("iov_size", "exhaustive")
    r.add(finding("a UB claim refuted", "call 1", 1))
    r.add(finding("different memory", "buf1 bytes", 2))
    r.add(finding("different memory", "buf3 bytes", 1))  # the same place, a smaller case
    r.add(finding("a different value", "call 2", 3))
    assert [(f.kind, f.where) for f in r.findings] == [
        ("a different value", "call 2"),
        ("different memory", "buf3 bytes"),
        ("a UB claim refuted", "call 1"),
    ]
    other = FunctionResult("iov_size", "hypothesis", findings=[finding("a different value", "call 1", 1)])
    kept = dedupe([r, other])
    assert [(res.engine, f.kind) for res, f in kept] == [
        ("hypothesis", "a different value"),
        ("exhaustive", "different memory"),
        ("exhaustive", "a UB claim refuted"),
    ]
    assert kept[0][1].also_found_by == ["exhaustive"] and r.findings[0].also_found_by == []
    assert (
        rank("a different value") < rank("different heap use") < rank("a UB claim refuted") < rank(SAME_ABORT)
    )


def test_two_builds_share_one_address_space() -> None:
    """Two sources loaded in one process lay a memory out at the same addresses, one after the
    other (what lets diff compare C with C as numbers)."""
    a, b = reference_c.load(None), reference_c.load(revision("v9.2.0").path)
    assert a.next_addresses() == b.next_addresses() != (0, 0)
    before = b.next_addresses()
    with a.memory():  # while a memory of one is open, the next of either has a slot of its own
        assert b.next_addresses() == a.next_addresses() != before
    assert a.next_addresses() == b.next_addresses()


#: iov_from_buf_full writes a constant into its second entry instead of the caller's bytes
WRONG_SECOND = 'memcpy(iov[i].iov_base + offset, i == 1 ? (const void *)"UUUU" : buf + done, len);'


def test_c_against_c_batches_agree_with_the_judge_case_by_case(tmp_path: Path) -> None:
    """The raw comparison of two builds' batches says what the judge says of each case alone:
    the tests a batch hands on as differences are exactly those the judge fails on their
    own, and the others agree."""
    from harness.verdict.judge import Discrepancy, Tally

    text = IOV_C.read_text()
    old = "            memcpy(iov[i].iov_base + offset, buf + done, len);"
    assert text.count(old) == 1
    source = tmp_path / "from_buf.c"
    source.write_text(
        text.replace(old, old.replace("memcpy(iov[i].iov_base + offset, buf + done, len);", WRONG_SECOND))
    )
    config = Config(PROFILES["quick"], str(source), "trap", 1, None, old_source=str(IOV_C))
    judge = make_judge(config)
    batched: set[tuple[int, int]] = set()
    alone: set[tuple[int, int]] = set()
    groups = ordered_groups("iov_from_buf_full", QUICK_BOUND)[:60]
    for k, g in enumerate(groups):
        batch = make_batch(judge, Case(g.regions, g.setup))
        assert isinstance(batch, CBatch)
        failing: list[Discrepancy] = []

        def failed(d: Discrepancy, failing: list[Discrepancy] = failing) -> bool:
            failing.append(d)
            return False

        try:
            batch.judge_tests(g.tests, "t", Tally(), failed)
        finally:
            batch.close()
        batched |= {(k, g.tests.index(d.case.calls[len(g.setup) :])) for d in failing}
        for t, test in enumerate(g.tests):
            try:
                judge.check(g.case(test))
            except Discrepancy:
                alone.add((k, t))
    assert batched == alone and alone  # some differ, and exactly those


def test_a_diff_whose_new_source_kills_its_worker_reports_the_case(tmp_path: Path) -> None:
    """NEW aborts (the process running C dies) on a vector of two entries whose second is one
    byte long: diff reports a crash with the case C was running, not a harness error."""
    text = IOV_C.read_text()
    memset = "            memset(iov[i].iov_base + offset, fillc, len);\n"
    assert text.count(memset) == 1
    condition = "iov_cnt == 2 && iov[1].iov_len == 1"
    source = tmp_path / "aborts.c"
    source.write_text(text.replace(memset, f"            if ({condition}) {{ abort(); }}\n{memset}"))
    out = tmp_path / "d.json"
    done = harness(
        "diff", str(IOV_C), str(source), "--only", "iov_memset", "--jobs", "1", "--seed", "1",
        "--json", str(out), "--report", str(tmp_path / "reports"), cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    red = [r for r in _rows(out) if r["red"]]
    assert red and red[0]["kind"] == "a crash", red
    assert "iov_memset" in red[0]["case"] and Path(red[0]["reproducer"]).is_file()


def test_every_prototype_of_the_table_can_be_respelt(tmp_path: Path) -> None:
    """A compatible respelling of any function builds: the header's declaration is renamed out
    of the way and forwards to the source's (qemu_iovec_slice's prototype has no space before
    its name, "struct iovec *qemu_iovec_slice(", which a renaming by " NAME(" missed, so the
    forwarder defined the function a second time)."""
    for name, row in BY_NAME.items():
        forwarder = source_prelude({name: row.prototype})[-1]
        head = forwarder.split("\n", 1)[0]
        assert f"iovconf_header_{name}(" in head and not re.search(rf"\b{name}\s*\(", head), forwarder
    text = revision("v10.0.0").path.read_text()
    respelt = text.replace(
        "struct iovec *qemu_iovec_slice(QEMUIOVector *qiov,",
        "struct iovec *qemu_iovec_slice(QEMUIOVector *const qiov,",
    )
    assert respelt != text
    source = tmp_path / "slice_respelt.c"
    source.write_text(respelt)
    ref = reference_c.load(source)
    assert "qemu_iovec_slice" in ref.respelt and "qemu_iovec_slice" not in ref.changed
