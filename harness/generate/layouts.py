"""The layouts cases are made of: iovec entries over a data region, and QEMUIOVectors over them.

One vocabulary for every engine: a :class:`Layout` says where each entry of an iovec
array points in its data region; :func:`place` lays it out with a
:class:`~harness.model.case.Builder`; :func:`qiov` makes a QEMUIOVector of a kind over one.
The choices (which layout, which kind) go through :class:`~harness.generate.choices.Choices`,
so the exhaustive engine takes every layout of its bound and the Hypothesis engine
draws them, leaning on zero-length entries, NULL bases, gaps, overlap and disorder.

Wide entries: for the functions that read lengths without touching the bytes, a layout
may hold entries of ``Bound.wide`` lengths (around 2**31, 2**32 and 2**63, and pairs
whose total wraps 2**64).  Such an entry is not backed by memory: its base points at one
real byte of the data region and the rest of it lies past the region, where only a
function that reads more than that byte would go (it is out of bounds there, and the port
says so).  A base is never NULL (NULL plus an offset is undefined), and the entries of a
function that adds an offset into an entry to its base are at most :data:`OFFSET_BASES`
long (see there).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from itertools import product

from hypothesis import strategies as st

from harness.model.case import Arg, Builder, QiovInit, Ref
from iovspec.cint import SIZE_MAX
from iovspec.structs import QIOV_LOCAL_IOV

from .bounds import BACKED_MAX, Bound
from .choices import HUGE, Choices, Enumerated

Entry = tuple[Arg, int]

#: where entries sit in their data region besides back to back ("seq")
ARRANGEMENTS = ("seq", "reversed", "overlap", "stagger")

#: the longest wide entry of a function that adds an offset into an entry to its base
#: (iov_copy's ``iov_base + offset``, a discard's ``iov_base += bytes``): GCC reads a size_t
#: added to a pointer as a ptrdiff_t, so from 2**63 on UBSan's pointer-overflow check reports
#: the sum as an address that wrapped (C's rule is stricter still: any pointer past its object is
#: undefined, which neither the sanitizers nor the port can tell from a flat address).  Every
#: offset into an entry of at most 2**63 bytes is below 2**63, and an arena address plus it
#: stays below 2**64: no case of the campaigns has the sanitizers object to such a sum.
OFFSET_BASES = 1 << 63
#: the longest wide entry of a function that only sums and compares lengths: any
ONLY_LENGTHS = SIZE_MAX


@dataclass(frozen=True)
class Wide:
    """Which wide entries a function's layouts get: none longer than ``longest``, and with
    ``followed`` each one followed by a real entry (for a function that reads or writes the
    bytes from the offset on: past a skipped wide entry it finds real bytes, where a wide entry
    alone or last gives nothing but out-of-bounds tests beyond its first byte)."""

    longest: int
    followed: bool = False

    def lengths(self, bound: Bound) -> tuple[int, ...]:
        return tuple(w for w in bound.wide if w <= self.longest)


#: a function that only sums and compares lengths
SUMMED = Wide(ONLY_LENGTHS)
#: a function that adds an offset into an entry to its base, and no more
OFFSET = Wide(OFFSET_BASES)
#: a function that adds an offset into an entry to its base and reads or writes from there
READ = Wide(OFFSET_BASES, followed=True)


def backing(n: int) -> int:
    """The bytes an entry of length ``n`` with a real base takes in its data region."""
    return n if n <= BACKED_MAX else 1


@dataclass(frozen=True)
class Layout:
    """iovec entries over one data region: lengths, NULL bases, and where each entry starts."""

    lens: tuple[int, ...]
    nulls: tuple[bool, ...]
    starts: tuple[int, ...]
    slack: int = 0  # bytes of the data region after the last entry

    @property
    def n(self) -> int:
        return len(self.lens)

    @property
    def total(self) -> int:
        return sum(self.lens) % (1 << 64)

    @property
    def region_size(self) -> int:
        ends = [s + backing(n) for s, n, z in zip(self.starts, self.lens, self.nulls, strict=True) if not z]
        return max(ends, default=0) + self.slack

    @property
    def wide(self) -> bool:
        """Some entry is not backed by memory (a wide entry)."""
        return any(n > BACKED_MAX for n in self.lens)

    def boundaries(self) -> list[int]:
        """0 and the end of each entry, counted from the first."""
        out, acc = [0], 0
        for n in self.lens:
            acc += n
            out.append(acc)
        return out

    def hot(self) -> tuple[int, ...]:
        """Bytes at the edges of the entries (where a zero test goes wrong first)."""
        return tuple(self.starts) + tuple(
            s + backing(n) - 1 for s, n in zip(self.starts, self.lens, strict=True)
        )


def _starts(lens: tuple[int, ...], nulls: tuple[bool, ...], arrangement: str) -> tuple[int, ...]:
    real = [0 if z else backing(n) for n, z in zip(lens, nulls, strict=True)]
    if arrangement == "seq":
        out, acc = [], 0
        for n in real:
            out.append(acc)
            acc += n
    elif arrangement == "reversed":
        out, acc = [0] * len(real), 0
        for i in reversed(range(len(real))):
            out[i] = acc
            acc += real[i]
    elif arrangement == "overlap":
        out = [0] * len(real)
    elif arrangement == "stagger":
        out = list(range(len(real)))
    else:
        raise ValueError(f"arrangement: unknown {arrangement!r}")
    return tuple(0 if z else s for s, z in zip(out, nulls, strict=True))


@functools.cache
def all_layouts(
    max_n: int, max_len: int, null_zero: bool, huge: tuple[int, ...], arrangements: tuple[str, ...]
) -> tuple[Layout, ...]:
    """Every layout of 0..max_n entries of length 0..max_len (zero-length ones also NULL-based;
    each ``huge`` length NULL-based), in each arrangement that places them differently."""
    options = [(n, False) for n in range(max_len + 1)]
    if null_zero:
        options.append((0, True))
    options += [(h, True) for h in huge]
    out = []
    for n in range(max_n + 1):
        for combo in product(options, repeat=n):
            lens = tuple(x for x, _ in combo)
            nulls = tuple(z for _, z in combo)
            seen: set[tuple[int, ...]] = set()
            for arrangement in arrangements:
                starts = _starts(lens, nulls, arrangement)
                if starts not in seen:
                    seen.add(starts)
                    out.append(Layout(lens, nulls, starts))
    return tuple(out)


@functools.cache
def wide_layouts(wide: tuple[int, ...], max_n: int, followed: bool = False) -> tuple[Layout, ...]:
    """Layouts of at most ``max_n`` entries with wide ones, back to back (each wide entry one
    real byte): each wide length alone (unless ``followed``) and before a one-byte entry
    (offsets past it land in the next entry), and every pair of them whose total wraps 2**64
    (followed by a one-byte entry if ``followed``)."""
    shapes: list[tuple[int, ...]] = []
    tail = (1,) if followed else ()
    for w in wide:
        shapes += [(w, 1)] if followed else [(w,), (w, 1)]
    shapes += [(a, b, *tail) for i, a in enumerate(wide) for b in wide[i:] if a + b > SIZE_MAX]
    out = []
    for lens in shapes:
        if len(lens) <= max_n:
            nulls = (False,) * len(lens)
            out.append(Layout(lens, nulls, _starts(lens, nulls, "seq")))
    return tuple(out)


@functools.cache
def _enumerated(
    bound: Bound, top: int, huge: bool, wide: Wide | None, arrangements: tuple[str, ...]
) -> tuple[Layout, ...]:
    lens_huge = (*bound.huge, *bound.arith_huge) if huge else ()
    small = all_layouts(top, bound.max_len, bound.null_zero, lens_huge, arrangements)
    return small + wide_layouts(wide.lengths(bound), top, wide.followed) if wide else small


def layout(
    c: Choices,
    max_n: int | None = None,
    *,
    huge: bool = False,
    wide: Wide | None = None,
    arrangements: tuple[str, ...] = ("seq",),
) -> Layout:
    """iovec entries over one data region.

    Enumerated: every layout of ``max_n`` (default ``bound.max_vectors``) entries of lengths
    0..``bound.max_len``, zero-length ones also NULL-based, with ``huge`` also the bound's huge
    lengths (NULL-based: only summed), in each of ``arrangements``; then, with ``wide``, the
    :func:`wide_layouts` of the bound's wide lengths it allows.  Drawn: mostly 0..2 entries,
    lengths mostly small, back to back, with gaps, out of order or overlapping; with ``wide``,
    one in four has one or two wide entries (never the last one if ``wide.followed``).
    """
    bound: Bound = c.bound
    top = bound.max_vectors if max_n is None else max_n
    if isinstance(c, Enumerated):
        return c.pick(_enumerated(bound, top, huge, wide, arrangements), "layout")
    n = c.draw(_entries(top), "entries")
    lens = [c.draw(_LEN, "len") for _ in range(n)]
    if huge and n and c.draw(st.booleans(), "a huge length"):
        # lengths only summed, never dereferenced (iov_size): let the sum wrap
        lens[c.draw(st.integers(0, n - 1), "which")] = c.pick(HUGE, "huge len")
        return Layout(tuple(lens), (True,) * n, (0,) * n)
    last = n - 2 if wide is not None and wide.followed else n - 1  # the last that may be wide
    if wide is not None and last >= 0 and c.flag("wide entries", 4):
        for _ in range(c.integer(1, min(last + 1, 2), "how many wide")):
            lens[c.integer(0, last, "which")] = c.pick(wide.lengths(bound), "wide len")
    real = [backing(length) for length in lens]
    arrangement = c.pick(("seq", "seq", "gapped", "shuffled", "overlap"), "arrangement")
    total = sum(real)
    starts, acc = [], 0
    for length in real:
        if arrangement == "gapped":
            acc += c.integer(0, 3, "gap")
        starts.append(acc)
        acc += length
    if arrangement == "shuffled" and n > 1:
        order = c.draw(_permutations(n), "order")
        pos, acc = [0] * n, 0
        for k in order:
            pos[k] = acc
            acc += real[k]
        starts = pos
    elif arrangement == "overlap":
        starts = [c.integer(0, total - length, "start") for length in real]
    slack = c.integer(0, 3, "slack")
    nulls = tuple(length == 0 and c.integer(0, 3, "NULL base") == 0 for length in lens)
    return Layout(tuple(lens), nulls, tuple(0 if z else s for s, z in zip(starts, nulls, strict=True)), slack)


_LEN = st.one_of(st.just(0), st.integers(1, 4), st.integers(0, 12))


@functools.lru_cache(maxsize=16)
def _entries(top: int) -> st.SearchStrategy[int]:
    return st.one_of(st.integers(0, min(2, top)), st.integers(0, top))


@functools.lru_cache(maxsize=16)
def _permutations(n: int) -> st.SearchStrategy[list[int]]:
    return st.permutations(range(n))


@dataclass
class Vectors:
    """A layout laid out by a Builder: its data region, iovec array (None if it has none) and entries."""

    data: Ref | None
    array: Ref | None
    entries: list[Entry]
    layout: Layout
    spare: int = 0  # readable entries after the counted ones
    _boundaries: list[int] | None = field(default=None, repr=False, compare=False)

    @property
    def n(self) -> int:
        return len(self.entries)

    @property
    def lens(self) -> list[int]:
        return [n for _, n in self.entries]

    @property
    def total(self) -> int:
        return sum(self.lens) % (1 << 64)

    @property
    def backed(self) -> int:
        """The bytes the entries hold in memory (a wide entry: one), e.g. for a buffer as long."""
        return sum(backing(n) for n in self.lens)

    def boundaries(self) -> list[int]:
        """0 and the end of each entry, counted from the first (computed once)."""
        if self._boundaries is None:
            out, acc = [0], 0
            for n in self.lens:
                acc += n
                out.append(acc)
            self._boundaries = out
        return self._boundaries


def place(b: Builder, lay: Layout, content: bytes, array: bool = True) -> Vectors:
    """Lay out ``lay`` over a data region holding ``content``, and (``array``) its iovec array."""
    data = b.data(content)
    entries: list[Entry] = [
        (0, n) if z else (data + s, n) for n, z, s in zip(lay.lens, lay.nulls, lay.starts, strict=True)
    ]
    return Vectors(data, b.iovs(entries) if array else None, entries, lay)


def vectors(
    c: Choices,
    b: Builder,
    max_n: int | None = None,
    *,
    style: str = "random",
    spare: int = 0,
    huge: bool = False,
    wide: Wide | None = None,
    arrangements: tuple[str, ...] = ("seq",),
) -> Vectors:
    """An iovec array over one data region: a layout (``huge``, ``wide``: see :func:`layout`),
    its content, and ``spare`` more entries after the counted ones (readable, so a count past the
    entries is not undefined)."""
    lay = layout(c, max_n, huge=huge, wide=wide, arrangements=arrangements)
    v = place(b, lay, c.content(lay.region_size, style, lay.hot(), "content"), array=False)
    assert v.data is not None
    if isinstance(c, Enumerated):
        spare = 0  # the bound counts 0..n: no entry past them to read
    size = lay.region_size
    extra = [(v.data + c.integer(0, size, "spare base"), c.integer(0, 5, "spare len")) for _ in range(spare)]
    v.array = b.iovs([*v.entries, *extra])
    v.spare = spare
    return v


# -- QEMUIOVectors -----------------------------------------------------------------------------------
#: kinds of vector under test: enumerated, and drawn (api-*: made through the API; skewed: a
#: size that disagrees with the entries, as after a caller edits them)
ENUM_KINDS = ("external", "owned", "embedded", "zeroed")
DRAW_KINDS = ("external", "owned", "embedded", "zeroed", "api-external", "api-embedded", "skewed")


def qiov(
    c: Choices,
    b: Builder,
    kinds: tuple[str, ...] | None = None,
    *,
    style: str = "random",
    max_n: int | None = None,
    wide: Wide | None = None,
    arrangements: tuple[str, ...] = ("seq",),
) -> tuple[Ref, Vectors]:
    """A QEMUIOVector of one of ``kinds`` over a layout; returns it and its vectors.

    external: fields written directly over an iovec array (nalloc -1); owned: made by
    qemu_iovec_init (hint: entries + one of ``bound.owned_spare``) and qemu_iovec_add;
    embedded: one entry in local_iov; zeroed: every field 0.  The layouts of external and
    owned vectors may have ``wide`` entries (see :func:`layout`).
    """
    enumerating = isinstance(c, Enumerated)
    allowed = kinds if kinds is not None else (ENUM_KINDS if enumerating else DRAW_KINDS)
    if enumerating:
        allowed = tuple(k for k in allowed if k in ENUM_KINDS)
    kind = c.pick(allowed, "qiov kind")
    top = c.bound.max_qiov_vectors if max_n is None else max_n
    if kind in ("embedded", "api-embedded"):
        lay = _exactly(c, 1, arrangements)
    elif kind == "zeroed":
        lay = Layout((), (), ())
    else:
        lay = layout(c, top, wide=wide, arrangements=arrangements)
    content = c.content(lay.region_size, style, lay.hot(), "content")
    v = place(b, lay, content, array=kind in ("external", "skewed", "api-external"))
    n, total = v.n, v.total
    if kind == "external":
        assert v.array is not None
        return b.qiov(QiovInit(v.array, n, -1, 0, total)), v
    if kind == "skewed":
        assert v.array is not None
        sizes = {max(total - 1, 0), (total + 1) & SIZE_MAX, (total + 5) & SIZE_MAX}
        size = c.pick(tuple(sorted(sizes)), "skewed size")
        return b.qiov(QiovInit(v.array, n, -1, 0, size)), v
    if kind == "zeroed":
        return b.qiov(QiovInit(0, 0, 0, 0, 0)), v
    q = b.qiov(None)
    if kind == "embedded":
        base, length = v.entries[0]
        b.set_qiov(q, QiovInit(q + QIOV_LOCAL_IOV, 1, -1, base, length))
    elif kind == "api-external":
        assert v.array is not None
        b.call("qemu_iovec_init_external", q, v.array, n)
    elif kind == "api-embedded":
        b.call("qemu_iovec_init_buf", q, *v.entries[0])
    else:  # owned
        spare = c.pick(c.bound.owned_spare, "hint spare") if enumerating else c.integer(0, 1, "hint spare")
        b.call("qemu_iovec_init", q, n + spare)
        for base, length in v.entries:
            b.call("qemu_iovec_add", q, base, length)
    return q, v


def _exactly(c: Choices, n: int, arrangements: tuple[str, ...]) -> Layout:
    """A layout of exactly ``n`` entries."""
    if isinstance(c, Enumerated):
        bound = c.bound
        options = [
            lay for lay in all_layouts(n, bound.max_len, bound.null_zero, (), arrangements) if lay.n == n
        ]
        return c.pick(options, "layout")
    lay = layout(c, n, arrangements=arrangements)
    while lay.n < n:  # drawn with fewer: pad with zero-length entries
        lay = Layout((*lay.lens, 0), (*lay.nulls, True), (*lay.starts, 0), lay.slack)
    return lay


#: destination vectors for concat/clone: (kind, init hint, entries already added)
DEST_VARIANTS = (("owned", 0, 0), ("owned", 2, 1), ("owned", 1, 1), ("external", 0, 1), ("zeroed", 0, 0))


def dest(c: Choices, b: Builder) -> Ref:
    """A vector to append to: owned (empty, with room, full), external (an assert) or zeroed."""
    if not isinstance(c, Enumerated):
        return qiov(c, b, ("owned", "owned", "external", "zeroed"))[0]
    kind, hint, entries = c.pick(DEST_VARIANTS, "dest")
    if kind == "zeroed":
        return b.qiov(QiovInit(0, 0, 0, 0, 0))
    target = b.data(b"DST!")
    if kind == "external":
        arr = b.iovs([(target + k, 1) for k in range(entries)])
        return b.qiov(QiovInit(arr, entries, -1, 0, entries))
    q = b.qiov(None)
    b.call("qemu_iovec_init", q, hint)
    for k in range(entries):
        b.call("qemu_iovec_add", q, target + k, 1)
    return q


def junk_qiov(b: Builder) -> Ref:
    """A QEMUIOVector full of garbage, for functions that initialise one."""
    return b.qiov(QiovInit(0x5A5A, 0x3C3C, 0x1E1E, 0x7777, 0xABCDEF))
