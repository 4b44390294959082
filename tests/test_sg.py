"""pyimpl.sg: the Pythonic layer, on the port and on the compiled C, agreeing."""

from __future__ import annotations

import array
import doctest
import errno
import mmap
import os
import re
import socket
import struct
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pyimpl
import reference_c
from iovspec.structs import IOVEC_SIZE, UNDO_SIZE, write_iovecs
from pyimpl import sg

ROOT = Path(__file__).resolve().parent.parent
DISK = bytes(range(256)) * 16


@pytest.fixture
def cmem() -> Iterator[reference_c.CMemory]:
    with reference_c.memory() as m:
        yield m


def _python_blocks(text: str) -> list[str]:
    """The fenced Python blocks, also those indented in a list item."""
    return [textwrap.dedent(b) for b in re.findall(r"```python\n(.*?)```", text, re.S)]


def test_the_readme_python_blocks_run() -> None:
    """The README's examples and the CLI reference's (the pytest plugin's): the >>> ones as
    doctests, the others as scripts."""
    blocks = [b for doc in ("README.md", "docs/cli.md") for b in _python_blocks((ROOT / doc).read_text())]
    assert len(blocks) >= 3
    parser, runner = doctest.DocTestParser(), doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for k, block in enumerate(blocks):
        if ">>>" in block:
            test = parser.get_doctest(block, {}, f"README block {k}", "README.md", 0)
            assert runner.run(test).failed == 0, block
        else:
            exec(compile(block, f"README block {k}", "exec"), {})


# -- the virtio-blk scenario, on both sides and by hand ---------------------------------------


def scenario(lib: Any = None, mem: Any = None) -> tuple[int, list[bytearray]]:
    """The README's scenario, over either side."""
    chain = [bytearray(100), bytearray(428), bytearray(1)]
    chain[0][:16] = struct.pack("<IIQ", 0, 0, 3)
    req = sg.IOVector(chain) if lib is None else sg.IOVector(chain, lib=lib, mem=mem)
    _, _, sector = struct.unpack("<IIQ", req.read(0, 16))
    with req.discarded(front=16, back=1) as data:
        served = data.write(DISK[512 * sector :][: len(data)])
    req.write(b"\x00", len(req) - 1)
    assert req.entries() == [(a, len(b)) for (a, _), b in zip(req.entries(), chain, strict=True)]
    return served, chain


def scenario_by_hand(lib: Any, mem: Any) -> tuple[int, list[bytearray]]:
    """The same with the C functions themselves: every object placed and read by hand."""
    chain = [bytearray(100), bytearray(428), bytearray(1)]
    chain[0][:16] = struct.pack("<IIQ", 0, 0, 3)
    bases = [mem.map(b) for b in chain]
    iov = mem.buffer(IOVEC_SIZE * len(chain))
    write_iovecs(mem, iov, [(a, len(b)) for a, b in zip(bases, chain, strict=True)])
    header = mem.buffer(16)
    if lib.iov_to_buf(mem, iov, len(chain), 0, header, 16) != 16:
        raise ValueError("short header")
    _, _, sector = struct.unpack("<IIQ", mem.read(header, 16))
    iov_var, cnt_var = mem.buffer(8), mem.buffer(4)
    undo_front, undo_back = mem.buffer(UNDO_SIZE), mem.buffer(UNDO_SIZE)
    mem.set_u64(iov_var, iov)
    mem.set_u32(cnt_var, len(chain))
    lib.iov_discard_front_undoable(mem, iov_var, cnt_var, 16, undo_front)
    try:
        data_iov = mem.u64(iov_var)
        lib.iov_discard_back_undoable(mem, data_iov, cnt_var, 1, undo_back)
        try:
            n = lib.iov_size(mem, data_iov, mem.u32(cnt_var))
            src = mem.map(bytearray(DISK[512 * sector :][:n]))
            served = lib.iov_from_buf(mem, data_iov, mem.u32(cnt_var), 0, src, n)
            mem.unmap(src)
        finally:
            lib.iov_discard_undo(mem, undo_back)
    finally:
        lib.iov_discard_undo(mem, undo_front)
    status = mem.map(bytearray(b"\x00"))
    lib.iov_from_buf(mem, iov, len(chain), lib.iov_size(mem, iov, len(chain)) - 1, status, 1)
    for addr in (header, iov_var, cnt_var, undo_front, undo_back, status, iov, *bases):
        mem.unmap(addr)
    return served, chain


