"""The port of QEMU ``util/iov.c`` (v6.1/v6.2), one function per C function, in file order.

Every function takes the :class:`~pyimpl.memory.Memory` it works in first, then
the C arguments in C order.  Pointers are integer addresses (NULL is 0); C
integer conversions and wraparound are explicit (``size_t()``, ``unsigned()``,
``int_()``, ``ssize_t()``).  A failing ``assert`` raises :class:`CAssertionError`
at the same point as in C, after the same stores.

Read it beside iov.c: each function's docstring names its C line, and its statements follow
C's.  Where C loops over many entries, the function first lets :mod:`pyimpl.fastpaths` try the
whole walk at once, and its loop's loads, copies and fills go through that module's helpers,
which skip the memory model's lookups but do exactly what the C statement does.
"""

from __future__ import annotations

import errno as _errno
import functools
import os
import socket
from typing import TextIO

from iovspec.cint import SIZE_MAX, int_, size_t, ssize_t, unsigned
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

from . import fastpaths
from ._cfunc import cfunction
from .hooks import assert_hook
from .libc import g_new, g_renew, memcpy, memset, qemu_hexdump
from .memory import Memory

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


@cfunction
def iov_from_buf_full(mem: Memory, iov: int, iov_cnt: int, offset: int, buf: int, bytes_: int) -> int:
    """iov.c:25 — copy ``bytes_`` from ``buf`` into the vectors, starting ``offset`` in."""
    entries = fastpaths.Entries(mem, iov, iov_cnt)
    done = fastpaths.copy_walk(mem, entries, offset, buf, bytes_, to_vectors=True)
    if done is not None:
        _assert(True, "offset == 0", "iov_from_buf_full", 40)
        return done
    copy = fastpaths.Memcpy(mem)
    done = i = 0
    while (offset or done < bytes_) and i < iov_cnt:
        length_i = entries.len(i)
        if offset < length_i:
            length = min(length_i - offset, bytes_ - done)
            copy(size_t(entries.base(i) + offset), size_t(buf + done), length)
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
    entries = fastpaths.Entries(mem, iov, iov_cnt)
    done = fastpaths.copy_walk(mem, entries, offset, buf, bytes_, to_vectors=False)
    if done is not None:
        _assert(True, "offset == 0", "iov_to_buf_full", 59)
        return done
    copy = fastpaths.Memcpy(mem)
    done = i = 0
    while (offset or done < bytes_) and i < iov_cnt:
        length_i = entries.len(i)
        if offset < length_i:
            length = min(length_i - offset, bytes_ - done)
            copy(size_t(buf + done), size_t(entries.base(i) + offset), length)
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
    entries = fastpaths.Entries(mem, iov, iov_cnt)
    done = fastpaths.fill_walk(mem, entries, offset, fillc, bytes_)
    if done is not None:
        _assert(True, "offset == 0", "iov_memset", 78)
        return done
    fill = fastpaths.Memset(mem, fillc, bytes_)
    done = i = 0
    while (offset or done < bytes_) and i < iov_cnt:
        length_i = entries.len(i)
        if offset < length_i:
            length = min(length_i - offset, bytes_ - done)
            fill(size_t(entries.base(i) + offset), length)
            done += length
            offset = 0
        else:
            offset -= length_i
        i += 1
    _assert(offset == 0, "offset == 0", "iov_memset", 78)
    return done


