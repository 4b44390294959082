"""A strict memory keeps its promise: a bad call raises before anything is written.

Property: every public function, given layouts with short buffers, entries past their
region, undersized structs, NULL, and addresses of another memory, either

- raises ``ValueError`` (naming the argument) or ``UndefinedBehaviour`` with every byte of
  the memory and the heap exactly as before, or
- behaves exactly as on a non-strict memory laid out at the same addresses (same result
  or same failing assert, same bytes, same heap), which is how C behaves.

So a strict call never writes and then faults, and the checks never turn away a call
that C runs (the array-count rule aside, which is documented and kept).
"""

from __future__ import annotations

import io
import re
import socket
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import iovspec.ctable
import pyimpl
from iovspec.structs import IOVEC_SIZE, QIOV_LOCAL_IOV, QIOV_SIZE, UNDO_SIZE
from pyimpl.memory import HEAP_OFFSET, RANGE_SIZE

PUBLIC = [f for f in pyimpl.TABLE if f.kind != "static"]
SIZE_MAX = 2**64 - 1

#: a memory of its own whose addresses a caller might mix up with the one under test
OTHER = pyimpl.Memory()
FOREIGN = OTHER.buffer(64) + 8

#: the regions of a world, in arena order
NAMES = ("data0", "data1", "arr", "q", "q2", "qshort", "buf", "var_iov", "var_cnt", "undo", "undoshort")


@dataclass
class Spec:
    """A world: region sizes, guard bytes after each, contents, entries, how structs are made."""

    sizes: dict[str, int]
    guards: dict[str, int]
    data: dict[str, bytes]
    entries: list[tuple[str, int, int]]  # (region or "NULL" or "FOREIGN", offset, length)
    qiovs: dict[str, tuple[Any, ...]]  # q, q2, qshort: (kind, params...)
    undo: tuple[Any, ...]
    cnt: int
    extra: dict[str, Any] = field(default_factory=dict)


def _entry_base(spec: Spec, addrs: dict[str, int], e: tuple[str, int, int]) -> tuple[int, int]:
    where, off, n = e
    if where == "NULL":
        return 0, n
    if where == "FOREIGN":
        return FOREIGN + off, n
    return addrs[where] + off, n


def _iovecs(pairs: list[tuple[int, int]]) -> bytes:
    return b"".join(struct.pack("<QQ", b, n) for b, n in pairs)


def build(mem: pyimpl.Memory, spec: Spec) -> tuple[dict[str, int], int]:
    """Lay ``spec`` out in ``mem`` (raw stores only); the named addresses and the arena base."""
    layout: list[tuple[int, bool]] = []
    for name in NAMES:
        layout.append((spec.sizes[name], False))
        layout.append((spec.guards[name], True))
    base = mem.map_arena(layout)
    addrs, pos = {}, base
    for name in NAMES:
        addrs[name] = pos
        pos += spec.sizes[name] + spec.guards[name]

    def put(name: str, data: bytes) -> None:  # never past the region: short objects stay short
        mem.poke(addrs[name], data[: spec.sizes[name]])

    for name in ("data0", "data1", "buf"):
        put(name, spec.data[name])
    pairs = [_entry_base(spec, addrs, e) for e in spec.entries]
    put("arr", _iovecs(pairs))
    for name, how in spec.qiovs.items():
        kind = how[0]
        if kind == "external":
            _, skip, niov, skew = how
            iov = addrs["arr"] + IOVEC_SIZE * skip
            size = sum(n for _, n in pairs[skip : skip + niov]) + skew
            raw = struct.pack("<QiiQQ", iov, niov, -1, 0, size & SIZE_MAX)
        elif kind == "embedded":
            _, which = how
            b, n = pairs[which] if pairs else (addrs["data0"], 3)
            raw = struct.pack("<QiiQQ", addrs[name] + QIOV_LOCAL_IOV, 1, -1, b, n)
        elif kind == "owned":
            _, nalloc, niov = how
            block = mem.g_malloc(IOVEC_SIZE * nalloc)
            mine = (pairs * 4)[:niov]
            if mine:
                mem.poke(block, _iovecs(mine))
            raw = struct.pack("<QiiQQ", block, niov, nalloc, 0, sum(n for _, n in mine))
        else:
            raw = how[1]
        put(name, raw)
    put("var_iov", struct.pack("<Q", addrs["arr"] + IOVEC_SIZE * spec.extra.get("var_skip", 0)))
    put("var_cnt", struct.pack("<I", spec.cnt))
    for name in ("undo", "undoshort"):
        kind = spec.undo[0]
        if kind == "entry":
            b, n = pairs[spec.undo[1]] if pairs else (0, 0)
            raw = struct.pack("<QQQ", addrs["arr"] + IOVEC_SIZE * spec.undo[1], b, n)
        elif kind == "zero":
            raw = bytes(UNDO_SIZE)
        else:
            raw = spec.undo[1]
        put(name, raw)
    return addrs, base


