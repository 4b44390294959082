"""Wide entries: lengths around 2**31, 2**32 and 2**63 (and totals past 2**64) in every engine,
the port and C on them, and the narrowing they exist to catch.

A patch that keeps a ``size_t`` length in an ``int`` changes nothing below 2**31; the
families give the functions that read lengths without touching the bytes entries of the
bound's wide lengths (``harness.generate.layouts``: one real byte each, the rest past the region).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cli_runs import harness
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

import pyimpl
import reference_c
from harness.engines.exhaustive import FUNCTIONS, count_cases, groups
from harness.gates.narrowing import mutant, variables
from harness.generate.bounds import BACKED_MAX, DRAWN, QUICK_BOUND, Bound
from harness.generate.choices import Drawn, sweep
from harness.generate.families import FAMILIES, WIDE, strategy
from harness.model.case import Arg, Case, Ref
from iovspec.cint import SIZE_MAX

IOV_C = Path(__file__).resolve().parent.parent / "reference_c" / "iov.c"
#: the functions with wide entries that the exhaustive engine enumerates
ENUMERATED = [f for f in FUNCTIONS if f in WIDE]
W31, W32, W63 = 1 << 31, 1 << 32, 1 << 63


def wide_entries(case: Case) -> list[tuple[Arg, int]]:
    """Every (base, len) a case lays out in an iovec array or adds, longer than memory backs."""
    out = [(b, n) for r in case.regions if r.kind == "iovs" for b, n in r.init if n > BACKED_MAX]
    out += [
        (c.args[1], c.args[2]) for c in case.calls if c.func == "qemu_iovec_add" and c.args[2] > BACKED_MAX
    ]
    return out


def check_wide_entries(func: str, case: Case) -> None:
    """A wide entry of a layout points at a real byte of a data region (never NULL, which no
    offset may be added to), is no longer than the function may get, and is not the last entry
    of its array where the function reads or writes the bytes; only NULL-based huge lengths of
    the functions that merely sum them (iov_size's) may be NULL."""
    sizes = {r.name: (r.kind, r.size) for r in case.regions}
    for base, n in wide_entries(case):
        if base == 0:
            assert WIDE[func].longest == SIZE_MAX, (func, n)
            continue
        assert isinstance(base, Ref), (func, base)
        kind, size = sizes[base.region]
        assert kind == "data" and base.offset < size, (func, base, size)
        assert n <= WIDE[func].longest, (func, n)
    if WIDE[func].followed:
        for r in case.regions:
            assert r.kind != "iovs" or not r.init or r.init[-1][1] <= BACKED_MAX, (func, r.init)


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(WIDE)).flatmap(lambda f: st.tuples(st.just(f), strategy(f))))
def test_drawn_wide_entries_point_at_memory_and_fit_their_function(drawn: tuple[str, Case]) -> None:
    """For every case the Hypothesis engine draws for a function with wide entries, each wide
    entry points into a data region and is no longer than the function's cap."""
    func, case = drawn
    check_wide_entries(func, case)


def near(edge: int) -> Callable[[Case], bool]:
    """Whether a case has a wide entry within 1 of ``edge``."""
    return lambda case: any(abs(n - edge) <= 1 for _, n in wide_entries(case))


#: find without shrinking: the first example that has it will do
FIRST = settings(max_examples=3000, database=None, deadline=None, phases=[Phase.generate])
ANY_FUNCTION = st.sampled_from(sorted(WIDE)).flatmap(strategy)


def test_the_hypothesis_engine_draws_wide_entries_for_each_function_and_every_width() -> None:
    for func in sorted(WIDE):
        assert wide_entries(find(strategy(func), lambda case: bool(wide_entries(case)), settings=FIRST))
    for edge in (W31, W32, W63):
        assert near(edge)(find(ANY_FUNCTION, near(edge), settings=FIRST))


