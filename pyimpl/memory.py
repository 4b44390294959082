"""A flat LP64 address space for the port: regions of bytes at integer addresses.

A pointer is an ``int`` (NULL is 0).  Every object the C code touches lives in a
region: caller buffers (mapped zero-copy from any writable Python buffer), iovec
arrays, ``QEMUIOVector`` structs, out-parameters and the heap blocks GLib would
allocate.  An access that leaves its region, or touches a guard region or a
freed block, is undefined behaviour in C and raises :class:`UndefinedBehaviour`.
"""

from __future__ import annotations

import bisect
import mmap
import struct
import sys
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, NoReturn

from iovspec.arguments import readonly_view, writable_view
from iovspec.cint import SIZE_MAX, UINT_MAX, int_
from iovspec.errors import GLibFatalError, UndefinedBehaviour
from iovspec.structs import HeapStats

if TYPE_CHECKING:
    from typing_extensions import Buffer

_U64 = struct.Struct("<Q")
_I32 = struct.Struct("<i")
_U32 = struct.Struct("<I")
_unpack_u64 = _U64.unpack_from
_unpack_i32 = _I32.unpack_from
_unpack_u32 = _U32.unpack_from
_pack_u64 = _U64.pack_into
_pack_i32 = _I32.pack_into
_pack_u32 = _U32.pack_into
_bisect = bisect.bisect_right

#: Where the first region of a memory's own range goes; far from its start, so NULL + small
#: offsets never land in a region.
FIRST_ADDRESS = 0x10_0000
#: An access below this address (NULL + less than a page) is a NULL dereference.
NULL_PAGE = 0x1000
#: Every Memory gets its own range of this many addresses (an address of one memory is
#: nothing in another); its heap starts HEAP_OFFSET into the range.
RANGE_SIZE = 1 << 40
HEAP_OFFSET = 1 << 39
#: how many ranges fit below 2**64 (range 0 holds NULL); the count wraps around past the last
RANGES = (1 << 64) // RANGE_SIZE - 1
#: Unmapped bytes between regions, so an overrun never lands in a neighbour.
REGION_GAP = 0x1000
#: Largest single heap block the model hands out; GLib would abort past real memory.
MAX_HEAP_BLOCK = 1 << 32


#: heap blocks up to this size are recorded with their bytes (heap_record)
RECORD_BYTES = 64 << 10
_RECORD_HEAD = struct.Struct("<QQQ")

#: how many walks :meth:`Memory.pieces` remembers (each its views of the pieces)
PIECES_REMEMBERED = 64

#: blocks at least this large are anonymous mmaps: zero pages cost nothing until touched
LAZY_BLOCK = 1 << 20

#: (start, end, view) of a region as the fast paths see it; a guard (never
#: accessible) is stored with end == start, so no access of n > 0 bytes fits in it
Span = tuple[int, int, memoryview]
#: views of the pieces of a walk and the starts of their regions (:meth:`Memory.pieces`)
Pieces = tuple[list[memoryview], frozenset[int]]
#: a span no access at any address fits in, not even one of 0 bytes at NULL: the empty cache
#: entry (the bulk loops of pyimpl.iov test the remembered spans with n >= 0)
_NO_SPAN: Span = (1, 0, memoryview(bytearray()))
#: no entries: what :meth:`Memory.iovecs` returns when none lie in a live region
_NO_WORDS = memoryview(bytearray()).cast("Q")
#: whether a native "Q" view reads the little-endian words the loads read (x86-64: yes)
NATIVE_WORDS = sys.byteorder == "little"


def _zeroed(size: int) -> memoryview:
    """``size`` zero bytes, lazily backed when large (GLib blocks may reach MAX_HEAP_BLOCK)."""
    if size >= LAZY_BLOCK:
        return memoryview(mmap.mmap(-1, size))
    return memoryview(bytearray(size))


@dataclass
class Region:
    """One live object: ``size`` bytes at ``start``."""

    start: int
    view: memoryview
    kind: str  # "map", "heap", "guard" or "stack"
    serial: int = 0  # heap blocks: allocation order, for naming them across worlds

    @property
    def size(self) -> int:
        return len(self.view)

    @property
    def end(self) -> int:
        return self.start + len(self.view)


