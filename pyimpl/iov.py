"""The port of QEMU ``util/iov.c`` (v6.1/v6.2), one function per C function, in file order.

Every function takes the :class:`~pyimpl.memory.Memory` it works in first, then
the C arguments in C order.  Pointers are integer addresses (NULL is 0); C
integer conversions and wraparound are explicit (``size_t()``, ``unsigned()``,
``int_()``, ``ssize_t()``).  A failing ``assert`` raises :class:`CAssertionError`
at the same point as in C, after the same stores.
"""

from __future__ import annotations

import errno as _errno
import functools
import operator
import os
import socket
from array import array
from bisect import bisect_left, bisect_right
from itertools import accumulate
from typing import TextIO

from iovspec.cint import INT_MAX, SIZE_MAX, int_, size_t, ssize_t, unsigned
from iovspec.errors import CAssertionError, UndefinedBehaviour
from iovspec.structs import (
    EINVAL,
    IOV_BASE,
    IOV_LEN,
    IOV_MAX,
    IOVEC_SIZE,
    QIOV_IOV,
    QIOV_LOCAL_IOV,
    QIOV_NALLOC,
    QIOV_NIOV,
    QIOV_SIZE,
    QIOV_SIZE_FIELD,
    SORTELEM_DEST_BASE,
    SORTELEM_INDEX,
    SORTELEM_SIZE,
    SORTELEM_SRC_IOV,
    UNDO_MODIFIED,
    UNDO_ORIG,
)

from ._cfunc import cfunction
from .hooks import assert_hook
from .libc import (
    CHUNK,
    ZEROS,
    ZEROS_SIZE,
    buffer_is_zero,
    equal,
    first_difference,
    g_new,
    g_renew,
    memcpy,
    memset,
    qemu_hexdump,
)
from .memory import MAX_HEAP_BLOCK, NATIVE_WORDS, Memory, Span

#: the default thread stack (ulimit -s 8192): a larger VLA overflows it
STACK_LIMIT = 8 << 20

#: line of the one assert in our shim's ``qemu_iovec_buf`` (reference_c/include/qemu/iov.h)
QEMU_IOVEC_BUF_ASSERT_LINE = 152


#: functions whose body the port shares with another (a later revision moved or renamed it):
#: the lines of that body's asserts, in order, in the source of each (see iovspec.ctable)
SHARED_ASSERT_LINES: dict[str, tuple[int, ...]] = {
    "iov_send_recv": (167, 186, 187, 202),
    "iov_send_recv_with_flags": (183, 202, 203, 218),
    "qiov_slice": (388, 394),
    "qemu_iovec_slice": (393, 399),
}


def _assert(ok: bool, expr: str, func: str, line: int) -> None:
    hook = assert_hook()
    if hook is not None:
        hook(func, expr, line, ok)
    if not ok:
        raise CAssertionError(expr, func, line)


# struct field access, named as in C ------------------------------------------
def _base(mem: Memory, iov: int) -> int:
    return mem.u64(iov + IOV_BASE)


def _len(mem: Memory, iov: int) -> int:
    return mem.u64(iov + IOV_LEN)


def _set_base(mem: Memory, iov: int, value: int) -> None:
    mem.set_u64(iov + IOV_BASE, value)


def _set_len(mem: Memory, iov: int, value: int) -> None:
    mem.set_u64(iov + IOV_LEN, value)


def _at(iov: int, i: int) -> int:
    """``&iov[i]`` for a ``struct iovec *`` (``size_t()`` inlined: this runs once per entry)."""
    return (iov + i * IOVEC_SIZE) & SIZE_MAX


# How the loops over entries stay fast and exact.  The entries are loaded through a live view
# of the array (``words``, two uint64 per entry: Memory.iovecs) while they lie in its region;
# past it, through _len/_base, which meet the undefined behaviour where C does.  A memcpy or
# memset whose areas lie in the regions the previous one used (``lo``/``hi``/``view`` below,
# taken from what Memory remembered) is done right there; anything else (a new region, a
# fault, an overlap, NULL) goes through libc.memcpy/memset, with every check in C's order.
_NO_VIEW = memoryview(bytearray())
#: how many entries the list-based walk below looks at, at most (is_zero's walk has no count)
_PIECES_MAX = 4096


def _pieces(words: memoryview, k: int, count: int, offset: int, nbytes: int) -> tuple[list[int], list[int]]:
    """The walk of the ``_full`` loops over lists, for the usual case: the (address, length)
    of every piece they memcpy/memset, in order, when the walk takes at least one byte, uses
    ``offset`` up and stays in the first ``k`` of ``count`` entries (all loaded through
    ``words``); ([], []) otherwise (the caller walks entry by entry).  Entries the walk
    passes without a piece (empty ones) are left out, as the loops call nothing for them."""
    if nbytes <= 0 or k <= 0 or k > _PIECES_MAX:
        return [], []
    lens = words[1 : 2 * k : 2].tolist()
    starts = list(accumulate(lens, initial=0))  # starts[i]: where entry i begins in the vector
    size = starts[-1]
    if offset >= size or (k < count and offset + nbytes > size):
        return [], []  # offset left over, or the walk goes on past entry k
    end = min(offset + nbytes, size)
    first = bisect_right(starts, offset) - 1  # the entry holding byte offset
    last = bisect_left(starts, end) - 1  # the entry holding byte end - 1
    lengths = lens[first : last + 1]
    addrs = words[2 * first : 2 * last + 2 : 2].tolist()
    lengths[-1] -= starts[last + 1] - end
    head = offset - starts[first]
    addrs[0] += head
    lengths[0] -= head
    if 0 in lengths:
        keep = [i for i, n in enumerate(lengths) if n]
        addrs, lengths = [addrs[i] for i in keep], [lengths[i] for i in keep]
    return addrs, lengths


def _one_region(mem: Memory, addrs: list[int], lengths: list[int]) -> tuple[Span, int, int, bool] | None:
    """The span of the one live region holding every piece, if there is one; with the lowest
    address and the end of the pieces, and whether they follow each other in memory (a buffer
    cut into consecutive entries: then their copies, fills or reads are one of the whole run,
    with the same result)."""
    ends = list(map(operator.add, addrs, lengths))
    run = ends[:-1] == addrs[1:]
    lo, hi = (addrs[0], ends[-1]) if run else (min(addrs), max(ends))
    span = mem._holding(lo)
    if span is None or hi > span[1]:
        return None
    return span, lo, hi, run


def _bulk_copy(
    mem: Memory, iov: int, count: int, addrs: list[int], lengths: list[int], buf: int, to_vectors: bool
) -> bool:
    """The memcpy calls of iov_from_buf_full (``to_vectors``) or iov_to_buf_full, done in a
    loop of slice copies, when none can fault or overlap and none writes what the walk still
    loads (the array); False (nothing done) otherwise."""
    total = sum(lengths)
    flat = mem._holding(buf)
    if flat is None or buf + total > flat[1]:
        return False
    if not to_vectors and buf < iov + IOVEC_SIZE * count and iov < buf + total:
        return False  # the copies would write the array the walk still loads
    region = _one_region(mem, addrs, lengths)
    if region is None:
        return _copy_pieces(mem, iov, addrs, lengths, flat, buf, to_vectors)
    span, lo, hi, run = region
    if lo < buf + total and buf < hi:
        return False  # some piece may overlap its part of buf: memcpy's checks decide
    if to_vectors and lo < iov + IOVEC_SIZE * count and iov < hi:
        return False
    v0, _, vview = span
    pos = buf - flat[0]
    fview = flat[2]
    if run:  # one memcpy's worth: nothing overlaps, so the bytes end the same
        a = lo - v0
        if to_vectors:
            vview[a : a + total] = fview[pos : pos + total]
        else:
            fview[pos : pos + total] = vview[a : a + total]
        return True
    if to_vectors:
        for a, n in zip(addrs, lengths, strict=True):
            a -= v0
            vview[a : a + n] = fview[pos : pos + n]
            pos += n
    else:
        for a, n in zip(addrs, lengths, strict=True):
            a -= v0
            fview[pos : pos + n] = vview[a : a + n]
            pos += n
    return True


