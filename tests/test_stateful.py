"""Stateful differential tests: QEMUIOVector lifecycles on the port and on C at once.

The state machine (``harness.engines.stateful.IovecMachine``) keeps one arena per side
and makes random sequences of QEMUIOVector calls on both, comparing results and
every observation after each call.  These tests run it, check that a sequence it
records is a case the judge and ``python -m harness replay`` re-run to the same
end, and check that it catches changes to iov.c that only show across calls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from changes import changed_iov_c
from hypothesis import HealthCheck, Phase
from hypothesis import seed as hseed
from hypothesis import settings as hsettings
from hypothesis.stateful import run_state_machine_as_test

import reference_c
from harness.cli import main as cli_main
from harness.engines import stateful
from harness.engines.stateful import IovecMachine, SequenceDiscrepancy, compact_json, layout_regions
from harness.model.case import Arg, Ref, Region, case_from_json, case_to_json
from harness.model.outcome import AssertFailed, Returned, Undefined
from harness.report.reports import replay_case_json
from harness.verdict.judge import Discrepancy, Judge, Tally, minimise
from harness.worlds.world import CWorld, PyWorld, run_case

IOV_C = Path(__file__).resolve().parent.parent / "reference_c" / "iov.c"

#: one-line changes to iov.c that the machine must notice (old text, new text)
CHANGES = {
    "add grows to 2n+2": (
        "        qiov->nalloc = 2 * qiov->nalloc + 1;",
        "        qiov->nalloc = 2 * qiov->nalloc + 2;",
    ),
    "reset forgets the array": (
        "    qiov->niov = 0;\n    qiov->size = 0;\n}",
        "    qiov->niov = 0; qiov->nalloc = 0;\n    qiov->size = 0;\n}",
    ),
}


def test_sequences_agree(judge: Judge) -> None:
    """Property: for every sequence of up to 25 QEMUIOVector calls (init, init_external,
    init_buf, add, concat, concat_iov, init_extended, init_slice, discard_back, reset,
    destroy, to_buf, from_buf, memset, is_zero, compare, clone, subvec_niov, the iovec
    discards and their undo) over one arena, the port and C return the same records and
    leave the same arena, vectors, undo record, pointer/count variables and heap
    counters after every call; and when the sequence runs to its end, every live heap
    block is one owned vector's array and destroying the owned vectors empties both heaps.
    """
    run_state_machine_as_test(
        lambda: IovecMachine(judge),  # type: ignore[arg-type]
        settings=hsettings(max_examples=60, stateful_step_count=25, deadline=None),
    )


# -- a known sequence -------------------------------------------------------------------------
D0 = bytes(range(0x10, 0x20))
D1 = bytes(12)
D2 = b"ABCDEFGH"
IOV_A: list[tuple[Arg, int]] = [(Ref("d0"), 4), (Ref("d1"), 3), (Ref("d2", 1), 2), (0, 0)]
IOV_B: list[tuple[Arg, int]] = [(Ref("d2", 4), 4), (Ref("d0", 8), 8), (Ref("d1", 2), 0)]


def known_regions(src: bytes = bytes(range(64))) -> tuple[Region, ...]:
    contents = {"d0": D0, "d1": D1, "d2": D2, "src": src}
    return layout_regions(contents, {"iovA": IOV_A, "iovB": IOV_B})


def known_machine(reference: Any, src: bytes = bytes(range(64))) -> IovecMachine:
    m = IovecMachine(Judge(PyWorld(), CWorld(reference)))
    m.start(known_regions(src))
    return m


def test_a_known_sequence_agrees_and_replays_as_a_case(reference: Any, tmp_path: Path) -> None:
    m = known_machine(reference)
    m.step("qemu_iovec_init", Ref("q0"), 1)
    m.step("qemu_iovec_add", Ref("q0"), Ref("d0", 2), 5)  # fits the hint
    m.step("qemu_iovec_add", Ref("q0"), Ref("d2"), 3)  # full: grows to 2*1+1 = 3
    m.step("qemu_iovec_init_external", Ref("q1"), Ref("iovA"), 3)  # size 4+3+2
    m.step("qemu_iovec_concat", Ref("q0"), Ref("q1"), 1, 4)  # {d0+1, 3}, {d1, 1}: grows to 7
    copied = m.step("qemu_iovec_to_buf", Ref("q0"), 0, Ref("out"), 100)
    dropped = m.step("iov_discard_front_undoable", Ref("pA"), Ref("nA"), 3, Ref("undo"))
    m.step("iov_discard_undo", Ref("undo"))
    m.step("qemu_iovec_destroy", Ref("q0"))
    assert m.ended is None and m.live
    assert copied == Returned(5 + 3 + 3 + 1)
    assert dropped == Returned(3)
    assert m.port_run is not None
    out = m.mem.read(m.at("out"), 12)
    assert out == D0[2:7] + D2[0:3] + D0[1:4] + D1[0:1]
    assert [m.kind(q) for q in ("q0", "q1", "q2", "q3")] == ["free", "external", "free", "free"]
    observed = m.port_run.observe()
    results = tuple(m.port_results)
    facts = {o.label: o.value for o in observed}
    assert facts["iovA[0]"] == (("arena", m.port_run.offsets["d0"]), 4)  # undone
    assert facts["q1.size"] == 9
    assert results == tuple(m.ref_results)
    m.check_heap_and_destroy()  # nothing owned is left: both heaps already empty
    m.teardown()

    case = m.sequence_case()
    assert case_from_json(case_to_json(case)) == case
    assert case_from_json(compact_json(case)) == case
    checked = Judge(PyWorld(), CWorld(reference)).check(case)  # raises Discrepancy on a difference
    assert checked.results == results
    alone = run_case(PyWorld(), case)
    assert alone.results == results and alone.observations == observed

    saved = tmp_path / "sequence.json"
    saved.write_text(compact_json(case))
    assert cli_main(["replay", str(saved)]) == 0


def test_an_assert_ends_the_sequence_on_both_sides(reference: Any) -> None:
    m = known_machine(reference)
    m.step("qemu_iovec_init_external", Ref("q0"), Ref("iovB"), 2)
    record = m.step("qemu_iovec_reset", Ref("q0"))  # reset of an external vector
    assert isinstance(record, AssertFailed)
    assert (record.func, record.expr) == ("qemu_iovec_reset", "qiov->nalloc != -1")
    assert m.ended == "AssertFailed" and not m.live
    assert m.ref_results == m.port_results
    m.teardown()  # no heap check after the program would have aborted
    outcome = Judge(PyWorld(), CWorld(reference)).check(m.sequence_case())
    assert outcome.assertion is not None and outcome.assertion.func == "qemu_iovec_reset"


def test_undefined_behaviour_ends_the_sequence_without_running_c(reference: Any) -> None:
    m = known_machine(reference)
    m.step("qemu_iovec_init_buf", Ref("q0"), 0, 4)  # a NULL buffer of 4 bytes
    record = m.step("qemu_iovec_to_buf", Ref("q0"), 0, Ref("out"), 4)  # memcpy from NULL
    assert isinstance(record, Undefined) and record.kind == "null-pointer"
    assert m.ended == "Undefined" and not m.live
    assert len(m.ref_results) == len(m.port_results) - 1  # C never made the call
    m.teardown()


def test_owned_arrays_are_destroyed_at_the_end(reference: Any) -> None:
    m = known_machine(reference)
    m.step("qemu_iovec_init", Ref("q2"), 2)
    m.step("qemu_iovec_add", Ref("q2"), Ref("d1"), 1)
    m.step("qemu_iovec_init_buf", Ref("q3"), Ref("d2"), 8)  # embedded: nothing to free
    m.check_heap_and_destroy()
    assert [c.func for c in m.calls[-1:]] == ["qemu_iovec_destroy"] and m.calls[-1].args == (Ref("q2"),)
    assert m.kind("q2") == "free" and m.mem.heap_stats().live == 0
    m.teardown()


def test_a_leak_is_reported(reference: Any) -> None:
    m = known_machine(reference)
    m.step("qemu_iovec_init", Ref("q2"), 2)
    m.step("qemu_iovec_init", Ref("q2"), 1)  # re-initialising an owned vector loses its array
    with pytest.raises(SequenceDiscrepancy, match="2 live heap blocks but the owned vectors hold 1"):
        m.check_heap_and_destroy()
    m.teardown()


def test_an_invalid_free_both_sides_make_ends_the_sequence_as_confirmed_ub(reference: Any) -> None:
    m = known_machine(reference, src=(0x1000).to_bytes(8, "little") + bytes(56))
    m.step("qemu_iovec_init", Ref("q0"), 1)
    m.step("qemu_iovec_init_buf", Ref("q1"), Ref("q0"), 40)  # a vector over q0's own bytes
    m.step("qemu_iovec_from_buf", Ref("q1"), 0, Ref("src"), 8)  # q0.iov = (void *)0x1000
    tally = Tally()
    m.tally = tally
    record = m.step("qemu_iovec_destroy", Ref("q0"))  # g_free((void *)0x1000): C frees it too
    assert isinstance(record, Undefined) and record.kind == "invalid-free"
    assert len(m.ref_results) == len(m.port_results) - 1  # not run in C
    assert "invalid-free" in tally.ub_checked[("qemu_iovec_destroy", "invalid-free")]  # the oracle saw it
    m.teardown()


class DoubleFreeingPort(PyWorld):
    """The port with qemu_iovec_destroy freeing its array twice, where C frees it once."""

    def function(self, name: str) -> Callable[..., Any]:
        real = super().function(name)
        if name != "qemu_iovec_destroy":
            return real

        def destroy(mem: Any, qiov: int) -> None:
            iov = mem.u64(qiov)
            real(mem, qiov)
            mem.g_free(iov)

        return destroy


def test_an_invalid_free_only_the_port_makes_is_a_discrepancy(reference: Any) -> None:
    """The port claims UB (invalid-free) that C does not have: the oracle refutes it."""
    m = IovecMachine(Judge(DoubleFreeingPort(), CWorld(reference)))
    m.start(known_regions())
    m.step("qemu_iovec_init", Ref("q0"), 1)
    with pytest.raises(SequenceDiscrepancy, match="the port says undefined behaviour \\(invalid-free\\)"):
        m.step("qemu_iovec_destroy", Ref("q0"))
    m.teardown()


class BrokenPort(PyWorld):
    """The port with qemu_iovec_reset raising an exception no C call can stand for."""

    def function(self, name: str) -> Callable[..., Any]:
        if name != "qemu_iovec_reset":
            return super().function(name)

        def broken(mem: Any, qiov: int) -> None:
            raise OverflowError("cannot fit 'int' into an index-sized integer")

        return broken


def test_an_exception_from_the_port_is_reported_with_the_case(reference: Any) -> None:
    m = IovecMachine(Judge(BrokenPort(), CWorld(reference)))
    m.start(known_regions())
    m.step("qemu_iovec_init", Ref("q3"), 0)
    with pytest.raises(SequenceDiscrepancy, match="the port raised OverflowError") as info:
        m.step("qemu_iovec_reset", Ref("q3"))
    assert [c.func for c in info.value.case.calls] == ["qemu_iovec_init", "qemu_iovec_reset"]
    m.teardown()
    cut = minimise(Judge(BrokenPort(), CWorld(reference)), info.value.case)
    assert [c.func for c in cut.calls] == ["qemu_iovec_reset"]  # the init is not needed to fail


def changed_source(tmp_path: Path, change: str) -> Path:
    return changed_iov_c(tmp_path, *CHANGES[change], name="changed.c")


@pytest.mark.parametrize("change", list(CHANGES))
def test_the_machine_catches_a_change_that_shows_across_calls(change: str, tmp_path: Path) -> None:
    path = changed_source(tmp_path, change)
    changed = reference_c.load(path)
    port, ref = PyWorld(), CWorld(changed)
    with pytest.raises(SequenceDiscrepancy) as info:
        run_state_machine_as_test(
            hseed(0)(lambda: IovecMachine(Judge(port, ref))),  # type: ignore[arg-type]
            settings=hsettings(
                max_examples=300,
                stateful_step_count=25,
                deadline=None,
                database=None,
                derandomize=False,
                report_multiple_bugs=False,
                phases=(Phase.generate,),  # found is enough here; run_stateful below shrinks
                suppress_health_check=list(HealthCheck),
            ),
        )
    failure = info.value
    assert "nalloc" in failure.difference
    text = str(failure)
    assert "python -m harness replay" in text and compact_json(failure.case) in text
    # the printed case is a reproducer: it differs against the changed file only
    with pytest.raises(Discrepancy):
        Judge(port, ref).check(failure.case)
    Judge(PyWorld(), CWorld(reference_c.load(IOV_C))).check(failure.case)  # the original agrees
    assert replay_case_json(failure.case_json, str(path)) == 1
    assert replay_case_json(failure.case_json, str(IOV_C)) == 0


def test_run_reports_counts_and_a_cut_down_case(tmp_path: Path, judge: Judge) -> None:
    tally = Tally()
    assert stateful.run(judge, examples=5, seed=3, tally=tally) == tally.cases > 5
    path = changed_source(tmp_path, "reset forgets the array")
    changed = reference_c.load(path)
    with pytest.raises(SequenceDiscrepancy) as info:
        stateful.run(Judge(PyWorld(), CWorld(changed)), examples=100, seed=3)
    found = info.value
    assert "nalloc" in found.difference and "cut down from" in found.difference
    assert "python -m harness replay" in str(found)
    case = found.case
    assert case.calls[-1].func == "qemu_iovec_reset"
    # cut down: dropping any one call before the reset loses the difference (or leaves UB)
    with pytest.raises(Discrepancy):
        Judge(PyWorld(), CWorld(changed)).check(case)
    Judge(PyWorld(), CWorld(reference_c.load(IOV_C))).check(case)
    for i in range(len(case.calls) - 1):
        shorter = replace(case, calls=case.calls[:i] + case.calls[i + 1 :])
        Judge(PyWorld(), CWorld(changed)).check(shorter)


def test_the_machine_calls_only_what_the_c_source_has(tmp_path: Path) -> None:
    """A source without ``qemu_iovec_is_zero`` (a missing function, which ``harness run``
    reports on its own) still gets its sequences judged: the rule that calls it never runs."""
    text = IOV_C.read_text()
    start = text.index("bool qemu_iovec_is_zero(QEMUIOVector *qiov, size_t offset, size_t bytes)")
    end = text.index("void qemu_iovec_init_slice(")
    path = tmp_path / "lacking.c"
    path.write_text(text[:start] + "\n" * text[start:end].count("\n") + text[end:])
    lacking = reference_c.load(path)
    assert "qemu_iovec_is_zero" in lacking.missing
    judge = Judge(PyWorld(), CWorld(lacking))
    assert not judge.reference.has("qemu_iovec_is_zero") and judge.reference.has("qemu_iovec_add")
    tally = Tally()
    stateful.run(judge, examples=60, seed=3, tally=tally)  # raises on a difference
    assert tally.cases > 60


def test_a_listed_difference_ends_the_sequence_and_passes() -> None:
    """Against v9.2 with its known-differences file, a sequence that meets a listed change
    (its qemu_iovec_clone uses the heap otherwise) stops there, instead of reporting the same
    parted heap again after the next call, under that call's name."""
    from harness.verdict.expected import Expected, shipped
    from reference_c.revisions import revision

    expected = Expected.load(shipped("v9.2.0"))
    judge = Judge(PyWorld(), CWorld(reference_c.load(revision("v9.2.0").path)), expected=expected)
    stateful.run(judge, examples=60, seed=5)  # raises on a difference no entry lists
    assert any(key.startswith("qemu_iovec_clone|different heap use") for key in expected.seen), expected.seen
