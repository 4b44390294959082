"""Hypothesis strategies that build cases reaching the corners of iov.c.

Every strategy draws a memory layout (iovec arrays over data regions, with
zero-length entries, NULL bases, overlapping and out-of-order bases), the
QEMUIOVectors the function needs (external, embedded, owned, zeroed, or with a
``size`` that disagrees with its vectors), and arguments drawn mostly from the
boundaries that matter: 0, every element boundary and +-1, the total and +-1,
and size_t values near 2**64.  Cases whose C execution would be undefined are
still generated; the port classifies them and the C side is not run on them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from pyimpl.memory import INT_MAX, INT_MIN, SIZE_MAX
from pyimpl.structs import QIOV_LOCAL_IOV

from .case import Arg, Builder, Case, QiovInit, Ref

HUGE = (SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 15, 1 << 63, (1 << 63) - 1, 1 << 32, (1 << 32) - 1, 1 << 31)
FILLS = (0, 0xFF, -1, 256, 0x1234, -129, INT_MIN, INT_MAX)
HINTS = (-2, -1, 0, 1, 2, 3, 7, INT_MIN, INT_MAX, (1 << 28) + 1)


class Vectors:
    """An iovec layout drawn for a case: where its array is and what it says."""

    def __init__(self, array: Ref, entries: list[tuple[Arg, int]], data: Ref | None) -> None:
        self.array = array
        self.entries = entries
        self.data = data

    @property
    def lens(self) -> list[int]:
        return [n for _, n in self.entries]

    @property
    def total(self) -> int:
        return sum(self.lens) % (1 << 64)

    def boundaries(self) -> list[int]:
        out, acc = [0], 0
        for n in self.lens:
            acc += n
            out.append(acc)
        return out


def _content(draw: st.DrawFn, size: int, style: str, hot: tuple[int, ...] = ()) -> bytes:
    """Random bytes, or (style "zero") zeros with at most one non-zero byte, often at a ``hot`` spot."""
    if style == "zero":
        data = bytearray(size)
        if size and draw(st.booleans()):
            spots = sorted({h for h in hot if 0 <= h < size})
            where = st.integers(0, size - 1)
            if spots:
                where = st.one_of(st.sampled_from(spots), where)
            data[draw(where)] = draw(st.integers(1, 255))
        return bytes(data)
    return draw(st.binary(min_size=size, max_size=size))


@st.composite
def vectors(
    draw: st.DrawFn, b: Builder, max_n: int = 6, style: str = "random", spare: int = 0, huge: bool = False
) -> Vectors:
    """An iovec array over one data region; ``spare`` extra entries follow the counted ones.

    Entries are consecutive, consecutive with gaps, out of order, or anywhere (overlapping).
    """
    n = draw(st.one_of(st.integers(0, 2), st.integers(0, max_n)))
    lens = draw(
        st.lists(st.one_of(st.just(0), st.integers(1, 4), st.integers(0, 12)), min_size=n, max_size=n)
    )
    if huge and n and draw(st.booleans()):
        # lengths only summed, never dereferenced (iov_size): let the sum wrap
        lens[draw(st.integers(0, n - 1))] = draw(st.sampled_from(HUGE))
        nulls: list[tuple[Arg, int]] = [(0, n_) for n_ in lens]
        return Vectors(b.iovs(nulls), nulls, None)
    total = sum(lens)
    arrangement = draw(st.sampled_from(("seq", "seq", "gapped", "shuffled", "overlap")))
    starts, acc = [], 0
    for n_ in lens:
        if arrangement == "gapped":
            acc += draw(st.integers(0, 3))
        starts.append(acc)
        acc += n_
    if arrangement == "shuffled" and n > 1:
        order = draw(st.permutations(range(n)))
        pos, acc = [0] * n, 0
        for k in order:
            pos[k] = acc
            acc += lens[k]
        starts = pos
    elif arrangement == "overlap":
        starts = [draw(st.integers(0, total - n_)) for n_ in lens]
    size = max([s + n_ for s, n_ in zip(starts, lens, strict=True)], default=0) + draw(st.integers(0, 3))
    hot = tuple(starts) + tuple(s + n_ - 1 for s, n_ in zip(starts, lens, strict=True))
    data = b.data(_content(draw, size, style, hot))
    entries: list[tuple[Arg, int]] = []
    for n_, s in zip(lens, starts, strict=True):
        if n_ == 0 and draw(st.integers(0, 3)) == 0:
            entries.append((0, 0))  # NULL base with zero length
        else:
            entries.append((data + s, n_))
    extra = [(data + draw(st.integers(0, size)), draw(st.integers(0, 5))) for _ in range(spare)]
    return Vectors(b.iovs([*entries, *extra]), entries, data)


@st.composite
def size_arg(draw: st.DrawFn, v: Vectors | list[int], huge: bool = True) -> int:
    """A byte count or offset: a boundary of ``v`` or +-1, something small, or near 2**64."""
    bounds = v.boundaries() if isinstance(v, Vectors) else v
    cands = sorted({(x + d) & SIZE_MAX for x in bounds for d in (-1, 0, 1) if x + d >= 0})
    options = [st.sampled_from(cands), st.sampled_from(cands), st.integers(0, min(max(bounds) + 3, SIZE_MAX))]
    if huge:
        options.append(st.sampled_from(HUGE))
    value: int = draw(st.one_of(*options))
    return value


@st.composite
def count_arg(draw: st.DrawFn, n: int, spare: int = 0) -> int:
    """An entry count: all of them, fewer, none, or into the spare entries."""
    return draw(st.one_of(st.just(n), st.integers(0, n + spare)))


@st.composite
def buffer(draw: st.DrawFn, b: Builder, need: int) -> Arg:
    """A caller buffer of about ``need`` bytes (sometimes NULL when nothing is needed)."""
    if need == 0 and draw(st.integers(0, 3)) == 0:
        return 0
    size = draw(st.one_of(st.just(need), st.integers(need, need + 4)))
    return b.data(_content(draw, size, "random"))


QIOV_KINDS = ("external", "owned", "embedded", "zeroed", "api-external", "api-embedded", "skewed")


@st.composite
def qiov(
    draw: st.DrawFn, b: Builder, kinds: tuple[str, ...] = QIOV_KINDS, style: str = "random", max_n: int = 6
) -> tuple[Ref, Vectors]:
    """A QEMUIOVector of one of ``kinds`` over a drawn layout; returns it and its vectors."""
    kind = draw(st.sampled_from(kinds))
    if kind in ("embedded", "api-embedded"):
        v = draw(vectors(b, max_n=1, style=style))
        if not v.entries:
            v.entries.append((0, 0))
    else:
        v = draw(vectors(b, max_n=max_n, style=style))
    n, total = len(v.entries), v.total
    if kind == "external":
        return b.qiov(QiovInit(v.array, n, -1, 0, total)), v
    if kind == "skewed":  # size disagrees with the vectors, as after the caller edits them
        size = draw(st.sampled_from(sorted({max(total - 1, 0), total + 1, total + 5})))
        return b.qiov(QiovInit(v.array, n, -1, 0, size)), v
    if kind == "zeroed":
        return b.qiov(QiovInit(0, 0, 0, 0, 0)), Vectors(v.array, [], v.data)
    if kind == "embedded":
        base, length = v.entries[0]
        q = b.qiov(None)
        b.set_qiov(q, QiovInit(q + QIOV_LOCAL_IOV, 1, -1, base, length))
        return q, v
    q = b.qiov(None)
    if kind == "api-external":
        b.call("qemu_iovec_init_external", q, v.array, n)
    elif kind == "api-embedded":
        b.call("qemu_iovec_init_buf", q, *v.entries[0])
    else:
        b.call("qemu_iovec_init", q, draw(st.integers(0, n + 1)))
        for base, length in v.entries:
            b.call("qemu_iovec_add", q, base, length)
    return q, v


# -- one strategy per function ---------------------------------------------------------
@st.composite
def _copy_to_or_from(draw: st.DrawFn, func: str) -> Case:
    b = Builder()
    v = draw(vectors(b, spare=draw(st.integers(0, 1))))
    cnt = draw(count_arg(len(v.entries)))
    offset = draw(size_arg(v))
    nbytes = draw(size_arg(v))
    buf = draw(buffer(b, max(0, min(nbytes, v.total - min(offset, v.total)))))
    b.call(func, v.array, cnt, offset, buf, nbytes)
    return b.case()


@st.composite
def _iov_memset(draw: st.DrawFn) -> Case:
    b = Builder()
    v = draw(vectors(b))
    fillc = draw(st.one_of(st.integers(0, 255), st.sampled_from(FILLS)))
    b.call(
        "iov_memset", v.array, draw(count_arg(len(v.entries))), draw(size_arg(v)), fillc, draw(size_arg(v))
    )
    return b.case()


@st.composite
def _iov_size(draw: st.DrawFn) -> Case:
    b = Builder()
    v = draw(vectors(b, huge=True, spare=1))
    b.call("iov_size", v.array, draw(count_arg(len(v.entries), spare=1)))
    return b.case()


@st.composite
def _iov_copy(draw: st.DrawFn) -> Case:
    b = Builder()
    v = draw(vectors(b))
    m = draw(st.integers(0, len(v.entries) + 1))
    sentinel = b.data(bytes(8))
    dst = b.iovs([(sentinel + (k % 8), 77 + k) for k in range(m)])
    b.call(
        "iov_copy",
        dst,
        draw(st.integers(0, m)),
        v.array,
        draw(count_arg(len(v.entries))),
        draw(size_arg(v)),
        draw(size_arg(v)),
    )
    return b.case()


def _junk_qiov(b: Builder) -> Ref:
    return b.qiov(QiovInit(0x5A5A, 0x3C3C, 0x1E1E, 0x7777, 0xABCDEF))


@st.composite
def _qemu_iovec_init(draw: st.DrawFn) -> Case:
    b = Builder()
    q = _junk_qiov(b)
    hint = draw(st.one_of(st.sampled_from(HINTS), st.integers(-3, 40)))
    b.call("qemu_iovec_init", q, hint)
    if hint >= 0 and hint < 64 and draw(st.booleans()):
        for k in range(draw(st.integers(1, hint + 2))):
            b.call("qemu_iovec_add", q, 0, k)
    return b.case()


@st.composite
def _qemu_iovec_init_external(draw: st.DrawFn) -> Case:
    b = Builder()
    v = draw(vectors(b, huge=True))
    q = _junk_qiov(b)
    b.call(
        "qemu_iovec_init_external",
        q,
        v.array,
        draw(st.one_of(st.just(len(v.entries)), st.integers(-2, len(v.entries)))),
    )
    return b.case()


@st.composite
def _qemu_iovec_add(draw: st.DrawFn) -> Case:
    b = Builder()
    q, _ = draw(qiov(b))
    target = b.data(bytes(4))
    for _ in range(draw(st.integers(1, 4))):
        base = draw(st.sampled_from((0, target, target + 3)))
        length = draw(st.one_of(st.integers(0, 6), st.sampled_from(HUGE)))
        b.call("qemu_iovec_add", q, base, length)
    return b.case()


@st.composite
def _concat_iov(draw: st.DrawFn) -> Case:
    b = Builder()
    dst, _ = draw(qiov(b, kinds=("owned", "owned", "external", "zeroed")))
    v = draw(vectors(b, spare=1))
    b.call(
        "qemu_iovec_concat_iov",
        dst,
        v.array,
        draw(count_arg(len(v.entries), spare=1)),
        draw(size_arg(v)),
        draw(size_arg(v)),
    )
    return b.case()


@st.composite
def _concat(draw: st.DrawFn) -> Case:
    b = Builder()
    dst, _ = draw(qiov(b, kinds=("owned", "owned", "external", "zeroed")))
    src, v = draw(qiov(b))
    if draw(st.integers(0, 7)) == 0:
        src = dst  # appending a vector to itself
    b.call("qemu_iovec_concat", dst, src, draw(size_arg(v)), draw(size_arg(v)))
    return b.case()


@st.composite
def _slice_like(draw: st.DrawFn, func: str) -> Case:
    b = Builder()
    q, v = draw(qiov(b, style="zero" if func == "qemu_iovec_is_zero" else "random"))
    args = [q]
    if func == "qemu_iovec_init_slice":
        args = [_junk_qiov(b), q]
    b.call(func, *args, draw(size_arg(v)), draw(size_arg(v)))
    return b.case()


@st.composite
def _init_extended(draw: st.DrawFn) -> Case:
    b = Builder()
    target = _junk_qiov(b)
    if draw(st.integers(0, 7)) == 0:
        # IOV_MAX rules: a middle of 1022..1026 one-byte entries, sliced so that head +
        # middle + tail lands on either side of 1024 vectors
        n = draw(st.sampled_from((1025, 1024, 1023, 1026, 1022)))
        data = b.data(bytes(range(256)) * 4 + bytes(2))
        arr = b.iovs([(data + k, 1) for k in range(n)])
        mid = b.qiov(QiovInit(arr, n, -1, 0, n))
        mid_offset = draw(st.integers(0, 2))
        mid_len = draw(st.sampled_from([n - mid_offset - k for k in range(4)]))
    else:
        mid, v = draw(qiov(b))
        mid_offset, mid_len = draw(size_arg(v)), draw(size_arg(v))
    # sizes whose sum is exactly SIZE_MAX or just past it probe the overflow checks
    head_len = draw(
        st.one_of(
            st.just(0),
            st.integers(1, 3),
            st.sampled_from(HUGE),
            st.sampled_from([(SIZE_MAX - mid_len + d) % (1 << 64) for d in (-1, 0, 1)]),
        )
    )
    rest = (SIZE_MAX - head_len - mid_len) % (1 << 64)
    tail_len = draw(
        st.one_of(
            st.just(0),
            st.integers(1, 3),
            st.sampled_from(HUGE),
            st.sampled_from([(rest + d) % (1 << 64) for d in (0, 1)]),
        )
    )
    head = draw(st.sampled_from((0, b.data(b"HEAD"))))
    tail = draw(st.sampled_from((0, b.data(b"TAIL"))))
    if draw(st.integers(0, 9)) == 0:
        target = mid  # re-initialising the middle vector itself
    b.call("qemu_iovec_init_extended", target, head, head_len, mid, mid_offset, mid_len, tail, tail_len)
    return b.case()


@st.composite
def _one_qiov(draw: st.DrawFn, func: str) -> Case:
    b = Builder()
    q, _ = draw(qiov(b))
    b.call(func, q)
    if func == "qemu_iovec_reset" and draw(st.booleans()):
        b.call("qemu_iovec_add", q, 0, draw(st.integers(0, 3)))
    return b.case()


@st.composite
def _qiov_buf_op(draw: st.DrawFn, func: str) -> Case:
    b = Builder()
    q, v = draw(qiov(b))
    offset, nbytes = draw(size_arg(v)), draw(size_arg(v))
    if func == "qemu_iovec_memset":
        b.call(func, q, offset, draw(st.one_of(st.integers(0, 255), st.sampled_from(FILLS))), nbytes)
    else:
        buf = draw(buffer(b, max(0, min(nbytes, v.total - min(offset, v.total)))))
        b.call(func, q, offset, buf, nbytes)
    return b.case()


@st.composite
def _compare(draw: st.DrawFn) -> Case:
    """Two vectors of the same shape over separate copies of the bytes, maybe one byte apart."""
    b = Builder()
    a, v = draw(qiov(b, kinds=("external", "external", "owned", "embedded")))
    content = next((r.init for r in b.regions if v.data and r.name == v.data.region), b"")
    flat = bytearray()
    for base, n in v.entries:
        flat += content[base.offset : base.offset + n] if isinstance(base, Ref) else bytes(n)
    if flat and draw(st.booleans()):
        flat[draw(st.integers(0, len(flat) - 1))] ^= draw(st.integers(1, 255))
    twin = b.data(bytes(flat) + bytes(1))
    lens = [n for _, n in v.entries]
    shape = draw(st.sampled_from(("same", "same", "same", "fewer", "longer")))
    if shape == "fewer" and lens:
        lens.pop()
    elif shape == "longer" and lens:
        lens[-1] += 1
    entries: list[tuple[Arg, int]] = []
    pos = 0
    for n in lens:
        entries.append((twin + pos, n))
        pos += n
    other = b.qiov(QiovInit(b.iovs(entries), len(entries), -1, 0, sum(lens)))
    first, second = (a, other) if draw(st.booleans()) else (other, a)
    b.call("qemu_iovec_compare", first, second)
    return b.case()


@st.composite
def _clone(draw: st.DrawFn) -> Case:
    b = Builder()
    src, v = draw(qiov(b, kinds=("external", "external", "owned", "embedded", "zeroed")))
    dest, _ = draw(qiov(b, kinds=("owned", "owned", "zeroed", "external")))
    buf = b.data(bytes(max(v.total, 1) + 4))
    if draw(st.integers(0, 9)) == 0:
        dest = src
    b.call("qemu_iovec_clone", dest, src, buf + draw(st.integers(0, 2)))
    return b.case()


@st.composite
def _discard(draw: st.DrawFn, func: str) -> Case:
    b = Builder()
    v = draw(vectors(b, spare=draw(st.integers(0, 1))))
    cnt = b.uint(draw(count_arg(len(v.entries))))
    nbytes = draw(size_arg(v))
    front = "front" in func
    iov_arg: Ref = b.ptr(v.array) if front else v.array
    args: list[Any] = [iov_arg, cnt, nbytes]
    undo: Arg = 0
    if func.endswith("undoable"):
        undo = b.undo() if draw(st.integers(0, 4)) else 0
        args.append(undo)
    b.call(func, *args)
    if undo and draw(st.booleans()):
        b.call("iov_discard_undo", undo)
    return b.case()


@st.composite
def _discard_undo(draw: st.DrawFn) -> Case:
    return draw(_discard(draw(st.sampled_from(("iov_discard_front_undoable", "iov_discard_back_undoable")))))


@st.composite
def _qemu_iovec_discard_back(draw: st.DrawFn) -> Case:
    b = Builder()
    q, v = draw(qiov(b))
    b.call("qemu_iovec_discard_back", q, draw(size_arg(v)))
    return b.case()


@st.composite
def _init_buf(draw: st.DrawFn) -> Case:
    b = Builder()
    q = _junk_qiov(b)
    data = b.data(draw(st.binary(max_size=6)))
    b.call(
        "qemu_iovec_init_buf",
        q,
        draw(st.sampled_from((0, data))),
        draw(st.one_of(st.integers(0, 6), st.sampled_from(HUGE))),
    )
    if draw(st.booleans()):
        b.call("qemu_iovec_buf", q)
    return b.case()


@st.composite
def _qemu_iovec_buf(draw: st.DrawFn) -> Case:
    b = Builder()
    q, _ = draw(qiov(b))
    b.call("qemu_iovec_buf", q)
    return b.case()


@st.composite
def _iov_skip_offset(draw: st.DrawFn) -> Case:
    b = Builder()
    v = draw(vectors(b, spare=1))
    b.call("iov_skip_offset", v.array, draw(size_arg(v)))
    return b.case()


def _fixed(factory: Callable[[str], st.SearchStrategy[Case]], name: str) -> st.SearchStrategy[Case]:
    return factory(name)


#: a strategy of cases for each function under test, by C name
STRATEGIES: dict[str, st.SearchStrategy[Case]] = {
    "iov_from_buf_full": _copy_to_or_from("iov_from_buf_full"),
    "iov_to_buf_full": _copy_to_or_from("iov_to_buf_full"),
    "iov_memset": _iov_memset(),
    "iov_size": _iov_size(),
    "iov_copy": _iov_copy(),
    "qemu_iovec_init": _qemu_iovec_init(),
    "qemu_iovec_init_external": _qemu_iovec_init_external(),
    "qemu_iovec_add": _qemu_iovec_add(),
    "qemu_iovec_concat_iov": _concat_iov(),
    "qemu_iovec_concat": _concat(),
    "iov_skip_offset": _iov_skip_offset(),
    "qiov_slice": _slice_like("qiov_slice"),
    "qemu_iovec_subvec_niov": _slice_like("qemu_iovec_subvec_niov"),
    "qemu_iovec_init_extended": _init_extended(),
    "qemu_iovec_is_zero": _slice_like("qemu_iovec_is_zero"),
    "qemu_iovec_init_slice": _slice_like("qemu_iovec_init_slice"),
    "qemu_iovec_destroy": _one_qiov("qemu_iovec_destroy"),
    "qemu_iovec_reset": _one_qiov("qemu_iovec_reset"),
    "qemu_iovec_to_buf": _qiov_buf_op("qemu_iovec_to_buf"),
    "qemu_iovec_from_buf": _qiov_buf_op("qemu_iovec_from_buf"),
    "qemu_iovec_memset": _qiov_buf_op("qemu_iovec_memset"),
    "qemu_iovec_compare": _compare(),
    "qemu_iovec_clone": _clone(),
    "iov_discard_undo": _discard_undo(),
    "iov_discard_front_undoable": _discard("iov_discard_front_undoable"),
    "iov_discard_front": _discard("iov_discard_front"),
    "iov_discard_back_undoable": _discard("iov_discard_back_undoable"),
    "iov_discard_back": _discard("iov_discard_back"),
    "qemu_iovec_discard_back": _qemu_iovec_discard_back(),
    "iov_to_buf": _copy_to_or_from("iov_to_buf"),
    "iov_from_buf": _copy_to_or_from("iov_from_buf"),
    "qemu_iovec_init_buf": _init_buf(),
    "qemu_iovec_buf": _qemu_iovec_buf(),
}
