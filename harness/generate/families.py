"""One case family per C function, written once for every engine.

A family lays out memory (regions and the setup calls that build owned vectors)
with a :class:`~harness.model.case.Builder`, asking a :class:`~harness.generate.choices.Choices`
for every decision, and returns the *test*: a function that asks for the
arguments and returns the calls under test.  The split is what the engines use:

- the Hypothesis engine draws the layout and one test (one case per example);
- the batched engine draws the layout, then runs every test the bound allows
  against it (every boundary offset and byte count) plus a few drawn ones;
- the exhaustive engine runs every layout of its bound and every test of each.

Families that need sockets or text streams are drawn only (``enumerable=False``).
Adding a C function means adding its family here (and its row, its port, a test).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from harness.model.case import Arg, Builder, Call, Case, QiovInit, Ref
from iovspec.cint import SIZE_MAX

from .choices import HUGE, Choices, ramp
from .layouts import ARRANGEMENTS, OFFSET, READ, SUMMED, Vectors, Wide, dest, junk_qiov, qiov, vectors

Test = tuple[Call, ...]
#: a family: lays out a case's memory, returns the function that makes its calls
Build = Callable[[Choices, Builder], Callable[[Choices], Test]]

#: qemu_iovec_init alloc hints the Hypothesis engine draws from (besides -3..40)
HINTS = (-2, -1, 0, 1, 2, 3, 7, -(1 << 31), (1 << 31) - 1, (1 << 28) + 1)


@dataclass(frozen=True)
class Family:
    """How to make the cases of one C function."""

    func: str
    build: Build
    enumerable: bool = True
    #: a family drawn only: a Hypothesis strategy of whole cases (sockets, streams)
    strategy: st.SearchStrategy[Case] | None = None


FAMILIES: dict[str, Family] = {}


def family(*funcs: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``build(c, b, func)`` as the family of each of ``funcs``."""

    def register(build: Callable[..., Any]) -> Callable[..., Any]:
        for func in funcs:
            FAMILIES[func] = Family(func, _bind(build, func))
        return build

    return register


def _bind(build: Callable[..., Any], func: str) -> Build:
    def bound(c: Choices, b: Builder) -> Callable[[Choices], Test]:
        made: Callable[[Choices], Test] = build(c, b, func)
        return made

    return bound


class Keyed:
    """A family's test and every value it reads besides its choices: two tests with the same
    key make the same calls for the same choices, so an engine that enumerates the tests of
    many layouts makes them once per key (``harness.engines.exhaustive.groups``)."""

    __slots__ = ("key", "test")

    def __init__(self, test: Callable[[Choices], Test], *key: Any) -> None:
        self.test = test
        self.key = key

    def __call__(self, a: Choices) -> Test:
        return self.test(a)


def _bnd(v: Vectors) -> tuple[int, ...]:
    return tuple(v.boundaries())


def _buffer(c: Choices, b: Builder, total: int) -> Ref:
    """A caller buffer as long as the data (``total``: the bytes the entries hold in memory;
    enumerated: bytes unlike the data's; drawn: random, and now and then a few bytes longer)."""
    if c.enumerating:
        return b.data(ramp(total, 0x80))
    return b.data(c.content(total + c.integer(0, 4, "buffer slack"), label="buffer"))


def _spare(c: Choices) -> int:
    """Entries after the counted ones, readable (drawn only: the enumeration counts 0..n)."""
    return 0 if c.enumerating else c.integer(0, 1, "spare entries")


def _buffer_arg(a: Choices, buf: Ref) -> Arg:
    """The buffer, or NULL (every test twice in the enumeration; now and then when drawn)."""
    options: tuple[Arg, ...] = (buf, 0)
    if a.enumerating:
        return a.pick(options, "buf") if a.bound.null_buffer else buf
    return 0 if a.flag("NULL buffer", 8) else buf


