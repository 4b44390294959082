"""The exhaustive engine: complete enumeration, agreement on iov.c, and a boundary mutant found.

Expected case counts are derived here from the bound (layouts x counts x offsets x byte
counts x ...), independently of the engine's enumeration code.
"""

from __future__ import annotations

from collections import Counter
from itertools import product
from pathlib import Path
from typing import Any

import pytest

import reference_c
from harness.campaign import pool as campaign
from harness.engines.exhaustive import FUNCTIONS, NOT_MEMORY, cases, check_function, count_cases
from harness.gates import narrowing
from harness.generate.bounds import QUICK_BOUND, Bound
from harness.generate.strategies import STRATEGIES
from harness.model.case import Case, Ref, case_from_json, case_to_json
from harness.verdict.judge import Discrepancy, Judge, Tally
from harness.worlds.world import CWorld, PyWorld
from iovspec import ctable
from iovspec.cint import SIZE_MAX

TINY = Bound(
    max_vectors=2,
    max_len=1,
    huge=(SIZE_MAX,),
    arith_huge=(1 << 63,),
    fills=(0, 0xAB),
    null_buffer=True,
    max_qiov_vectors=2,
    owned_spare=(0, 1),
    max_adds=1,
    max_alloc_vectors=1,
    hints=(-1, 0, 2),
    end_lens=(1,),
    max_zero_class_bytes=0,
    wide=(),  # the wide entries' layouts and counts: tests/test_wide.py
    wide_counts=(),
)

NULL = "null"  # a zero-length entry with a NULL base


def slot_options(bound: Bound) -> list[Any]:
    """What one iovec entry of a layout can be: a length 0..max_len, or zero-length NULL."""
    return [*range(bound.max_len + 1), NULL]


def all_layouts(bound: Bound, max_n: int) -> list[tuple[Any, ...]]:
    return [lay for n in range(max_n + 1) for lay in product(slot_options(bound), repeat=n)]


def total(lay: tuple[Any, ...]) -> int:
    return sum(0 if x == NULL else x for x in lay)


def n_sizes(bound: Bound, t: int, arith: bool = False) -> int:
    """Offsets / byte counts: 0..t+1 and the huge values (also the arith ones for arithmetic-only
    sizes)."""
    huge = [*bound.huge, *bound.arith_huge] if arith else bound.huge
    return t + 2 + sum(1 for h in huge if h > t + 1)


def qiov_kinds(bound: Bound, lay: tuple[Any, ...]) -> int:
    """external + owned (one per spare) + embedded (one entry) + zeroed (no entry)."""
    return 1 + len(bound.owned_spare) + (len(lay) == 1) + (len(lay) == 0)


def test_every_memory_function_of_the_campaign_is_enumerated() -> None:
    assert set(STRATEGIES) - NOT_MEMORY == set(FUNCTIONS)
    assert {f.name for f in ctable.TABLE if f.sets_errno} | {"iov_hexdump"} == NOT_MEMORY


def test_iov_memset_enumeration_is_every_layout_count_offset_bytes_and_fill() -> None:
    """Rebuild each case's (layout, cnt, offset, bytes, fill) and compare with the full product."""
    seen: Counter[tuple[Any, ...]] = Counter()
    for case in cases("iov_memset", TINY):
        (call,) = case.calls
        arr, cnt, off, fill, nb = call.args
        regions = {r.name: r for r in case.regions}
        entries = regions[arr.region].init
        data = next(r for r in case.regions if r.kind == "data")
        lay = tuple(NULL if base == 0 else n for base, n in entries)
        # back to back in one data region of exactly the total
        pos = 0
        for base, n in entries:
            if base != 0:
                assert base == Ref(data.name, pos)
                pos += n
        assert data.size == total(lay) == pos
        seen[(lay, cnt, off, nb, fill)] += 1
    expected = Counter(
        (lay, cnt, off, nb, fill)
        for lay in all_layouts(TINY, TINY.max_vectors)
        for cnt in range(len(lay) + 1)
        for off in [*range(total(lay) + 2), SIZE_MAX]
        for nb in [*range(total(lay) + 2), SIZE_MAX]
        for fill in TINY.fills
    )
    assert seen == expected
    assert max(seen.values()) == 1


