"""The port's fast paths: the effects of iov.c's loops with fewer Python steps.

:mod:`pyimpl.iov` mirrors iov.c function by function and loop by loop.  Where a loop may
walk many entries, it first asks this module whether the whole walk can be done at once
(:func:`copy_walk`, :func:`fill_walk`, :func:`zero_walk`, :func:`equal_runs`,
:func:`plain_clone`), and its steps go through helpers that remember what the previous step
used (:class:`Entries`, :class:`Memcpy`, :class:`Memset`, :class:`ZeroCheck`,
:class:`Compare`) instead of looking every address up again.

A fast path either does exactly what the loop would do (the same bytes end up in the same
places, the same value is returned) or declines and leaves everything as it was; the loop
then runs as C does, meeting any undefined behaviour where C would.  How the steps stay
exact: the entries are loaded through a live view of the array (two uint64 per entry,
:meth:`Memory.iovecs`) while they lie in its region, and past it through the memory's
loads, which raise where C's load is undefined.  A memcpy or memset whose areas lie in the
regions the previous one used is done right there; anything else (a new region, a fault,
an overlap, NULL) goes through :mod:`pyimpl.libc`, every check in C's order.
"""

from __future__ import annotations

import operator
from array import array
from bisect import bisect_left, bisect_right
from itertools import accumulate

from iovspec.cint import INT_MAX, SIZE_MAX, size_t, ssize_t
from iovspec.structs import (
    IOV_BASE,
    IOV_LEN,
    IOVEC_SIZE,
    QIOV_IOV,
    QIOV_NALLOC,
    QIOV_NIOV,
    QIOV_SIZE,
    QIOV_SIZE_FIELD,
)

from .hooks import assert_hook
from .libc import CHUNK, ZEROS, ZEROS_SIZE, buffer_is_zero, equal, first_difference, g_renew, memcpy, memset
from .memory import MAX_HEAP_BLOCK, NATIVE_WORDS, Memory, Span

_NO_VIEW = memoryview(bytearray())
#: how many entries the list-based walks look at, at most (is_zero's walk has no count)
PIECES_MAX = 4096


def element(iov: int, i: int) -> int:
    """``&iov[i]`` for a ``struct iovec *`` (pointer arithmetic wraps as the flat address space does)."""
    return (iov + i * IOVEC_SIZE) & SIZE_MAX


# -- the steps of the loops ------------------------------------------------------------------------
class Entries:
    """``iov[i].iov_base`` and ``iov[i].iov_len`` of a ``struct iovec`` array of ``count``
    entries, loaded as C loads them: the first ``k`` through a live view of the array's region
    (``words``, two uint64 per entry), the rest through the memory's loads."""

    __slots__ = ("count", "iov", "k", "mem", "words")

    def __init__(self, mem: Memory, iov: int, count: int, most: int = SIZE_MAX) -> None:
        self.mem, self.iov, self.count = mem, iov, count
        self.words, k = mem.iovecs(iov, count)
        self.k = min(k, most)

    def base(self, i: int) -> int:
        return self.words[2 * i] if i < self.k else self.mem.u64(element(self.iov, i) + IOV_BASE)

    def len(self, i: int) -> int:
        return self.words[2 * i + 1] if i < self.k else self.mem.u64(element(self.iov, i) + IOV_LEN)

    def set(self, i: int, base: int, length: int) -> None:
        """``iov[i].iov_base = base; iov[i].iov_len = length;``"""
        if i < self.k:
            self.words[2 * i] = base
            self.words[2 * i + 1] = length
        else:
            at = element(self.iov, i)
            self.mem.set_u64(at + IOV_BASE, base)
            self.mem.set_u64(at + IOV_LEN, length)

    def loaded_sum(self) -> int:
        """The sum of the lengths loaded through the view, modulo 2**64."""
        return size_t(sum(self.words[1 : 2 * self.k : 2].tolist()))


