"""What each public function touches, checked before a strict memory runs it.

A strict :class:`~pyimpl.memory.Memory` promises a library user that a call with a bad
pointer, a short buffer, an iovec entry past its region, an undersized struct or an
address of another memory raises ``ValueError`` naming the argument *before anything is
written or allocated*.  The port itself runs exactly as C does, stores first and faults
later; so for each function of :mod:`iovspec.ctable` this module says, once, which bytes a
call will touch, and checks them all up front:

- the objects the C parameter types name: a ``QEMUIOVector`` is ``QIOV_SIZE`` bytes, an
  ``IOVDiscardUndo`` ``UNDO_SIZE``, a ``struct iovec **`` 8 and an ``unsigned *`` 4, each
  inside one region from the pointer on;
- each iovec array and its count (the argument, ``*iov_cnt`` or a vector's ``niov``): the
  array holds them all, even where C would stop reading early;
- the bytes the call copies, fills, sends or receives: the entries' pieces from
  ``offset`` on, and flat buffers, clipped as C clips them (``iov_to_buf`` writes
  min(bytes, what the vectors hold past offset) to ``buf``); ``qemu_iovec_is_zero`` and
  ``qemu_iovec_compare`` check the whole range, although C stops at the first nonzero
  or differing byte;
- what would otherwise be undefined behaviour after a store: a ``g_renew``/``g_free`` of
  an array that is not a live heap block, ``memcpy`` areas that overlap, and a
  destination that overlaps the arrays or structs the call is still reading.

The walks below read the entries and fields the way the port will (through views, never
storing), so they agree with it entry for entry; the property test in
``tests/test_strict.py`` checks that every mistake it makes is caught with memory and
heap untouched, and that a call these checks accept runs exactly as on a non-strict
memory.  Each checker takes the port function's parameters and is registered under the
C function's name; the static helpers have none.
"""

from __future__ import annotations

import bisect
import inspect
import operator
from collections.abc import Callable
from itertools import accumulate
from typing import Any

from iovspec.cint import SIZE_MAX, int_
from iovspec.ctable import BY_NAME
from iovspec.structs import (
    IOV_MAX,
    IOVEC_SIZE,
    QIOV_IOV,
    QIOV_NALLOC,
    QIOV_NIOV,
    QIOV_SIZE,
    QIOV_SIZE_FIELD,
    SORTELEM_SIZE,
    UNDO_MODIFIED,
    UNDO_SIZE,
)

from .memory import NULL_PAGE, Memory, Span

Checker = Callable[..., None]

#: the checker of each public function, by C name (called by pyimpl._cfunc on strict memories)
CHECKS: dict[str, Checker] = {}

#: the default thread stack (as pyimpl.iov.STACK_LIMIT): a larger VLA is UB before any store
_STACK_LIMIT = 8 << 20
_PTR = 8
_UNSIGNED = 4


def touches(check: Checker) -> Checker:
    """Register ``check`` for the C function of its name; its parameters must be the row's."""
    row = BY_NAME.get(check.__name__)
    if row is None or row.kind == "static":
        raise TypeError(f"{check.__name__}: no public row in iovspec.ctable.TABLE")
    names = list(inspect.signature(check).parameters)[1:]
    if names != [p.py_name for p in row.inputs]:
        raise TypeError(f"{check.__name__}: the table says {[p.py_name for p in row.inputs]}, not {names}")
    CHECKS[check.__name__] = check
    return check


# -- what is at an address -------------------------------------------------------


def where(mem: Memory, addr: int) -> str:
    """Why ``addr`` leads to no object of ``mem`` (the end of an error message)."""
    if addr == 0:
        return "NULL"
    if addr < NULL_PAGE:
        return f"{addr:#x} is not inside any region of this memory (it is NULL + {addr})"
    region = mem.region_at(addr)
    if region is not None and region.kind == "guard":
        return f"{addr:#x} is inside a guard region"
    if region is None and mem._was_freed(addr):
        return f"{addr:#x} points into freed memory (use after free)"
    owner = mem.owner(addr)
    if owner is not None and owner is not mem:
        return f"{addr:#x} belongs to another pyimpl.Memory"
    return f"{addr:#x} is not inside any region of this memory"