@st.composite
def specs(draw: st.DrawFn) -> Spec:
    """A world; half of them careful (entries inside their regions, whole objects), half not."""
    careful = draw(st.booleans())
    small = st.integers(0, 24)
    entry = st.tuples(
        st.sampled_from(["data0", "data0", "data1", "buf", "NULL", "FOREIGN"]), st.integers(0, 20), small
    )
    if careful:
        entry = st.tuples(st.sampled_from(["data0", "data1", "buf"]), st.integers(0, 12), st.integers(0, 12))
    entries = draw(st.lists(entry, max_size=4))
    n = len(entries)
    sizes = {
        "data0": 24 if careful else draw(small),
        "data1": 24 if careful else draw(small),
        "arr": IOVEC_SIZE * n if careful else draw(st.sampled_from([0, 16, 32, 48, 64, 40, 8])),
        "q": QIOV_SIZE if careful else draw(st.sampled_from([QIOV_SIZE, QIOV_SIZE, QIOV_SIZE, 16, 39])),
        "q2": QIOV_SIZE,
        "qshort": draw(st.sampled_from([8, 16, 24, 32, 39])),
        "buf": draw(small),
        "var_iov": draw(st.sampled_from([8, 8, 8, 4])),
        "var_cnt": draw(st.sampled_from([4, 4, 4, 2])),
        "undo": draw(st.sampled_from([UNDO_SIZE, UNDO_SIZE, 16])),
        "undoshort": draw(st.sampled_from([8, 16, 23])),
    }
    guards = {n: draw(st.sampled_from([0, 0, 16])) for n in NAMES}
    if careful:
        sizes["buf"] = 24
    data = {name: draw(st.binary(min_size=24, max_size=24)) for name in ("data0", "data1", "buf")}
    qkind = st.one_of(
        st.tuples(
            st.just("external"),
            st.integers(0, 1),
            st.integers(0, max(n, 1) + 1),
            st.sampled_from([0, 0, 0, 1, -1, 7]),
        ),
        st.tuples(st.just("embedded"), st.integers(0, max(n - 1, 0))),
        st.tuples(st.just("owned"), st.integers(0, 4), st.integers(0, 4)).map(
            lambda t: (t[0], t[1], min(t[1], t[2]) if t[1] else 0)
        ),
        st.tuples(st.just("garbage"), st.binary(min_size=40, max_size=40)),
    )
    qiovs = {name: draw(qkind) for name in ("q", "q2", "qshort")}
    undo = draw(
        st.one_of(
            st.tuples(st.just("entry"), st.integers(0, max(n - 1, 0))),
            st.tuples(st.just("zero")),
            st.tuples(st.just("garbage"), st.binary(min_size=24, max_size=24)),
        )
    )
    cnt = draw(st.integers(0, 6))
    return Spec(sizes, guards, data, entries, qiovs, undo, cnt, {"var_skip": draw(st.integers(0, 1))})


# -- arguments --------------------------------------------------------------------------------

ARRAYS = {"iov", "_iov", "dst_iov", "src_iov"}
STRUCTS = {"qiov", "dst", "src", "a", "b", "source", "mid_qiov", "dest"}
FLAT = {"buf", "base", "head_buf", "tail_buf"}