class Memcpy:
    """A loop's ``memcpy(dst, src, n)``: a slice copy when both areas lie in the regions the
    previous call used and do not overlap; else :func:`pyimpl.libc.memcpy`, whose regions it
    then remembers."""

    __slots__ = ("d_hi", "d_lo", "d_view", "mem", "s_hi", "s_lo", "s_view")

    def __init__(self, mem: Memory) -> None:
        self.mem = mem
        self.d_lo, self.d_hi, self.s_lo, self.s_hi = 1, 0, 1, 0  # empty: no address is in them, not even NULL
        self.d_view = self.s_view = _NO_VIEW

    def __call__(self, dst: int, src: int, n: int) -> None:
        if (
            self.d_lo <= dst
            and dst + n <= self.d_hi
            and self.s_lo <= src
            and src + n <= self.s_hi
            and (dst + n <= src or src + n <= dst)
        ):
            d, s = dst - self.d_lo, src - self.s_lo
            self.d_view[d : d + n] = self.s_view[s : s + n]
        else:
            memcpy(self.mem, dst, src, n)
            (self.s_lo, self.s_hi, self.s_view), (self.d_lo, self.d_hi, self.d_view) = (
                self.mem._hit_src,
                self.mem._hit_dst,
            )


class Memset:
    """A loop's ``memset(dst, fillc, n)``: a slice fill in the region the previous call used;
    else :func:`pyimpl.libc.memset`, whose region it then remembers.  ``most``: the bytes the
    loop fills at most (its fill pattern is at most a chunk of them)."""

    __slots__ = ("fill", "fillc", "hi", "lo", "mem", "most", "view")

    def __init__(self, mem: Memory, fillc: int, most: int) -> None:
        self.mem, self.fillc, self.most = mem, fillc, most
        self.lo, self.hi = 1, 0  # empty: no address is in it, not even NULL
        self.view = self.fill = _NO_VIEW  # fill: (unsigned char) fillc, as many as a fast memset needs

    def __call__(self, dst: int, n: int) -> None:
        if self.lo <= dst and dst + n <= self.hi and n <= len(self.fill):
            self.view[dst - self.lo : dst - self.lo + n] = self.fill[:n]
        else:
            memset(self.mem, dst, self.fillc, n)
            self.lo, self.hi, self.view = self.mem._hit_view
            if not len(self.fill):
                self.fill = memoryview(bytes([self.fillc & 0xFF]) * min(CHUNK, self.most))


class ZeroCheck:
    """A loop's ``buffer_is_zero(base, n)``: read in the region the previous call read; else
    :func:`pyimpl.libc.buffer_is_zero`, whose region it then remembers."""

    __slots__ = ("hi", "lo", "mem", "view")

    def __init__(self, mem: Memory) -> None:
        self.mem = mem
        self.lo, self.hi, self.view = 1, 0, _NO_VIEW

    def __call__(self, base: int, n: int) -> bool:
        if self.lo <= base and base + n <= self.hi and n <= ZEROS_SIZE:
            return ZEROS.startswith(self.view[base - self.lo : base - self.lo + n])
        if not buffer_is_zero(self.mem, base, n):
            return False
        if n:
            self.lo, self.hi, self.view = self.mem._hit_view
        return True


class Compare:
    """The byte loop of ``qemu_iovec_compare`` over one pair of entries: how many leading bytes
    of ``n`` are equal, reading as that loop reads (:func:`pyimpl.libc.first_difference`),
    compared in one go when both lie in the regions it remembers."""

    __slots__ = ("a_hi", "a_lo", "a_view", "b_hi", "b_lo", "b_view", "mem")

    def __init__(self, mem: Memory) -> None:
        self.mem = mem
        self.a_lo, self.a_hi, self.a_view, self.b_lo, self.b_hi, self.b_view = 1, 0, _NO_VIEW, 1, 0, _NO_VIEW

    def __call__(self, pa: int, pb: int, n: int) -> int:
        if not (self.a_lo <= pa and pa + n <= self.a_hi):  # remember the regions the bytes lie in
            self.a_lo, self.a_hi, self.a_view = self.mem._holding(pa) or (1, 0, _NO_VIEW)
        if not (self.b_lo <= pb and pb + n <= self.b_hi):
            self.b_lo, self.b_hi, self.b_view = self.mem._holding(pb) or (1, 0, _NO_VIEW)
        if (
            n <= CHUNK
            and self.a_lo <= pa
            and pa + n <= self.a_hi
            and self.b_lo <= pb
            and pb + n <= self.b_hi
            and equal(
                self.a_view[pa - self.a_lo : pa - self.a_lo + n],
                self.b_view[pb - self.b_lo : pb - self.b_lo + n],
            )
        ):
            return n  # the byte loop runs to the end
        return first_difference(self.mem, pa, pb, n)