def _span(mem: Memory, name: str, addr: int, n: int, need: str) -> Span:
    """The span holding the ``n`` > 0 bytes at ``addr``; else ValueError naming ``name``."""
    span = mem._holding(addr)
    if span is None:
        raise ValueError(f"{name}: {where(mem, addr)}")
    if addr + n > span[1]:
        raise ValueError(f"{name}: {span[1] - addr} bytes, but {need}")
    return span


def _stored(mem: Memory, name: str, addr: int) -> None:
    """A pointer the call only stores: it may lead anywhere, but not into another memory."""
    if mem._holding(addr) is None:
        owner = mem.owner(addr)
        if owner is not None and owner is not mem:
            raise ValueError(f"{name}: {addr:#x} belongs to another pyimpl.Memory")


def _struct(mem: Memory, name: str, addr: int, size: int, what: str) -> None:
    _span(mem, name, addr, size, f"{what} is {size}")


def _qiov(mem: Memory, name: str, addr: int) -> tuple[int, int, int]:
    """A whole QEMUIOVector at ``addr``: its (iov, niov, nalloc)."""
    _struct(mem, name, addr, QIOV_SIZE, "a QEMUIOVector")
    return mem.u64(addr + QIOV_IOV), mem.i32(addr + QIOV_NIOV), mem.i32(addr + QIOV_NALLOC)


def _array(mem: Memory, name: str, count_name: str, addr: int, count: int) -> memoryview | None:
    """The ``count`` entries at ``addr`` as a view of 2*count uint64 (None when count <= 0)."""
    if count <= 0:
        return None
    span = mem._holding(addr)
    if span is None:
        raise ValueError(f"{name}: {where(mem, addr)}, but {count_name} is {count}")
    room = (span[1] - addr) // IOVEC_SIZE
    if count > room:
        raise ValueError(f"{count_name}: {count} entries, but the array at {name} holds {room}")
    off = addr - span[0]
    return span[2][off : off + count * IOVEC_SIZE].cast("Q")


def _disjoint(name: str, lo: int, n: int, other: str, other_lo: int, other_n: int, why: str) -> None:
    if n > 0 and other_n > 0 and lo < other_lo + other_n and other_lo < lo + n:
        raise ValueError(f"{name}: overlaps {other} ({why})")


def _heap_array(mem: Memory, name: str, addr: int, nalloc: int, op: str) -> None:
    """``addr`` is what ``g_renew``/``g_free`` may take: NULL or the start of a live heap block."""
    block = mem.heap_block(addr) if addr else (0, 0)
    if block is None or block[1] != 0:
        raise ValueError(
            f"{name}: {addr:#x} is not the start of a live heap block, but nalloc {nalloc} "
            f"says the vector owns it ({op} would be an invalid free)"
        )


class _Pieces:
    """Checks pieces of the entries one by one, remembering the last span that held one."""

    def __init__(self, mem: Memory, name: str, verb: str) -> None:
        self.mem, self.name, self.verb = mem, name, verb
        self.lo = self.hi = 0
        self.total = 0

    def check(self, i: int, addr: int, n: int) -> None:
        self.total += n
        if n and not (self.lo <= addr and addr + n <= self.hi):
            span = _span(self.mem, f"{self.name}[{i}]", addr, n, f"the call {self.verb} {n} there")
            self.lo, self.hi = span[0], span[1]


def _window(
    mem: Memory, name: str, q: memoryview | None, count: int, offset: int, nbytes: int, verb: str | None
) -> list[tuple[int, int, int]]:
    """The (entry, address, length) pieces of [offset, offset+nbytes) of ``count`` entries, walked
    as the ``_full`` functions (and iov_copy, qemu_iovec_concat_iov) walk them; each checked to
    lie in one region, unless ``verb`` is None (the call only stores their addresses)."""
    pieces: list[tuple[int, int, int]] = []
    if q is None:
        return pieces
    checker = None if verb is None else _Pieces(mem, name, verb)
    done = i = 0
    while (offset or done < nbytes) and i < count:
        length_i = q[2 * i + 1]
        if offset < length_i:
            length = min(length_i - offset, nbytes - done)
            addr = (q[2 * i] + offset) & SIZE_MAX
            if checker is not None:
                checker.check(i, addr, length)
            pieces.append((i, addr, length))
            done += length
            offset = 0
        else:
            offset -= length_i
        i += 1
    return pieces