def test_the_scenario_agrees_on_the_port_the_c_code_and_by_hand(cmem: reference_c.CMemory) -> None:
    port = scenario()
    c = scenario(reference_c, cmem)
    raw_port = scenario_by_hand(pyimpl, pyimpl.Memory())
    raw_c = scenario_by_hand(reference_c, cmem)
    assert port == c == raw_port == raw_c
    served, chain = port
    assert served == 512
    assert bytes(chain[0][16:]) + bytes(chain[1]) == DISK[1536:2048]
    assert chain[2] == bytearray(b"\x00")


# -- IOVector ---------------------------------------------------------------------------------


def _buffers() -> list[Any]:
    bufs: list[Any] = [bytearray(b"abc"), memoryview(bytearray(b"defg")), array.array("B", b"hi")]
    m = mmap.mmap(-1, 5)
    m[:] = b"jklmn"
    bufs.append(m)
    return bufs


def test_any_writable_buffer_is_mapped_zero_copy() -> None:
    bufs = _buffers()
    v = sg.IOVector(bufs)
    assert len(v) == 14 and v.count == 4
    assert v.read() == b"abcdefghijklmn"
    assert v.write(b"XYZ", 2) == 3
    assert bytes(bufs[0]) == b"abX" and bytes(bufs[1]) == b"YZfg"
    assert [bytes(b) for b in v.buffers()] == [b"abX", b"YZfg", b"hi", b"jklmn"]
    with pytest.raises(TypeError, match="read-only"):
        sg.IOVector([b"bytes are read-only"])


def test_numpy_arrays_are_buffers_too() -> None:
    np = pytest.importorskip("numpy")
    a = np.arange(4, dtype=np.uint16)
    v = sg.IOVector([a])
    assert v.read() == a.tobytes()
    v.fill(0, 2, 2)
    assert list(a) == [0, 0, 2, 3]


def test_buffers_go_straight_to_writev_and_sendmsg() -> None:
    v = sg.IOVector([bytearray(b"scatter "), bytearray(b"gather")])
    r, w = os.pipe()
    try:
        assert os.writev(w, v.buffers()) == 14
        assert os.read(r, 14) == b"scatter gather"
    finally:
        os.close(r)
        os.close(w)
    a, b = socket.socketpair()
    with a, b:
        assert a.sendmsg(v.buffers()) == 14
        assert b.recv(14) == b"scatter gather"


def test_readinto_fill_copy() -> None:
    v = sg.IOVector([bytearray(b"0123"), bytearray(b"4567")])
    out = bytearray(5)
    assert v.readinto(out, 2) == 5 and out == b"23456"
    assert v.fill(ord("."), 3, 2) == 2 and v.read() == b"012..567"
    c = v.copy(2, 4)  # iov_copy: a vector over the same bytes
    assert c.count == 2 and c.read() == b"2..5"
    c.write(b"ab")
    assert v.read() == b"01ab.567"
    with pytest.raises(ValueError, match="n: 9, but the vector holds 8"):
        v.fill(0, 0, 9)


def test_send_and_recv_into_and_errno() -> None:
    v = sg.IOVector([bytearray(b"hello "), bytearray(b"world")])
    a, b = socket.socketpair()
    with a, b:
        assert v.send(a, 3) == 8
        w = sg.IOVector([bytearray(3), bytearray(5)])
        assert w.recv_into(b) == 8 and w.read() == b"lo world"
    r, wfd = os.pipe()
    try:
        with pytest.raises(OSError) as info:
            v.send(_Fd(wfd))
        assert info.value.errno == errno.ENOTSOCK
    finally:
        os.close(r)
        os.close(wfd)


class _Fd:
    def __init__(self, fd: int) -> None:
        self.fd = fd

    def fileno(self) -> int:
        return self.fd


def test_discarded_undoes_in_reverse_order_also_on_exceptions() -> None:
    chain = [bytearray(b"ab"), bytearray(b"cdef")]
    v = sg.IOVector(chain)
    before = v.entries()
    with v.discarded(front=3, back=1) as mid:
        assert mid.read() == b"de" and mid.count == 1
    assert v.entries() == before
    with pytest.raises(RuntimeError), v.discarded(front=1, back=4):  # both cuts in entry 0
        raise RuntimeError
    assert v.entries() == before
    with v.discarded(front=1) as outer, outer.discarded(back=2) as inner:
        assert inner.read() == b"bcd"
    assert v.entries() == before
    with pytest.raises(ValueError, match="front \\+ back"):
        v.discarded(front=6, back=1).__enter__()


