"""The port's bulk paths for entries longer than one chunk, against the compiled C.

The campaigns' layouts hold a few hundred bytes, so the chunked loops of ``pyimpl.libc``
(fills, zero tests and compares of more than ``CHUNK`` bytes at a time) and the port's
single-run copies are judged here: the same layout on both sides, the same calls, the same
results and bytes.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import pyimpl
import reference_c
from pyimpl.libc import CHUNK, ZEROS_SIZE

#: entry lengths around the chunk sizes (and one small entry)
LENGTHS = st.sampled_from([7, CHUNK - 1, CHUNK, CHUNK + 3, ZEROS_SIZE, ZEROS_SIZE + 5, 2 * ZEROS_SIZE + 1])


@st.composite
def layouts(draw: st.DrawFn) -> tuple[list[int], int, int, int, int]:
    """(entry lengths, offset, byte count, a byte to flip in b, a fill byte)."""
    lengths = draw(st.lists(LENGTHS, min_size=1, max_size=3))
    total = sum(lengths)
    # within the vectors: past their end iov_to_buf_full's assert fails on both sides
    offset = min(draw(st.sampled_from([0, 1, CHUNK - 1, total // 2, total - 1])), total)
    nbytes = draw(st.sampled_from([0, 1, CHUNK + 1, ZEROS_SIZE + 2, total, total + 9]))
    flip = draw(st.sampled_from([-1, 0, CHUNK, ZEROS_SIZE, total - 1]))
    return lengths, offset, nbytes, flip, draw(st.integers(0, 255))


def run(lib: Any, mem: Any, layout: tuple[list[int], int, int, int, int]) -> list[Any]:
    """Every bulk function on ``layout``: their results and the bytes they leave."""
    lengths, offset, nbytes, flip, fill = layout
    total = sum(lengths)
    data = bytes((i * 7 + 3) & 0xFF for i in range(total))
    a = [mem.buffer(data[sum(lengths[:k]) : sum(lengths[: k + 1])]) for k in range(len(lengths))]
    b = [mem.buffer(bytes(n)) for n in lengths]
    iov_a, iov_b = mem.buffer(16 * len(lengths)), mem.buffer(16 * len(lengths))
    lib.write_iovecs(mem, iov_a, list(zip(a, lengths, strict=True)))
    lib.write_iovecs(mem, iov_b, list(zip(b, lengths, strict=True)))
    out: list[Any] = []
    buf = mem.buffer(total + 16)
    out.append(lib.iov_to_buf_full(mem, iov_a, len(lengths), offset, buf, min(nbytes, total + 16)))
    out.append(mem.read(buf, total + 16))
    out.append(lib.iov_from_buf_full(mem, iov_b, len(lengths), 0, buf, total))  # b = a's bytes
    flip = min(flip, total - 1)
    if flip >= 0:  # one byte of b differs from a
        k = max(i for i in range(len(lengths)) if sum(lengths[:i]) <= flip)
        at = b[k] + flip - sum(lengths[:k])
        mem.write(at, bytes([mem.read(at, 1)[0] ^ 0x5A]))
    qa, qb = mem.buffer(pyimpl.QIOV_SIZE), mem.buffer(pyimpl.QIOV_SIZE)
    lib.qemu_iovec_init_external(mem, qa, iov_a, len(lengths))
    lib.qemu_iovec_init_external(mem, qb, iov_b, len(lengths))
    out.append(lib.qemu_iovec_compare(mem, qa, qb))
    out.append(lib.iov_memset(mem, iov_b, len(lengths), offset, fill, nbytes))
    size = min(nbytes, total - offset)
    out.append(lib.qemu_iovec_is_zero(mem, qb, offset, size))
    out.append(lib.iov_memset(mem, iov_b, len(lengths), 0, 0, total))
    out.append(lib.qemu_iovec_is_zero(mem, qb, 0, total))
    out += [mem.read(x, n) for x, n in zip(b, lengths, strict=True)]
    return out


@settings(max_examples=25, deadline=None)
@given(layouts())
def test_bulk_functions_over_long_entries_agree_with_c(layout: tuple[list[int], int, int, int, int]) -> None:
    """For entries longer than a chunk: the port's results and bytes are C's."""
    port = run(pyimpl, pyimpl.Memory(strict=False), layout)
    with reference_c.memory() as cmem:
        c = run(reference_c, cmem, layout)
    assert port == c