def _spread(q: memoryview, count: int, offset: int, nbytes: int) -> tuple[list[int], list[int]] | None:
    """The walk of :func:`_window` done at C speed, for the usual case: the (bases, ends) of its
    pieces ([], [] when none holds a byte), when every entry it takes holds bytes and no
    address wraps; None otherwise (the caller then walks entry by entry, which names what is
    wrong)."""
    lens = q[1 : 2 * count : 2].tolist()
    starts = list(accumulate(lens, initial=0))  # starts[i]: where entry i begins in the vector
    size = starts[-1]
    if nbytes == 0 or offset >= size:
        return [], []  # no piece holds a byte
    end = min(offset + nbytes, size)
    first = bisect.bisect_right(starts, offset) - 1  # the entry holding byte offset
    last = bisect.bisect_left(starts, end) - 1  # the entry holding byte end - 1
    taken = lens[first : last + 1]
    if 0 in taken:
        return None  # an empty entry in between: its base may be anything
    bases = q[2 * first : 2 * last + 2 : 2].tolist()
    ends = list(map(operator.add, bases, taken))
    ends[-1] -= starts[last + 1] - end
    bases[0] += offset - starts[first]
    if max(ends) > SIZE_MAX:
        return None  # an address wraps: entry by entry
    return bases, ends


def _regions(mem: Memory, spread: tuple[list[int], list[int]]) -> frozenset[int] | None:
    """The starts of the regions the pieces lie in, when each lies inside one live region
    (entries in separate buffers: :meth:`Memory.pieces`); None otherwise."""
    bases, ends = spread
    found = mem.pieces(bases, list(map(operator.sub, ends, bases)))
    return None if found is None else found[1]


def _start(mem: Memory, addr: int) -> int | None:
    """The start of the live region holding ``addr``, if any."""
    span = mem._holding(addr)
    return None if span is None else span[0]


def _in_one(mem: Memory, lo: int, hi: int) -> bool:
    """Whether [lo, hi) lies in one live region (an empty range anywhere)."""
    if hi <= lo:
        return True
    span = mem._holding(lo)
    return span is not None and hi <= span[1]


def _apart(lo: int, hi: int, other_lo: int, other_hi: int) -> bool:
    return hi <= lo or other_hi <= other_lo or hi <= other_lo or other_hi <= lo


def _u64(mem: Memory, name: str, addr: int) -> int:
    """A load the C code makes outside the arrays checked so far (a walk past niov)."""
    _span(mem, name, addr, 8, "the walk reads 8 there")
    return mem.u64(addr)


def _skip(mem: Memory, name: str, iov: int, offset: int, first: int = 0) -> tuple[int, int, int]:
    """iov_skip_offset's walk, each load checked: (entry, remaining offset, entries passed);
    ``first`` is the index of ``iov`` in the array ``name``, for messages."""
    k = 0
    while offset > 0:
        length = _u64(mem, f"{name}[{first + k}]", (iov + IOVEC_SIZE * k + 8) & SIZE_MAX)
        if offset < length:
            break
        offset -= length
        k += 1
    return (iov + IOVEC_SIZE * k) & SIZE_MAX, offset, k


def _entry(mem: Memory, name: str, addr: int) -> tuple[int, int]:
    _span(mem, name, addr, IOVEC_SIZE, "the walk reads an iovec (16) there")
    return mem.u64(addr), mem.u64(addr + 8)


# -- the shapes several functions share -----------------------------------------------------