def _copy_pieces(
    mem: Memory, iov: int, addrs: list[int], lengths: list[int], flat: Span, buf: int, to_vectors: bool
) -> bool:
    """:func:`_bulk_copy` for pieces in several regions (entries in separate buffers, as
    ``pyimpl.sg`` maps them): each piece a view of its region (:meth:`Memory.pieces`), used
    when ``buf``'s region holds no piece (so no memcpy overlaps) and, where the pieces are
    written, the array's region holds none (the walk loads what it loaded).  The copies run
    in the loop's order, so pieces that alias each other end as C leaves them."""
    found = mem.pieces(addrs, lengths)
    if found is None:
        return False
    views, regions = found
    if flat[0] in regions:
        return False
    if to_vectors:
        array = mem._holding(iov)
        if array is not None and array[0] in regions:
            return False
    pos = buf - flat[0]
    fview = flat[2]
    if to_vectors:
        for view, n in zip(views, lengths, strict=True):
            view[:] = fview[pos : pos + n]
            pos += n
    else:
        for view, n in zip(views, lengths, strict=True):
            fview[pos : pos + n] = view
            pos += n
    return True


@cfunction
def iov_from_buf_full(mem: Memory, iov: int, iov_cnt: int, offset: int, buf: int, bytes_: int) -> int:
    """iov.c:25 — copy ``bytes_`` from ``buf`` into the vectors, starting ``offset`` in."""
    done = 0
    i = 0
    words, k = mem.iovecs(iov, iov_cnt)
    addrs, lengths = _pieces(words, k, iov_cnt, offset, bytes_)
    if addrs and _bulk_copy(mem, iov, iov_cnt, addrs, lengths, buf, to_vectors=True):
        _assert(True, "offset == 0", "iov_from_buf_full", 40)
        return sum(lengths)
    d_lo, d_hi, s_lo, s_hi = 1, 0, 1, 0  # empty: no address is in them, not even NULL
    d_view = s_view = _NO_VIEW
    while (offset or done < bytes_) and i < iov_cnt:
        length_i = words[2 * i + 1] if i < k else _len(mem, _at(iov, i))
        if offset < length_i:
            length = length_i - offset  # MIN(iov[i].iov_len - offset, bytes - done)
            if length > bytes_ - done:
                length = bytes_ - done
            dst = ((words[2 * i] if i < k else _base(mem, _at(iov, i))) + offset) & SIZE_MAX
            src = (buf + done) & SIZE_MAX
            if (
                d_lo <= dst
                and dst + length <= d_hi
                and s_lo <= src
                and src + length <= s_hi
                and (dst + length <= src or src + length <= dst)
            ):
                d_view[dst - d_lo : dst - d_lo + length] = s_view[src - s_lo : src - s_lo + length]
            else:
                memcpy(mem, dst, src, length)
                (s_lo, s_hi, s_view), (d_lo, d_hi, d_view) = mem._hit_src, mem._hit_dst
            done += length
            offset = 0
        else:
            offset -= length_i
        i += 1
    _assert(offset == 0, "offset == 0", "iov_from_buf_full", 40)
    return done


@cfunction
def iov_to_buf_full(mem: Memory, iov: int, iov_cnt: int, offset: int, buf: int, bytes_: int) -> int:
    """iov.c:44 — copy up to ``bytes_`` from the vectors, starting ``offset`` in, into ``buf``."""
    done = 0
    i = 0
    words, k = mem.iovecs(iov, iov_cnt)
    addrs, lengths = _pieces(words, k, iov_cnt, offset, bytes_)
    if addrs and _bulk_copy(mem, iov, iov_cnt, addrs, lengths, buf, to_vectors=False):
        _assert(True, "offset == 0", "iov_to_buf_full", 59)
        return sum(lengths)
    d_lo, d_hi, s_lo, s_hi = 1, 0, 1, 0  # empty: no address is in them, not even NULL
    d_view = s_view = _NO_VIEW
    while (offset or done < bytes_) and i < iov_cnt:
        length_i = words[2 * i + 1] if i < k else _len(mem, _at(iov, i))
        if offset < length_i:
            length = length_i - offset  # MIN(iov[i].iov_len - offset, bytes - done)
            if length > bytes_ - done:
                length = bytes_ - done
            dst = (buf + done) & SIZE_MAX
            src = ((words[2 * i] if i < k else _base(mem, _at(iov, i))) + offset) & SIZE_MAX
            if (
                d_lo <= dst
                and dst + length <= d_hi
                and s_lo <= src
                and src + length <= s_hi
                and (dst + length <= src or src + length <= dst)
            ):
                d_view[dst - d_lo : dst - d_lo + length] = s_view[src - s_lo : src - s_lo + length]
            else:
                memcpy(mem, dst, src, length)
                (s_lo, s_hi, s_view), (d_lo, d_hi, d_view) = mem._hit_src, mem._hit_dst
            done += length
            offset = 0
        else:
            offset -= length_i
        i += 1
    _assert(offset == 0, "offset == 0", "iov_to_buf_full", 59)
    return done


@cfunction
def iov_memset(mem: Memory, iov: int, iov_cnt: int, offset: int, fillc: int, bytes_: int) -> int:
    """iov.c:63 — fill up to ``bytes_`` of the vectors with ``fillc``, starting ``offset`` in."""
    done = 0
    i = 0
    words, k = mem.iovecs(iov, iov_cnt)
    addrs, lengths = _pieces(words, k, iov_cnt, offset, bytes_)
    region = _one_region(mem, addrs, lengths) if addrs else None
    if region is not None and (region[2] <= iov or iov + IOVEC_SIZE * iov_cnt <= region[1]):
        (v0, _, view), lo, hi, run = region  # no piece faults, none lies over the array
        if run:  # one fill of the whole run, a chunk at a time
            addrs = list(range(lo, hi, CHUNK))
            lengths = [min(CHUNK, hi - a) for a in addrs]
        if max(lengths) <= CHUNK:
            pattern = bytes([fillc & 0xFF]) * max(lengths)
            for a, n in zip(addrs, lengths, strict=True):
                a -= v0
                view[a : a + n] = pattern[:n]
            _assert(True, "offset == 0", "iov_memset", 78)
            return sum(lengths)
    elif addrs and max(lengths) <= CHUNK and _fill_pieces(mem, iov, addrs, lengths, fillc):
        _assert(True, "offset == 0", "iov_memset", 78)
        return sum(lengths)
    d_lo, d_hi = 1, 0  # empty: no address is in it, not even NULL
    d_view = fill = _NO_VIEW  # fill: (unsigned char) fillc, as many as a fast memset needs
    while (offset or done < bytes_) and i < iov_cnt:
        length_i = words[2 * i + 1] if i < k else _len(mem, _at(iov, i))
        if offset < length_i:
            length = length_i - offset  # MIN(iov[i].iov_len - offset, bytes - done)
            if length > bytes_ - done:
                length = bytes_ - done
            dst = ((words[2 * i] if i < k else _base(mem, _at(iov, i))) + offset) & SIZE_MAX
            if d_lo <= dst and dst + length <= d_hi and length <= len(fill):
                d_view[dst - d_lo : dst - d_lo + length] = fill[:length]
            else:
                memset(mem, dst, fillc, length)
                d_lo, d_hi, d_view = mem._hit_view
                if not len(fill):
                    fill = memoryview(bytes([fillc & 0xFF]) * min(CHUNK, bytes_ - done))
            done += length
            offset = 0
        else:
            offset -= length_i
        i += 1
    _assert(offset == 0, "offset == 0", "iov_memset", 78)
    return done


