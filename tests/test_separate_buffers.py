"""The port's walk over entries in separate buffers, judged against the compiled iov.c.

The campaigns' layouts put every entry in one data region (harness/generate/layouts.py); what
``pyimpl.sg`` makes, and what the port now walks through :meth:`pyimpl.Memory.pieces`, is
entries in buffers of their own.  These tests run the bulk functions over such entries on a
``Memory(strict=False)`` (the harness's memory: no checks, the port as it is) and on a
``reference_c.CMemory``, and compare what each returns or raises and every byte after.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pyimpl
import reference_c
from iovspec.structs import IOVEC_SIZE, QIOV_SIZE, write_iovecs


@pytest.fixture(scope="module")
def cmem() -> Iterator[reference_c.CMemory]:
    with reference_c.memory() as m:
        yield m


@st.composite
def scattered(draw: st.DrawFn) -> tuple[list[bytes], list[tuple[int, int, int]]]:
    """A few buffers and entries into them: (buffer, start, length), in bounds, aliasing allowed."""
    buffers = draw(st.lists(st.binary(min_size=0, max_size=12), min_size=1, max_size=5))
    entries = []
    for _ in range(draw(st.integers(1, 6))):
        k = draw(st.integers(0, len(buffers) - 1))
        size = len(buffers[k])
        start = draw(st.integers(0, size))
        entries.append((k, start, draw(st.integers(0, size - start))))
    return buffers, entries


def run(
    mem: Any, lib: Any, buffers: list[bytes], entries: list[tuple[int, int, int]], call: tuple[Any, ...]
) -> Any:
    """Lay the buffers and entries out in ``mem`` (each buffer its own region), make ``call``,
    and return what it returned (or the exception's type) and every buffer's bytes after."""
    bufs = [bytearray(b) for b in buffers]
    bases = [mem.map(b) for b in bufs]
    arr = mem.buffer(IOVEC_SIZE * len(entries))
    write_iovecs(mem, arr, [(bases[k] + start, n) for k, start, n in entries])
    name, offset, nbytes, extra = call
    flat = bytearray(extra if name == "iov_from_buf" else bytes(nbytes))
    buf = mem.map(flat) if flat else mem.buffer(1)
    try:
        if name == "iov_to_buf":
            got: Any = lib.iov_to_buf(mem, arr, len(entries), offset, buf, nbytes)
        elif name == "iov_from_buf":
            got = lib.iov_from_buf(mem, arr, len(entries), offset, buf, len(flat))
        elif name == "iov_memset":
            got = lib.iov_memset(mem, arr, len(entries), offset, extra, nbytes)
        else:
            q = mem.buffer(QIOV_SIZE)
            lib.qemu_iovec_init_external(mem, q, arr, len(entries))
            got = lib.qemu_iovec_is_zero(mem, q, offset, nbytes)
    except Exception as exc:
        got = type(exc).__name__
    return got, [bytes(b) for b in bufs], bytes(flat)


@settings(max_examples=200, deadline=None)
@given(
    layout=scattered(),
    name=st.sampled_from(["iov_to_buf", "iov_from_buf", "iov_memset", "qemu_iovec_is_zero"]),
    data=st.data(),
)
def test_the_walk_over_separate_buffers_is_the_c_one(
    cmem: reference_c.CMemory, layout: Any, name: str, data: st.DataObject
) -> None:
    """Over entries scattered in separate buffers (in bounds, aliasing allowed), iov_to_buf,
    iov_from_buf, iov_memset and qemu_iovec_is_zero return (or assert) as the compiled iov.c
    does and leave every byte of every buffer as it leaves them, for every offset and count
    up to past the end."""
    buffers, entries = layout
    total = sum(n for _, _, n in entries)
    offset = data.draw(st.integers(0, total + 1), label="offset")
    nbytes = data.draw(st.integers(0, total + 2), label="bytes")
    if name == "iov_from_buf":
        extra: Any = data.draw(st.binary(min_size=nbytes, max_size=nbytes), label="buf")
    elif name == "iov_memset":
        extra = data.draw(st.integers(0, 255), label="fillc")
    else:
        extra = None
    call = (name, offset, nbytes, extra)
    port = run(pyimpl.Memory(strict=False), pyimpl, buffers, entries, call)
    assert port == run(cmem, reference_c, buffers, entries, call)


def test_those_walks_go_through_the_remembered_pieces() -> None:
    """The property above reaches Memory.pieces (not only the entry-by-entry loop): a copy over
    entries in separate regions maps each piece to its region once and keeps it."""
    mem = pyimpl.Memory(strict=False)
    got = run(
        mem,
        pyimpl,
        [b"abcd", b"efgh", b"ijkl"],
        [(2, 1, 2), (0, 0, 3), (2, 1, 2)],
        ("iov_to_buf", 1, 6, None),
    )
    assert got[0] == 6 and got[2] == b"kabcjk"
    assert len(mem._pieces_seen) == 1