@dataclass(frozen=True)
class _HeapMark:
    """What :meth:`Memory.heap_back` restores."""

    starts: list[int]
    regions: list[Region]
    spans: list[Span]
    contents: list[tuple[Region, bytes]]
    freed: dict[int, int]
    counters: tuple[int, int, int, int, int]


class Memory:
    """An address space: regions at integer addresses, plus a counted GLib heap."""

    strict: bool
    depth: int

    _ranges = 0  # ranges handed out so far, in this process
    #: the memories alive now, by range
    _live: ClassVar[weakref.WeakValueDictionary[int, Memory]] = weakref.WeakValueDictionary()

    def __init__(self, *, strict: bool = True, arena_at: int = 0, heap_at: int = 0) -> None:
        """A memory of its own address range.

        Both modes check every argument against its C type first: a wrong Python type is a
        ``TypeError``, a value that type cannot hold (a negative ``size_t``, an ``int`` past
        2**31) a ``ValueError`` naming the argument.

        ``strict`` (the default, for library users) also checks, before a public function
        runs, every byte range the call will touch (:mod:`pyimpl.checks`): pointers lead to
        regions of this memory (not NULL where C dereferences them, not a guard, a freed
        block or another memory's address), structs are whole, iovec arrays hold their
        counts, entries and buffers hold the bytes the call copies, fills, compares, sends
        or receives, arrays it frees or grows are heap blocks and memcpy areas do not
        overlap; a violation is a ``ValueError`` naming the argument, raised before
        anything is written or allocated.

        A strict memory also never hands out an address range twice in its lifetime (a
        region unmapped or a heap block freed leaves its addresses unused; a range of 2**40
        used up, it takes another), so a stale pointer leads to freed memory, a use after
        free, and never to another object's bytes.

        ``strict=False`` (what the harness uses) checks only the C types: the call then runs
        exactly as C would, stores and all, and the first access outside a live object
        raises :class:`UndefinedBehaviour` where it happens.  Its addresses mirror the C
        arena's: the last region unmapped gives its addresses back, as there.

        ``arena_at``/``heap_at`` place the first arena and the heap at given addresses (to
        mirror another memory's); by default both lie in this memory's own range.
        """
        self.strict = strict
        #: how deep the port's functions are nested in each other (checks apply at depth 0)
        self.depth = 0
        # three parallel lists sorted by start: addresses, regions, and their spans
        self._starts: list[int] = []
        self._regions: list[Region] = []
        self._spans: list[Span] = []
        #: this memory's own address range: [base, base + RANGE_SIZE)
        self.base = self._claim_range()
        self._next = self.base + FIRST_ADDRESS
        # strict: where the zone of regions and the heap's end (a zone used up moves on to a
        # range of its own, so addresses are never reused however long the memory lives)
        self._next_end = self.base + HEAP_OFFSET
        self._heap_end = self.base + RANGE_SIZE
        #: where the first arena goes (``arena_at``: mirroring another memory's addresses)
        self._arena_at = arena_at
        #: the heap's top: blocks are placed here, as the C shim's pool places them
        self._heap_next = heap_at or self.base + HEAP_OFFSET
        self._freed: dict[int, int] = {}
        # strict: the stretches of address space whose objects are gone, sorted and merged
        # (at most one between two live regions), so their number stays bounded
        self._gone_starts: list[int] = []
        self._gone_ends: list[int] = []
        # views of the pieces of a walk, by (addresses, lengths): Memory.pieces
        self._pieces_seen: dict[tuple[tuple[int, ...], tuple[int, ...]], Pieces] = {}
        self._pieces_regions: set[int] = set()  # the starts of the regions they lie in
        self._arenas: dict[int, memoryview] = {}
        self._heap_mark: _HeapMark | None = None
        self._serial = 0
        self.allocs = 0
        self.reallocs = 0
        self.frees = 0
        #: the C ``errno`` of this process model (set by the socket functions)
        self.errno = 0
        self._forget_hits()

    def _claim_range(self) -> int:
        """Take a range of addresses for this memory: its base address."""
        k = Memory._ranges
        for _ in range(RANGES):  # the next range no live memory holds (the first, as a rule)
            k = k % RANGES + 1
            if k not in Memory._live:
                break
        Memory._ranges = k
        Memory._live[k] = self
        return k * RANGE_SIZE

    def _forget_hits(self) -> None:
        """Empty the last-region caches (a region went away, or none was hit yet).

        Each kind of access remembers the span it last hit, since most accesses
        stay in one region: loads in an iovec array, a memcpy's source in one
        buffer and its destination in another.  Regions never overlap, so an
        access that fits in a remembered span is in exactly that region.
        """
        self._hit_load = self._hit_store = self._hit_view = _NO_SPAN
        self._hit_src = self._hit_dst = _NO_SPAN
        # the span loads (stores) hit before the last one: two objects read in turn
        self._hit_load2 = self._hit_store2 = _NO_SPAN

    # -- placing regions -------------------------------------------------
    def _insert(self, region: Region) -> None:
        start = region.start
        span = (start, start if region.kind == "guard" else region.end, region.view)
        i = bisect.bisect(self._starts, start)
        self._starts.insert(i, start)
        self._regions.insert(i, region)
        self._spans.insert(i, span)

    def _remove(self, i: int) -> None:
        region = self._regions[i]
        del self._starts[i]
        del self._regions[i]
        del self._spans[i]
        self._forget_hits()
        if region.start in self._pieces_regions:
            self._forget_pieces()
        if self.strict:
            self._gone(region.start, region.end)

    def _gone(self, start: int, end: int) -> None:
        """Strict: remember [start, end) as freed, merged with the freed stretches next to it
        when no live region lies between them."""
        starts, ends = self._gone_starts, self._gone_ends
        i = bisect.bisect(starts, start)
        if i and self._no_region_in(ends[i - 1], start):
            i -= 1
            start = starts[i]
            end = max(end, ends[i])
            del starts[i], ends[i]
        if i < len(starts) and self._no_region_in(end, starts[i]):
            end = max(end, ends[i])
            del starts[i], ends[i]
        starts.insert(i, start)
        ends.insert(i, max(end, start + 1))  # an empty region's address is freed too

    def _no_region_in(self, lo: int, hi: int) -> bool:
        return bisect.bisect_left(self._starts, lo) == bisect.bisect_left(self._starts, hi)

    def _forget_pieces(self) -> None:
        self._pieces_seen.clear()
        self._pieces_regions.clear()

    def _place(self, view: memoryview, kind: str, serial: int = 0) -> int:
        """Put a region at the next free address (the heap's own top for heap blocks)."""
        if kind == "heap":
            start = self._heap_next
            if self.strict and start + len(view) > self._heap_end:
                base = self._claim_range()
                start, self._heap_end = base + HEAP_OFFSET, base + RANGE_SIZE
            self._heap_next = (start + len(view) + REGION_GAP + 15) & ~15
        else:
            start = self._room(len(view))
            self._next = (start + len(view) + REGION_GAP + 15) & ~15
        self._insert(Region(start, view, kind, serial))
        return start

    def _room(self, n: int) -> int:
        """Where the next region of ``n`` bytes goes (strict: in a new range once this one's
        zone of regions is used up)."""
        if self.strict and self._next + n > self._next_end:
            base = self._claim_range()
            self._next, self._next_end = base + FIRST_ADDRESS, base + HEAP_OFFSET
        return self._next

    def map(self, buffer: Buffer, *, kind: str = "map", readonly: bool = False) -> int:
        """Map a writable Python buffer (bytearray, writable memoryview, mmap, array, numpy
        array...) zero-copy and return its address.  ``readonly=True`` also takes read-only
        buffers (bytes), for what the C code only reads (a ``const void *``): a store into
        one raises ``TypeError``."""
        view = readonly_view(buffer) if readonly else writable_view(buffer)
        return self._place(view.cast("B"), kind)

    def map_arena(self, layout: Iterable[tuple[int, bool]]) -> int:
        """Map contiguous zeroed regions (size, is_guard) and return the first address.

        The regions touch each other, as they do in the C arena, so addresses and
        their order are the same in both worlds; each is still its own object.
        """
        parts = [(int(size), bool(guard)) for size, guard in layout]
        total = sum(size for size, _ in parts)
        backing = memoryview(bytearray(total))
        if self._arena_at:  # the address the other memory's arena has
            base, self._arena_at = self._arena_at, 0
        else:
            base = self._room(total)
            self._next = (base + total + REGION_GAP + 15) & ~15
        offset = 0
        for size, guard in parts:
            if size:
                start = base + offset
                self._insert(Region(start, backing[offset : offset + size], "guard" if guard else "map"))
            offset += size
        self._arenas[base] = backing
        return base

    def arena_backing(self, base: int) -> memoryview:
        """The bytes of the arena :meth:`map_arena` placed at ``base`` (for observers)."""
        return self._arenas[base]

    def stack_alloc(self, size: int) -> int:
        """A zeroed automatic object (a C local or VLA); not counted as heap."""
        return self._place(memoryview(bytearray(size)), "stack")

    def unmap(self, addr: int) -> None:
        """Remove the region starting at ``addr`` (a stack object going out of scope, a buffer
        no longer needed); on a non-strict memory the last one placed gives its addresses back,
        as the C arena does; a strict memory never reuses them."""
        i = bisect.bisect(self._starts, addr) - 1
        if i < 0 or self._starts[i] != addr or self._regions[i].kind == "heap":
            raise ValueError(f"addr: {addr:#x} does not start a mapped region")
        if not self.strict and (addr + self._regions[i].size + REGION_GAP + 15) & ~15 == self._next:
            self._next = addr
        self._remove(i)

    def buffer(self, data: bytes | int) -> int:
        """A new region holding ``data`` (or that many zero bytes); returns its address."""
        return self.map(bytearray(data))

    # -- the GLib heap -----------------------------------------------------
    def g_malloc(self, size: int, *, zero: bool = True) -> int:
        """``g_malloc``/``g_malloc0``: NULL for 0, a fatal error when memory runs out."""
        if size == 0:
            return 0
        if size > MAX_HEAP_BLOCK:
            raise GLibFatalError(f"failed to allocate {size} bytes")
        self._serial += 1
        self.allocs += 1
        return self._place(_zeroed(size), "heap", self._serial)

    def g_free(self, addr: int) -> None:
        """``g_free``: NULL is a no-op; anything but a live heap block is UB."""
        if addr == 0:
            return
        i = bisect.bisect(self._starts, addr) - 1
        if i < 0 or self._starts[i] != addr or self._regions[i].kind != "heap":
            raise UndefinedBehaviour("invalid-free", f"g_free({addr:#x})")
        if not self.strict:  # (strict: _remove records it)
            self._freed[addr] = self._regions[i].size
        self._remove(i)
        self.frees += 1

    def g_realloc(self, addr: int, size: int) -> int:
        """``g_realloc``: NULL acts as malloc, size 0 frees and returns NULL."""
        if addr == 0:
            return self.g_malloc(size)
        if size == 0:
            self.g_free(addr)
            return 0
        old = self.region_at(addr)
        if old is None or old.start != addr or old.kind != "heap":
            raise UndefinedBehaviour("invalid-free", f"g_realloc({addr:#x})")
        if size > MAX_HEAP_BLOCK:
            raise GLibFatalError(f"failed to allocate {size} bytes")
        new = _zeroed(size)
        keep = min(size, old.size)
        new[:keep] = old.view[:keep]
        self._remove(self._starts.index(addr))
        if not self.strict:
            self._freed[addr] = old.size
        self.reallocs += 1
        return self._place(new, "heap", old.serial)

    # -- one saved state of the heap (the batch runner's, like the C shim's) --
    def heap_mark(self) -> None:
        """Remember the heap as it is now: :meth:`heap_back` returns to it."""
        self._heap_mark = _HeapMark(
            list(self._starts),
            list(self._regions),
            list(self._spans),
            [(r, bytes(r.view)) for r in self._regions if r.kind == "heap"],
            dict(self._freed),
            self._counters(),
        )

    def _counters(self) -> tuple[int, int, int, int, int]:
        return (self._serial, self.allocs, self.reallocs, self.frees, self._heap_next)

    def heap_moved(self) -> bool:
        """Whether the heap was used (allocated, resized, freed) since :meth:`heap_mark`."""
        mark = self._heap_mark
        return mark is not None and mark.counters[:4] != self._counters()[:4]

    def heap_back(self) -> None:
        """Return the heap to :meth:`heap_mark`: blocks made since gone, the others as they were."""
        mark = self._heap_mark
        if mark is None or not self.heap_moved():
            return
        self._starts, self._regions, self._spans = list(mark.starts), list(mark.regions), list(mark.spans)
        for region, data in mark.contents:
            region.view[:] = data
        self._freed = dict(mark.freed)
        self._serial, self.allocs, self.reallocs, self.frees, self._heap_next = mark.counters
        self._forget_hits()
        self._forget_pieces()

    def heap_record(self, serial0: int = 0) -> bytes:
        """The live heap blocks as the C shim records them (iovconf_heap_record): for each, by
        address, its address, size and serial as little-endian uint64, then its bytes if it is
        at most RECORD_BYTES long."""
        if self.allocs == self.frees:
            return b""  # no live block
        parts: list[bytes | memoryview] = []
        for r in self._regions:
            if r.kind == "heap" and r.serial > serial0:
                parts.append(_RECORD_HEAD.pack(r.start, r.size, r.serial - serial0))
                if r.size <= RECORD_BYTES:
                    parts.append(r.view)
        return b"".join(parts)

    def heap_stats(self) -> HeapStats:
        """Allocation counters and the number of live heap blocks."""
        # every block is counted once when made (g_malloc, g_realloc of NULL) and once when
        # freed (g_free, g_realloc to 0); a g_realloc in place of one keeps it live
        return HeapStats(self.allocs, self.reallocs, self.frees, self.allocs - self.frees)

    # -- finding objects ---------------------------------------------------
    @classmethod
    def owner(cls, addr: int) -> Memory | None:
        """The live memory whose own range holds ``addr``, if any (not necessarily a region)."""
        return cls._live.get(addr // RANGE_SIZE)

    def region_at(self, addr: int) -> Region | None:
        """The region holding byte ``addr``, or None."""
        i = bisect.bisect(self._starts, addr) - 1
        if i >= 0:
            region = self._regions[i]
            if addr < region.end:
                return region
        return None

    def _find(self, addr: int, n: int, what: str) -> Span:
        """The span of the one live object holding all ``n`` > 0 bytes at ``addr``; else UB.

        Exactly the accesses :meth:`_span` accepts: the region holding ``addr``,
        not a guard, with ``addr + n`` inside it.
        """
        i = _bisect(self._starts, addr) - 1
        if i >= 0:
            span = self._spans[i]
            if addr + n <= span[1]:
                return span
        self._fail(addr, n, what)

    def _miss_load(self, addr: int, n: int) -> Span:
        """A load missed the last span loads hit: try the one before, then look it up."""
        span = self._hit_load2
        if not (span[0] <= addr and addr + n <= span[1]):
            span = self._find(addr, n, "load")
        self._hit_load2 = self._hit_load
        self._hit_load = span
        return span

    def _miss_store(self, addr: int, n: int) -> Span:
        """A store missed the last span stores hit: try the one before, then look it up."""
        span = self._hit_store2
        if not (span[0] <= addr and addr + n <= span[1]):
            span = self._find(addr, n, "store")
        self._hit_store2 = self._hit_store
        self._hit_store = span
        return span

    def _holding(self, addr: int) -> Span | None:
        """The span of the live non-guard region holding byte ``addr``, or None; never UB."""
        i = _bisect(self._starts, addr) - 1
        if i >= 0:
            span = self._spans[i]
            if addr < span[1]:  # not past its end, nor a guard
                return span
        return None

    def iovecs(self, addr: int, count: int) -> tuple[memoryview, int]:
        """The first ``count`` ``struct iovec`` at ``addr`` as a live view of two uint64 each
        (``iov_base``, ``iov_len``), and how many of them it holds: those in the region
        holding ``addr`` (none if it is not live).  Loads through the view are the loads
        :meth:`u64` makes, and see every store as it happens; past its end, the caller loads
        with :meth:`u64` and meets the undefined behaviour there.  Valid while the region
        lives (the bulk functions free nothing while they walk)."""
        if count <= 0 or not NATIVE_WORDS:
            return _NO_WORDS, 0
        i = _bisect(self._starts, addr) - 1
        if i >= 0:
            start, end, view = self._spans[i]
            k = (end - addr) >> 4
            if k > 0:
                if k > count:
                    k = count
                off = addr - start
                return view[off : off + (k << 4)].cast("Q"), k
        return _NO_WORDS, 0

    def pieces(self, addrs: list[int], lengths: list[int]) -> Pieces | None:
        """Views of the ``lengths[i]`` > 0 bytes at each ``addrs[i]`` (the pieces a walk over
        entries in separate buffers copies, fills or reads), and the starts of the regions
        they lie in; None when a piece is not inside one live non-guard region (the caller
        then walks entry by entry and meets the undefined behaviour where C does).

        The answer is remembered for the same pieces until one of those regions goes away,
        so a walk over the same entries again maps them at once; regions never overlap, so a
        remembered view is exactly the bytes of its piece while its region lives."""
        key = (tuple(addrs), tuple(lengths))
        seen = self._pieces_seen.get(key)
        if seen is not None:
            return seen
        starts, spans = self._starts, self._spans
        views = []
        used = set()
        for a, n in zip(addrs, lengths, strict=True):
            i = _bisect(starts, a) - 1
            if i < 0:
                return None
            start, end, view = spans[i]
            if a + n > end:
                return None
            a -= start
            views.append(view[a : a + n])
            used.add(start)
        if len(self._pieces_seen) >= PIECES_REMEMBERED:
            self._forget_pieces()
        seen = self._pieces_seen[key] = (views, frozenset(used))
        self._pieces_regions |= used
        return seen

    def _fail(self, addr: int, n: int, what: str) -> NoReturn:
        """Raise the UB of an access of ``n`` bytes at ``addr`` that is not inside one live object."""
        region = self.region_at(addr)
        if addr < NULL_PAGE:
            raise UndefinedBehaviour("null-pointer", f"{what} of {n} bytes at {addr:#x}")
        kind = "use-after-free" if region is None and self._was_freed(addr) else "out-of-bounds"
        raise UndefinedBehaviour(kind, f"{what} of {n} bytes at {addr:#x}")

    def _span(self, addr: int, n: int, what: str) -> memoryview:
        region = self.region_at(addr)
        if region is None or region.kind == "guard" or addr + n > region.end:
            self._fail(addr, n, what)
        off = addr - region.start
        return region.view[off : off + n]

    def _was_freed(self, addr: int) -> bool:
        if self.strict:
            i = bisect.bisect(self._gone_starts, addr) - 1
            return i >= 0 and addr < self._gone_ends[i]
        return any(start <= addr < start + size for start, size in self._freed.items())

    # -- loads and stores, as the C code does them -------------------------
    # Each checks its remembered span first and looks the address up (_find)
    # only when the access does not fit there; n > 0 on every fast path.
    def view(self, addr: int, n: int) -> memoryview:
        """A writable view of ``n`` bytes at ``addr``; UB if they are not one live object."""
        if n > 0:
            start, end, view = self._hit_view
            if not (start <= addr and addr + n <= end):
                start, end, view = self._hit_view = self._find(addr, n, "access")
            off = addr - start
            return view[off : off + n]
        if n == 0:
            return memoryview(bytearray())
        return self._span(addr, n, "access")

    def read(self, addr: int, n: int) -> bytes:
        return bytes(self.view(addr, n))

    def write(self, addr: int, data: bytes | bytearray | memoryview) -> None:
        n = len(data)
        if n:
            start, end, view = self._hit_view
            if not (start <= addr and addr + n <= end):
                start, end, view = self._hit_view = self._find(addr, n, "store")
            off = addr - start
            view[off : off + n] = data

    def _copy(self, dst: int, src: int, n: int) -> None:
        """libc's memcpy of ``n`` > 0 bytes: ``view(src, n)``, then ``view(dst, n)``, then the copy."""
        s_start, s_end, s_view = self._hit_src
        if not (s_start <= src and src + n <= s_end):
            s_start, s_end, s_view = self._hit_src = self._find(src, n, "access")
        d_start, d_end, d_view = self._hit_dst
        if not (d_start <= dst and dst + n <= d_end):
            d_start, d_end, d_view = self._hit_dst = self._find(dst, n, "access")
        s_off = src - s_start
        d_off = dst - d_start
        d_view[d_off : d_off + n] = s_view[s_off : s_off + n]

    def u64(self, addr: int) -> int:
        start, end, view = self._hit_load
        if not (start <= addr and addr + 8 <= end):
            start, end, view = self._miss_load(addr, 8)
        value: int = _unpack_u64(view, addr - start)[0]
        return value

    def set_u64(self, addr: int, value: int) -> None:
        value &= SIZE_MAX  # the value first, as ``view[...] = pack(value)`` evaluated it
        start, end, view = self._hit_store
        if not (start <= addr and addr + 8 <= end):
            start, end, view = self._miss_store(addr, 8)
        _pack_u64(view, addr - start, value)

    def i32(self, addr: int) -> int:
        start, end, view = self._hit_load
        if not (start <= addr and addr + 4 <= end):
            start, end, view = self._miss_load(addr, 4)
        value: int = _unpack_i32(view, addr - start)[0]
        return value

    def set_i32(self, addr: int, value: int) -> None:
        value = int_(value)
        start, end, view = self._hit_store
        if not (start <= addr and addr + 4 <= end):
            start, end, view = self._miss_store(addr, 4)
        _pack_i32(view, addr - start, value)

    def u32(self, addr: int) -> int:
        start, end, view = self._hit_load
        if not (start <= addr and addr + 4 <= end):
            start, end, view = self._miss_load(addr, 4)
        value: int = _unpack_u32(view, addr - start)[0]
        return value

    def set_u32(self, addr: int, value: int) -> None:
        value &= UINT_MAX
        start, end, view = self._hit_store
        if not (start <= addr and addr + 4 <= end):
            start, end, view = self._miss_store(addr, 4)
        _pack_u32(view, addr - start, value)

    # -- for observers (the harness), not for the port ----------------------
    def _regions_from(self, addr: int) -> Iterator[Region]:
        """The regions holding ``addr`` and the bytes after it, one after another while they touch.

        The same regions :meth:`region_at` finds at each next address (regions never
        overlap and are sorted), walked by index instead of looked up again; the
        first address no region holds is a ValueError, when the walk gets there.
        """
        regions = self._regions
        i = bisect.bisect(self._starts, addr) - 1
        while True:
            region = regions[i] if 0 <= i < len(regions) else None
            if region is None or not region.start <= addr < region.end:
                raise ValueError(f"addr: {addr:#x} is not mapped")
            yield region
            addr = region.end
            i += 1

    def peek(self, addr: int, n: int) -> bytes:
        """Bytes at ``addr`` including guard regions; for observers, never UB."""
        if n <= 0:
            return b""
        chunks = []
        for region in self._regions_from(addr):
            off = addr - region.start
            chunk = region.view[off : off + n]
            chunks.append(chunk)
            addr += len(chunk)
            n -= len(chunk)
            if n <= 0:
                break
        return b"".join(chunks)

    def poke(self, addr: int, data: bytes | memoryview) -> None:
        """Store ``data`` even into guard regions; for observers setting up a world."""
        src = memoryview(data)
        if not len(src):
            return
        for region in self._regions_from(addr):
            off = addr - region.start
            n = min(len(src), region.size - off)
            region.view[off : off + n] = src[:n]
            addr += n
            src = src[n:]
            if not len(src):
                break

    def heap_serials(self) -> list[int]:
        """The serials of the live heap blocks, sorted."""
        return sorted(r.serial for r in self._regions if r.kind == "heap")

    def heap_block(self, addr: int) -> tuple[int, int] | None:
        """(serial, offset) when ``addr`` points into a live heap block, else None."""
        region = self.region_at(addr)
        if region is None or region.kind != "heap":
            return None
        return region.serial, addr - region.start