def _pointer(func: str, name: str) -> list[tuple[str, int]]:
    """(region or None, offset) choices for a pointer parameter."""
    if name == "iov" and func.startswith("iov_discard_front"):  # struct iovec **
        return [("var_iov", 0), ("var_iov", 0), ("var_iov", 4), ("arr", 0), ("NULL", 0), ("FOREIGN", 0)]
    if name == "iov_cnt":  # unsigned *
        return [("var_cnt", 0), ("var_cnt", 0), ("var_cnt", 2), ("data0", 0), ("NULL", 0), ("FOREIGN", 0)]
    if name in ARRAYS:
        return [("arr", 0), ("arr", 0), ("arr", 16), ("arr", 8), ("data0", 0), ("q", 0), ("NULL", 0),
                ("FOREIGN", 0)]  # fmt: skip
    if name in STRUCTS:
        return [("q", 0), ("q", 0), ("q2", 0), ("qshort", 0), ("q", 8), ("buf", 0), ("NULL", 0),
                ("FOREIGN", 0)]  # fmt: skip
    if name in FLAT:
        return [("buf", 0), ("buf", 0), ("buf", 5), ("data0", 0), ("data1", 9), ("arr", 0), ("NULL", 0),
                ("FOREIGN", 0)]  # fmt: skip
    if name == "undo":
        return [("undo", 0), ("undo", 0), ("undoshort", 0), ("NULL", 0), ("q", 0), ("FOREIGN", 0)]
    raise AssertionError(f"{func}: no pointer choices for {name}")


def _scalar(kind: str, name: str) -> st.SearchStrategy[Any]:
    if kind == "bool":
        return st.booleans()
    if kind == "unsigned":
        return st.integers(0, 6)
    if kind == "int":
        return st.integers(0, 255) if name == "fillc" else st.integers(-2, 6)
    if kind == "size_t":
        return st.one_of(st.integers(0, 40), st.sampled_from([SIZE_MAX, 2**63, SIZE_MAX - 3]))
    raise AssertionError(kind)


Arg = tuple[str, Any]  # ("ptr", (region, offset)) | ("int", value) | ("fd", None) | ("fp", None)


def draw_args(data: st.DataObject, row: pyimpl.CFunction) -> list[Arg]:
    """Arguments for ``row``; half the time every pointer is the right kind of object."""
    careful = data.draw(st.booleans(), label="careful")
    args: list[Arg] = []
    for p in row.inputs:
        if p.name == "sockfd":
            args.append(("fd", None))
        elif p.kind == "stream":
            args.append(("fp", None))
        elif p.kind == "str":
            args.append(("str", "p"))
        elif p.kind == "ptr":
            choices = _pointer(row.name, p.name)[: 1 if careful else None]
            args.append(("ptr", data.draw(st.sampled_from(choices), label=p.name)))
        else:
            args.append(("int", data.draw(_scalar(p.kind, p.name), label=p.name)))
    return args


@contextmanager
def io_for(row: pyimpl.CFunction, peer_data: bytes) -> Iterator[tuple[int, io.StringIO]]:
    """A non-blocking socket whose peer has sent ``peer_data``, and a text stream."""
    ours, peer = socket.socketpair()
    ours.setblocking(False)
    peer.setblocking(False)
    peer.sendall(peer_data)
    try:
        yield ours.fileno(), io.StringIO()
    finally:
        ours.close()
        peer.close()


def concrete(args: list[Arg], addrs: dict[str, int], fd: int, fp: io.StringIO) -> list[Any]:
    out: list[Any] = []
    for kind, value in args:
        if kind == "ptr":
            where, off = value
            out.append(0 if where == "NULL" else FOREIGN if where == "FOREIGN" else addrs[where] + off)
        elif kind == "fd":
            out.append(fd)
        elif kind == "fp":
            out.append(fp)
        else:
            out.append(value)
    return out


def outcome(fn: Callable[..., Any], mem: pyimpl.Memory, args: list[Any]) -> tuple[Any, ...]:
    try:
        return ("returned", fn(mem, *args))
    except (ValueError, TypeError) as exc:
        return ("rejected", str(exc))
    except pyimpl.CAssertionError as exc:
        return ("assert", exc.expr, exc.line)
    except pyimpl.GLibFatalError as exc:
        return ("fatal", exc.message)
    except pyimpl.UndefinedBehaviour as exc:
        return ("undefined", exc.kind)