# -- whole walks at once ---------------------------------------------------------------------------
def copy_walk(
    mem: Memory, entries: Entries, offset: int, buf: int, nbytes: int, to_vectors: bool
) -> int | None:
    """The whole walk of ``iov_from_buf_full`` (``to_vectors``) or ``iov_to_buf_full`` done as
    slice copies: the bytes copied; None (nothing done) when the loop must run."""
    addrs, lengths = pieces(entries.words, entries.k, entries.count, offset, nbytes)
    if addrs and bulk_copy(mem, entries.iov, entries.count, addrs, lengths, buf, to_vectors):
        return sum(lengths)
    return None


def fill_walk(mem: Memory, entries: Entries, offset: int, fillc: int, nbytes: int) -> int | None:
    """The whole walk of ``iov_memset`` done as slice fills: the bytes filled; None (nothing
    done) when the loop must run."""
    iov, count = entries.iov, entries.count
    addrs, lengths = pieces(entries.words, entries.k, count, offset, nbytes)
    region = one_region(mem, addrs, lengths) if addrs else None
    if region is not None and (region[2] <= iov or iov + IOVEC_SIZE * count <= region[1]):
        (v0, _, view), lo, hi, run = region  # no piece faults, none lies over the array
        if run:  # one fill of the whole run, a chunk at a time
            addrs = list(range(lo, hi, CHUNK))
            lengths = [min(CHUNK, hi - a) for a in addrs]
        if max(lengths) <= CHUNK:
            pattern = bytes([fillc & 0xFF]) * max(lengths)
            for a, n in zip(addrs, lengths, strict=True):
                a -= v0
                view[a : a + n] = pattern[:n]
            return sum(lengths)
    elif addrs and max(lengths) <= CHUNK and fill_pieces(mem, iov, addrs, lengths, fillc):
        return sum(lengths)
    return None


def zero_walk(mem: Memory, entries: Entries, offset: int, nbytes: int) -> bool | None:
    """The whole walk of ``qemu_iovec_is_zero`` (from the entry holding ``offset``, as far as
    ``nbytes`` go) read at once: whether it is all zero; None when the loop must run."""
    addrs, lengths = pieces(entries.words, entries.k, entries.k + 1, offset, nbytes)  # it may go on past k
    region = one_region(mem, addrs, lengths) if addrs else None
    if region is not None:  # no piece faults: the first nonzero one decides, as in the loop
        (v0, _, view), lo, hi, run = region
        if run:  # the whole run at once, a chunk of zeros at a time
            addrs = list(range(lo, hi, ZEROS_SIZE))
            lengths = [min(ZEROS_SIZE, hi - a) for a in addrs]
        if max(lengths) <= ZEROS_SIZE:
            return all(
                ZEROS.startswith(view[a - v0 : a - v0 + n]) for a, n in zip(addrs, lengths, strict=True)
            )
    elif addrs and max(lengths) <= ZEROS_SIZE:  # in several regions: none faults, as above
        found = mem.pieces(addrs, lengths)
        if found is not None:
            return all(map(ZEROS.startswith, found[0]))
    return None


def pieces(words: memoryview, k: int, count: int, offset: int, nbytes: int) -> tuple[list[int], list[int]]:
    """The walk of the ``_full`` loops over lists, for the usual case: the (address, length)
    of every piece they memcpy/memset, in order, when the walk takes at least one byte, uses
    ``offset`` up and stays in the first ``k`` of ``count`` entries (all loaded through
    ``words``); ([], []) otherwise (the caller walks entry by entry).  Entries the walk
    passes without a piece (empty ones) are left out, as the loops call nothing for them."""
    if nbytes <= 0 or k <= 0 or k > PIECES_MAX:
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


def one_region(mem: Memory, addrs: list[int], lengths: list[int]) -> tuple[Span, int, int, bool] | None:
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