def _fill_pieces(mem: Memory, iov: int, addrs: list[int], lengths: list[int], fillc: int) -> bool:
    """The memsets of iov_memset for pieces in several regions, each at most CHUNK bytes
    (:func:`_copy_pieces`' way): done when the array's region holds no piece."""
    found = mem.pieces(addrs, lengths)
    if found is None:
        return False
    views, regions = found
    array = mem._holding(iov)
    if array is not None and array[0] in regions:
        return False
    pattern = memoryview(bytes([fillc & 0xFF]) * max(lengths))
    for view, n in zip(views, lengths, strict=True):
        view[:] = pattern[:n]
    return True


@cfunction
def iov_size(mem: Memory, iov: int, iov_cnt: int) -> int:
    """iov.c:82 — the sum of the lengths, modulo 2**64."""
    words, k = mem.iovecs(iov, iov_cnt)  # the lengths in the array's region, loaded at once
    length = size_t(sum(words[1 : 2 * k : 2].tolist()))
    for i in range(k, iov_cnt):
        length = size_t(length + _len(mem, _at(iov, i)))
    return length


@cfunction
def do_send_recv(mem: Memory, sockfd: int, iov: int, iov_cnt: int, do_send: bool) -> int:
    """iov.c:96 — one ``sendmsg``/``recvmsg`` over the vectors (EINTR is retried, as in C)."""
    return _transfer(mem, sockfd, 0, iov, iov_cnt, do_send)


def _transfer(mem: Memory, sockfd: int, flags: int, iov: int, iov_cnt: int, do_send: bool) -> int:
    """The body of ``do_send_recv`` (v9.2 passes ``flags`` to sendmsg/recvmsg; earlier, 0).

    The descriptor is looked up first, as the kernel does before it reads the
    iovecs: a negative one fails with EBADF (``socket.socket`` would raise
    ValueError instead) and a non-socket with ENOTSOCK.
    """
    if sockfd < 0:
        mem.errno = _errno.EBADF
        return -1
    try:
        blocking = os.get_blocking(sockfd)
        sock = socket.socket(fileno=sockfd)
        # the call as the kernel makes it: the descriptor's own mode, no Python timeout (a
        # socket object made from an fd takes socket.getdefaulttimeout(), and with it
        # O_NONBLOCK, which setblocking gives back)
        sock.setblocking(blocking)
    except OSError as exc:
        mem.errno = exc.errno or _errno.EBADF
        return -1
    try:
        buffers = [mem.view(_base(mem, _at(iov, i)), _len(mem, _at(iov, i))) for i in range(iov_cnt)]
        if do_send:
            return sock.sendmsg(buffers, [], flags)
        return sock.recvmsg_into(buffers, 0, flags)[0]
    except OSError as exc:  # Python retries EINTR itself (PEP 475), like the C loop
        mem.errno = exc.errno or 0
        return -1
    finally:
        sock.detach()


@cfunction
def iov_send_recv(
    mem: Memory, sockfd: int, _iov: int, iov_cnt: int, offset: int, bytes_: int, do_send: bool
) -> int:
    """iov.c:139 — send or receive ``bytes_`` from ``offset``, looping over partial transfers."""
    return _send_recv(
        mem, "iov_send_recv", (167, 186, 187, 202), sockfd, 0, _iov, iov_cnt, offset, bytes_, do_send
    )


@cfunction
def iov_send_recv_with_flags(
    mem: Memory, sockfd: int, sockflags: int, _iov: int, iov_cnt: int, offset: int, bytes_: int, do_send: bool
) -> int:
    """iov.c:154 (v9.2+) — :func:`iov_send_recv` with ``sockflags`` for every sendmsg/recvmsg."""
    lines = SHARED_ASSERT_LINES["iov_send_recv_with_flags"]
    return _send_recv(
        mem, "iov_send_recv_with_flags", lines, sockfd, sockflags, _iov, iov_cnt, offset, bytes_, do_send
    )


def _send_recv(
    mem: Memory,
    func: str,
    lines: tuple[int, ...],
    sockfd: int,
    sockflags: int,
    _iov: int,
    iov_cnt: int,
    offset: int,
    bytes_: int,
    do_send: bool,
) -> int:
    """The loop of ``iov_send_recv`` (v9.2 moved it into ``iov_send_recv_with_flags``): the asserts
    are those of ``func``, at ``lines``."""
    total = 0
    if bytes_ <= 0:
        return 0
    local_iov = g_new(mem, IOVEC_SIZE, iov_cnt, zero=True)
    iov_copy(mem, local_iov, iov_cnt, _iov, iov_cnt, offset, bytes_)
    offset = 0
    iov = local_iov
    while bytes_ > 0:
        niov = 0
        while niov < iov_cnt and offset >= _len(mem, _at(iov, niov)):
            offset -= _len(mem, _at(iov, niov))
            niov += 1
        _assert(niov < iov_cnt, "niov < iov_cnt", func, lines[0])
        iov = _at(iov, niov)
        iov_cnt -= niov
        if offset:
            _set_base(mem, iov, size_t(_base(mem, iov) + offset))
            _set_len(mem, iov, size_t(_len(mem, iov) - offset))
        tail = bytes_
        niov = 0
        while niov < iov_cnt and _len(mem, _at(iov, niov)) <= tail:
            tail -= _len(mem, _at(iov, niov))
            niov += 1
        if tail:
            _assert(niov < iov_cnt, "niov < iov_cnt", func, lines[1])
            _assert(_len(mem, _at(iov, niov)) > tail, "iov[niov].iov_len > tail", func, lines[2])
            orig_len = _len(mem, _at(iov, niov))
            _set_len(mem, _at(iov, niov), tail)
            niov += 1
            ret = _transfer(mem, sockfd, sockflags, iov, niov, do_send)
            _set_len(mem, _at(iov, niov - 1), orig_len)
        else:
            ret = _transfer(mem, sockfd, sockflags, iov, niov, do_send)
        if offset:
            _set_base(mem, iov, size_t(_base(mem, iov) - offset))
            _set_len(mem, iov, size_t(_len(mem, iov) + offset))
        if ret < 0:
            _assert(mem.errno != _errno.EINTR, "errno != EINTR", func, lines[3])
            mem.g_free(local_iov)
            if mem.errno == _errno.EAGAIN and total > 0:
                return total
            return -1
        if ret == 0 and not do_send:
            break
        offset = size_t(offset + ret)
        total = ssize_t(total + ret)
        bytes_ = size_t(bytes_ - ret)
    mem.g_free(local_iov)
    return total