#: the functions given wide entries (``harness.generate.layouts``: lengths around 2**31, 2**32 and 2**63,
#: totals that wrap), and which: OFFSET_BASES long at most where the function adds an offset into
#: an entry to its base (``iov_base + offset``, ``iov_base += bytes``), followed by a real entry
#: where it also reads or writes the bytes from there, any length where it only sums and compares
#: lengths.  Not qemu_iovec_is_zero: buffer_is_zero reads a buffer as long as its length says
#: (QEMU's loads the last word first; the port calls a shorter buffer out of bounds) where the
#: shim's loop stops at the first non-zero byte, so the sanitizers could not confirm the port on
#: a wide entry; its sizes meet the wide values as amounts all the same.
WIDE: dict[str, Wide] = {
    **dict.fromkeys(
        (
            "iov_from_buf_full",
            "iov_to_buf_full",
            "iov_to_buf",
            "iov_from_buf",
            "iov_memset",
            "qemu_iovec_to_buf",
            "qemu_iovec_from_buf",
            "qemu_iovec_memset",
        ),
        READ,
    ),
    **dict.fromkeys(
        (
            "iov_copy",
            "qemu_iovec_concat_iov",
            "qemu_iovec_concat",
            "qemu_iovec_init_extended",
            "qemu_iovec_init_slice",
            "iov_discard_front_undoable",
            "iov_discard_front",
        ),
        OFFSET,
    ),
    **dict.fromkeys(
        (
            "iov_size",
            "qemu_iovec_init_external",
            "qemu_iovec_add",
            "iov_skip_offset",
            "qiov_slice",
            "qemu_iovec_slice",
            "qemu_iovec_subvec_niov",
            "iov_discard_back_undoable",
            "iov_discard_back",
            "qemu_iovec_discard_back",
        ),
        SUMMED,
    ),
}


# -- the iovec functions -------------------------------------------------------------------------
@family("iov_from_buf_full", "iov_to_buf_full", "iov_to_buf", "iov_from_buf")
def _copy(c: Choices, b: Builder, func: str) -> Callable[[Choices], Test]:
    v = vectors(c, b, spare=_spare(c), wide=WIDE[func])
    buf = _buffer(c, b, v.backed)

    def test(a: Choices) -> Test:
        cnt = a.count(v.n, v.spare, "iov_cnt")
        offset, nbytes = a.amount(v.boundaries(), "offset"), a.amount(v.boundaries(), "bytes")
        return (Call(func, (v.array, cnt, offset, _buffer_arg(a, buf), nbytes)),)

    return Keyed(test, v.array, v.n, v.spare, _bnd(v), buf)


@family("iov_memset")
def _memset(c: Choices, b: Builder, func: str) -> Callable[[Choices], Test]:
    v = vectors(c, b, wide=WIDE[func])

    def test(a: Choices) -> Test:
        cnt = a.count(v.n, label="iov_cnt")
        offset, fillc = a.amount(v.boundaries(), "offset"), a.fill()
        return (Call(func, (v.array, cnt, offset, fillc, a.amount(v.boundaries(), "bytes"))),)

    return Keyed(test, v.array, v.n, _bnd(v))


@family("iov_size")
def _size(c: Choices, b: Builder, func: str) -> Callable[[Choices], Test]:
    v = vectors(c, b, huge=True, spare=1, wide=WIDE[func])
    return Keyed(lambda a: (Call(func, (v.array, a.count(v.n, v.spare, "iov_cnt"))),), v.array, v.n, v.spare)


@family("iov_copy")
def _iov_copy(c: Choices, b: Builder, func: str) -> Callable[[Choices], Test]:
    v = vectors(c, b, wide=WIDE[func])
    m = v.n + 1 if c.enumerating else c.integer(0, v.n + 1, "dst entries")
    sentinel = b.data(bytes(8))
    dst = b.iovs([(sentinel + (k % 8), 77 + k) for k in range(m)])

    def test(a: Choices) -> Test:
        dcnt, cnt = a.integer(0, m, "dst_iov_cnt"), a.count(v.n, label="iov_cnt")
        offset, nbytes = a.amount(v.boundaries(), "offset"), a.amount(v.boundaries(), "bytes")
        return (Call(func, (dst, dcnt, v.array, cnt, offset, nbytes)),)

    return Keyed(test, dst, m, v.array, v.n, _bnd(v))