@cfunction
def iov_size(mem: Memory, iov: int, iov_cnt: int) -> int:
    """iov.c:82 — the sum of the lengths, modulo 2**64."""
    entries = fastpaths.Entries(mem, iov, iov_cnt)
    length = entries.loaded_sum()  # the lengths in the array's region, summed at once
    for i in range(entries.k, iov_cnt):
        length = size_t(length + entries.len(i))
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
    src = fastpaths.Entries(mem, iov, iov_cnt)  # live views: a store to dst_iov that lands in iov shows
    dst = fastpaths.Entries(mem, dst_iov, dst_iov_cnt)
    i = j = 0
    while i < iov_cnt and j < dst_iov_cnt and (offset or bytes_):
        length_i = src.len(i)
        if offset >= length_i:
            offset -= length_i
            i += 1
            continue
        length = min(bytes_, length_i - offset)
        dst.set(j, size_t(src.base(i) + offset), length)
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
    # the walk is bounded by bytes, not by niov
    entries = fastpaths.Entries(mem, iov, SIZE_MAX, most=fastpaths.PIECES_MAX)
    zero = fastpaths.zero_walk(mem, entries, current_offset, bytes_)
    if zero is not None:
        return zero
    is_zero = fastpaths.ZeroCheck(mem)
    j = 0
    while bytes_:
        base = entries.base(j)
        length = entries.len(j)
        length = min(size_t(length - current_offset), bytes_)
        if not is_zero(size_t(base + current_offset), length):
            return False
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
    ea = fastpaths.Entries(mem, _qiov_iov(mem, a), niov)
    eb = fastpaths.Entries(mem, _qiov_iov(mem, b), niov)
    if ea.k == niov and eb.k == niov and fastpaths.equal_runs(mem, ea.words, eb.words, niov):
        hook = assert_hook()
        if hook is not None:  # each entry's assert, evaluated and holding
            for _ in range(niov):
                hook("qemu_iovec_compare", "a->iov[i].iov_len == b->iov[i].iov_len", 575, True)
        return -1
    equal_bytes = fastpaths.Compare(mem)
    i = 0
    while i < niov:
        a_len, b_len = ea.len(i), eb.len(i)
        _assert(a_len == b_len, "a->iov[i].iov_len == b->iov[i].iov_len", "qemu_iovec_compare", 575)
        length = equal_bytes(ea.base(i), eb.base(i), a_len)  # the byte loop: where it stops
        offset = ssize_t(offset + length)
        if length != a_len:
            return offset
        i += 1
    return -1


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
        plan = fastpaths.plain_clone(mem, dest, src, n)
        if plan is not None:
            fastpaths.clone_plainly(mem, dest, src, buf, n, plan)
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
    """qemu/iov.h:108 — :func:`iov_from_buf_full` (the constant-size fast path gives the same)."""
    return iov_from_buf_full(mem, iov, iov_cnt, offset, buf, bytes_)


@cfunction
def iov_to_buf(mem: Memory, iov: int, iov_cnt: int, offset: int, buf: int, bytes_: int) -> int:
    """qemu/iov.h:115 — :func:`iov_to_buf_full` (the constant-size fast path gives the same)."""
    return iov_to_buf_full(mem, iov, iov_cnt, offset, buf, bytes_)


@cfunction
def iov_send(mem: Memory, sockfd: int, iov: int, iov_cnt: int, offset: int, bytes_: int) -> int:
    """qemu/iov.h:122 — :func:`iov_send_recv` sending."""
    return iov_send_recv(mem, sockfd, iov, iov_cnt, offset, bytes_, True)


@cfunction
def iov_recv(mem: Memory, sockfd: int, iov: int, iov_cnt: int, offset: int, bytes_: int) -> int:
    """qemu/iov.h:129 — :func:`iov_send_recv` receiving."""
    return iov_send_recv(mem, sockfd, iov, iov_cnt, offset, bytes_, False)


@cfunction
def qemu_iovec_init_buf(mem: Memory, qiov: int, buf: int, len_: int) -> None:
    """qemu/iov.h:135 — assign the whole struct: one embedded entry {buf, len}, nalloc -1."""
    mem.write(qiov, bytes(QIOV_SIZE))
    mem.set_u64(qiov + QIOV_IOV, qiov + QIOV_LOCAL_IOV)
    mem.set_i32(qiov + QIOV_NIOV, 1)
    mem.set_i32(qiov + QIOV_NALLOC, -1)
    mem.set_u64(qiov + QIOV_LOCAL_IOV + IOV_BASE, buf)
    mem.set_u64(qiov + QIOV_LOCAL_IOV + IOV_LEN, len_)


@cfunction
def qemu_iovec_buf(mem: Memory, qiov: int) -> int:
    """qemu/iov.h:149 — the buffer of a vector made by :func:`qemu_iovec_init_buf`."""
    if not (_nalloc(mem, qiov) == -1 and _qiov_iov(mem, qiov) == qiov + QIOV_LOCAL_IOV):
        raise CAssertionError(
            "qiov->nalloc == -1 && qiov->iov == &qiov->local_iov",
            "qemu_iovec_buf",
            QEMU_IOVEC_BUF_ASSERT_LINE,
            "iov.h",
        )
    return mem.u64(qiov + QIOV_LOCAL_IOV + IOV_BASE)