def _copy(
    mem: Memory,
    vec: str,
    count_name: str,
    iov: int,
    count: int,
    offset: int,
    buf: int,
    nbytes: int,
    *,
    to_vectors: bool,
) -> None:
    """iov_from_buf_full (``to_vectors``) or iov_to_buf_full: the array, the pieces of the
    entries and the ``buf`` bytes, which memcpy must not overlap; and the destination must
    not overlap the array, which the call reads as it goes."""
    q = _array(mem, vec, count_name, iov, count)
    array = (iov, iov + IOVEC_SIZE * max(count, 0))
    spread = None if q is None else _spread(q, count, offset, nbytes)
    if spread is not None and spread[0]:
        bases, ends = spread
        lo, hi, total = min(bases), max(ends), sum(ends) - sum(bases)
        if _in_one(mem, buf, buf + total) and buf + total <= SIZE_MAX:
            written = (lo, hi) if to_vectors else (buf, buf + total)
            # every piece in one region, apart from buf and, if written, the array
            if _in_one(mem, lo, hi) and _apart(lo, hi, buf, buf + total) and _apart(*written, *array):
                return
            # or each in a region of its own (separate buffers): none in buf's region (so no
            # memcpy overlaps) and, if written, none in the array's
            regions = _regions(mem, spread)
            if (
                regions is not None
                and _start(mem, buf) not in regions
                and (_start(mem, iov) not in regions if to_vectors else _apart(buf, buf + total, *array))
            ):
                return
    elif spread is not None:
        return  # no piece holds a byte: nothing is copied
    pieces = _window(mem, vec, q, count, offset, nbytes, "copies")
    total = sum(n for _, _, n in pieces)
    if total:
        need = f"bytes={nbytes}" if total == nbytes else f"the call copies {total} of bytes={nbytes}"
        _span(mem, "buf", buf, total, need)
    held = ((vec, iov, IOVEC_SIZE * max(count, 0)),)
    done = 0
    for i, addr, n in pieces:
        _disjoint("buf", (buf + done) & SIZE_MAX, n, f"{vec}[{i}]'s bytes", addr, n, "memcpy areas")
        if to_vectors:
            for what, lo, size in held:
                _disjoint(f"{vec}[{i}]", addr, n, what, lo, size, "the call would write what it reads")
        done += n
    if not to_vectors:
        for what, lo, size in held:
            _disjoint("buf", buf, total, what, lo, size, "the call would write what it reads")


def _fill(
    mem: Memory,
    vec: str,
    count_name: str,
    iov: int,
    count: int,
    offset: int,
    nbytes: int,
    verb: str,
    *,
    writes: bool,
) -> None:
    """iov_memset, or the socket functions: the pieces of the entries, which a write must not
    lay over the array the call reads as it goes."""
    q = _array(mem, vec, count_name, iov, count)
    spread = None if q is None else _spread(q, count, offset, nbytes)
    if spread is not None:
        if not spread[0]:
            return  # no piece holds a byte
        lo, hi = min(spread[0]), max(spread[1])
        if _in_one(mem, lo, hi) and (not writes or _apart(lo, hi, iov, iov + IOVEC_SIZE * count)):
            return
        regions = _regions(mem, spread)  # separate buffers: none in the array's region
        if regions is not None and (not writes or _start(mem, iov) not in regions):
            return
    pieces = _window(mem, vec, q, count, offset, nbytes, verb)
    if writes:
        held = ((vec, iov, IOVEC_SIZE * max(count, 0)),)
        for i, addr, n in pieces:
            for what, lo, size in held:
                _disjoint(f"{vec}[{i}]", addr, n, what, lo, size, "the call would write what it reads")


def _vector(mem: Memory, name: str, qiov: int) -> tuple[int, int]:
    """A QEMUIOVector whose entries a call walks with ``unsigned`` niov: (iov, count)."""
    iov, niov, _ = _qiov(mem, name, qiov)
    return iov, niov & 0xFFFFFFFF


def _grow(
    mem: Memory,
    name: str,
    qiov: int,
    adds: int,
    keep: tuple[tuple[str, int, int], ...] = (),
) -> None:
    """``adds`` calls of qemu_iovec_add on the vector at ``qiov``: the entries written in place
    must be in its array (and not over the struct or ``keep``, what the caller still reads);
    an array grown by g_renew must be a heap block, and no ``keep`` may lie in it."""
    iov, niov, nalloc = mem.u64(qiov + QIOV_IOV), mem.i32(qiov + QIOV_NIOV), mem.i32(qiov + QIOV_NALLOC)
    if nalloc == -1 or adds <= 0:  # the assert fires before any store
        return
    for what, lo, size in keep:
        _disjoint(name, qiov, QIOV_SIZE, what, lo, size, "the call would write what it reads")
    in_place = adds if niov > nalloc else min(adds, nalloc - niov)
    if in_place:
        at = (iov + IOVEC_SIZE * niov) & SIZE_MAX
        n = IOVEC_SIZE * in_place
        _span(mem, f"{name}->iov[{niov}]", at, n, f"the call adds {in_place} entries there")
        for what, lo, size in ((name, qiov, QIOV_SIZE), *keep):
            _disjoint(f"{name}->iov[{niov}]", at, n, what, lo, size, "the call would write what it reads")
    if adds > in_place:
        if 2 * nalloc + 1 != int_(2 * nalloc + 1):
            return  # signed overflow, raised before any store
        _heap_array(mem, f"{name}->iov", iov, nalloc, "g_renew")
        block = mem.region_at(iov) if iov else None
        if block is not None:
            for what, lo, size in keep:
                _disjoint(what, lo, size, f"{name}'s array", block.start, block.size, "g_renew frees it")