@cfunction
def iov_hexdump(mem: Memory, iov: int, iov_cnt: int, fp: TextIO, prefix: str, limit: int) -> None:
    """iov.c:227 — hexdump the first ``limit`` bytes of the vectors to ``fp``."""
    size = 0
    for v in range(iov_cnt):
        size = size_t(size + _len(mem, _at(iov, v)))
    size = limit if size > limit else size
    buf = mem.g_malloc(size)
    iov_to_buf(mem, iov, iov_cnt, 0, buf, size)
    qemu_hexdump(mem, fp, prefix, buf, size)
    mem.g_free(buf)


@cfunction
def iov_copy(
    mem: Memory, dst_iov: int, dst_iov_cnt: int, iov: int, iov_cnt: int, offset: int, bytes_: int
) -> int:
    """iov.c:244 — make ``dst_iov`` describe ``bytes_`` of ``iov`` from ``offset``; returns its count."""
    i = j = 0
    words, k = mem.iovecs(iov, iov_cnt)  # live views: a store to dst_iov that lands in iov shows
    dst, dk = mem.iovecs(dst_iov, dst_iov_cnt)
    while i < iov_cnt and j < dst_iov_cnt and (offset or bytes_):
        length_i = words[2 * i + 1] if i < k else _len(mem, _at(iov, i))
        if offset >= length_i:
            offset -= length_i
            i += 1
            continue
        length = min(bytes_, length_i - offset)
        base = ((words[2 * i] if i < k else _base(mem, _at(iov, i))) + offset) & SIZE_MAX
        if j < dk:
            dst[2 * j] = base
            dst[2 * j + 1] = length
        else:
            _set_base(mem, _at(dst_iov, j), base)
            _set_len(mem, _at(dst_iov, j), length)
        j += 1
        bytes_ -= length
        offset = 0
        i += 1
    _assert(offset == 0, "offset == 0", "iov_copy", 264)
    return j


# io vectors -------------------------------------------------------------------
def _niov(mem: Memory, qiov: int) -> int:
    return mem.i32(qiov + QIOV_NIOV)


def _nalloc(mem: Memory, qiov: int) -> int:
    return mem.i32(qiov + QIOV_NALLOC)


def _qiov_iov(mem: Memory, qiov: int) -> int:
    return mem.u64(qiov + QIOV_IOV)


def _qiov_size(mem: Memory, qiov: int) -> int:
    return mem.u64(qiov + QIOV_SIZE_FIELD)


@cfunction
def qemu_iovec_init(mem: Memory, qiov: int, alloc_hint: int) -> None:
    """iov.c:270 — an owned, empty vector with room for ``alloc_hint`` entries."""
    mem.set_u64(qiov + QIOV_IOV, g_new(mem, IOVEC_SIZE, alloc_hint))
    mem.set_i32(qiov + QIOV_NIOV, 0)
    mem.set_i32(qiov + QIOV_NALLOC, alloc_hint)
    mem.set_u64(qiov + QIOV_SIZE_FIELD, 0)


@cfunction
def qemu_iovec_init_external(mem: Memory, qiov: int, iov: int, niov: int) -> None:
    """iov.c:278 — a vector over the caller's array ``iov`` (nalloc -1)."""
    mem.set_u64(qiov + QIOV_IOV, iov)
    mem.set_i32(qiov + QIOV_NIOV, niov)
    mem.set_i32(qiov + QIOV_NALLOC, -1)
    mem.set_u64(qiov + QIOV_SIZE_FIELD, 0)
    for i in range(niov):
        mem.set_u64(qiov + QIOV_SIZE_FIELD, size_t(_qiov_size(mem, qiov) + _len(mem, _at(iov, i))))


@cfunction
def qemu_iovec_add(mem: Memory, qiov: int, base: int, len_: int) -> None:
    """iov.c:290 — append one entry, growing the owned array to 2*nalloc+1 when full."""
    # A field loaded again after stores to other fields loads the same, so each is loaded once,
    # unless the entry lies over the struct: then its stores may change them, and C reloads.
    nalloc = _nalloc(mem, qiov)
    _assert(nalloc != -1, "qiov->nalloc != -1", "qemu_iovec_add", 292)
    niov = _niov(mem, qiov)
    if niov == nalloc:
        nalloc = 2 * nalloc + 1
        if nalloc != int_(nalloc):
            raise UndefinedBehaviour("signed-overflow", "2 * qiov->nalloc + 1")
        mem.set_i32(qiov + QIOV_NALLOC, nalloc)
        mem.set_u64(qiov + QIOV_IOV, g_renew(mem, IOVEC_SIZE, _qiov_iov(mem, qiov), nalloc))
    entry = _at(_qiov_iov(mem, qiov), niov)
    _set_base(mem, entry, base)
    over = entry < qiov + QIOV_SIZE and qiov < entry + IOVEC_SIZE
    if over:
        entry = _at(_qiov_iov(mem, qiov), _niov(mem, qiov))
    _set_len(mem, entry, len_)
    mem.set_u64(qiov + QIOV_SIZE_FIELD, size_t(_qiov_size(mem, qiov) + len_))
    niov = (_niov(mem, qiov) if over else niov) + 1
    if niov != int_(niov):
        raise UndefinedBehaviour("signed-overflow", "++qiov->niov")
    mem.set_i32(qiov + QIOV_NIOV, niov)


@cfunction
def qemu_iovec_concat_iov(
    mem: Memory, dst: int, src_iov: int, src_cnt: int, soffset: int, sbytes: int
) -> int:
    """iov.c:314 — append entries for ``sbytes`` of ``src_iov`` from ``soffset`` to ``dst``."""
    if not sbytes:
        return 0
    _assert(_nalloc(mem, dst) != -1, "dst->nalloc != -1", "qemu_iovec_concat_iov", 324)
    i = done = 0
    while done < sbytes and i < src_cnt:
        length_i = _len(mem, _at(src_iov, i))
        if soffset < length_i:
            length = min(length_i - soffset, sbytes - done)
            qemu_iovec_add(mem, dst, size_t(_base(mem, _at(src_iov, i)) + soffset), length)
            done += length
            soffset = 0
        else:
            soffset -= length_i
        i += 1
    _assert(soffset == 0, "soffset == 0", "qemu_iovec_concat_iov", 335)
    return done


@cfunction
def qemu_iovec_concat(mem: Memory, dst: int, src: int, soffset: int, sbytes: int) -> None:
    """iov.c:350 — :func:`qemu_iovec_concat_iov` with ``src``'s own vectors."""
    qemu_iovec_concat_iov(mem, dst, _qiov_iov(mem, src), unsigned(_niov(mem, src)), soffset, sbytes)


@cfunction
def iov_skip_offset(mem: Memory, iov: int, offset: int) -> tuple[int, int]:
    """iov.c:363 — the entry holding byte ``offset``; returns (iov, *remaining_offset)."""
    while offset > 0 and offset >= _len(mem, iov):
        offset -= _len(mem, iov)
        iov = _at(iov, 1)
    return iov, offset


@cfunction
def qiov_slice(mem: Memory, qiov: int, offset: int, len_: int) -> tuple[int, int, int, int]:
    """iov.c:382 — the entries spanning [offset, offset+len); returns (iov, *head, *tail, *niov)."""
    return _slice(mem, "qiov_slice", SHARED_ASSERT_LINES["qiov_slice"], qiov, offset, len_)