@pytest.mark.parametrize("func", ["iov_copy", "iov_discard_back", "qemu_iovec_concat_iov", "iov_to_buf_full"])
def test_the_batched_engine_sweeps_each_wide_boundary(func: str) -> None:
    """A drawn layout with a wide entry is swept at each of its boundaries and +-1 (mod 2**64),
    as offsets and byte counts; over a layout without one, concat_iov's count also takes the
    counts past INT_MAX."""
    fam = FAMILIES[func]
    array_arg = {"iov_copy": 2, "iov_discard_back": 0, "qemu_iovec_concat_iov": 1, "iov_to_buf_full": 0}[func]
    seen_wide = []

    @settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.data())
    def sweeps(data: st.DataObject) -> None:
        from harness.model.case import Builder

        c = Drawn(data.draw, DRAWN)
        b = Builder()
        test = fam.build(c, b)
        tests = sweep(c, test, 1 << 20)
        calls = [call for t in tests for call in t if call.func == func]
        array = calls[0].args[array_arg]
        lens = [n for _, n in next(r.init for r in b.regions if r.name == array.region)]
        ints = {a for call in calls for a in call.args if isinstance(a, int)}
        wide = [k for k, n in enumerate(lens) if n > BACKED_MAX]
        if wide:
            seen_wide.append(lens)
            for k in wide:  # both ends of each wide entry
                for end in (sum(lens[:k]), sum(lens[: k + 1])):
                    assert {(end + d) & SIZE_MAX for d in (-1, 0, 1) if end + d >= 0} <= ints, (lens, end)
        elif func == "qemu_iovec_concat_iov":
            assert set(DRAWN.wide_counts) <= ints

    sweeps()
    assert seen_wide, "no drawn layout had a wide entry"


def test_every_enumerated_function_gets_every_wide_length_its_cap_allows() -> None:
    """The exhaustive engine's layouts (QUICK_BOUND here: the default bound has more widths, the
    same rule) hold each wide length of the bound up to the function's cap, and a layout whose
    total wraps 2**64."""
    bound = QUICK_BOUND
    for func in ENUMERATED:
        lengths: set[int] = set()
        wraps, longest = False, 0
        for group in groups(func, bound):
            check_wide_entries(func, Case(group.regions, group.setup))
            for r in group.regions:
                if r.kind == "iovs":
                    lens = [n for _, n in r.init]
                    lengths |= {n for n in lens if n > BACKED_MAX}
                    wraps |= sum(lens) > SIZE_MAX
                    longest = max(longest, len(lens))
            for test in group.tests:
                lengths |= {n for _, n in wide_entries(Case(group.regions, group.setup + test))}
        assert set(WIDE[func].lengths(bound)) <= lengths, func
        # two entries of 2**63 wrap, followed by a one-byte one where the bytes are read: wherever
        # a layout has room for them (the vectors add appends to have none)
        assert wraps or longest < 2 + WIDE[func].followed or func == "qemu_iovec_add", func


#: a bound with one wide length and one wide count, for counts derived by hand
ONE_WIDE = Bound(
    max_vectors=1,
    max_len=1,
    huge=(SIZE_MAX,),
    arith_huge=(W63,),
    null_buffer=False,
    max_qiov_vectors=1,
    owned_spare=(0,),
    max_adds=1,
    max_alloc_vectors=1,
    wide=(W32 + 1,),
    wide_counts=(W31,),
)