def _slice(mem: Memory, name: str, qiov: int, offset: int, len_: int) -> tuple[int, int] | None:
    """qiov_slice's walks over the vector at ``qiov`` (checked loads): (first entry, entries),
    or None when its assert fails first."""
    iov, _, _ = _qiov(mem, name, qiov)
    if (offset + len_) & SIZE_MAX > mem.u64(qiov + QIOV_SIZE_FIELD):
        return None
    first, head, k = _skip(mem, f"{name}->iov", iov, offset)
    _, tail, m = _skip(mem, f"{name}->iov", first, (head + len_) & SIZE_MAX, k)
    return first, m + (1 if tail > 0 else 0)


def _extended(
    mem: Memory,
    qiov: int,
    head_len: int,
    mid: str,
    mid_qiov: int,
    mid_offset: int,
    mid_len: int,
    tail_len: int,
) -> None:
    """qemu_iovec_init_extended (and init_slice, with ``mid`` named ``source``)."""
    _struct(mem, mid, mid_qiov, QIOV_SIZE, "a QEMUIOVector")
    if mem.i32(mid_qiov + QIOV_NIOV) > IOV_MAX:
        return
    if SIZE_MAX - head_len < mid_len or SIZE_MAX - head_len - mid_len < tail_len:
        return  # -EINVAL before any store
    mid_iov = mid_niov = 0
    if mid_len:
        sliced = _slice(mem, mid, mid_qiov, mid_offset, mid_len)
        if sliced is None:
            return
        mid_iov, mid_niov = sliced
    total = (1 if head_len else 0) + mid_niov + (1 if tail_len else 0)
    if total > IOV_MAX:
        return
    _struct(mem, "qiov", qiov, QIOV_SIZE, "a QEMUIOVector")
    if mid_niov:
        n = IOVEC_SIZE * mid_niov
        _span(mem, f"{mid}->iov", mid_iov, n, f"memcpy reads {mid_niov} entries there")
        # the struct is written before memcpy reads the entries (into its local_iov, if one)
        _disjoint("qiov", qiov, QIOV_SIZE, f"{mid}'s entries", mid_iov, n, "the call writes it first")


# -- one checker per public function, in table order --------------------------------------


@touches
def iov_from_buf_full(mem: Memory, iov: int, iov_cnt: int, offset: int, buf: int, bytes_: int) -> None:
    _copy(mem, "iov", "iov_cnt", iov, iov_cnt, offset, buf, bytes_, to_vectors=True)


@touches
def iov_to_buf_full(mem: Memory, iov: int, iov_cnt: int, offset: int, buf: int, bytes_: int) -> None:
    _copy(mem, "iov", "iov_cnt", iov, iov_cnt, offset, buf, bytes_, to_vectors=False)


@touches
def iov_memset(mem: Memory, iov: int, iov_cnt: int, offset: int, fillc: int, bytes_: int) -> None:
    _fill(mem, "iov", "iov_cnt", iov, iov_cnt, offset, bytes_, "fills", writes=True)


@touches
def iov_size(mem: Memory, iov: int, iov_cnt: int) -> None:
    _array(mem, "iov", "iov_cnt", iov, iov_cnt)


def _send_recv(
    mem: Memory, vec: str, iov: int, iov_cnt: int, offset: int, bytes_: int, do_send: bool
) -> None:
    if bytes_ == 0:  # returns before it reads anything
        return
    verb = "sends" if do_send else "receives"
    _fill(mem, vec, "iov_cnt", iov, iov_cnt, offset, bytes_, verb, writes=not do_send)


@touches
def iov_send_recv(
    mem: Memory, sockfd: int, _iov: int, iov_cnt: int, offset: int, bytes_: int, do_send: bool
) -> None:
    _send_recv(mem, "_iov", _iov, iov_cnt, offset, bytes_, do_send)