@cfunction
def qemu_iovec_slice(mem: Memory, qiov: int, offset: int, len_: int) -> tuple[int, int, int, int]:
    """iov.c:387 (v8.1+) — :func:`qiov_slice`, made public under this name."""
    return _slice(mem, "qemu_iovec_slice", SHARED_ASSERT_LINES["qemu_iovec_slice"], qiov, offset, len_)


def _slice(
    mem: Memory, func: str, lines: tuple[int, ...], qiov: int, offset: int, len_: int
) -> tuple[int, int, int, int]:
    """The body of ``qiov_slice`` (``qemu_iovec_slice`` from v8.1): asserts of ``func`` at ``lines``."""
    # size_t arithmetic: a sum that wraps slips past the assert (defined in C); the walk
    # that follows leaves the array or not, and the memory model sees which
    _assert(size_t(offset + len_) <= _qiov_size(mem, qiov), "offset + len <= qiov->size", func, lines[0])
    iov, head = iov_skip_offset(mem, _qiov_iov(mem, qiov), offset)
    end_iov, tail = iov_skip_offset(mem, iov, size_t(head + len_))
    if tail > 0:
        _assert(tail < _len(mem, end_iov), "*tail < end_iov->iov_len", func, lines[1])
        tail = _len(mem, end_iov) - tail
        end_iov = _at(end_iov, 1)
    niov = int_((end_iov - iov) // IOVEC_SIZE)
    return iov, head, tail, niov


@cfunction
def qemu_iovec_subvec_niov(mem: Memory, qiov: int, offset: int, len_: int) -> int:
    """iov.c:404 — how many entries [offset, offset+len) spans."""
    return qiov_slice(mem, qiov, offset, len_)[3]


@cfunction
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
) -> int:
    """iov.c:418 — head buffer + a slice of ``mid_qiov`` + tail buffer, as a new vector."""
    mid_niov = 0
    mid_iov = mid_head = mid_tail = 0
    _assert(_niov(mem, mid_qiov) <= IOV_MAX, "mid_qiov->niov <= IOV_MAX", "qemu_iovec_init_extended", 428)
    if SIZE_MAX - head_len < mid_len or SIZE_MAX - head_len - mid_len < tail_len:
        return -EINVAL
    if mid_len:
        mid_iov, mid_head, mid_tail, mid_niov = qiov_slice(mem, mid_qiov, mid_offset, mid_len)
    total_niov = (1 if head_len else 0) + mid_niov + (1 if tail_len else 0)
    if total_niov > IOV_MAX:
        return -EINVAL
    if total_niov == 1:
        qemu_iovec_init_buf(mem, qiov, 0, 0)
        p = qiov + QIOV_LOCAL_IOV
    else:
        mem.set_i32(qiov + QIOV_NALLOC, total_niov)
        mem.set_i32(qiov + QIOV_NIOV, total_niov)
        mem.set_u64(qiov + QIOV_SIZE_FIELD, head_len + mid_len + tail_len)
        p = g_new(mem, IOVEC_SIZE, total_niov)
        mem.set_u64(qiov + QIOV_IOV, p)
    if head_len:
        _set_base(mem, p, head_buf)
        _set_len(mem, p, head_len)
        p = _at(p, 1)
    _assert((mid_niov == 0) == (mid_len == 0), "!mid_niov == !mid_len", "qemu_iovec_init_extended", 461)
    if mid_niov:
        memcpy(mem, p, mid_iov, size_t(mid_niov * IOVEC_SIZE))
        _set_base(mem, p, size_t(_base(mem, p) + mid_head))
        _set_len(mem, p, size_t(_len(mem, p) - mid_head))
        last = _at(p, mid_niov - 1)
        _set_len(mem, last, size_t(_len(mem, last) - mid_tail))
        p = _at(p, mid_niov)
    if tail_len:
        _set_base(mem, p, tail_buf)
        _set_len(mem, p, tail_len)
    return 0


@cfunction
def qemu_iovec_is_zero(mem: Memory, qiov: int, offset: int, bytes_: int) -> bool:
    """iov.c:481 — whether [offset, offset+bytes) of the vector is all zero bytes."""
    _assert(
        size_t(offset + bytes_) <= _qiov_size(mem, qiov),
        "offset + bytes <= qiov->size",
        "qemu_iovec_is_zero",
        486,
    )
    iov, current_offset = iov_skip_offset(mem, _qiov_iov(mem, qiov), offset)
    words, k = mem.iovecs(iov, SIZE_MAX)  # the walk is bounded by bytes, not by niov
    k = min(k, _PIECES_MAX)
    addrs, lengths = _pieces(words, k, k + 1, current_offset, bytes_)  # it may go on past k
    region = _one_region(mem, addrs, lengths) if addrs else None
    if region is not None:  # no piece faults: the first nonzero one decides, as in the loop
        (v0, _, view), lo, hi, run = region
        if run:  # the whole run at once, a chunk of zeros at a time
            addrs = list(range(lo, hi, ZEROS_SIZE))
            lengths = [min(ZEROS_SIZE, hi - a) for a in addrs]
        if max(lengths) <= ZEROS_SIZE:
            pieces = zip(addrs, lengths, strict=True)
            return all(ZEROS.startswith(view[a - v0 : a - v0 + n]) for a, n in pieces)
    elif addrs and max(lengths) <= ZEROS_SIZE:  # in several regions: none faults, as above
        found = mem.pieces(addrs, lengths)
        if found is not None:
            return all(map(ZEROS.startswith, found[0]))
    lo, hi, view = 1, 0, _NO_VIEW
    j = 0
    while bytes_:
        if j < k:
            base, length = words[2 * j], words[2 * j + 1]
        else:
            at = _at(iov, j)
            base = _base(mem, at)
            length = _len(mem, at)
        base = (base + current_offset) & SIZE_MAX
        length = min((length - current_offset) & SIZE_MAX, bytes_)
        if lo <= base and base + length <= hi and length <= ZEROS_SIZE:
            if not ZEROS.startswith(view[base - lo : base - lo + length]):
                return False
        elif not buffer_is_zero(mem, base, length):
            return False
        elif length:
            lo, hi, view = mem._hit_view
        current_offset = 0
        bytes_ -= length
        j += 1
    return True


@cfunction
def qemu_iovec_init_slice(mem: Memory, qiov: int, source: int, offset: int, len_: int) -> None:
    """iov.c:506 — a new vector over [offset, offset+len) of ``source``."""
    _assert(_qiov_size(mem, source) >= len_, "source->size >= len", "qemu_iovec_init_slice", 511)
    _assert(
        _qiov_size(mem, source) - len_ >= offset, "source->size - len >= offset", "qemu_iovec_init_slice", 512
    )
    ret = qemu_iovec_init_extended(mem, qiov, 0, 0, source, offset, len_, 0, 0)
    _assert(ret == 0, "ret == 0", "qemu_iovec_init_slice", 516)


@cfunction
def qemu_iovec_destroy(mem: Memory, qiov: int) -> None:
    """iov.c:519 — free an owned array and zero the whole struct."""
    if _nalloc(mem, qiov) != -1:
        mem.g_free(_qiov_iov(mem, qiov))
    memset(mem, qiov, 0, QIOV_SIZE)


