"""The few libc, GLib and QEMU utility routines iov.c calls, over :class:`Memory`.

Each one raises :class:`UndefinedBehaviour` exactly where the C routine would
have undefined behaviour (NULL arguments to ``memcpy``/``memset``, overlapping
``memcpy``, out-of-bounds access) and :class:`GLibFatalError` where GLib aborts.
"""

from __future__ import annotations

from typing import TextIO

from iovspec.cint import SIZE_MAX
from iovspec.errors import GLibFatalError, UndefinedBehaviour

from .memory import Memory

# Bulk work is done a chunk at a time with C-speed operations (slice copies,
# memcmp via bytes.startswith), never with a Python loop per byte; chunks keep
# the temporary copies small however large the buffers are.

#: bytes per step of the bulk fills and compares
CHUNK = 1 << 16
#: what buffer_is_zero compares against, one chunk of this size at a time
ZEROS_SIZE = 1 << 18
ZEROS = bytes(ZEROS_SIZE)
#: first_difference narrows a mismatch down to this many bytes, then finds it arithmetically
_NARROW = 256


def memcpy(mem: Memory, dst: int, src: int, n: int) -> None:
    """``memcpy``: both pointers must be non-NULL and the areas must not overlap."""
    if dst == 0 or src == 0:
        raise UndefinedBehaviour("null-pointer", f"memcpy({dst:#x}, {src:#x}, {n})")
    if n == 0:
        return
    if dst < src + n and src < dst + n:
        raise UndefinedBehaviour("overlapping-memcpy", f"memcpy({dst:#x}, {src:#x}, {n})")
    if n > 0:
        mem._copy(dst, src, n)  # the same views in the same order, looked up faster
        return
    source = mem.view(src, n)
    mem.view(dst, n)[:] = source


def memset(mem: Memory, dst: int, c: int, n: int) -> None:
    """``memset``: ``dst`` must be non-NULL; ``c`` is converted to ``unsigned char``."""
    if dst == 0:
        raise UndefinedBehaviour("null-pointer", f"memset({dst:#x}, {c}, {n})")
    if n:
        view = mem.view(dst, n)  # out of bounds is UB before anything is stored
        if n <= CHUNK:
            view[:] = bytes([c & 0xFF]) * n
            return
        fill = memoryview(bytes([c & 0xFF]) * CHUNK)  # never a fill of n bytes: n may be gigabytes
        for off in range(0, n, CHUNK):
            chunk = view[off : off + CHUNK]
            chunk[:] = fill[: len(chunk)]


def g_new(mem: Memory, struct_size: int, n_structs: int, *, zero: bool = False) -> int:
    """``g_new``/``g_new0``: ``n_structs`` is a gsize; a byte count that overflows is fatal."""
    n = n_structs & SIZE_MAX
    if n and struct_size > SIZE_MAX // n:
        raise GLibFatalError(f"overflow allocating {n}*{struct_size} bytes")
    return mem.g_malloc(n * struct_size, zero=zero)


def g_renew(mem: Memory, struct_size: int, addr: int, n_structs: int) -> int:
    """``g_renew``: ``g_realloc`` of ``n_structs`` structs, with the same overflow rule."""
    n = n_structs & SIZE_MAX
    if n and struct_size > SIZE_MAX // n:
        raise GLibFatalError(f"overflow allocating {n}*{struct_size} bytes")
    return mem.g_realloc(addr, n * struct_size)


def buffer_is_zero(mem: Memory, buf: int, length: int) -> bool:
    """QEMU ``buffer_is_zero``: true for length 0 without reading ``buf``."""
    if length == 0:
        return True
    view = mem.view(buf, length)  # UB first, as any() over the view had it
    size = len(view)  # == length, unless a negative length made an odd slice (as it always did)
    if size <= ZEROS_SIZE:
        return ZEROS.startswith(view)  # a memcmp against zeros, at C speed
    step = ZEROS_SIZE
    return all(ZEROS.startswith(view[off : off + step]) for off in range(0, size, step))


def first_difference(mem: Memory, p: int, q: int, n: int) -> int:
    """How many leading bytes of ``p`` and ``q`` are equal, reading as a byte loop would.

    C compares byte by byte and stops at the first difference, so it never reads
    past it; only bytes up to the difference must be valid.
    """
    if n == 0:
        return 0
    a = _readable_prefix(mem, p, n)
    b = _readable_prefix(mem, q, n)
    if len(a) == len(b) == n and n <= CHUNK:  # the usual case: one memcmp
        return n if equal(a, b) else _first_mismatch(a, b, 0, n)
    common = min(len(a), len(b))
    lo = 0
    while lo < common:  # chunk by chunk, so the copies _equal makes stay small
        hi = min(lo + CHUNK, common)
        if not equal(a[lo:hi], b[lo:hi]):
            return _first_mismatch(a, b, lo, hi)
        lo = hi
    if common == n:
        return n
    raise UndefinedBehaviour("out-of-bounds", f"compare reads {n} bytes at {p:#x}/{q:#x}")


def equal(x: memoryview, y: memoryview) -> bool:
    """Whether two views of the same length hold the same bytes, by memcmp.

    (``x == y`` on memoryviews unpacks item by item, about a hundred times slower.)
    """
    return bytes(x).startswith(y)


def _first_mismatch(a: memoryview, b: memoryview, lo: int, hi: int) -> int:
    """The first index in [lo, hi) where ``a`` and ``b`` differ; there is one."""
    while hi - lo > _NARROW:  # the first difference stays in [lo, hi)
        mid = (lo + hi) // 2
        if equal(a[lo:mid], b[lo:mid]):
            lo = mid
        else:
            hi = mid
    # the lowest set bit of the XOR of the two little-endian numbers is in the first differing byte
    diff = int.from_bytes(a[lo:hi], "little") ^ int.from_bytes(b[lo:hi], "little")
    return lo + ((diff & -diff).bit_length() - 1) // 8


def _readable_prefix(mem: Memory, addr: int, n: int) -> memoryview:
    span = mem._holding(addr)  # the region holding addr, unless there is none or it is a guard
    if span is None:
        raise UndefinedBehaviour("null-pointer" if addr == 0 else "out-of-bounds", f"read at {addr:#x}")
    start, _, view = span
    off = addr - start
    return view[off : off + n]


HEXDUMP_LINE_BYTES = 16


def qemu_hexdump_line(buf: bytes, b: int, length: int) -> str:
    """QEMU 6.x ``qemu_hexdump_line`` with ascii, as the text it makes visible."""
    length = min(length, HEXDUMP_LINE_BYTES)
    head = f"{b:04x}:"
    if len(head) > 5:
        # snprintf(line, 6, ...) keeps 5 characters and a NUL; the rest of the
        # line is written after that NUL, so the printed line stops here.
        return head[:5]
    parts = [head]
    for i in range(HEXDUMP_LINE_BYTES):
        if i % 4 == 0:
            parts.append(" ")
        parts.append(f" {buf[b + i]:02x}" if i < length else "   ")
    parts.append(" ")
    parts.extend(chr(c) if 0x20 <= c <= 0x7E else "." for c in buf[b : b + length])
    return "".join(parts)


def qemu_hexdump(mem: Memory, fp: TextIO, prefix: str, buf: int, size: int) -> None:
    """QEMU 6.x ``qemu_hexdump``: one ``"%s: %s\\n"`` line per 16 bytes."""
    data = mem.read(buf, size) if size else b""
    for b in range(0, size, HEXDUMP_LINE_BYTES):
        fp.write(f"{prefix}: {qemu_hexdump_line(data, b, size - b)}\n")