@touches
def iov_send_recv_with_flags(
    mem: Memory, sockfd: int, sockflags: int, _iov: int, iov_cnt: int, offset: int, bytes_: int, do_send: bool
) -> None:
    _send_recv(mem, "_iov", _iov, iov_cnt, offset, bytes_, do_send)


@touches
def iov_hexdump(mem: Memory, iov: int, iov_cnt: int, fp: Any, prefix: str, limit: int) -> None:
    q = _array(mem, "iov", "iov_cnt", iov, iov_cnt)
    size = 0 if q is None else sum(q[1::2]) & SIZE_MAX
    _window(mem, "iov", q, iov_cnt, 0, min(size, limit), "dumps")


@touches
def iov_copy(
    mem: Memory, dst_iov: int, dst_iov_cnt: int, iov: int, iov_cnt: int, offset: int, bytes_: int
) -> None:
    _array(mem, "dst_iov", "dst_iov_cnt", dst_iov, dst_iov_cnt)
    _array(mem, "iov", "iov_cnt", iov, iov_cnt)


@touches
def qemu_iovec_init(mem: Memory, qiov: int, alloc_hint: int) -> None:
    _struct(mem, "qiov", qiov, QIOV_SIZE, "a QEMUIOVector")


@touches
def qemu_iovec_init_external(mem: Memory, qiov: int, iov: int, niov: int) -> None:
    _struct(mem, "qiov", qiov, QIOV_SIZE, "a QEMUIOVector")
    _array(mem, "iov", "niov", iov, niov)


@touches
def qemu_iovec_add(mem: Memory, qiov: int, base: int, len_: int) -> None:
    _struct(mem, "qiov", qiov, QIOV_SIZE, "a QEMUIOVector")
    _stored(mem, "base", base)
    _grow(mem, "qiov", qiov, 1)


def _concat_iov(
    mem: Memory, dst: int, vec: str, count_name: str, src_iov: int, src_cnt: int, soffset: int, sbytes: int
) -> None:
    if not sbytes:  # returns before it reads anything
        return
    _struct(mem, "dst", dst, QIOV_SIZE, "a QEMUIOVector")
    if mem.i32(dst + QIOV_NALLOC) == -1:  # the assert fires before it reads src_iov
        return
    q = _array(mem, vec, count_name, src_iov, src_cnt)
    adds = len(_window(mem, vec, q, src_cnt, soffset, sbytes, None))
    _grow(mem, "dst", dst, adds, keep=((vec, src_iov, IOVEC_SIZE * src_cnt),))


@touches
def qemu_iovec_concat_iov(
    mem: Memory, dst: int, src_iov: int, src_cnt: int, soffset: int, sbytes: int
) -> None:
    _concat_iov(mem, dst, "src_iov", "src_cnt", src_iov, src_cnt, soffset, sbytes)


@touches
def qemu_iovec_concat(mem: Memory, dst: int, src: int, soffset: int, sbytes: int) -> None:
    src_iov, src_cnt = _vector(mem, "src", src)
    _concat_iov(mem, dst, "src->iov", "src->niov", src_iov, src_cnt, soffset, sbytes)


@touches
def qemu_iovec_slice(mem: Memory, qiov: int, offset: int, len_: int) -> None:
    _slice(mem, "qiov", qiov, offset, len_)


@touches
def qemu_iovec_subvec_niov(mem: Memory, qiov: int, offset: int, len_: int) -> None:
    _slice(mem, "qiov", qiov, offset, len_)


@touches
def qemu_iovec_init_extended(
    mem: Memory,
    qiov: int,
    head_buf: int,
    head_len: int,
    mid_qiov: int,
    mid_offset: int,
    mid_len: int,
    tail_buf: int,
    tail_len: int,
) -> None:
    _stored(mem, "head_buf", head_buf)
    _stored(mem, "tail_buf", tail_buf)
    _extended(mem, qiov, head_len, "mid_qiov", mid_qiov, mid_offset, mid_len, tail_len)