def test_case_counts_follow_from_the_bound() -> None:
    b = TINY
    layouts = all_layouts(b, b.max_vectors)
    qlayouts = all_layouts(b, b.max_qiov_vectors)
    alayouts = all_layouts(b, b.max_alloc_vectors)
    sq = {lay: n_sizes(b, total(lay)) ** 2 for lay in [*layouts, *qlayouts, *alayouts]}
    # sizes that only meet arithmetic (sums, comparisons) also take the arith huge values
    sqa = {lay: n_sizes(b, total(lay), arith=True) ** 2 for lay in [*qlayouts, *alayouts]}
    expected = {
        # each count, offset and byte count, with the buffer and with NULL
        "iov_to_buf_full": sum((len(lay) + 1) * sq[lay] * 2 for lay in layouts),
        # destination counts 0..n+1 of an n+1-entry array, source counts 0..n
        "iov_copy": sum((len(lay) + 2) * (len(lay) + 1) * sq[lay] for lay in layouts),
        # per count: each byte count x (NULL undo, undo, undo then iov_discard_undo)
        "iov_discard_back_undoable": sum(
            (len(lay) + 1) * n_sizes(b, total(lay), arith=True) * 3 for lay in layouts
        ),
        "iov_discard_front": sum((len(lay) + 1) * n_sizes(b, total(lay), arith=True) for lay in layouts),
        # each vector kind x offset x byte count x fill
        "qemu_iovec_memset": sum(qiov_kinds(b, lay) * sq[lay] * len(b.fills) for lay in qlayouts),
        # content: every zero/non-zero pattern up to the cap, else all-zero and all-non-zero
        "qemu_iovec_is_zero": sum(
            qiov_kinds(b, lay) * sqa[lay] * (2 ** total(lay) if total(lay) <= b.max_zero_class_bytes else 2)
            for lay in qlayouts
        ),
        # lengths may also be huge (NULL-based): more options per entry; counts 0..n
        "iov_size": sum(
            (n + 1) * (len(slot_options(b)) + len(b.huge) + len(b.arith_huge)) ** n
            for n in range(b.max_vectors + 1)
        ),
        # functions that allocate take their vectors from the smaller alloc layouts
        "qemu_iovec_init_slice": sum(qiov_kinds(b, lay) * sqa[lay] for lay in alayouts),
        # each hint, followed by 0..max_adds adds
        "qemu_iovec_init": len(b.hints) * (b.max_adds + 1),
        # NULL or a buffer, each length 0..max_len+1 or huge, then qemu_iovec_buf or not
        "qemu_iovec_init_buf": 2 * n_sizes(b, b.max_len, arith=True) * 2,
        # a's kind (no zeroed) x zero/non-zero bytes x shape (same, fewer, longer) x
        # (identical or differing at each byte) x both orders
        "qemu_iovec_compare": sum(
            (qiov_kinds(b, lay) - (len(lay) == 0)) * 2 * (3 if lay else 1) * (total(lay) + 1) * 2
            for lay in alayouts
        ),
    }
    for func, n in expected.items():
        assert count_cases(func, b) == n, func


def test_enumerated_cases_are_distinct_and_end_with_the_function() -> None:
    for func in ("qemu_iovec_concat", "qemu_iovec_clone", "iov_discard_undo", "qemu_iovec_add"):
        all_cases = list(cases(func, TINY))
        assert len(set(all_cases)) == len(all_cases), func
        for case in all_cases:
            assert any(c.func == func for c in case.calls), func


def test_quick_bound_agrees_on_the_original(judge: Judge) -> None:
    assert isinstance(judge.reference, CWorld)
    missing = judge.reference.reference.missing
    for func in (f for f in FUNCTIONS if f not in missing):
        progress: list[int] = []
        tally = Tally()
        done = check_function(func, QUICK_BOUND, judge, tally, progress.append)
        assert done == tally.cases == count_cases(func, QUICK_BOUND) > 0, func
        assert 0 <= sum(tally.ub.values()) < done
        assert progress[-1] == done


@pytest.mark.parametrize(
    "funcs",
    [
        ("qemu_iovec_discard_back", "qemu_iovec_memset", "qemu_iovec_add", "qemu_iovec_reset"),
        ("iov_discard_front_undoable", "iov_discard_back", "qemu_iovec_compare", "qemu_iovec_init_extended"),
    ],
)
def test_reused_worlds_give_the_outcomes_of_fresh_runs(judge: Judge, funcs: tuple[str, ...]) -> None:
    """verify=True runs every case from scratch too and raises FastPathError on any difference."""
    for func in funcs:
        check_function(func, TINY, judge, verify=True)


def test_unknown_function_is_rejected(judge: Judge) -> None:
    with pytest.raises(ValueError, match="iov_bogus"):
        check_function("iov_bogus", TINY, judge)


# -- a mutant that differs only at one boundary ------------------------------------------------------
FRONT = "if (cur->iov_len > bytes) {"  # first occurrence: iov_discard_front_undoable (line 681)
ASSERT_SIZE = "assert(qiov->size >= bytes);"  # qemu_iovec_discard_back (line 758)


