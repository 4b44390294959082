"""The exhaustive engine: every case up to a bound, port against reference, no Hypothesis.

For each function a *family* enumerates groups of cases.  A :class:`Group` is one
memory layout (regions plus the setup calls that build owned QEMUIOVectors) and
every call sequence under test against it: each offset and byte count from 0 to
the total + 1 (plus the ``Bound.huge`` values near 2**64), each count, fill value,
content class, vector kind and end buffer the bound allows.

Speed comes from building each group's two worlds once and resetting them between
calls (:meth:`harness.worlds.Run.reset`: the arena and the heap-held iovec arrays
written back, possible while the heap counters are unchanged; otherwise the Run is
built afresh).  The comparison is the Hypothesis path's: :class:`Outcome` records
from ``Run.call`` and ``Run.observe`` compared with ``first_difference``; cases the
port classifies as undefined behaviour are not run in C.  A difference is re-run
from scratch with :class:`harness.judge.Judge` before it is reported, so a report
always carries a :class:`Case` that ``python -m harness replay`` reproduces.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import product
from typing import Any

from pyimpl.memory import INT_MAX, INT_MIN, SIZE_MAX
from pyimpl.structs import IOVEC_SIZE, QIOV_LOCAL_IOV, read_qiov

from .case import Arg, Builder, Call, Case, QiovInit, Ref, Region
from .judge import Discrepancy, Judge, Tally
from .outcome import Observed, Outcome, Returned, first_difference
from .worlds import Run, World, run_case

Entry = tuple[Arg, int]
Test = tuple[Call, ...]

#: the four QEMUIOVector kinds a vector under test can be
QIOV_KINDS = ("external", "owned", "embedded", "zeroed")
#: where a layout's vectors sit in their data region, besides back to back ("seq")
ARRANGEMENTS = ("seq", "reversed", "overlap", "stagger")
#: functions of iov.c that need sockets or text streams: not enumerated here
NOT_MEMORY = frozenset({"iov_send", "iov_recv", "iov_send_recv", "do_send_recv", "iov_hexdump"})


@dataclass(frozen=True)
class Bound:
    """How far the enumeration goes (every value below is enumerated, in every combination)."""

    max_vectors: int = 3  # iovec entries in a layout: 0..max_vectors
    max_len: int = 2  # length of each entry: 0..max_len
    null_zero: bool = True  # zero-length entries also with a NULL base
    huge: tuple[int, ...] = (SIZE_MAX,)  # extra offsets, byte counts and sum-only lengths
    # further huge values where sizes only meet arithmetic (sums that may wrap, comparisons):
    # iov_size and init_external lengths, slice/is_zero/init_extended/discard/skip sizes
    arith_huge: tuple[int, ...] = (1 << 63,)
    fills: tuple[int, ...] = (0, 0xAB, -1, 256)  # memset fill values
    null_buffer: bool = True  # caller buffers also NULL
    max_qiov_vectors: int = 3  # entries of a QEMUIOVector a function reads (external/owned)
    owned_spare: tuple[int, ...] = (0, 1)  # owned vectors: qemu_iovec_init hint = entries + spare
    max_adds: int = 2  # qemu_iovec_add sequences (and adds after qemu_iovec_init): 1..max_adds
    # entries of the vectors of functions that allocate (each such case builds its worlds
    # afresh): add, concat, concat_iov's source, init_extended, init_slice, clone; and compare's
    max_alloc_vectors: int = 2
    hints: tuple[int, ...] = (-1, 0, 1, 2, INT_MAX, INT_MIN)  # qemu_iovec_init alloc_hint
    end_lens: tuple[int, ...] = (1,)  # qemu_iovec_init_extended head/tail lengths besides 0, huge
    max_zero_class_bytes: int = 6  # is_zero: every zero/non-zero pattern of a data region this big

    def describe(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"Bound({fields})"

    def sizes(self, total: int, arith: bool = False) -> list[int]:
        """Offsets and byte counts: 0..total+1, then the huge values (and the arith ones)."""
        huge = (*self.huge, *self.arith_huge) if arith else self.huge
        return [*range(total + 2), *(h for h in huge if h > total + 1)]


#: every function: 416,737 cases, about 50 s of CPU in one process (100 s wall on this shared
#: 2-core machine under load 5)
DEFAULT_BOUND = Bound()
#: every function: 18,400 cases in a few seconds, for tests
QUICK_BOUND = Bound(
    max_vectors=2,
    max_len=1,
    fills=(0, -1),
    max_qiov_vectors=2,
    owned_spare=(0,),
    max_adds=1,
    max_alloc_vectors=1,
    hints=(-1, 0, 1),
    max_zero_class_bytes=2,
)


#: the bounds the profiles use, by name
BOUNDS = {"quick": QUICK_BOUND, "default": DEFAULT_BOUND}


# -- layouts --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Layout:
    """iovec entries over one data region: lengths, NULL bases, and where each entry starts."""

    lens: tuple[int, ...]
    nulls: tuple[bool, ...]
    starts: tuple[int, ...]
    arrangement: str = "seq"

    @property
    def n(self) -> int:
        return len(self.lens)

    @property
    def total(self) -> int:
        return sum(self.lens) % (1 << 64)

    @property
    def region_size(self) -> int:
        return max(
            (s + n for s, n, z in zip(self.starts, self.lens, self.nulls, strict=True) if not z), default=0
        )


def _starts(lens: Sequence[int], nulls: Sequence[bool], arrangement: str) -> tuple[int, ...]:
    real = [0 if z else n for n, z in zip(lens, nulls, strict=True)]
    if arrangement == "seq":
        out, acc = [], 0
        for n in real:
            out.append(acc)
            acc += n
        return tuple(out)
    if arrangement == "reversed":
        rev, acc = [0] * len(real), 0
        for i in reversed(range(len(real))):
            rev[i] = acc
            acc += real[i]
        return tuple(rev)
    if arrangement == "overlap":
        return tuple(0 for _ in real)
    if arrangement == "stagger":
        return tuple(range(len(real)))
    raise ValueError(f"arrangement: unknown {arrangement!r}")


def layouts(
    max_n: int,
    max_len: int,
    null_zero: bool = True,
    huge: Iterable[int] = (),
    arrangements: Sequence[str] = ("seq",),
) -> Iterator[Layout]:
    """Every layout of 0..max_n entries of length 0..max_len (zero-length ones also NULL-based;
    each ``huge`` length NULL-based), in each arrangement that places them differently."""
    options = [(n, False) for n in range(max_len + 1)]
    if null_zero:
        options.append((0, True))
    options += [(h, True) for h in huge]
    for n in range(max_n + 1):
        for combo in product(options, repeat=n):
            lens = tuple(x for x, _ in combo)
            nulls = tuple(z for _, z in combo)
            seen: set[tuple[int, ...]] = set()
            for arrangement in arrangements:
                starts = tuple(
                    0 if z else s for s, z in zip(_starts(lens, nulls, arrangement), nulls, strict=True)
                )
                if starts in seen:
                    continue
                seen.add(starts)
                yield Layout(lens, nulls, starts, arrangement)


def ramp(n: int, first: int = 1) -> bytes:
    """``n`` non-zero bytes, all different for n < 255."""
    return bytes((first + i - 1) % 255 + 1 for i in range(n))


@dataclass
class Placed:
    """A layout laid out by a Builder: its data region, iovec array and entries."""

    data: Ref
    array: Ref | None
    entries: list[Entry]


def place(b: Builder, lay: Layout, content: bytes | None = None, array: bool = True) -> Placed:
    data = b.data(ramp(lay.region_size) if content is None else content)
    entries: list[Entry] = [
        (0, n) if z else (data + s, n) for n, z, s in zip(lay.lens, lay.nulls, lay.starts, strict=True)
    ]
    return Placed(data, b.iovs(entries) if array else None, entries)


# -- QEMUIOVector variants ------------------------------------------------------------------------
@dataclass(frozen=True)
class QiovVariant:
    """A QEMUIOVector under test: a layout and a kind (owned ones with init hint n + spare)."""

    layout: Layout
    kind: str
    spare: int = 0


def qiov_variants(
    bound: Bound,
    kinds: Sequence[str] = QIOV_KINDS,
    arrangements: Sequence[str] = ("seq",),
    max_n: int | None = None,
) -> Iterator[QiovVariant]:
    """External and owned vectors over every layout up to ``max_n`` (``max_qiov_vectors``)
    entries, embedded ones over every one-entry layout, and one zeroed vector (empty layout)."""
    max_n = bound.max_qiov_vectors if max_n is None else max_n
    for lay in layouts(max_n, bound.max_len, bound.null_zero, (), arrangements):
        for kind in kinds:
            if (kind == "embedded" and lay.n != 1) or (kind == "zeroed" and lay.n != 0):
                continue
            for spare in bound.owned_spare if kind == "owned" else (0,):
                yield QiovVariant(lay, kind, spare)


def make_qiov(b: Builder, v: QiovVariant, content: bytes | None = None) -> tuple[Ref, Placed]:
    """Lay out ``v`` (data first, then the vector; owned ones built by setup calls)."""
    lay = v.layout
    if v.kind == "zeroed":
        p = Placed(b.data(b""), None, [])
        return b.qiov(QiovInit(0, 0, 0, 0, 0)), p
    p = place(b, lay, content, array=v.kind == "external")
    if v.kind == "external":
        assert p.array is not None
        return b.qiov(QiovInit(p.array, lay.n, -1, 0, lay.total)), p
    q = b.qiov(None)
    if v.kind == "embedded":
        base, length = p.entries[0]
        b.set_qiov(q, QiovInit(q + QIOV_LOCAL_IOV, 1, -1, base, length))
        return q, p
    if v.kind != "owned":
        raise ValueError(f"kind: unknown {v.kind!r}")
    b.call("qemu_iovec_init", q, lay.n + v.spare)
    for base, length in p.entries:
        b.call("qemu_iovec_add", q, base, length)
    return q, p


#: destination vectors for concat/clone: (kind, init hint, entries already added)
DEST_VARIANTS = (("owned", 0, 0), ("owned", 2, 1), ("owned", 1, 1), ("external", 0, 1), ("zeroed", 0, 0))


def make_dest(b: Builder, kind: str, hint: int, entries: int) -> Ref:
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


# -- groups and families --------------------------------------------------------------------------
@dataclass(frozen=True)
class Group:
    """One layout (regions and setup calls) and every call sequence tested against it."""

    regions: tuple[Region, ...]
    setup: tuple[Call, ...]
    tests: tuple[Test, ...]

    def case(self, test: Test, label: str = "") -> Case:
        return Case(self.regions, self.setup + test, label)

    def size_key(self) -> tuple[int, int, int]:
        """How big the layout is: iovec entries (arrays and added ones), bytes, setup calls."""
        entries = sum(r.size // IOVEC_SIZE for r in self.regions if r.kind == "iovs")
        entries += sum(1 for c in self.setup if c.func == "qemu_iovec_add")
        return (entries, sum(r.size for r in self.regions if r.kind == "data"), len(self.setup))


def _group(b: Builder, tests: Iterable[Test]) -> Group:
    return Group(tuple(b.regions), tuple(b.calls), tuple(tests))


Family = Callable[[Bound], Iterator[Group]]


def _plain_layouts(bound: Bound, huge: bool = False, max_n: int | None = None) -> Iterator[Layout]:
    n = bound.max_vectors if max_n is None else max_n
    return layouts(n, bound.max_len, bound.null_zero, (*bound.huge, *bound.arith_huge) if huge else ())


def _fam_buf_copy(func: str) -> Family:
    def family(bound: Bound) -> Iterator[Group]:
        for lay in _plain_layouts(bound):
            b = Builder()
            p = place(b, lay)
            buf = b.data(ramp(lay.total, 0x80))
            bufs: tuple[Arg, ...] = (buf, 0) if bound.null_buffer else (buf,)
            sizes = bound.sizes(lay.total)
            yield _group(
                b,
                (
                    (Call(func, (p.array, cnt, off, bu, nb)),)
                    for cnt in range(lay.n + 1)
                    for off in sizes
                    for nb in sizes
                    for bu in bufs
                ),
            )

    return family


def _fam_iov_memset(bound: Bound) -> Iterator[Group]:
    for lay in _plain_layouts(bound):
        b = Builder()
        p = place(b, lay)
        sizes = bound.sizes(lay.total)
        yield _group(
            b,
            (
                (Call("iov_memset", (p.array, cnt, off, fill, nb)),)
                for cnt in range(lay.n + 1)
                for off in sizes
                for nb in sizes
                for fill in bound.fills
            ),
        )


def _fam_iov_size(bound: Bound) -> Iterator[Group]:
    for lay in _plain_layouts(bound, huge=True):
        b = Builder()
        p = place(b, lay)
        yield _group(b, ((Call("iov_size", (p.array, cnt)),) for cnt in range(lay.n + 1)))


def _fam_iov_copy(bound: Bound) -> Iterator[Group]:
    for lay in _plain_layouts(bound):
        b = Builder()
        p = place(b, lay)
        sentinel = b.data(bytes(8))
        m = lay.n + 1
        dst = b.iovs([(sentinel + (k % 8), 77 + k) for k in range(m)])
        sizes = bound.sizes(lay.total)
        yield _group(
            b,
            (
                (Call("iov_copy", (dst, dcnt, p.array, cnt, off, nb)),)
                for dcnt in range(m + 1)
                for cnt in range(lay.n + 1)
                for off in sizes
                for nb in sizes
            ),
        )


def _fam_qemu_iovec_init(bound: Bound) -> Iterator[Group]:
    b = Builder()
    q = junk_qiov(b)
    yield _group(
        b,
        (
            (Call("qemu_iovec_init", (q, hint)), *(Call("qemu_iovec_add", (q, 0, k)) for k in range(adds)))
            for hint in bound.hints
            for adds in range(bound.max_adds + 1)
        ),
    )


def _fam_init_external(bound: Bound) -> Iterator[Group]:
    for lay in _plain_layouts(bound, huge=True):
        b = Builder()
        p = place(b, lay)
        q = junk_qiov(b)
        yield _group(
            b, ((Call("qemu_iovec_init_external", (q, p.array, niov)),) for niov in range(-1, lay.n + 1))
        )


def add_options(bound: Bound, target: Ref) -> list[tuple[Arg, int]]:
    """(base, len) of one qemu_iovec_add: NULL or a small target buffer, any length of the bound."""
    return [(base, n) for base in (0, target, target + 3) for n in (*range(bound.max_len + 1), *bound.huge)]


def _fam_qemu_iovec_add(bound: Bound) -> Iterator[Group]:
    for v in qiov_variants(bound, max_n=bound.max_alloc_vectors):
        b = Builder()
        q, _ = make_qiov(b, v)
        options = add_options(bound, b.data(bytes(4)))
        tests = [
            tuple(Call("qemu_iovec_add", (q, base, n)) for base, n in seq)
            for k in range(1, bound.max_adds + 1)
            for seq in product(options, repeat=k)
        ]
        yield _group(b, tests)


def _fam_concat_iov(bound: Bound) -> Iterator[Group]:
    for dest in DEST_VARIANTS:
        for lay in _plain_layouts(bound, max_n=bound.max_alloc_vectors):
            b = Builder()
            dst = make_dest(b, *dest)
            p = place(b, lay)
            sizes = bound.sizes(lay.total)
            yield _group(
                b,
                (
                    (Call("qemu_iovec_concat_iov", (dst, p.array, cnt, off, nb)),)
                    for cnt in range(lay.n + 1)
                    for off in sizes
                    for nb in sizes
                ),
            )


def _fam_concat(bound: Bound) -> Iterator[Group]:
    for v in qiov_variants(bound, max_n=bound.max_alloc_vectors):
        sizes = bound.sizes(v.layout.total)
        for dest in (*DEST_VARIANTS, None):  # None: appending the vector to itself
            b = Builder()
            dst = make_dest(b, *dest) if dest is not None else None
            src, _ = make_qiov(b, v)
            d = src if dst is None else dst
            yield _group(
                b, ((Call("qemu_iovec_concat", (d, src, off, nb)),) for off in sizes for nb in sizes)
            )


def _fam_iov_skip_offset(bound: Bound) -> Iterator[Group]:
    for lay in _plain_layouts(bound):
        b = Builder()
        p = place(b, lay)
        yield _group(
            b, ((Call("iov_skip_offset", (p.array, off)),) for off in bound.sizes(lay.total, arith=True))
        )


def zero_classes(size: int, limit: int) -> Iterator[bytes]:
    """Every pattern of zero and non-zero bytes over ``size`` bytes (only all-zero / all-non-zero
    past ``limit``)."""
    if size > limit:
        yield bytes(size)
        yield ramp(size)
        return
    nonzero = ramp(size)
    for mask in range(1 << size):
        yield bytes(nonzero[i] if mask >> i & 1 else 0 for i in range(size))


def _fam_slice_like(func: str) -> Family:
    def family(bound: Bound) -> Iterator[Group]:
        allocates = func == "qemu_iovec_init_slice"
        for v in qiov_variants(bound, max_n=bound.max_alloc_vectors if allocates else None):
            sizes = bound.sizes(v.layout.total, arith=True)
            contents: Iterable[bytes | None] = (None,)
            if func == "qemu_iovec_is_zero":
                contents = zero_classes(v.layout.region_size, bound.max_zero_class_bytes)
            for content in contents:
                b = Builder()
                target = junk_qiov(b) if func == "qemu_iovec_init_slice" else None
                q, _ = make_qiov(b, v, content)
                head = (target, q) if target is not None else (q,)
                yield _group(b, ((Call(func, (*head, off, n)),) for off in sizes for n in sizes))

    return family


def extended_ends(bound: Bound, buf: Ref) -> list[tuple[Arg, int]]:
    """Head or tail of qemu_iovec_init_extended: none, or a buffer of each end length."""
    return [(0, 0), *((buf, n) for n in (*bound.end_lens, *bound.huge, *bound.arith_huge) if n)]


def _fam_init_extended(bound: Bound) -> Iterator[Group]:
    for v in qiov_variants(bound, max_n=bound.max_alloc_vectors):
        sizes = bound.sizes(v.layout.total, arith=True)
        for self_target in (False, True):  # True: re-initialising the middle vector itself
            b = Builder()
            target = None if self_target else junk_qiov(b)
            mid, _ = make_qiov(b, v)
            heads = extended_ends(bound, b.data(b"HEAD"))
            tails = extended_ends(bound, b.data(b"TAIL"))
            if self_target:
                heads, tails = heads[:1], tails[:1]
            t = mid if target is None else target
            yield _group(
                b,
                (
                    (Call("qemu_iovec_init_extended", (t, hb, hl, mid, off, n, tb, tl)),)
                    for hb, hl in heads
                    for tb, tl in tails
                    for off in sizes
                    for n in sizes
                ),
            )


def _fam_one_qiov(func: str) -> Family:
    def family(bound: Bound) -> Iterator[Group]:
        for v in qiov_variants(bound):
            b = Builder()
            q, _ = make_qiov(b, v)
            tests: list[Test] = [(Call(func, (q,)),)]
            if func == "qemu_iovec_reset":
                tests.append((Call(func, (q,)), Call("qemu_iovec_add", (q, 0, 1))))
            yield _group(b, tests)

    return family


def _fam_qiov_buf_op(func: str) -> Family:
    def family(bound: Bound) -> Iterator[Group]:
        for v in qiov_variants(bound):
            b = Builder()
            q, _ = make_qiov(b, v)
            sizes = bound.sizes(v.layout.total)
            if func == "qemu_iovec_memset":
                tests = [
                    (Call(func, (q, off, fill, nb)),) for off in sizes for nb in sizes for fill in bound.fills
                ]
            else:
                buf = b.data(ramp(v.layout.total, 0x80))
                bufs: tuple[Arg, ...] = (buf, 0) if bound.null_buffer else (buf,)
                tests = [(Call(func, (q, off, bu, nb)),) for off in sizes for nb in sizes for bu in bufs]
            yield _group(b, tests)

    return family


COMPARE_SHAPES = ("same", "fewer", "longer")


def _fam_compare(bound: Bound) -> Iterator[Group]:
    """``a`` of each kind and arrangement, zero or non-zero bytes; against it, back-to-back copies
    of its bytes, identical and differing at each position, of one shape: the same, one entry
    fewer, or the last entry one longer; compared both ways round.  (The copies of one shape
    share a group: the calls only read, so the group's worlds serve all of them.)"""
    for v in qiov_variants(bound, ("external", "owned", "embedded"), ARRANGEMENTS, bound.max_alloc_vectors):
        lay = v.layout
        for zero in (False, True):
            content = bytes(lay.region_size) if zero else ramp(lay.region_size)
            flat = bytearray()
            for n, z, s in zip(lay.lens, lay.nulls, lay.starts, strict=True):
                flat += bytes(n) if z else content[s : s + n]
            for shape in COMPARE_SHAPES if lay.n else COMPARE_SHAPES[:1]:
                lens = list(lay.lens)
                if shape == "fewer":
                    lens.pop()
                elif shape == "longer":
                    lens[-1] += 1
                b = Builder()
                a, _ = make_qiov(b, v, content)
                tests: list[Test] = []
                for diff in (None, *range(len(flat))):
                    twin_bytes = bytearray(flat)
                    if diff is not None:
                        twin_bytes[diff] ^= 0x5A
                    twin = b.data(bytes(twin_bytes) + b"\x00")
                    entries: list[Entry] = []
                    pos = 0
                    for n in lens:
                        entries.append((twin + pos, n))
                        pos += n
                    other = b.qiov(QiovInit(b.iovs(entries), len(entries), -1, 0, sum(lens)))
                    tests += [
                        (Call("qemu_iovec_compare", (a, other)),),
                        (Call("qemu_iovec_compare", (other, a)),),
                    ]
                yield _group(b, tests)


def _fam_clone(bound: Bound) -> Iterator[Group]:
    for v in qiov_variants(bound, QIOV_KINDS, ARRANGEMENTS, bound.max_alloc_vectors):
        for dest in (*DEST_VARIANTS, None):  # None: cloning into the source itself
            b = Builder()
            src, _ = make_qiov(b, v)
            d = src if dest is None else make_dest(b, *dest)
            buf = b.data(bytes(max(v.layout.total, 1) + 4))
            yield _group(b, [(Call("qemu_iovec_clone", (d, src, buf)),)])


def _discard_group(bound: Bound, lay: Layout, cnt: int, func: str, modes: Sequence[str]) -> Group:
    """``func`` on ``lay`` with ``*iov_cnt`` = ``cnt``, each byte count, each undo mode of ``modes``
    ("null": a NULL undo record, given only with no undo region; "undo": a record;
    "undo+restore": a record, then iov_discard_undo on it); non-undoable ``func``: no modes."""
    b = Builder()
    p = place(b, lay)
    assert p.array is not None
    iov_arg = b.ptr(p.array) if "front" in func else p.array
    cnt_arg = b.uint(cnt)
    sizes = bound.sizes(lay.total, arith=True)
    if not func.endswith("undoable"):
        return _group(b, ((Call(func, (iov_arg, cnt_arg, nb)),) for nb in sizes))
    if tuple(modes) == ("null",):
        return _group(b, ((Call(func, (iov_arg, cnt_arg, nb, 0)),) for nb in sizes))
    undo = b.undo()
    tests: list[Test] = []
    for nb in sizes:
        for mode in modes:
            call = Call(func, (iov_arg, cnt_arg, nb, undo))
            tests.append((call, Call("iov_discard_undo", (undo,))) if mode == "undo+restore" else (call,))
    return _group(b, tests)


def _fam_discard(func: str) -> Family:
    def family(bound: Bound) -> Iterator[Group]:
        for lay in _plain_layouts(bound):
            for cnt in range(lay.n + 1):
                if func.endswith("undoable"):
                    yield _discard_group(bound, lay, cnt, func, ("null",))
                    yield _discard_group(bound, lay, cnt, func, ("undo", "undo+restore"))
                else:
                    yield _discard_group(bound, lay, cnt, func, ())

    return family


def _fam_discard_undo(bound: Bound) -> Iterator[Group]:
    for func in ("iov_discard_front_undoable", "iov_discard_back_undoable"):
        for lay in _plain_layouts(bound):
            for cnt in range(lay.n + 1):
                yield _discard_group(bound, lay, cnt, func, ("undo+restore",))


def _fam_qiov_discard_back(bound: Bound) -> Iterator[Group]:
    for v in qiov_variants(bound):
        b = Builder()
        q, _ = make_qiov(b, v)
        yield _group(
            b, ((Call("qemu_iovec_discard_back", (q, nb)),) for nb in bound.sizes(v.layout.total, arith=True))
        )


def _fam_init_buf(bound: Bound) -> Iterator[Group]:
    b = Builder()
    q = junk_qiov(b)
    data = b.data(ramp(bound.max_len))
    tests: list[Test] = []
    for base in (0, data):
        for n in bound.sizes(bound.max_len, arith=True):
            init = Call("qemu_iovec_init_buf", (q, base, n))
            tests += [(init,), (init, Call("qemu_iovec_buf", (q,)))]
    yield _group(b, tests)


#: the enumeration of each function, by C name (the Hypothesis campaign's memory functions)
FAMILIES: dict[str, Family] = {
    "iov_from_buf_full": _fam_buf_copy("iov_from_buf_full"),
    "iov_to_buf_full": _fam_buf_copy("iov_to_buf_full"),
    "iov_memset": _fam_iov_memset,
    "iov_size": _fam_iov_size,
    "iov_copy": _fam_iov_copy,
    "qemu_iovec_init": _fam_qemu_iovec_init,
    "qemu_iovec_init_external": _fam_init_external,
    "qemu_iovec_add": _fam_qemu_iovec_add,
    "qemu_iovec_concat_iov": _fam_concat_iov,
    "qemu_iovec_concat": _fam_concat,
    "iov_skip_offset": _fam_iov_skip_offset,
    "qiov_slice": _fam_slice_like("qiov_slice"),
    "qemu_iovec_subvec_niov": _fam_slice_like("qemu_iovec_subvec_niov"),
    "qemu_iovec_init_extended": _fam_init_extended,
    "qemu_iovec_is_zero": _fam_slice_like("qemu_iovec_is_zero"),
    "qemu_iovec_init_slice": _fam_slice_like("qemu_iovec_init_slice"),
    "qemu_iovec_destroy": _fam_one_qiov("qemu_iovec_destroy"),
    "qemu_iovec_reset": _fam_one_qiov("qemu_iovec_reset"),
    "qemu_iovec_to_buf": _fam_qiov_buf_op("qemu_iovec_to_buf"),
    "qemu_iovec_from_buf": _fam_qiov_buf_op("qemu_iovec_from_buf"),
    "qemu_iovec_memset": _fam_qiov_buf_op("qemu_iovec_memset"),
    "qemu_iovec_compare": _fam_compare,
    "qemu_iovec_clone": _fam_clone,
    "iov_discard_undo": _fam_discard_undo,
    "iov_discard_front_undoable": _fam_discard("iov_discard_front_undoable"),
    "iov_discard_front": _fam_discard("iov_discard_front"),
    "iov_discard_back_undoable": _fam_discard("iov_discard_back_undoable"),
    "iov_discard_back": _fam_discard("iov_discard_back"),
    "qemu_iovec_discard_back": _fam_qiov_discard_back,
    "iov_to_buf": _fam_buf_copy("iov_to_buf"),
    "iov_from_buf": _fam_buf_copy("iov_from_buf"),
    "qemu_iovec_init_buf": _fam_init_buf,
    "qemu_iovec_buf": _fam_one_qiov("qemu_iovec_buf"),
}
FUNCTIONS = tuple(FAMILIES)


def groups(func: str, bound: Bound) -> Iterator[Group]:
    """The groups of cases enumerated for ``func``."""
    try:
        family = FAMILIES[func]
    except KeyError:
        raise ValueError(f"func: no exhaustive enumeration for {func!r}") from None
    return family(bound)


def cases(func: str, bound: Bound) -> Iterator[Case]:
    """Every case enumerated for ``func``, one by one (slow; the engine does not build these)."""
    for group in groups(func, bound):
        for test in group.tests:
            yield group.case(test, f"exhaustive {func}")


def count_cases(func: str, bound: Bound) -> int:
    return sum(len(g.tests) for g in groups(func, bound))


# -- running --------------------------------------------------------------------------------------
class _ArenaSnapshot:
    """A world memory whose arena loads come from one snapshot (observers only).

    ``Run.observe`` reads every field with small loads; served from bytes taken right
    before, they are the same values at a fraction of the cost on the C side.  Arena
    addresses are never heap blocks, so ``heap_block`` answers None there directly.
    """

    def __init__(self, mem: Any, base: int, data: bytes) -> None:
        self.mem = mem
        self.base = base
        self.data = data
        self.end = base + len(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.mem, name)

    def _bytes(self, addr: int, n: int) -> bytes | None:
        if self.base <= addr and addr + n <= self.end:
            return self.data[addr - self.base : addr - self.base + n]
        return None

    def peek(self, addr: int, n: int) -> bytes:
        got = self._bytes(addr, n)
        return got if got is not None else bytes(self.mem.peek(addr, n))

    def read(self, addr: int, n: int) -> bytes:
        got = self._bytes(addr, n)
        return got if got is not None else bytes(self.mem.read(addr, n))

    def u64(self, addr: int) -> int:
        got = self._bytes(addr, 8)
        return int.from_bytes(got, "little") if got is not None else int(self.mem.u64(addr))

    def i32(self, addr: int) -> int:
        got = self._bytes(addr, 4)
        return int.from_bytes(got, "little", signed=True) if got is not None else int(self.mem.i32(addr))

    def u32(self, addr: int) -> int:
        got = self._bytes(addr, 4)
        return int.from_bytes(got, "little") if got is not None else int(self.mem.u32(addr))

    def heap_block(self, addr: int) -> tuple[int, int] | None:
        if self.base <= addr < self.end:
            return None
        block: tuple[int, int] | None = self.mem.heap_block(addr)
        return block


def observe(run: Run, arena: bytes | None = None) -> tuple[Observed, ...]:
    """``run.observe()`` with its arena loads served from one snapshot (``arena`` if given)."""
    real = run.mem
    data = run.arena_bytes() if arena is None else arena
    run.mem = _ArenaSnapshot(real, run.base, data)
    try:
        return run.observe(data)
    finally:
        run.mem = real


class _Side:
    """One world's Run of a group, reset between tests while that is possible.

    After the setup calls the Run is checkpointed: the arena and the heap blocks then live
    (the owned vectors' iovec arrays; reuse needs every live block among them).  Each test
    starts by resetting to it, unless the heap was used since (then the Run is rebuilt).
    While the heap is unused the observation is a function of the arena bytes and those
    blocks' bytes alone (the block set, hence every pointer's name, is the checkpoint's), so
    it is memoised on them.
    """

    def __init__(self, world: World, group: Group, mirror: World | None = None) -> None:
        self.world = world
        self.group = group
        self.mirror = mirror
        self.run: Run | None = None
        self.builds = 0
        self.heap_used = False
        self.memo: dict[tuple[bytes, ...], tuple[Observed, ...]] = {}

    def _build(self) -> Run:
        self.close()
        run = Run(self.world, Case(self.group.regions, self.group.setup), self.mirror)
        self.run = run
        self.builds += 1
        self.setup_results = tuple(run.calls(self.group.setup))
        self.setup_ok = all(isinstance(r, Returned) for r in self.setup_results)
        spans = self._heap_spans(run)
        self.checkpoint = run.checkpoint(spans)
        self.reusable = self.checkpoint.heap.live == len(spans) and not run.pairs and not run.streams
        self.heap_used = False
        self.memo.clear()
        return run

    def _heap_spans(self, run: Run) -> tuple[tuple[int, int], ...]:
        """The heap-held iovec arrays of the group's vectors (owned ones), whole blocks."""
        spans: dict[int, int] = {}
        for region in self.group.regions:
            if region.kind == "qiov":
                q = read_qiov(run.mem, run.addr(Ref(region.name)))
                block = run.mem.heap_block(q.iov) if q.iov else None
                if q.nalloc > 0 and block is not None and block[1] == 0:
                    spans[q.iov] = IOVEC_SIZE * q.nalloc
        return tuple(spans.items())

    @property
    def stale(self) -> bool:
        """The next test needs a fresh Run (the heap was used since the checkpoint)."""
        return self.run is None or self.heap_used

    def outcome(self, test: Test) -> Outcome:
        """The outcome ``run_case`` would give for the group's case with ``test`` as its calls."""
        run = self.run
        if run is None or self.heap_used or not run.reset(self.checkpoint, heap=self.checkpoint.heap):
            run = self._build()
        results = list(self.setup_results)
        if self.setup_ok:
            run.calls(test, results)
        arena = run.arena_bytes()
        # heap counters only grow: unchanged counters mean no block was allocated, resized or freed
        self.heap_used = not self.reusable or run.mem.heap_stats() != self.checkpoint.heap
        if self.heap_used:
            return Outcome(tuple(results), observe(run, arena))
        key = (arena, *(bytes(run.mem.read(addr, len(saved))) for addr, saved in self.checkpoint.spans))
        obs = self.memo.get(key)
        if obs is None:
            obs = self.memo[key] = observe(run, arena)
        return Outcome(tuple(results), obs)

    def close(self) -> None:
        if self.run is not None:
            self.run.close()
            self.run = None


def ordered_groups(func: str, bound: Bound) -> list[Group]:
    """The groups of ``func``, smallest layout first (iovec entries, then bytes, then setup calls),
    so the first failing case found is also the smallest the bound holds."""
    return sorted(groups(func, bound), key=Group.size_key)


def check_function(
    func: str,
    bound: Bound,
    judge: Judge,
    tally: Tally | None = None,
    progress: Callable[[int], None] | None = None,
    verify: bool = False,
) -> int:
    """Judge every case of ``func`` within ``bound``, smallest first; returns how many.

    Raises the judge's :class:`Discrepancy` (re-judged on a fresh run of the case, so a
    report always carries a case ``harness replay`` reproduces) or :class:`CCrashed` for
    the first failing case.  ``verify`` also runs every case from scratch in both worlds
    and raises :class:`FastPathError` if a reused Run's outcome differs from it.
    """
    done = 0
    for group in ordered_groups(func, bound):
        # the C heap counters are process-wide: no other run while a group's worlds live
        ours, theirs = _Side(judge.port, group, judge.reference), _Side(judge.reference, group)
        if judge.flight is not None:
            judge.flight.record_batch(Case(group.regions, group.setup, f"exhaustive {func}"), group.tests)
        flight, judge.flight = judge.flight, None  # recorded for the whole group at once
        failure: Discrepancy | None = None
        seen: list[tuple[Case, Outcome, Outcome | None]] = []
        try:
            for test in group.tests:
                done += 1
                case = group.case(test, f"exhaustive {func}")
                if ours.stale or theirs.stale:  # both rebuilt, so the port mirrors C's addresses
                    ours.close()
                    theirs.close()
                a = ours.outcome(test)
                c: list[Outcome] = []

                def run_c(side: _Side = theirs, t: Test = test, out: list[Outcome] = c) -> Outcome:
                    out.append(side.outcome(t))
                    return out[-1]

                try:
                    judge.decide(case, a, run_c, tally)
                except Discrepancy as d:
                    failure = d
                    break
                if verify:
                    seen.append((case, a, c[0] if c else None))
                if progress is not None and done % 256 == 0:
                    progress(done)
        finally:
            judge.flight = flight
            ours.close()
            theirs.close()
        for case, a, c_outcome in seen:  # fresh runs only once the group's C Run is gone
            _verify(case, judge, a, c_outcome)
        if failure is not None:
            if failure.outcomes[1] is None:  # an unconfirmed UB claim: judged on the case itself
                raise failure
            judge.check(failure.case)  # raises the fresh run's Discrepancy
            raise FastPathError(
                f"a reused run differed ({failure.difference}) but a fresh run of the case agrees\n"
                f"{failure.case.describe()}"
            )
    if progress is not None:
        progress(done)
    return done


class FastPathError(AssertionError):
    """A reused Run's outcome is not the outcome of a fresh run of the same case."""


def _verify(case: Case, judge: Judge, ours: Outcome, theirs: Outcome | None) -> None:
    for world, fast in ((judge.port, ours), (judge.reference, theirs)):
        if fast is None:
            continue
        fresh = run_case(world, case, judge.reference if world is judge.port else None)
        if fresh != fast:
            diff = first_difference(fresh, fast, ("fresh", "reused"))
            raise FastPathError(f"{world.name}: {diff}\n{case.describe()}")