@family("iov_skip_offset")
def _skip(c: Choices, b: Builder, func: str) -> Callable[[Choices], Test]:
    v = vectors(c, b, spare=1, wide=WIDE[func])
    return Keyed(
        lambda a: (Call(func, (v.array, a.amount(v.boundaries(), "offset", arith=True))),), v.array, _bnd(v)
    )


# -- making vectors ----------------------------------------------------------------------------
@family("qemu_iovec_init")
def _init(c: Choices, b: Builder, func: str) -> Callable[[Choices], Test]:
    q = junk_qiov(b)

    def test(a: Choices) -> Test:
        if a.enumerating:
            hint, adds = a.pick(a.bound.hints, "alloc_hint"), a.integer(0, a.bound.max_adds, "adds")
        else:
            hint = a.pick(HINTS, "hint") if a.flag("edge hint") else a.integer(-3, 40, "alloc_hint")
            adds = a.integer(1, hint + 2, "adds") if 0 <= hint < 64 and a.flag("adds") else 0
        return (Call(func, (q, hint)), *(Call("qemu_iovec_add", (q, 0, k)) for k in range(adds)))

    return Keyed(test, q)


@family("qemu_iovec_init_external")
def _init_external(c: Choices, b: Builder, func: str) -> Callable[[Choices], Test]:
    v = vectors(c, b, huge=True, wide=WIDE[func])
    q = junk_qiov(b)

    def test(a: Choices) -> Test:
        if a.enumerating:
            niov = a.integer(-1, v.n, "niov")
        else:
            niov = v.n if a.flag("all entries") else a.integer(-2, v.n, "niov")
        return (Call(func, (q, v.array, niov)),)

    return Keyed(test, q, v.array, v.n)


@family("qemu_iovec_init_buf")
def _init_buf(c: Choices, b: Builder, func: str) -> Callable[[Choices], Test]:
    q = junk_qiov(b)
    size = c.bound.max_len if c.enumerating else c.integer(0, 6, "size")
    data = b.data(c.content(size, label="buffer"))

    def test(a: Choices) -> Test:
        base = a.pick((0, data), "buf")
        if a.enumerating:
            length = a.pick(a.bound.sizes(size, arith=True), "len")
        else:
            length = a.pick(HUGE, "len") if a.flag("huge len", 4) else a.integer(0, 6, "len")
        init = Call(func, (q, base, length))
        return (init, Call("qemu_iovec_buf", (q,))) if a.flag("then qemu_iovec_buf") else (init,)

    return Keyed(test, q, data, size)


@family("qemu_iovec_add")
def _add(c: Choices, b: Builder, func: str) -> Callable[[Choices], Test]:
    q, _ = qiov(c, b, max_n=c.bound.max_alloc_vectors)
    target = b.data(bytes(4))

    def one(a: Choices, last: bool) -> Call:
        bases: tuple[Arg, ...] = (0, target, target + 3)
        if a.enumerating:
            # every base and small or huge length; the last add also each wide length (at target)
            lens = (*range(a.bound.max_len + 1), *a.bound.huge)
            small = [(base, n) for base in bases for n in lens]
            wide = [(target, n) for n in WIDE[func].lengths(a.bound)] if last else []
            base, length = a.pick([*small, *wide], "entry")
        elif a.flag("wide len", 8):
            base, length = target, a.pick(WIDE[func].lengths(a.bound), "len")
        else:
            base = a.pick(bases, "base")
            length = a.pick(HUGE, "len") if a.flag("huge len", 4) else a.integer(0, 6, "len")
        return Call(func, (q, base, length))

    def test(a: Choices) -> Test:
        adds = a.integer(1, a.bound.max_adds, "adds")
        return tuple(one(a, k == adds - 1) for k in range(adds))

    return Keyed(test, q, target)


@family("qemu_iovec_concat_iov")
def _concat_iov(c: Choices, b: Builder, func: str) -> Callable[[Choices], Test]:
    d = dest(c, b)
    v = vectors(c, b, c.bound.max_alloc_vectors, spare=1, wide=WIDE[func])

    def test(a: Choices) -> Test:
        # counts past INT_MAX (the loop stops at sbytes; its i is an int), over small layouts
        cnt = a.count(v.n, v.spare, "src_cnt", wide=not v.layout.wide)
        offset, nbytes = a.amount(v.boundaries(), "soffset"), a.amount(v.boundaries(), "sbytes")
        return (Call(func, (d, v.array, cnt, offset, nbytes)),)

    return Keyed(test, d, v.array, v.n, v.spare, _bnd(v))