def bulk_copy(
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
    region = one_region(mem, addrs, lengths)
    if region is None:
        return copy_pieces(mem, iov, addrs, lengths, flat, buf, to_vectors)
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


def copy_pieces(
    mem: Memory, iov: int, addrs: list[int], lengths: list[int], flat: Span, buf: int, to_vectors: bool
) -> bool:
    """:func:`bulk_copy` for pieces in several regions (entries in separate buffers, as
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


def fill_pieces(mem: Memory, iov: int, addrs: list[int], lengths: list[int], fillc: int) -> bool:
    """The memsets of iov_memset for pieces in several regions, each at most CHUNK bytes
    (:func:`copy_pieces`' way): done when the array's region holds no piece."""
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


def equal_runs(mem: Memory, wa: memoryview, wb: memoryview, niov: int) -> bool:
    """Whether the compare loop would run to its end without a fault or a failed assert: the
    same lengths, each side's bytes one run in one region, and the runs equal (compared a
    chunk at a time).  False says nothing: the loop then does it entry by entry."""
    lens = wa[1 : 2 * niov : 2].tolist()
    if lens != wb[1 : 2 * niov : 2].tolist():
        return False
    total = sum(lens)
    pa, la = pieces(wa, niov, niov, 0, total)
    pb, lb = pieces(wb, niov, niov, 0, total)
    ra = one_region(mem, pa, la) if pa else None
    rb = one_region(mem, pb, lb) if pb else None
    if ra is None or rb is None or not (ra[3] and rb[3]):
        return False
    (a0, _, va), (b0, _, vb) = ra[0], rb[0]
    a, b = ra[1] - a0, rb[1] - b0
    return all(
        equal(va[a + off : a + min(off + CHUNK, total)], vb[b + off : b + min(off + CHUNK, total)])
        for off in range(0, total, CHUNK)
    )


# -- qemu_iovec_clone without a Python step per load -----------------------------------------------
# When nothing the clone stores can reach what it reads (the usual case), every load of src gives
# what it gave first, the sort elements live only on the stack, and the n qemu_iovec_add calls
# make the same g_renew calls in the same order and leave the same bytes; so the loops run over
# lists and the adds land in one go.  Anything else takes the port's loops, load by load.
Growth = tuple[int, int, int, int, tuple[int, ...]]  # niov, nalloc, iov, entries in place, renews


def whole(mem: Memory, addr: int, size: int) -> bool:
    """Whether the ``size`` bytes at ``addr`` lie in one live region (no load of them is UB)."""
    span = mem._holding(addr)
    return span is not None and addr + size <= span[1]


def plain_clone(mem: Memory, dest: int, src: int, n: int) -> Growth | None:
    """How n adds to ``dest`` would grow it, if the clone of ``src`` into it is plain; else None.

    Plain: both structs and src's n entries are whole (no load the clone makes is UB), and no
    store of the adds lands on src's struct or entries (which loops 2 and 3 read again)."""
    if n <= 0 or not NATIVE_WORDS or not (whole(mem, src, QIOV_SIZE) and whole(mem, dest, QIOV_SIZE)):
        return None
    src_iov = mem.u64(src + QIOV_IOV)
    if not whole(mem, src_iov, n * IOVEC_SIZE):
        return None  # the loads past the array meet their UB in the loops
    keep = ((src, src + QIOV_SIZE), (src_iov, src_iov + n * IOVEC_SIZE))
    for lo, hi in keep:  # the adds store into dest's fields
        if dest < hi and lo < dest + QIOV_SIZE:
            return None
    return growth(mem, dest, n, keep)


def growth(mem: Memory, qiov: int, adds: int, keep: tuple[tuple[int, int], ...]) -> Growth | None:
    """What ``adds`` qemu_iovec_add calls on ``qiov`` would do, when they can land in one go:
    (niov, nalloc, iov, how many entries go in place, the nalloc of each g_renew); None when an
    add would assert, overflow, abort, free something that is not a heap block, or store over
    the struct or what ``keep`` spans (the caller then adds one by one)."""
    nalloc, niov, iov = (
        mem.i32(qiov + QIOV_NALLOC),
        mem.i32(qiov + QIOV_NIOV),
        mem.u64(qiov + QIOV_IOV),
    )  # whole: no UB
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


def add_all(mem: Memory, qiov: int, plan: Growth, bases: list[int], lens: list[int]) -> None:
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
        mem.write(element(iov, niov), memoryview(entries)[: 2 * in_place].cast("B"))
    for cap in renews:
        mem.set_i32(qiov + QIOV_NALLOC, cap)
        iov = g_renew(mem, IOVEC_SIZE, iov, cap)
        mem.set_u64(qiov + QIOV_IOV, iov)
    if in_place < len(bases):
        mem.write(element(iov, niov + in_place), memoryview(entries)[2 * in_place :].cast("B"))
    mem.set_u64(qiov + QIOV_SIZE_FIELD, size_t(mem.u64(qiov + QIOV_SIZE_FIELD) + sum(lens)))
    mem.set_i32(qiov + QIOV_NIOV, niov + len(bases))


def clone_plainly(mem: Memory, dest: int, src: int, buf: int, n: int, plan: Growth) -> None:
    """The three loops and two sorts of qemu_iovec_clone over lists (see above)."""
    words, _ = mem.iovecs(mem.u64(src + QIOV_IOV), n)
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
    add_all(mem, dest, plan, dest_bases, lens)