@cfunction
def qemu_iovec_reset(mem: Memory, qiov: int) -> None:
    """iov.c:528 — forget the entries of an owned vector, keeping its array."""
    _assert(_nalloc(mem, qiov) != -1, "qiov->nalloc != -1", "qemu_iovec_reset", 530)
    mem.set_i32(qiov + QIOV_NIOV, 0)
    mem.set_u64(qiov + QIOV_SIZE_FIELD, 0)


@cfunction
def qemu_iovec_to_buf(mem: Memory, qiov: int, offset: int, buf: int, bytes_: int) -> int:
    """iov.c:536 — :func:`iov_to_buf` over the vector's entries."""
    return iov_to_buf(mem, _qiov_iov(mem, qiov), unsigned(_niov(mem, qiov)), offset, buf, bytes_)


@cfunction
def qemu_iovec_from_buf(mem: Memory, qiov: int, offset: int, buf: int, bytes_: int) -> int:
    """iov.c:542 — :func:`iov_from_buf` over the vector's entries."""
    return iov_from_buf(mem, _qiov_iov(mem, qiov), unsigned(_niov(mem, qiov)), offset, buf, bytes_)


@cfunction
def qemu_iovec_memset(mem: Memory, qiov: int, offset: int, fillc: int, bytes_: int) -> int:
    """iov.c:548 — :func:`iov_memset` over the vector's entries."""
    return iov_memset(mem, _qiov_iov(mem, qiov), unsigned(_niov(mem, qiov)), offset, fillc, bytes_)


@cfunction
def qemu_iovec_compare(mem: Memory, a: int, b: int) -> int:
    """iov.c:564 — offset of the first differing byte of two same-shaped vectors, or -1."""
    offset = 0
    _assert(_niov(mem, a) == _niov(mem, b), "a->niov == b->niov", "qemu_iovec_compare", 569)
    # nothing is stored, so a->niov, a->iov and b->iov load the same each time round: once here
    # (a->iov and b->iov only if the loop runs, as C loads them only inside it)
    niov = _niov(mem, a)
    if niov <= 0:
        return -1
    a_iov, b_iov = _qiov_iov(mem, a), _qiov_iov(mem, b)
    wa, ka = mem.iovecs(a_iov, niov)
    wb, kb = mem.iovecs(b_iov, niov)
    if ka == niov and kb == niov and _equal_runs(mem, wa, wb, niov):
        hook = assert_hook()
        if hook is not None:  # each entry's assert, evaluated and holding
            for _ in range(niov):
                hook("qemu_iovec_compare", "a->iov[i].iov_len == b->iov[i].iov_len", 575, True)
        return -1
    a_lo, a_hi, a_view, b_lo, b_hi, b_view = 1, 0, _NO_VIEW, 1, 0, _NO_VIEW
    i = 0
    while i < niov:
        a_len = wa[2 * i + 1] if i < ka else _len(mem, _at(a_iov, i))
        b_len = wb[2 * i + 1] if i < kb else _len(mem, _at(b_iov, i))
        _assert(a_len == b_len, "a->iov[i].iov_len == b->iov[i].iov_len", "qemu_iovec_compare", 575)
        pa = wa[2 * i] if i < ka else _base(mem, _at(a_iov, i))
        pb = wb[2 * i] if i < kb else _base(mem, _at(b_iov, i))
        if not (a_lo <= pa and pa + a_len <= a_hi):  # remember the regions the bytes lie in
            a_lo, a_hi, a_view = mem._holding(pa) or (1, 0, _NO_VIEW)
        if not (b_lo <= pb and pb + a_len <= b_hi):
            b_lo, b_hi, b_view = mem._holding(pb) or (1, 0, _NO_VIEW)
        if (
            a_len <= CHUNK
            and a_lo <= pa
            and pa + a_len <= a_hi
            and b_lo <= pb
            and pb + a_len <= b_hi
            and equal(a_view[pa - a_lo : pa - a_lo + a_len], b_view[pb - b_lo : pb - b_lo + a_len])
        ):
            length = a_len  # the byte loop runs to the end
        else:
            length = first_difference(mem, pa, pb, a_len)
        offset = ssize_t(offset + length)
        if length != a_len:
            return offset
        i += 1
    return -1


def _equal_runs(mem: Memory, wa: memoryview, wb: memoryview, niov: int) -> bool:
    """Whether the compare loop would run to its end without a fault or a failed assert: the
    same lengths, each side's bytes one run in one region, and the runs equal (compared a
    chunk at a time).  False says nothing: the loop then does it entry by entry."""
    lens = wa[1 : 2 * niov : 2].tolist()
    if lens != wb[1 : 2 * niov : 2].tolist():
        return False
    total = sum(lens)
    pa, la = _pieces(wa, niov, niov, 0, total)
    pb, lb = _pieces(wb, niov, niov, 0, total)
    ra = _one_region(mem, pa, la) if pa else None
    rb = _one_region(mem, pb, lb) if pb else None
    if ra is None or rb is None or not (ra[3] and rb[3]):
        return False
    (a0, _, va), (b0, _, vb) = ra[0], rb[0]
    a, b = ra[1] - a0, rb[1] - b0
    return all(
        equal(va[a + off : a + min(off + CHUNK, total)], vb[b + off : b + min(off + CHUNK, total)])
        for off in range(0, total, CHUNK)
    )


@cfunction
def sortelem_cmp_src_base(mem: Memory, a: int, b: int) -> int:
    """iov.c:595 — qsort comparator: order sort elements by their source base address."""
    base_a = _base(mem, mem.u64(a + SORTELEM_SRC_IOV))
    base_b = _base(mem, mem.u64(b + SORTELEM_SRC_IOV))
    if base_a < base_b:
        return -1
    if base_a > base_b:
        return 1
    return 0


@cfunction
def sortelem_cmp_src_index(mem: Memory, a: int, b: int) -> int:
    """iov.c:610 — qsort comparator: order sort elements by their source index."""
    diff = mem.i32(a + SORTELEM_INDEX) - mem.i32(b + SORTELEM_INDEX)
    if diff != int_(diff):
        raise UndefinedBehaviour("signed-overflow", "elem_a->src_index - elem_b->src_index")
    return diff


def _qsort(mem: Memory, base: int, nmemb: int, compar: str) -> None:
    """glibc ``qsort`` of ``nmemb`` sort elements with one of the two comparators.

    Both comparators give a total order up to elements that compare equal, and
    equal source bases get equal destinations, so the order among equals (which
    glibc does not promise) cannot change the result.
    """
    cmp = sortelem_cmp_src_base if compar == "base" else sortelem_cmp_src_index
    addrs = [base + k * SORTELEM_SIZE for k in range(nmemb)]
    records = [mem.read(a, SORTELEM_SIZE) for a in addrs]

    def compare(x: int, y: int) -> int:
        return cmp(mem, addrs[x], addrs[y])

    order = sorted(range(nmemb), key=functools.cmp_to_key(compare))
    for slot, k in enumerate(order):
        mem.write(addrs[slot], records[k])