@touches
def qemu_iovec_is_zero(mem: Memory, qiov: int, offset: int, bytes_: int) -> None:
    iov, niov, _ = _qiov(mem, "qiov", qiov)
    if (offset + bytes_) & SIZE_MAX > mem.u64(qiov + QIOV_SIZE_FIELD):
        return  # the assert fires first
    words, k = mem.iovecs(iov, niov)
    if k and offset + bytes_ <= sum(words[1 : 2 * k : 2]):  # the walk stays in the first k entries
        spread = _spread(words, k, offset, bytes_)
        if spread is not None and (
            not spread[0] or _in_one(mem, min(spread[0]), max(spread[1])) or _regions(mem, spread) is not None
        ):
            return
    at, current, k = _skip(mem, "qiov->iov", iov, offset)
    checker = _Pieces(mem, "qiov->iov", "reads")
    while bytes_:
        base, length = _entry(mem, f"qiov->iov[{k}]", at)
        length = min((length - current) & SIZE_MAX, bytes_)
        checker.check(k, (base + current) & SIZE_MAX, length)
        current = 0
        bytes_ -= length
        at = (at + IOVEC_SIZE) & SIZE_MAX
        k += 1


@touches
def qemu_iovec_init_slice(mem: Memory, qiov: int, source: int, offset: int, len_: int) -> None:
    _struct(mem, "source", source, QIOV_SIZE, "a QEMUIOVector")
    size = mem.u64(source + QIOV_SIZE_FIELD)
    if size < len_ or size - len_ < offset:
        return  # an assert fires first
    _extended(mem, qiov, 0, "source", source, offset, len_, 0)


@touches
def qemu_iovec_destroy(mem: Memory, qiov: int) -> None:
    iov, _, nalloc = _qiov(mem, "qiov", qiov)
    if nalloc != -1:
        _heap_array(mem, "qiov->iov", iov, nalloc, "g_free")


@touches
def qemu_iovec_reset(mem: Memory, qiov: int) -> None:
    _struct(mem, "qiov", qiov, QIOV_SIZE, "a QEMUIOVector")


@touches
def qemu_iovec_to_buf(mem: Memory, qiov: int, offset: int, buf: int, bytes_: int) -> None:
    iov, count = _vector(mem, "qiov", qiov)
    _copy(mem, "qiov->iov", "qiov->niov", iov, count, offset, buf, bytes_, to_vectors=False)


@touches
def qemu_iovec_from_buf(mem: Memory, qiov: int, offset: int, buf: int, bytes_: int) -> None:
    iov, count = _vector(mem, "qiov", qiov)
    _copy(mem, "qiov->iov", "qiov->niov", iov, count, offset, buf, bytes_, to_vectors=True)


@touches
def qemu_iovec_memset(mem: Memory, qiov: int, offset: int, fillc: int, bytes_: int) -> None:
    iov, count = _vector(mem, "qiov", qiov)
    _fill(mem, "qiov->iov", "qiov->niov", iov, count, offset, bytes_, "fills", writes=True)


@touches
def qemu_iovec_compare(mem: Memory, a: int, b: int) -> None:
    a_iov, a_niov, _ = _qiov(mem, "a", a)
    b_iov, b_niov, _ = _qiov(mem, "b", b)
    if a_niov != b_niov:
        return  # the assert fires first
    qa = _array(mem, "a->iov", "a->niov", a_iov, a_niov)
    qb = _array(mem, "b->iov", "b->niov", b_iov, b_niov)
    if qa is None or qb is None:
        return
    pa, pb = _Pieces(mem, "a->iov", "compares"), _Pieces(mem, "b->iov", "compares")
    for i in range(a_niov):
        length = qa[2 * i + 1]
        if length != qb[2 * i + 1]:
            return  # the assert fires at entry i
        pa.check(i, qa[2 * i], length)
        pb.check(i, qb[2 * i], length)


@touches
def qemu_iovec_clone(mem: Memory, dest: int, src: int, buf: int) -> None:
    src_iov, n, _ = _qiov(mem, "src", src)
    if n <= 0 or n * SORTELEM_SIZE > _STACK_LIMIT:
        return  # the VLA is undefined before any store
    _array(mem, "src->iov", "src->niov", src_iov, n)
    _struct(mem, "dest", dest, QIOV_SIZE, "a QEMUIOVector")
    _stored(mem, "buf", buf)
    _disjoint("dest", dest, QIOV_SIZE, "src", src, QIOV_SIZE, "the call adds to dest while it reads src")
    _grow(mem, "dest", dest, n, keep=(("src", src, QIOV_SIZE), ("src->iov", src_iov, IOVEC_SIZE * n)))


