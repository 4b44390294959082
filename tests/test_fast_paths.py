"""The port's fast paths (views over iovec arrays, plain clones, strict checks at C speed)
do what the load-by-load code does, in the corners where a shortcut is easy to get wrong."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pyimpl
import pyimpl.fastpaths as fastpaths
from harness.generate.strategies import STRATEGIES
from harness.model.case import Case
from harness.worlds.world import PyWorld, run_case
from iovspec.structs import IOVEC_SIZE, QIOV_SIZE
from pyimpl.hooks import observing_asserts


def test_compare_of_empty_vectors_never_loads_their_arrays() -> None:
    # C's loop loads a->iov only inside it: with niov 0 an unreachable a->iov is fine
    mem = pyimpl.Memory(strict=False)
    region = mem.buffer(QIOV_SIZE)  # a->niov is the first field in it; a->iov lies before it
    a = region - 8
    b = mem.buffer(QIOV_SIZE)
    assert pyimpl.qemu_iovec_compare(mem, a, b) == -1


def _clone_layout(mem: pyimpl.Memory) -> tuple[int, int, int]:
    """src with two entries whose array holds dest's struct over entry 1 (an add to dest
    rewrites src->iov[1], which the clone reads again afterwards)."""
    data = mem.buffer(b"abcdefgh")
    region = mem.buffer(2 * IOVEC_SIZE + QIOV_SIZE)
    pyimpl.write_iovecs(mem, region, [(data, 4), (0, 0)])  # dest: iov NULL, niov 0, nalloc 0
    src = mem.buffer(QIOV_SIZE)
    pyimpl.qemu_iovec_init_external(mem, src, region, 2)
    return src, region + IOVEC_SIZE, mem.buffer(16)


def _memory() -> pyimpl.Memory:
    """A non-strict memory at the same addresses each time (so two runs compare byte for byte)."""
    pyimpl.Memory._ranges = 0
    return pyimpl.Memory(strict=False)


def _run_clone(monkeypatch: pytest.MonkeyPatch | None) -> tuple[object, ...]:
    mem = _memory()
    src, dest, buf = _clone_layout(mem)
    if monkeypatch is not None:
        monkeypatch.setattr(fastpaths, "plain_clone", lambda *_: None)  # load by load
    seen: list[tuple[str, str, int, bool]] = []
    with observing_asserts(lambda *a: seen.append(a)):
        try:
            pyimpl.qemu_iovec_clone(mem, dest, src, buf)
            outcome: object = "returned"
        except Exception as exc:
            outcome = repr(exc)
    return outcome, mem.heap_record(), mem.heap_stats(), mem.peek(dest - IOVEC_SIZE, 72), tuple(seen)


def test_clone_whose_adds_rewrite_src_goes_load_by_load(monkeypatch: pytest.MonkeyPatch) -> None:
    fast = _run_clone(None)
    slow = _run_clone(monkeypatch)
    assert fast == slow


@pytest.mark.parametrize("nalloc", [0, 1, 2, 5])
def test_plain_clone_is_the_loop_clone(monkeypatch: pytest.MonkeyPatch, nalloc: int) -> None:
    def run(slow: bool) -> tuple[object, ...]:
        mem = _memory()
        data = mem.buffer(64)
        arr = mem.buffer(IOVEC_SIZE * 4)
        # overlapping and equal bases: the rewinds and the order among equals matter
        pyimpl.write_iovecs(mem, arr, [(data + 8, 8), (data, 12), (data + 8, 4), (data + 30, 2)])
        src, dest, buf = mem.buffer(QIOV_SIZE), mem.buffer(QIOV_SIZE), mem.buffer(64)
        pyimpl.qemu_iovec_init_external(mem, src, arr, 4)
        pyimpl.qemu_iovec_init(mem, dest, nalloc)
        pyimpl.qemu_iovec_add(mem, dest, data, 1)
        with pytest.MonkeyPatch.context() as mp:
            if slow:
                mp.setattr(fastpaths, "plain_clone", lambda *_: None)
            seen: list[object] = []
            with observing_asserts(lambda *a: seen.append(a)):
                pyimpl.qemu_iovec_clone(mem, dest, src, buf)
        fields = pyimpl.read_qiov(mem, dest)
        return (
            fields,
            pyimpl.read_iovecs(mem, fields.iov, fields.niov),
            mem.heap_record(),
            mem.heap_stats(),
            tuple(seen),
        )

    assert run(False) == run(True)


def test_strict_is_zero_at_the_very_end_stays_in_the_array() -> None:
    # iov_skip_offset with offset == size stops with offset 0 at iov[niov] and loads nothing
    # there: the strict checks' fast path accepts it, as their walk does
    mem = pyimpl.Memory()
    data = mem.buffer(4)
    arr = mem.buffer(IOVEC_SIZE)
    pyimpl.write_iovecs(mem, arr, [(data, 4)])
    q = mem.buffer(QIOV_SIZE)
    pyimpl.qemu_iovec_init_external(mem, q, arr, 1)
    assert pyimpl.qemu_iovec_is_zero(mem, q, 4, 0) is True
    assert pyimpl.qemu_iovec_is_zero(mem, q, 0, 4) is True
    mem.write(data + 3, b"x")
    assert pyimpl.qemu_iovec_is_zero(mem, q, 2, 2) is False


#: each whole-walk fast path, and what it answers when it declines (the loop then runs)
DECLINED = {"copy_walk": None, "fill_walk": None, "zero_walk": None, "equal_runs": False, "plain_clone": None}
#: the functions whose loops have a whole-walk fast path, and those that reach them
BULK = (
    "iov_from_buf_full",
    "iov_to_buf_full",
    "iov_memset",
    "iov_size",
    "iov_copy",
    "qemu_iovec_to_buf",
    "qemu_iovec_from_buf",
    "qemu_iovec_memset",
    "qemu_iovec_is_zero",
    "qemu_iovec_compare",
    "qemu_iovec_clone",
)


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(BULK).flatmap(lambda func: STRATEGIES[func]))
def test_the_whole_walks_do_what_the_loops_do(case: Case) -> None:
    """For every case of the functions with a whole-walk fast path, the port's outcome (each
    call's result or fault, every byte of the arena, the heap, errno) is the same with the fast
    paths as with every one of them declining, so that each loop runs entry by entry."""
    fast = run_case(PyWorld(), case)
    with pytest.MonkeyPatch.context() as mp:
        for name, declined in DECLINED.items():
            mp.setattr(fastpaths, name, lambda *_, d=declined, **__: d)
        slow = run_case(PyWorld(), case)
    assert fast == slow