@family("qemu_iovec_concat")
def _concat(c: Choices, b: Builder, func: str) -> Callable[[Choices], Test]:
    itself = c.flag("append a vector to itself", 8)
    d = None if itself else dest(c, b)
    src, v = qiov(c, b, max_n=c.bound.max_alloc_vectors, wide=WIDE[func])
    target = src if d is None else d

    def test(a: Choices) -> Test:
        offset, nbytes = a.amount(v.boundaries(), "soffset"), a.amount(v.boundaries(), "sbytes")
        return (Call(func, (target, src, offset, nbytes)),)

    return Keyed(test, target, src, _bnd(v))


# -- slices -----------------------------------------------------------------------------------------
@family(
    "qiov_slice", "qemu_iovec_slice", "qemu_iovec_subvec_niov", "qemu_iovec_is_zero", "qemu_iovec_init_slice"
)
def _slice(c: Choices, b: Builder, func: str) -> Callable[[Choices], Test]:
    allocates = func == "qemu_iovec_init_slice"
    target = junk_qiov(b) if allocates else None
    style = "zero" if func == "qemu_iovec_is_zero" else "random"
    max_n = c.bound.max_alloc_vectors if allocates else None
    q, v = qiov(c, b, style=style, max_n=max_n, wide=WIDE.get(func))
    head = (target, q) if target is not None else (q,)

    def test(a: Choices) -> Test:
        offset = a.amount(v.boundaries(), "offset", arith=True)
        return (Call(func, (*head, offset, a.amount(v.boundaries(), "len", arith=True))),)

    return Keyed(test, head, _bnd(v))


@family("qemu_iovec_init_extended")
def _init_extended(c: Choices, b: Builder, func: str) -> Callable[[Choices], Test]:
    itself = c.flag("re-initialise the middle vector itself", 10)
    target = None if itself else junk_qiov(b)
    wide = not c.enumerating and c.flag("an IOV_MAX middle", 8)
    v: Vectors | None = None
    if wide:
        # IOV_MAX rules: a middle of 1022..1026 one-byte entries, sliced so that head +
        # middle + tail lands on either side of 1024 vectors
        n = c.pick((1025, 1024, 1023, 1026, 1022), "middle entries")
        data = b.data(bytes(range(256)) * 4 + bytes(2))
        arr = b.iovs([(data + k, 1) for k in range(n)])
        mid = b.qiov(QiovInit(arr, n, -1, 0, n))
    else:
        mid, v = qiov(c, b, max_n=c.bound.max_alloc_vectors, wide=WIDE[func])
    head_buf, tail_buf = b.data(b"HEAD"), b.data(b"TAIL")
    t = mid if target is None else target

    def end(a: Choices, buf: Ref, near: int, label: str) -> tuple[Arg, int]:
        if a.enumerating:
            if itself:
                return (0, 0)
            # huge ends meet the overflow checks over small middles; wide middles meet the slice
            wide = v is not None and v.layout.wide
            lens = a.bound.end_lens if wide else (*a.bound.end_lens, *a.bound.huge, *a.bound.arith_huge)
            ends: list[tuple[Arg, int]] = [(0, 0), *((buf, n) for n in lens if n)]
            return a.pick(ends, label)
        # lengths whose sum is exactly SIZE_MAX or just past it probe the overflow checks
        k = a.integer(0, 3, f"{label} kind")
        length = (
            0
            if k == 0
            else a.integer(1, 3, label)
            if k == 1
            else a.pick(HUGE, label)
            if k == 2
            else (near + a.integer(-1, 1, label)) % (1 << 64)
        )
        bufs: tuple[Arg, ...] = (0, buf)
        return a.pick(bufs, f"{label} buf"), length

    def test(a: Choices) -> Test:
        if v is None:
            mid_offset = a.integer(0, 2, "mid_offset")
            mid_len = a.pick([n - mid_offset - k for k in range(4)], "mid_len")
        else:
            mid_offset = a.amount(v.boundaries(), "mid_offset", arith=True)
            mid_len = a.amount(v.boundaries(), "mid_len", arith=True)
        head, head_len = end(a, head_buf, SIZE_MAX - mid_len, "head")
        tail, tail_len = end(a, tail_buf, SIZE_MAX - head_len - mid_len, "tail")
        return (Call(func, (t, head, head_len, mid, mid_offset, mid_len, tail, tail_len)),)

    return Keyed(test, itself, t, mid, head_buf, tail_buf, None if v is None else _bnd(v), wide and n)