@cfunction
def qemu_iovec_clone(mem: Memory, dest: int, src: int, buf: int) -> None:
    """iov.c:624 — add to ``dest`` entries over ``buf`` laid out like ``src``, overlaps kept."""
    n = _niov(mem, src)
    if n <= 0:
        raise UndefinedBehaviour("zero-length-vla", f"IOVectorSortElem sortelems[{n}]")
    if n * SORTELEM_SIZE > STACK_LIMIT:
        raise UndefinedBehaviour("stack-overflow", f"IOVectorSortElem sortelems[{n}] on an 8 MiB stack")
    sortelems = mem.stack_alloc(n * SORTELEM_SIZE)
    try:
        plan = _plain_clone(mem, dest, src, n)
        if plan is not None:
            _clone_plainly(mem, dest, src, buf, n, plan)
            return
        i = 0
        while i < _niov(mem, src):
            elem = _elem(mem, sortelems, n, i)
            mem.set_i32(elem + SORTELEM_INDEX, i)
            mem.set_u64(elem + SORTELEM_SRC_IOV, _at(_qiov_iov(mem, src), i))
            i += 1
        _qsort(mem, sortelems, unsigned(_niov(mem, src)), "base")
        last_end = 0
        i = 0
        while i < _niov(mem, src):
            elem = _elem(mem, sortelems, n, i)
            cur = mem.u64(elem + SORTELEM_SRC_IOV)
            cur_base, cur_len = _base(mem, cur), _len(mem, cur)
            rewind = 0
            if last_end and last_end > cur_base:
                rewind = ssize_t(last_end - cur_base)
            mem.set_u64(elem + SORTELEM_DEST_BASE, size_t(buf - rewind))
            buf = size_t(buf + cur_len - min(size_t(rewind), cur_len))
            last_end = max(size_t(cur_base + cur_len), last_end)
            i += 1
        _qsort(mem, sortelems, unsigned(_niov(mem, src)), "index")
        i = 0
        while i < _niov(mem, src):
            elem = _elem(mem, sortelems, n, i)
            length = _len(mem, _at(_qiov_iov(mem, src), i))
            qemu_iovec_add(mem, dest, mem.u64(elem + SORTELEM_DEST_BASE), length)
            i += 1
    finally:
        mem.unmap(sortelems)


def _elem(mem: Memory, sortelems: int, n: int, i: int) -> int:
    """``&sortelems[i]``; past the VLA (src->niov grew under us) is out of bounds."""
    if not 0 <= i < n:
        raise UndefinedBehaviour("out-of-bounds", f"sortelems[{i}] of {n}")
    return sortelems + i * SORTELEM_SIZE


# qemu_iovec_clone without a Python step per load: when nothing the clone stores can reach what
# it reads (the usual case), every load of src gives what it gave first, the sort elements live
# only on the stack, and the n qemu_iovec_add calls make the same g_renew calls in the same order
# and leave the same bytes; so the loops run over lists and the adds land in one go.  Anything
# else takes the loops above, load by load.
_Growth = tuple[int, int, int, int, tuple[int, ...]]  # niov, nalloc, iov, entries in place, renews


def _whole(mem: Memory, addr: int, size: int) -> bool:
    """Whether the ``size`` bytes at ``addr`` lie in one live region (no load of them is UB)."""
    span = mem._holding(addr)
    return span is not None and addr + size <= span[1]


def _plain_clone(mem: Memory, dest: int, src: int, n: int) -> _Growth | None:
    """How n adds to ``dest`` would grow it, if the clone of ``src`` into it is plain; else None.

    Plain: both structs and src's n entries are whole (no load the clone makes is UB), and no
    store of the adds lands on src's struct or entries (which loops 2 and 3 read again)."""
    if n <= 0 or not NATIVE_WORDS or not (_whole(mem, src, QIOV_SIZE) and _whole(mem, dest, QIOV_SIZE)):
        return None
    src_iov = _qiov_iov(mem, src)
    if not _whole(mem, src_iov, n * IOVEC_SIZE):
        return None  # the loads past the array meet their UB in the loops
    keep = ((src, src + QIOV_SIZE), (src_iov, src_iov + n * IOVEC_SIZE))
    for lo, hi in keep:  # the adds store into dest's fields
        if dest < hi and lo < dest + QIOV_SIZE:
            return None
    return _growth(mem, dest, n, keep)


def _growth(mem: Memory, qiov: int, adds: int, keep: tuple[tuple[int, int], ...]) -> _Growth | None:
    """What ``adds`` qemu_iovec_add calls on ``qiov`` would do, when they can land in one go:
    (niov, nalloc, iov, how many entries go in place, the nalloc of each g_renew); None when an
    add would assert, overflow, abort, free something that is not a heap block, or store over
    the struct or what ``keep`` spans (the caller then adds one by one)."""
    nalloc, niov, iov = _nalloc(mem, qiov), _niov(mem, qiov), _qiov_iov(mem, qiov)  # whole: no UB
    if nalloc == -1 or not 0 <= niov <= nalloc or niov + adds > INT_MAX:
        return None
    in_place = min(adds, nalloc - niov)
    at = (iov + niov * IOVEC_SIZE) & SIZE_MAX
    end = at + in_place * IOVEC_SIZE
    if in_place:
        span = mem._holding(at)
        if span is None or end > span[1]:
            return None
        for lo, hi in ((qiov, qiov + QIOV_SIZE), *keep):
            if at < hi and lo < end:
                return None
    renews: list[int] = []
    count, cap = niov + in_place, nalloc
    while count < niov + adds:
        cap = 2 * cap + 1
        if cap > INT_MAX or cap * IOVEC_SIZE > MAX_HEAP_BLOCK:
            return None
        renews.append(cap)
        count = min(cap, niov + adds)
    if renews and iov:
        block = mem.heap_block(iov)
        region = mem.region_at(iov)
        if block is None or block[1] != 0 or region is None:
            return None
        # g_renew frees the old array: neither the struct nor what the caller reads may be in it
        for lo, hi in ((qiov, qiov + QIOV_SIZE), *keep):
            if lo < region.end and region.start < hi:
                return None
    return niov, nalloc, iov, in_place, tuple(renews)


def _add_all(mem: Memory, qiov: int, plan: _Growth, bases: list[int], lens: list[int]) -> None:
    """The adds of ``plan``: entries in place, then each g_renew (which carries them), then the
    rest in the last array; size and niov as the adds leave them."""
    niov, _, iov, in_place, renews = plan
    hook = assert_hook()
    if hook is not None:  # each add evaluates its assert, and it holds
        for _ in bases:
            hook("qemu_iovec_add", "qiov->nalloc != -1", 292, True)
    entries = array("Q", bytes(16 * len(bases)))
    entries[0::2] = array("Q", bases)
    entries[1::2] = array("Q", lens)
    if in_place:
        mem.write(_at(iov, niov), memoryview(entries)[: 2 * in_place].cast("B"))
    for cap in renews:
        mem.set_i32(qiov + QIOV_NALLOC, cap)
        iov = g_renew(mem, IOVEC_SIZE, iov, cap)
        mem.set_u64(qiov + QIOV_IOV, iov)
    if in_place < len(bases):
        mem.write(_at(iov, niov + in_place), memoryview(entries)[2 * in_place :].cast("B"))
    mem.set_u64(qiov + QIOV_SIZE_FIELD, size_t(_qiov_size(mem, qiov) + sum(lens)))
    mem.set_i32(qiov + QIOV_NIOV, niov + len(bases))