def state(mem: pyimpl.Memory, base: int) -> tuple[Any, ...]:
    return bytes(mem.arena_backing(base)), mem.heap_record(), mem.heap_stats()


_NAMED = re.compile(r"^\*?(\w+)")


def names_an_argument(message: str, row: pyimpl.CFunction) -> bool:
    m = _NAMED.match(message)
    return m is not None and m.group(1) in {p.py_name for p in row.inputs} | {"mem"}


@pytest.mark.parametrize("name", [f.name for f in PUBLIC])
@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(spec=specs(), data=st.data())
def test_a_strict_call_writes_nothing_or_runs_as_c(name: str, spec: Spec, data: st.DataObject) -> None:
    row = iovspec.ctable.BY_NAME[name]
    fn = getattr(pyimpl, name)
    args = draw_args(data, row)
    peer = data.draw(st.binary(max_size=12), label="peer sends")

    strict = pyimpl.Memory()
    addrs, base = build(strict, spec)
    loose = pyimpl.Memory(strict=False, arena_at=base, heap_at=strict.base + HEAP_OFFSET)
    addrs2, base2 = build(loose, spec)
    assert (addrs2, base2) == (addrs, base)

    before = state(strict, base)
    with io_for(row, peer) as (fd, fp):
        got = outcome(fn, strict, concrete(args, addrs, fd, fp))
        text = fp.getvalue()
    event(f"strict: {got[0]}")
    if got[0] in ("rejected", "undefined"):
        assert state(strict, base) == before, f"{got} after writing"
        if got[0] == "rejected":
            assert names_an_argument(got[1], row), got[1]
        return
    with io_for(row, peer) as (fd, fp):
        expected = outcome(fn, loose, concrete(args, addrs, fd, fp))
        text2 = fp.getvalue()
    assert got == expected
    assert state(strict, base) == state(loose, base)
    assert text == text2


# -- the mistakes, one by one ---------------------------------------------------------------


def test_to_buf_into_a_short_buffer_names_buf_and_writes_nothing() -> None:
    mem = pyimpl.Memory()
    src = mem.buffer(b"0123456789")
    arr = mem.buffer(2 * IOVEC_SIZE)
    pyimpl.write_iovecs(mem, arr, [(src, 5), (src + 5, 5)])
    out = mem.buffer(7)
    with pytest.raises(ValueError, match=r"^buf: 7 bytes, but bytes=10$"):
        pyimpl.iov_to_buf(mem, arr, 2, 0, out, 10)
    assert mem.read(out, 7) == bytes(7)
    # clipped as C clips: 4 bytes past offset 6 fit
    assert pyimpl.iov_to_buf(mem, arr, 2, 6, out, 10) == 4
    assert mem.read(out, 4) == b"6789"


def test_an_entry_past_its_region_is_named() -> None:
    mem = pyimpl.Memory()
    src = mem.buffer(b"abc")
    arr = mem.buffer(2 * IOVEC_SIZE)
    pyimpl.write_iovecs(mem, arr, [(src, 2), (src + 2, 4)])
    out = mem.buffer(6)
    with pytest.raises(ValueError, match=r"^iov\[1\]: 1 bytes, but the call copies 4 there$"):
        pyimpl.iov_to_buf(mem, arr, 2, 0, out, 6)
    assert mem.read(out, 6) == bytes(6)
    with pytest.raises(ValueError, match=r"^iov\[1\]: 1 bytes, but the call fills 4 there$"):
        pyimpl.iov_memset(mem, arr, 2, 0, 0x55, 6)
    assert mem.read(src, 3) == b"abc"


def test_a_qemuiovector_in_16_bytes_is_rejected_before_the_heap_moves() -> None:
    mem = pyimpl.Memory()
    q = mem.buffer(16)
    with pytest.raises(ValueError, match=r"^qiov: 16 bytes, but a QEMUIOVector is 40$"):
        pyimpl.qemu_iovec_init(mem, q, 4)
    assert mem.heap_stats() == pyimpl.HeapStats(0, 0, 0, 0)
    assert mem.read(q, 16) == bytes(16)