@touches
def iov_discard_undo(mem: Memory, undo: int) -> None:
    _struct(mem, "undo", undo, UNDO_SIZE, "an IOVDiscardUndo")
    modified = mem.u64(undo + UNDO_MODIFIED)
    if modified:
        _span(mem, "undo->modified_iov", modified, IOVEC_SIZE, "the undo restores an iovec (16) there")


def _discard(mem: Memory, array_name: str, array: int | None, iov: int, iov_cnt: int, undo: int) -> None:
    """The discard functions: the ``*iov`` (front) and ``*iov_cnt`` variables, the undo record,
    and the array; none of the variables the loop reads may lie in what it writes."""
    held: list[tuple[str, int, int]] = []
    if array is None:
        _struct(mem, "iov", iov, _PTR, "a struct iovec *")
        held.append(("iov", iov, _PTR))
    _struct(mem, "iov_cnt", iov_cnt, _UNSIGNED, "an unsigned int")
    held.append(("iov_cnt", iov_cnt, _UNSIGNED))
    if undo:
        _struct(mem, "undo", undo, UNDO_SIZE, "an IOVDiscardUndo")
        for what, lo, size in held:
            _disjoint("undo", undo, UNDO_SIZE, what, lo, size, "the call writes undo before it reads it")
        held.append(("undo", undo, UNDO_SIZE))
    count = mem.u32(iov_cnt)
    at = mem.u64(iov) if array is None else array
    _array(mem, array_name, "*iov_cnt", at, count)
    for what, lo, size in held:
        _disjoint(array_name, at, IOVEC_SIZE * count, what, lo, size, "the call writes both")
    if array is None:
        _disjoint("iov", iov, _PTR, "iov_cnt", iov_cnt, _UNSIGNED, "the call writes both")


@touches
def iov_discard_front_undoable(mem: Memory, iov: int, iov_cnt: int, bytes_: int, undo: int) -> None:
    _discard(mem, "*iov", None, iov, iov_cnt, undo)


@touches
def iov_discard_front(mem: Memory, iov: int, iov_cnt: int, bytes_: int) -> None:
    _discard(mem, "*iov", None, iov, iov_cnt, 0)


@touches
def iov_discard_back_undoable(mem: Memory, iov: int, iov_cnt: int, bytes_: int, undo: int) -> None:
    _discard(mem, "iov", iov, iov, iov_cnt, undo)


@touches
def iov_discard_back(mem: Memory, iov: int, iov_cnt: int, bytes_: int) -> None:
    _discard(mem, "iov", iov, iov, iov_cnt, 0)


@touches
def qemu_iovec_discard_back(mem: Memory, qiov: int, bytes_: int) -> None:
    iov, count = _vector(mem, "qiov", qiov)
    if mem.u64(qiov + QIOV_SIZE_FIELD) < bytes_:
        return  # the assert fires before any store
    _array(mem, "qiov->iov", "qiov->niov", iov, count)


@touches
def iov_from_buf(mem: Memory, iov: int, iov_cnt: int, offset: int, buf: int, bytes_: int) -> None:
    _copy(mem, "iov", "iov_cnt", iov, iov_cnt, offset, buf, bytes_, to_vectors=True)


@touches
def iov_to_buf(mem: Memory, iov: int, iov_cnt: int, offset: int, buf: int, bytes_: int) -> None:
    _copy(mem, "iov", "iov_cnt", iov, iov_cnt, offset, buf, bytes_, to_vectors=False)


@touches
def iov_send(mem: Memory, sockfd: int, iov: int, iov_cnt: int, offset: int, bytes_: int) -> None:
    _send_recv(mem, "iov", iov, iov_cnt, offset, bytes_, True)


@touches
def iov_recv(mem: Memory, sockfd: int, iov: int, iov_cnt: int, offset: int, bytes_: int) -> None:
    _send_recv(mem, "iov", iov, iov_cnt, offset, bytes_, False)


@touches
def qemu_iovec_init_buf(mem: Memory, qiov: int, buf: int, len_: int) -> None:
    _struct(mem, "qiov", qiov, QIOV_SIZE, "a QEMUIOVector")
    _stored(mem, "buf", buf)


@touches
def qemu_iovec_buf(mem: Memory, qiov: int) -> None:
    _struct(mem, "qiov", qiov, QIOV_SIZE, "a QEMUIOVector")