# -- using vectors ----------------------------------------------------------------------------
@family("qemu_iovec_destroy", "qemu_iovec_reset", "qemu_iovec_buf")
def _one(c: Choices, b: Builder, func: str) -> Callable[[Choices], Test]:
    q, _ = qiov(c, b)

    def test(a: Choices) -> Test:
        if func == "qemu_iovec_reset" and a.flag("then add"):
            length = 1 if a.enumerating else a.integer(0, 3, "len")
            return (Call(func, (q,)), Call("qemu_iovec_add", (q, 0, length)))
        return (Call(func, (q,)),)

    return Keyed(test, q)


@family("qemu_iovec_to_buf", "qemu_iovec_from_buf", "qemu_iovec_memset")
def _qiov_buf(c: Choices, b: Builder, func: str) -> Callable[[Choices], Test]:
    q, v = qiov(c, b, wide=WIDE[func])
    buf = None if func == "qemu_iovec_memset" else _buffer(c, b, v.backed)

    def test(a: Choices) -> Test:
        offset = a.amount(v.boundaries(), "offset")
        if buf is None:
            fillc = a.fill()
            return (Call(func, (q, offset, fillc, a.amount(v.boundaries(), "bytes"))),)
        nbytes = a.amount(v.boundaries(), "bytes")
        return (Call(func, (q, offset, _buffer_arg(a, buf), nbytes)),)

    return Keyed(test, q, buf, _bnd(v))


COMPARE_SHAPES = ("same", "fewer", "longer")


@family("qemu_iovec_compare")
def _compare(c: Choices, b: Builder, func: str) -> Callable[[Choices], Test]:
    """Two vectors of the same shape over separate copies of the bytes, maybe one byte apart
    (enumerated: identical, and differing at each byte), or of another shape (asserts)."""
    kinds = (
        ("external", "owned", "embedded") if c.enumerating else ("external", "external", "owned", "embedded")
    )
    style = "zeros" if c.enumerating and c.flag("zero bytes") else "random"
    q, v = qiov(c, b, kinds, style=style, max_n=c.bound.max_alloc_vectors, arrangements=ARRANGEMENTS)
    content = next((r.init for r in b.regions if v.data is not None and r.name == v.data.region), b"")
    flat = bytearray()
    for base, n in v.entries:
        flat += content[base.offset : base.offset + n] if isinstance(base, Ref) else bytes(n)
    shape = c.pick(COMPARE_SHAPES if v.n else COMPARE_SHAPES[:1], "shape")
    lens = [n for _, n in v.entries]
    if shape == "fewer" and lens:
        lens.pop()
    elif shape == "longer" and lens:
        lens[-1] += 1
    if c.enumerating:
        diffs: list[int | None] = [None, *range(len(flat))]
    else:
        diffs = [c.integer(0, len(flat) - 1, "differ at") if flat and c.flag("one byte apart") else None]
    twins = []
    for diff in diffs:
        twin_bytes = bytearray(flat)
        if diff is not None:
            twin_bytes[diff] ^= 0x5A if c.enumerating else c.integer(1, 255, "xor")
        twin = b.data(bytes(twin_bytes) + b"\x00")
        entries: list[tuple[Arg, int]] = []
        pos = 0
        for n in lens:
            entries.append((twin + pos, n))
            pos += n
        twins.append(b.qiov(QiovInit(b.iovs(entries), len(entries), -1, 0, sum(lens))))

    def test(a: Choices) -> Test:
        other = a.pick(twins, "twin")
        return (Call(func, (q, other) if a.flag("vector under test first") else (other, q)),)

    return Keyed(test, q, tuple(twins))