def test_an_address_of_another_memory_is_named_as_such() -> None:
    mem = pyimpl.Memory()
    q = mem.buffer(QIOV_SIZE)
    with pytest.raises(ValueError, match=r"^qiov: 0x[0-9a-f]+ belongs to another pyimpl.Memory$"):
        pyimpl.qemu_iovec_init(mem, FOREIGN, 1)
    with pytest.raises(ValueError, match=r"^base: 0x[0-9a-f]+ belongs to another pyimpl.Memory$"):
        pyimpl.qemu_iovec_init(mem, q, 1) or pyimpl.qemu_iovec_add(mem, q, FOREIGN, 4)
    pyimpl.qemu_iovec_destroy(mem, q)
    with pytest.raises(ValueError, match=r"^iov: 0x[0-9a-f]+ is not inside any region of this memory"):
        pyimpl.iov_size(mem, 0xDEAD0000, 1)
    assert pyimpl.Memory.owner(q) is mem and pyimpl.Memory.owner(FOREIGN) is OTHER


def test_growing_or_freeing_an_array_that_is_not_a_heap_block_is_rejected() -> None:
    mem = pyimpl.Memory()
    arr = mem.buffer(IOVEC_SIZE)
    q = mem.buffer(QIOV_SIZE)
    pyimpl.write_qiov(mem, q, pyimpl.QiovFields(arr, 1, 1, 0, 0))  # "owned", but not by the heap
    before = mem.read(q, QIOV_SIZE)
    with pytest.raises(ValueError, match=r"^qiov->iov: 0x[0-9a-f]+ is not the start of a live heap block"):
        pyimpl.qemu_iovec_add(mem, q, 0, 1)
    with pytest.raises(ValueError, match=r"g_free would be an invalid free"):
        pyimpl.qemu_iovec_destroy(mem, q)
    assert mem.read(q, QIOV_SIZE) == before


def test_discard_undo_records_and_counters_are_checked() -> None:
    mem = pyimpl.Memory()
    data = mem.buffer(b"abcdef")
    arr = mem.buffer(IOVEC_SIZE)
    pyimpl.write_iovecs(mem, arr, [(data, 6)])
    var, cnt, short_undo = mem.buffer(8), mem.buffer(4), mem.buffer(16)
    mem.set_u64(var, arr)
    mem.set_u32(cnt, 1)
    with pytest.raises(ValueError, match=r"^undo: 16 bytes, but an IOVDiscardUndo is 24$"):
        pyimpl.iov_discard_front_undoable(mem, var, cnt, 2, short_undo)
    with pytest.raises(ValueError, match=r"^iov_cnt: 2 bytes, but an unsigned int is 4$"):
        pyimpl.iov_discard_back(mem, arr, cnt + 2, 1)
    assert pyimpl.read_iovecs(mem, arr, 1) == [(data, 6)]


def test_memcpy_areas_that_overlap_are_rejected_up_front() -> None:
    mem = pyimpl.Memory()
    data = mem.buffer(b"0123456789")
    arr = mem.buffer(2 * IOVEC_SIZE)
    pyimpl.write_iovecs(mem, arr, [(data, 3), (data + 5, 5)])
    with pytest.raises(ValueError, match=r"^buf: overlaps iov\[1\]'s bytes \(memcpy areas\)$"):
        pyimpl.iov_to_buf(mem, arr, 2, 0, data + 4, 6)
    assert mem.read(data, 10) == b"0123456789"  # C would have copied entry 0 first


def test_a_new_memory_never_takes_the_range_of_a_live_one() -> None:
    """Even when the range counter starts over (as a test that wants fixed addresses makes it),
    a live memory keeps its range, so its addresses stay foreign to every other memory."""
    saved = pyimpl.Memory._ranges
    try:
        pyimpl.Memory._ranges = OTHER.base // RANGE_SIZE - 1  # the counter's next range: OTHER's
        fresh = pyimpl.Memory()
        assert fresh.base != OTHER.base and pyimpl.Memory.owner(FOREIGN) is OTHER
    finally:
        pyimpl.Memory._ranges = saved