def test_wide_case_counts_follow_from_the_bound() -> None:
    """Layouts: [], [0], [1], [NULL 0] and the wide ones [w], and with two entries allowed [w, 1];
    offsets and byte counts: 0..(last small boundary)+1, each wide boundary +-1, SIZE_MAX."""
    b = ONE_WIDE
    w = W32 + 1

    def amounts(boundaries: list[int]) -> int:
        small = max(p for p in boundaries if p <= BACKED_MAX)
        near = {(p + d) & SIZE_MAX for p in boundaries if p > BACKED_MAX for d in (-1, 0, 1)}
        return small + 2 + len(near - set(range(small + 2))) + 1  # + SIZE_MAX

    small_layouts = {(): 0, (0,): 0, (1,): 1, ("null",): 0}
    wide_layouts = [[0, w]]  # [w]: with max_vectors 1, no [w, 1]
    # iov_copy: destination counts 0..n+1, source counts 0..n, offsets x byte counts
    expected = sum((len(lay) + 2) * (len(lay) + 1) * (t + 2 + 1) ** 2 for lay, t in small_layouts.items())
    expected += sum(3 * 2 * amounts(p) ** 2 for p in wide_layouts)
    assert count_cases("iov_copy", b) == expected
    # iov_size: the small layouts, the NULL-based huge lengths, and [w]; counts 0..n
    assert count_cases("iov_size", b) == 1 + 2 * (3 + 2) + 2
    # concat_iov over small layouts also takes the wide count; dest variants x counts x amounts
    dests = 5
    concat = sum(dests * (len(lay) + 1 + 1) * (t + 2 + 1) ** 2 for lay, t in small_layouts.items())
    concat += sum(dests * 2 * amounts(p) ** 2 for p in wide_layouts)
    assert count_cases("qemu_iovec_concat_iov", b) == concat


# -- the port and C on wide entries, expectations derived from iov.c ----------------------------
Scenario = Callable[[Any, Any], Any]


def both(scenario: Scenario) -> tuple[Any, Any]:
    """``scenario(lib, mem)`` on the port and on the compiled iov.c."""
    port = scenario(pyimpl, pyimpl.Memory(strict=False))
    with reference_c.memory() as cmem:
        c = scenario(reference_c, cmem)
    return port, c


def test_iov_size_wraps_modulo_2_64() -> None:
    """len += iov_len for 2**63, 2**63, 5: the sum is 5 modulo 2**64."""

    def scenario(lib: Any, mem: Any) -> int:
        data, iov = mem.buffer(b"x"), mem.buffer(3 * lib.IOVEC_SIZE)
        lib.write_iovecs(mem, iov, [(data, W63), (data, W63), (data, 5)])
        return int(lib.iov_size(mem, iov, 3))

    assert both(scenario) == (5, 5)


def test_iov_copy_past_2_32() -> None:
    """iov_copy([{d, 2**32+1}, {d+1, 1}], offset 2**32, bytes 2): entry 0 has 1 byte past the
    offset, so dst[0] = {d + 2**32, 1}; then dst[1] = {d+1, 1}; 2 entries; nothing is read."""

    def scenario(lib: Any, mem: Any) -> tuple[int, list[tuple[int, int]]]:
        data, iov, dst = mem.buffer(b"ab"), mem.buffer(2 * lib.IOVEC_SIZE), mem.buffer(3 * lib.IOVEC_SIZE)
        lib.write_iovecs(mem, iov, [(data, W32 + 1), (data + 1, 1)])
        j = lib.iov_copy(mem, dst, 3, iov, 2, W32, 2)
        return j, [(base - data, n) for base, n in lib.read_iovecs(mem, dst, j)]

    expected = (2, [(W32, 1), (1, 1)])
    assert both(scenario) == (expected, expected)


def test_concat_iov_with_a_count_past_int_max() -> None:
    """qemu_iovec_concat_iov(dst, [{d, 1}], 2**31, 0, 1): the loop's int i compares as unsigned
    with src_cnt; one entry is added and done = 1 = sbytes ends the loop."""

    def scenario(lib: Any, mem: Any) -> tuple[int, int, int, list[tuple[int, int]]]:
        data, src, q = mem.buffer(b"z"), mem.buffer(lib.IOVEC_SIZE), mem.buffer(lib.QIOV_SIZE)
        lib.write_iovecs(mem, src, [(data, 1)])
        lib.qemu_iovec_init(mem, q, 0)
        done = lib.qemu_iovec_concat_iov(mem, q, src, W31, 0, 1)
        f = lib.read_qiov(mem, q)
        entries = [(base - data, n) for base, n in lib.read_iovecs(mem, f.iov, f.niov)]
        lib.qemu_iovec_destroy(mem, q)
        return done, f.niov, f.size, entries

    expected = (1, 1, 1, [(0, 1)])
    assert both(scenario) == (expected, expected)