@pytest.fixture(scope="module")
def mutant(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    text = (Path(reference_c.DEFAULT_SOURCE)).read_text()
    assert text.count(FRONT) == 2 and text.count(ASSERT_SIZE) == 1
    # discard_front: an entry exactly as long as the bytes left is now kept (as a zero-length
    # remainder) instead of dropped; discard_back: discarding exactly the whole size now fails
    text = text.replace(FRONT, "if (cur->iov_len >= bytes) {", 1)
    text = text.replace(ASSERT_SIZE, "assert(qiov->size > bytes);")
    path = tmp_path_factory.mktemp("mutant") / "iov.c"
    path.write_text(text)
    return path, reference_c.load(path)


def _lens(case: Case, array: Ref) -> list[int]:
    region = next(r for r in case.regions if r.name == array.region)
    return [n for _, n in region.init]


def _qiov_size(case: Case, q: Ref) -> int:
    """The size of vector ``q`` before the call under test: as initialised, or the added lengths."""
    init = next(r for r in case.regions if r.name == q.region).init
    if init is not None:
        return int(init.size)
    return sum(c.args[2] for c in case.calls[:-1] if c.func == "qemu_iovec_add" and c.args[0] == q)


def found(func: str, judge: Judge) -> Discrepancy | None:
    try:
        check_function(func, QUICK_BOUND, judge)
    except Discrepancy as d:
        return d
    return None


def test_mutant_found_only_at_a_boundary(
    mutant: tuple[Path, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    path, ref = mutant
    judge = Judge(PyWorld(), CWorld(ref))
    front, qback = found("iov_discard_front", judge), found("qemu_iovec_discard_back", judge)
    assert found("iov_discard_back", judge) is None  # the second `if` is untouched

    # iov_discard_front: the bytes discarded end exactly where one of the counted entries ends
    assert front is not None
    call = front.case.calls[-1]
    ptr_region = next(r for r in front.case.regions if r.name == call.args[0].region)
    cnt_region = next(r for r in front.case.regions if r.name == call.args[1].region)
    lens = _lens(front.case, ptr_region.init)[: cnt_region.init]
    prefix_sums = {sum(lens[:k]) for k in range(1, len(lens) + 1)}
    assert call.args[2] in prefix_sums

    # qemu_iovec_discard_back: the assert now fails, and only for bytes == size
    assert qback is not None
    assert "assert" in qback.difference
    call = qback.case.calls[-1]
    with pytest.raises(Discrepancy) as info:
        Judge(PyWorld(), CWorld(ref)).check(qback.case)
    c_outcome = info.value.outcomes[1]
    assert c_outcome is not None and c_outcome.assertion is not None
    assert c_outcome.assertion.expr == "qiov->size > bytes"
    assert call.args[1] == _qiov_size(qback.case, call.args[0])

    # the report is a replayable case
    case_json = case_to_json(qback.case)
    assert case_from_json(case_json) == qback.case
    from harness.report.reports import replay_case_json

    assert replay_case_json(case_json, str(path)) == 1
    assert "DIFFERENT" in capsys.readouterr().out
    assert "qemu_iovec_discard_back" in qback.case.describe()


def test_the_first_failure_found_is_the_smallest_layout(mutant: tuple[Path, Any]) -> None:
    """Groups run smallest layout first: no group that comes earlier holds a failing case."""
    _, ref = mutant
    from harness.engines.exhaustive import ordered_groups

    judge = Judge(PyWorld(), CWorld(ref))
    first = found("qemu_iovec_discard_back", judge)
    assert first is not None
    keys = [g.size_key() for g in ordered_groups("qemu_iovec_discard_back", QUICK_BOUND)]
    assert keys == sorted(keys)
    failing = first.case.regions
    earlier = next(
        i
        for i, g in enumerate(ordered_groups("qemu_iovec_discard_back", QUICK_BOUND))
        if g.regions == failing
    )
    for g in ordered_groups("qemu_iovec_discard_back", QUICK_BOUND)[:earlier]:
        for test in g.tests:
            Judge(PyWorld(), CWorld(ref)).check(g.case(test))  # all agree


def test_how_long_the_engine_looks_on_after_a_difference_is_a_count_of_failing_cases(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """iov_copy with its length kept in an int changes memory (the first failing case) and a
    returned value (a later one): looking on for no failing case keeps the first alone, looking
    on long enough finds both, and either way the same ones on every run (no clock decides)."""
    (var,) = [
        v for v in narrowing.variables(reference_c.DEFAULT_SOURCE, frozenset({"iov_copy"})) if v.name == "len"
    ]
    source = tmp_path / "iov.c"
    source.write_text(narrowing.mutant(reference_c.DEFAULT_SOURCE.read_text(), var))
    config = campaign.Config(campaign.PROFILES["quick"], str(source), "trap", 1, None)

    def kinds(looking_on: int) -> list[str]:
        monkeypatch.setattr(campaign, "LOOKING_ON", looking_on)
        result = campaign.run_exhaustive("iov_copy", config, campaign.make_judge(config))
        return [f.kind for f in result.findings]

    default = campaign.LOOKING_ON
    assert kinds(0) == ["different memory"]
    both = kinds(default)
    assert sorted(both) == ["a different value", "different memory"]
    assert kinds(default) == both