@family("qemu_iovec_clone")
def _clone(c: Choices, b: Builder, func: str) -> Callable[[Choices], Test]:
    kinds = None if c.enumerating else ("external", "external", "owned", "embedded", "zeroed")
    src, v = qiov(c, b, kinds, max_n=c.bound.max_alloc_vectors, arrangements=ARRANGEMENTS)
    itself = c.flag("clone into the source itself", 10)
    d = src if itself else dest(c, b)
    buf = b.data(bytes(max(v.total, 1) + 4))
    return Keyed(lambda a: (Call(func, (d, src, buf + a.integer(0, 2, "buf offset"))),), d, src, buf)


# -- the discard functions ----------------------------------------------------------------------
@family(
    "iov_discard_front_undoable",
    "iov_discard_front",
    "iov_discard_back_undoable",
    "iov_discard_back",
    "iov_discard_undo",
)
def _discard(c: Choices, b: Builder, func: str) -> Callable[[Choices], Test]:
    """``func`` on a layout with ``*iov_cnt`` a count of it; undoable ones with a NULL undo
    record or a record (then maybe iov_discard_undo); iov_discard_undo after either."""
    undo_test = func == "iov_discard_undo"
    if undo_test:
        func = c.pick(("iov_discard_front_undoable", "iov_discard_back_undoable"), "discard")
    v = vectors(c, b, spare=_spare(c), wide=WIDE[func])
    cnt = b.uint(c.count(v.n, v.spare, "*iov_cnt"))
    assert v.array is not None
    iov_arg: Ref = b.ptr(v.array) if "front" in func else v.array
    undoable = func.endswith("undoable")
    record = undoable and (undo_test or not c.flag("NULL undo record", 5))
    undo: Arg = b.undo() if record else 0

    def test(a: Choices) -> Test:
        nbytes = a.amount(v.boundaries(), "bytes", arith=True)
        if not undoable:
            return (Call(func, (iov_arg, cnt, nbytes)),)
        call = Call(func, (iov_arg, cnt, nbytes, undo))
        if undo and (undo_test or a.flag("then undo")):
            return (call, Call("iov_discard_undo", (undo,)))
        return (call,)

    return Keyed(test, func, iov_arg, cnt, _bnd(v), undoable, undo, undo_test)


@family("qemu_iovec_discard_back")
def _qiov_discard_back(c: Choices, b: Builder, func: str) -> Callable[[Choices], Test]:
    q, v = qiov(c, b, wide=WIDE[func])
    return Keyed(lambda a: (Call(func, (q, a.amount(v.boundaries(), "bytes", arith=True))),), q, _bnd(v))


def _register_drawn() -> None:
    """The socket and hexdump families: drawn only (each run needs fresh sockets and streams)."""
    from .io_strategies import IO_STRATEGIES

    for func, strategy in IO_STRATEGIES.items():
        FAMILIES[func] = Family(func, _not_enumerable, enumerable=False, strategy=strategy)


def _not_enumerable(c: Choices, b: Builder) -> Callable[[Choices], Test]:
    raise TypeError("a drawn-only family has no layout of its own")


_register_drawn()


# -- the engines' views --------------------------------------------------------------------------
def make_case(fam: Family, c: Choices, a: Choices | None = None, label: str = "") -> Case:
    """One case of ``fam``: the layout answered by ``c``, the test by ``a`` (default: ``c``)."""
    b = Builder()
    test = fam.build(c, b)
    b.calls += test(a or c)
    return b.case(label)


def strategy(func: str) -> st.SearchStrategy[Case]:
    """The Hypothesis strategy of ``func``'s cases: one drawn layout, one drawn test."""
    from .bounds import DRAWN
    from .choices import Drawn

    fam = FAMILIES[func]
    if fam.strategy is not None:
        return fam.strategy

    @st.composite
    def cases(draw: st.DrawFn) -> Case:
        return make_case(fam, Drawn(draw, DRAWN))

    return cases()


__all__ = [
    "FAMILIES",
    "WIDE",
    "Family",
    "Keyed",
    "Test",
    "Vectors",
    "family",
    "make_case",
    "strategy",
]