def test_discard_back_across_two_entries_of_2_63() -> None:
    """iov_discard_back([{d, 2**63}, {d, 2**63}], 2, 2**63 + 1): the last entry (2**63 <= bytes)
    goes whole, bytes = 1, then the first is cut to 2**63 - 1; total 2**63 + 1, *iov_cnt 1."""

    def scenario(lib: Any, mem: Any) -> tuple[int, int, list[int]]:
        data, iov, cnt = mem.buffer(b"q"), mem.buffer(2 * lib.IOVEC_SIZE), mem.buffer(4)
        lib.write_iovecs(mem, iov, [(data, W63), (data, W63)])
        mem.set_u32(cnt, 2)
        total = lib.iov_discard_back(mem, iov, cnt, W63 + 1)
        return total, mem.u32(cnt), [n for _, n in lib.read_iovecs(mem, iov, 2)]

    expected = (W63 + 1, 1, [W63 - 1, W63])
    assert both(scenario) == (expected, expected)


def test_subvec_niov_and_init_external_on_wide_entries() -> None:
    """init_external sums 2**63+1 twice to 2 (mod 2**64); subvec_niov of [{d, 2**32}, {d+1, 1}]
    (size 2**32 + 1): from 2**32 one byte spans entry 1 alone, from 2**32 - 1 two bytes span both."""

    def scenario(lib: Any, mem: Any) -> tuple[int, int, int]:
        data, q = mem.buffer(b"ab"), mem.buffer(lib.QIOV_SIZE)
        wrap = mem.buffer(2 * lib.IOVEC_SIZE)
        lib.write_iovecs(mem, wrap, [(data, W63 + 1), (data, W63 + 1)])
        lib.qemu_iovec_init_external(mem, q, wrap, 2)
        size = lib.read_qiov(mem, q).size
        iov = mem.buffer(2 * lib.IOVEC_SIZE)
        lib.write_iovecs(mem, iov, [(data, W32), (data + 1, 1)])
        lib.qemu_iovec_init_external(mem, q, iov, 2)
        return (
            size,
            lib.qemu_iovec_subvec_niov(mem, q, W32, 1),
            lib.qemu_iovec_subvec_niov(mem, q, W32 - 1, 2),
        )

    assert both(scenario) == ((2, 1, 2), (2, 1, 2))


# -- the narrowing the wide entries catch ------------------------------------------------------------
def test_the_iov_copy_length_kept_in_an_int_is_caught_by_quick(tmp_path: Path) -> None:
    """The issue's example: iov_copy with ``int len`` (a size_t length stored in an int) is red
    under the quick profile's exhaustive engine, which holds wide entries; the original is green."""
    (var,) = [v for v in variables(IOV_C, frozenset({"iov_copy"})) if v.name == "len"]
    source = tmp_path / "iov.c"
    source.write_text(mutant(IOV_C.read_text(), var))
    changed = set(source.read_text().splitlines()) - set(IOV_C.read_text().splitlines())
    assert changed == {"    int len;"}
    args = ("run", "--profile", "quick", "--engine", "exhaustive", "--only", "iov_copy", "--jobs", "1")
    out = tmp_path / "run.json"
    r = harness(*args, "--c-source", str(source), "--seed", "1", "--json", str(out), cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    reds = [row for row in json.loads(out.read_text())["rows"] if row["red"]]
    assert reds and all(row["function"] == "iov_copy" for row in reds), reds
    (red,) = [row for row in reds if row["kind"] == "different memory"]
    # the stored length is 2**31 sign-extended from the int (the smallest case of the bound)
    assert str(2**31) in red["difference"] and str(SIZE_MAX - 2**31 + 1) in red["difference"], red