# -- QIOV -------------------------------------------------------------------------------------


def test_qiov_is_a_context_manager_that_destroys() -> None:
    mem = pyimpl.Memory()
    with sg.QIOV([bytearray(b"abc"), bytearray(b"de")], mem=mem) as q:
        assert (q.niov, q.nalloc, q.size) == (2, 2, 5)
        q.add(bytearray(b"fgh"))
        assert (q.niov, q.nalloc, len(q)) == (3, 5, 8)
        assert q.to_bytes() == b"abcdefgh" and q.to_bytes(2, 3) == b"cde"
        with pytest.raises(AttributeError):
            q.fields.size = 1  # type: ignore[misc]
    assert mem.heap_stats().live == 0
    with pytest.raises(ValueError, match="destroyed"):
        q.to_bytes()


def test_qiov_slice_concat_clone_compare_is_zero() -> None:
    mem = pyimpl.Memory()
    with sg.QIOV([bytearray(b"abc"), bytearray(4)], mem=mem) as q, sg.QIOV(mem=mem) as r:
        s = q.slice(1, 4)
        assert s.to_bytes() == b"bc\0\0" and s.niov == 2
        assert q.is_zero(3) and not q.is_zero(2)
        r.concat(q, 2, 3)
        assert r.to_bytes() == b"c\0\0" and [bytes(b) for b in r.buffers()] == [b"c", b"\0\0"]
        c = q.clone()
        assert c.entries() != q.entries() and c.size == q.size and c.is_zero()
        assert q.compare(c) == 0
        c.write(b"abc")
        assert q.compare(c) is None
        for x in (s, c):
            x.destroy()
    assert mem.heap_stats().live == 0
    with pytest.raises(ValueError, match="empty vector"), sg.QIOV() as empty:
        empty.clone()


# -- the layer over both sides --------------------------------------------------------------

OPS = st.lists(
    st.one_of(
        st.tuples(st.just("read"), st.integers(0, 12), st.integers(0, 12)),
        st.tuples(st.just("write"), st.binary(max_size=8), st.integers(0, 12)),
        st.tuples(st.just("fill"), st.integers(0, 255), st.integers(0, 12), st.integers(0, 12)),
        st.tuples(st.just("copy"), st.integers(0, 12), st.integers(0, 12)),
        st.tuples(st.just("discard"), st.integers(0, 6), st.integers(0, 6), st.binary(max_size=4)),
        st.tuples(st.just("qiov"), st.integers(0, 12), st.integers(0, 12)),
    ),
    max_size=6,
)


def _run(ops: list[tuple[Any, ...]], sizes: list[int], lib: Any, mem: Any) -> list[Any]:
    chain = [bytearray(bytes(range(i * 16, i * 16 + n))) for i, n in enumerate(sizes)]
    v = sg.IOVector(chain) if lib is None else sg.IOVector(chain, lib=lib, mem=mem)
    seen: list[Any] = []
    for op in ops:
        try:
            if op[0] == "read":
                seen.append(v.read(op[1], op[2]))
            elif op[0] == "write":
                seen.append(v.write(op[1], op[2]))
            elif op[0] == "fill":
                seen.append(v.fill(op[1], op[2], op[3]))
            elif op[0] == "copy":
                seen.append(v.copy(op[1], op[2]).read())
            elif op[0] == "discard":
                with v.discarded(op[1], op[2]) as mid:
                    seen.append((len(mid), mid.count, mid.write(op[3])))
            else:
                kw: dict[str, Any] = {} if lib is None else {"lib": lib, "mem": mem}
                with sg.QIOV(v.buffers(), **kw) as q:
                    seen.append((q.to_bytes(op[1], op[2]), q.is_zero(op[1], op[2])))
        except ValueError as exc:
            seen.append(str(exc))
    seen.append([bytes(b) for b in chain])
    return seen


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(0, 6), min_size=1, max_size=4), ops=OPS)
def test_the_layer_does_the_same_over_the_port_and_over_c(sizes: list[int], ops: list[Any]) -> None:
    with reference_c.memory() as cmem:
        assert _run(ops, sizes, None, None) == _run(ops, sizes, reference_c, cmem)