def _clone_plainly(mem: Memory, dest: int, src: int, buf: int, n: int, plan: _Growth) -> None:
    """The three loops and two sorts of qemu_iovec_clone over lists (see above)."""
    words, _ = mem.iovecs(_qiov_iov(mem, src), n)
    bases, lens = words[0 : 2 * n : 2].tolist(), words[1 : 2 * n : 2].tolist()
    # qsort(sortelem_cmp_src_base): the elements by source base, equals in index order
    order = sorted(range(n), key=bases.__getitem__)
    dest_bases = [0] * n
    last_end = 0
    for i in order:
        cur_base, cur_len = bases[i], lens[i]
        rewind = 0
        if last_end and last_end > cur_base:
            rewind = ssize_t(last_end - cur_base)
        dest_bases[i] = size_t(buf - rewind)
        buf = size_t(buf + cur_len - min(size_t(rewind), cur_len))
        last_end = max(size_t(cur_base + cur_len), last_end)
    # qsort(sortelem_cmp_src_index) restores index order; then one qemu_iovec_add per entry
    _add_all(mem, dest, plan, dest_bases, lens)


@cfunction
def iov_discard_undo(mem: Memory, undo: int) -> None:
    """iov.c:660 — restore the entry a discard modified, if any."""
    modified = mem.u64(undo + UNDO_MODIFIED)
    if modified:
        mem.write(modified, mem.read(undo + UNDO_ORIG, IOVEC_SIZE))


@cfunction
def iov_discard_front_undoable(mem: Memory, iov: int, iov_cnt: int, bytes_: int, undo: int) -> int:
    """iov.c:668 — drop ``bytes_`` from the front: advances ``*iov``, lowers ``*iov_cnt``."""
    total = 0
    if undo:
        mem.set_u64(undo + UNDO_MODIFIED, 0)
    cur = mem.u64(iov)
    while mem.u32(iov_cnt) > 0:
        if _len(mem, cur) > bytes_:
            if undo:
                mem.set_u64(undo + UNDO_MODIFIED, cur)
                mem.write(undo + UNDO_ORIG, mem.read(cur, IOVEC_SIZE))
            _set_base(mem, cur, size_t(_base(mem, cur) + bytes_))
            _set_len(mem, cur, _len(mem, cur) - bytes_)
            total = size_t(total + bytes_)
            break
        bytes_ -= _len(mem, cur)
        total = size_t(total + _len(mem, cur))
        mem.set_u32(iov_cnt, mem.u32(iov_cnt) - 1)
        cur = _at(cur, 1)
    mem.set_u64(iov, cur)
    return total


@cfunction
def iov_discard_front(mem: Memory, iov: int, iov_cnt: int, bytes_: int) -> int:
    """iov.c:702 — :func:`iov_discard_front_undoable` without an undo record."""
    return iov_discard_front_undoable(mem, iov, iov_cnt, bytes_, 0)


@cfunction
def iov_discard_back_undoable(mem: Memory, iov: int, iov_cnt: int, bytes_: int, undo: int) -> int:
    """iov.c:708 — drop ``bytes_`` from the back: shortens entries, lowers ``*iov_cnt``."""
    total = 0
    if undo:
        mem.set_u64(undo + UNDO_MODIFIED, 0)
    if mem.u32(iov_cnt) == 0:
        return 0
    cur = _at(iov, mem.u32(iov_cnt) - 1)
    while mem.u32(iov_cnt) > 0:
        if _len(mem, cur) > bytes_:
            if undo:
                mem.set_u64(undo + UNDO_MODIFIED, cur)
                mem.write(undo + UNDO_ORIG, mem.read(cur, IOVEC_SIZE))
            _set_len(mem, cur, _len(mem, cur) - bytes_)
            total = size_t(total + bytes_)
            break
        bytes_ -= _len(mem, cur)
        total = size_t(total + _len(mem, cur))
        cur = _at(cur, -1)
        mem.set_u32(iov_cnt, mem.u32(iov_cnt) - 1)
    return total


@cfunction
def iov_discard_back(mem: Memory, iov: int, iov_cnt: int, bytes_: int) -> int:
    """iov.c:747 — :func:`iov_discard_back_undoable` without an undo record."""
    return iov_discard_back_undoable(mem, iov, iov_cnt, bytes_, 0)


@cfunction
def qemu_iovec_discard_back(mem: Memory, qiov: int, bytes_: int) -> None:
    """iov.c:753 — drop ``bytes_`` from the end of the vector."""
    niov = mem.stack_alloc(4)
    try:
        mem.set_u32(niov, unsigned(_niov(mem, qiov)))
        _assert(_qiov_size(mem, qiov) >= bytes_, "qiov->size >= bytes", "qemu_iovec_discard_back", 758)
        total = iov_discard_back(mem, _qiov_iov(mem, qiov), niov, bytes_)
        _assert(total == bytes_, "total == bytes", "qemu_iovec_discard_back", 760)
        mem.set_i32(qiov + QIOV_NIOV, int_(mem.u32(niov)))
        mem.set_u64(qiov + QIOV_SIZE_FIELD, size_t(_qiov_size(mem, qiov) - bytes_))
    finally:
        mem.unmap(niov)


# header inlines (include/qemu/iov.h) -------------------------------------------
@cfunction
def iov_from_buf(mem: Memory, iov: int, iov_cnt: int, offset: int, buf: int, bytes_: int) -> int:
    """qemu/iov.h — :func:`iov_from_buf_full` (the constant-size fast path gives the same)."""
    return iov_from_buf_full(mem, iov, iov_cnt, offset, buf, bytes_)


@cfunction
def iov_to_buf(mem: Memory, iov: int, iov_cnt: int, offset: int, buf: int, bytes_: int) -> int:
    """qemu/iov.h — :func:`iov_to_buf_full` (the constant-size fast path gives the same)."""
    return iov_to_buf_full(mem, iov, iov_cnt, offset, buf, bytes_)


@cfunction
def iov_send(mem: Memory, sockfd: int, iov: int, iov_cnt: int, offset: int, bytes_: int) -> int:
    """qemu/iov.h — :func:`iov_send_recv` sending."""
    return iov_send_recv(mem, sockfd, iov, iov_cnt, offset, bytes_, True)


@cfunction
def iov_recv(mem: Memory, sockfd: int, iov: int, iov_cnt: int, offset: int, bytes_: int) -> int:
    """qemu/iov.h — :func:`iov_send_recv` receiving."""
    return iov_send_recv(mem, sockfd, iov, iov_cnt, offset, bytes_, False)


@cfunction
def qemu_iovec_init_buf(mem: Memory, qiov: int, buf: int, len_: int) -> None:
    """qemu/iov.h — assign the whole struct: one embedded entry {buf, len}, nalloc -1."""
    mem.write(qiov, bytes(QIOV_SIZE))
    mem.set_u64(qiov + QIOV_IOV, qiov + QIOV_LOCAL_IOV)
    mem.set_i32(qiov + QIOV_NIOV, 1)
    mem.set_i32(qiov + QIOV_NALLOC, -1)
    mem.set_u64(qiov + QIOV_LOCAL_IOV + IOV_BASE, buf)
    mem.set_u64(qiov + QIOV_LOCAL_IOV + IOV_LEN, len_)


@cfunction
def qemu_iovec_buf(mem: Memory, qiov: int) -> int:
    """qemu/iov.h — the buffer of a vector made by :func:`qemu_iovec_init_buf`."""
    if not (_nalloc(mem, qiov) == -1 and _qiov_iov(mem, qiov) == qiov + QIOV_LOCAL_IOV):
        raise CAssertionError(
            "qiov->nalloc == -1 && qiov->iov == &qiov->local_iov",
            "qemu_iovec_buf",
            QEMU_IOVEC_BUF_ASSERT_LINE,
            "iov.h",
        )
    return mem.u64(qiov + QIOV_LOCAL_IOV + IOV_BASE)
