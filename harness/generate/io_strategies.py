"""Hypothesis strategies for the I/O functions: iov_send_recv (iov_send, iov_recv), do_send_recv, iov_hexdump.

Socket cases pass a :class:`~harness.model.case.Sock` whose :class:`~harness.model.case.Peer`
script fixes the socket's state before the call (see ``harness.worlds.sockets``):

- sends: the tested end's ``SO_SNDBUF`` (kernel default, the 4608-byte floor, or
  8192) and filler already queued decide how much one ``sendmsg`` takes; vectors
  with elements of a few KiB make the kernel stop part-way (a partial transfer),
  so the loop moves its offset into or across elements and then meets EAGAIN; a
  full buffer gives EAGAIN with nothing done; a peer that shut down reading
  gives EPIPE;
- receives: the peer queues chunks; a chunk that carries a file descriptor ends
  the ``recvmsg`` that consumes it, so one call loops over several receives and
  lands each at a moving offset; the queue running dry gives EAGAIN (after some
  data: the partial total) and a peer that shut down writing gives end of file;
- everywhere: offsets and byte counts at every boundary and +-1, 0, past the end
  and near 2**64 (the asserts at iov.c:167/186 and iov_copy's at 264), counts
  fewer than the entries, zero-length and NULL-based entries, a bad descriptor
  (-1), a pipe (not a socket) and more than IOV_MAX entries (EMSGSIZE).

``IO_STRATEGIES`` maps C function names to strategies of cases, like
the families of ``harness.generate.families``.
"""

from __future__ import annotations

import itertools
import socket
from typing import Any

from hypothesis import strategies as st

from harness.model.case import Arg, Builder, Case, Peer, Ref, Sock, Stream

from .bounds import DRAWN
from .choices import HUGE, Drawn
from .layouts import Layout, Vectors, vectors

#: SO_SNDBUF values: kernel default, anything at or below the floor (4608 after doubling), 8192
SNDBUFS = (0, 0, 1, 4096)
#: filler for the tested end: none, a little, about one or two skbs at the floor, until full
FILLS = (0, 0, 1, 2000, 2240, 4480, 1 << 20)
#: element lengths that straddle the kernel's skb size at the SO_SNDBUF floor (2240 bytes)
BIG_LENS = (1000, 2239, 2240, 2241, 3000, 4480, 5000)
#: flags for iov_send_recv_with_flags: none, non-blocking, peeking (a receive that does not
#: consume, so the loop reads the same bytes again), no SIGPIPE, wait for all (the sockets are
#: non-blocking anyway), and a flag AF_UNIX stream sockets refuse (EOPNOTSUPP)
SOCKFLAGS = (
    0,
    0,
    socket.MSG_DONTWAIT,
    socket.MSG_PEEK,
    socket.MSG_NOSIGNAL,
    socket.MSG_WAITALL,
    socket.MSG_OOB,
)
PREFIXES = ("", "p", "iov", "qemu: dev0", "%s %d", "\u00e9t\u00e9")


class IOBuilder(Builder):
    """A :class:`Builder` with patterned data regions."""

    def pattern(self, size: int, seed: int) -> Ref:
        """A data region of ``size`` bytes with a cheap, position-dependent pattern."""
        return self.data(pattern(size, seed))


def pattern(size: int, seed: int) -> bytes:
    """``size`` bytes, every one different from its neighbours, starting at ``seed``."""
    cycle = bytes((seed + 7 * i) & 0xFF for i in range(256))
    return (cycle * (size // 256 + 1))[:size]


def chance(draw: st.DrawFn, k: int, n: int) -> bool:
    """True in ``k`` of ``n`` draws (``st.integers`` leans towards its bounds; this does not)."""
    return bool(draw(st.sampled_from((True,) * k + (False,) * (n - k))))


@st.composite
def busy_vectors(draw: st.DrawFn, b: IOBuilder, max_n: int = 4, big: bool = True) -> Vectors:
    """Mostly 2..max_n elements, mostly not empty (of a few KiB if ``big``), in order or shuffled."""
    n = draw(st.sampled_from(range(2, max_n + 1))) if chance(draw, 3, 4) else draw(st.integers(0, max_n))
    full = st.integers(1, 12)
    if big:
        full = st.one_of(st.sampled_from(BIG_LENS), st.sampled_from(BIG_LENS), st.integers(1000, 6000))
    small = st.one_of(st.just(0), st.integers(1, 16))
    lens = [draw(full) if chance(draw, 4, 5) else draw(small) for _ in range(n)]
    total = sum(lens)
    slack = draw(st.integers(0, 3))
    data = b.pattern(total + slack, draw(st.integers(0, 255)))
    order = list(range(n))
    if n > 1 and draw(st.booleans()):
        order = draw(st.permutations(range(n)))
    starts = [0] * n
    acc = 0
    for k in order:
        starts[k] = acc
        acc += lens[k]
    entries: list[tuple[Arg, int]] = [
        (0, 0) if n_ == 0 and chance(draw, 1, 4) else (data + s, n_)
        for n_, s in zip(lens, starts, strict=True)
    ]
    return _vectors(b, data, entries)


def _iov_max_vectors(b: IOBuilder) -> Vectors:
    """1025 one-byte elements: more than IOV_MAX, so a sendmsg/recvmsg over all of them fails."""
    data = b.pattern(1025, 3)
    entries: list[tuple[Arg, int]] = [(data + k, 1) for k in range(1025)]
    return _vectors(b, data, entries)


def _vectors(b: IOBuilder, data: Ref, entries: list[tuple[Arg, int]]) -> Vectors:
    """Vectors with these entries over ``data`` (their layout: the lengths; starts as given)."""
    lens = tuple(n for _, n in entries)
    starts = tuple(base.offset if isinstance(base, Ref) else 0 for base, _ in entries)
    nulls = tuple(not isinstance(base, Ref) for base, _ in entries)
    return Vectors(data, b.iovs(entries), entries, Layout(lens, nulls, starts))


@st.composite
def _fd(draw: st.DrawFn, b: IOBuilder, peer: Peer) -> Arg | Sock:
    """Mostly the socket; sometimes -1 (EBADF) or a pipe (ENOTSOCK)."""
    which = draw(st.sampled_from(("sock",) * 10 + ("bad", "pipe")))
    if which == "bad":
        return -1
    if which == "pipe":
        return b.sock(Peer(peer.name, kind="pipe"))
    return b.sock(peer)


#: what a send meets: room for part of it, room for all, no room, a peer that stopped reading
SEND_SCENARIOS = ("partial", "partial", "partial", "complete", "complete", "full", "epipe")


@st.composite
def send_peer(draw: st.DrawFn, scenario: str) -> Peer:
    """The tested end's buffer and the peer for one of SEND_SCENARIOS."""
    if scenario == "partial":
        sndbuf = draw(st.sampled_from((1, 4096)))
        fill = draw(st.one_of(st.just(0), st.sampled_from(FILLS[2:-1]), st.integers(0, 9000)))
        return Peer("sock", sndbuf=sndbuf, fill=fill)
    if scenario == "full":
        return Peer("sock", sndbuf=draw(st.sampled_from(SNDBUFS)), fill=1 << 20)
    if scenario == "epipe":
        return Peer("sock", shut_rd=True)
    return Peer("sock")


#: what a receive meets: data that runs out part-way (the loop), or anything (the edges)
RECV_SCENARIOS = ("loop", "loop", "loop", "edge", "edge")


@st.composite
def recv_peer(draw: st.DrawFn, total: int, scenario: str) -> Peer:
    """Chunks queued for the tested end; in "loop", shorter than the vectors and mostly marked."""
    cap = max(total, 1)
    if scenario == "loop":
        sizes = st.one_of(st.just(1), st.integers(1, cap))
        n, marked = draw(st.integers(1, 4)), 3
    else:
        sizes = st.one_of(st.just(1), st.integers(1, cap + 4), st.integers(1, 3 * cap + 8))
        n, marked = draw(st.integers(0, 4)), 1
    chunks = []
    for _ in range(n):
        size = draw(sizes)
        chunks.append((pattern(size, draw(st.integers(0, 255))), chance(draw, marked, 4)))
    return Peer("sock", chunks=tuple(chunks), shut_wr=draw(st.booleans()))


@st.composite
def _transfer(draw: st.DrawFn, func: str, direction: str | None = None, max_n: int = 6) -> Case:
    """One socket call: ``func`` is iov_send, iov_recv, iov_send_recv or do_send_recv."""
    b = IOBuilder()
    do_send = draw(st.booleans()) if direction is None else direction == "send"
    scenario = draw(st.sampled_from(SEND_SCENARIOS if do_send else RECV_SCENARIOS))
    # "small" first: a failing case shrinks to few, short elements
    shapes = ("small", "small", "big", "big", "iov_max") if do_send else ("small",) * 9 + ("iov_max",)
    shape = draw(st.sampled_from(shapes))
    if shape == "iov_max":
        v = _iov_max_vectors(b)
    elif shape == "big" and scenario != "complete":
        v = draw(busy_vectors(b))
    elif scenario == "loop":
        v = draw(busy_vectors(b, max_n=5, big=False))
    else:
        v = vectors(Drawn(draw, DRAWN), b, max_n, spare=draw(st.integers(0, 1)))
    peer = draw(send_peer(scenario)) if do_send else draw(recv_peer(v.total, scenario))
    fd = draw(_fd(b, peer))
    n = len(v.entries)
    # partial transfers need most of the vectors: mostly all the entries, from near the start, to the end
    focused = scenario in ("partial", "loop") and chance(draw, 3, 4)
    cnt = n if focused else Drawn(draw, DRAWN).count(n, label="iov_cnt")
    if func == "do_send_recv":
        b.call(func, fd, v.array, cnt, do_send)
        return b.case()
    if focused:
        offset = draw(st.sampled_from(sorted({0, 1, *v.boundaries()[:2]})))
        nbytes = max(v.total - offset - draw(st.sampled_from((0, 0, 1))), 0)
    else:
        c = Drawn(draw, DRAWN)
        offset = 0 if c.flag("offset 0") else c.amount(v.boundaries(), "offset")
        nbytes = max(v.total - offset, 0) if c.flag("to the end") else c.amount(v.boundaries(), "bytes")
    # often end strictly inside an entry: the `if (tail)` path that cuts and restores it
    inner = [b0 + k for b0, n_ in zip(v.boundaries(), [*v.lens, 0], strict=True) for k in range(1, n_)]
    inner = [e - offset for e in inner if e > offset]
    if inner and chance(draw, 1, 2):
        nbytes = draw(st.sampled_from(inner))
    args: list[Any] = [fd, v.array, cnt, offset, nbytes]
    if func in ("iov_send_recv", "iov_send_recv_with_flags"):
        args.append(do_send)
    if func == "iov_send_recv_with_flags":
        args.insert(1, draw(st.sampled_from(SOCKFLAGS)))
    b.call(func, *args)
    return b.case()


# -- iov_hexdump ---------------------------------------------------------------------------------
#: byte counts and limits around the 0x10000 line where QEMU 6.x cuts the offset to 5 characters
BIG_DUMP = (0xFFF0, 0xFFFF, 0x10000, 0x10001, 0x1000F, 0x10010, 0x10011, 0x10020)
#: how a hexdump case is drawn: a small layout (a few short entries, in every arrangement), or
#: one buffer cut into up to three entries; Hypothesis shrinks a failing case towards "small"
DUMP_SHAPES = ("small",) * 7 + ("buffer",) * 2
#: the longest buffer drawn short of the edge (256 lines)
LONG_DUMP = 0x1000


def dump_size(draw: st.DrawFn) -> int:
    """A buffer's size: up to LONG_DUMP, or (one time in four) one of BIG_DUMP.  The short size
    is drawn first and the edge after it, so Hypothesis can turn the edge off and keep a short
    size that still fails.  Measured with ``hypothesis.find`` over 30 seeds on conditions a
    bug might set (a second line, a fifth line, 300 bytes), the minimal case was the short
    one in 25 to 29 of them; drawing the edge first, in 5 of 12."""
    n = draw(st.integers(0, LONG_DUMP))
    if draw(st.integers(0, 3)) == 3:
        return BIG_DUMP[draw(st.integers(0, len(BIG_DUMP) - 1))]
    return n


#: a buffer's bytes: this drawn stretch over and over (shrinks to b"": all zero)
_TILE = st.binary(max_size=48)


def tiled(tile: bytes, size: int) -> bytes:
    """``size`` bytes of ``tile`` over and over (zeros if ``tile`` is empty)."""
    if not tile:
        return bytes(size)
    return (tile * (size // len(tile) + 1))[:size]


@st.composite
def _hexdump(draw: st.DrawFn) -> Case:
    """iov_hexdump of a small layout, or of one buffer (up to 256 lines, or around the 0x10000
    edge) cut into up to three entries.  Every size, cut and byte is drawn so that it shrinks:
    a failing case keeps only the lines and the bytes it needs (zeros elsewhere)."""
    b = IOBuilder()
    shape = draw(st.sampled_from(DUMP_SHAPES))
    if shape == "small":
        c = Drawn(draw, DRAWN)
        v = vectors(c, b, 6, spare=draw(st.integers(0, 1)))
        limit = c.amount(v.boundaries(), "limit") if c.flag("a boundary") else c.integer(0, 40, "limit")
    else:
        size = dump_size(draw)
        data = b.data(tiled(draw(_TILE), size))
        cuts = sorted(draw(st.lists(st.integers(0, size), max_size=2)))
        bounds = [0, *cuts, size]
        entries: list[tuple[Arg, int]] = [(data + lo, hi - lo) for lo, hi in itertools.pairwise(bounds)]
        v = _vectors(b, data, entries)
        # no limit first (the whole dump), then a limit around the edges, or a short one
        limit = draw(
            st.one_of(
                st.sampled_from(HUGE), st.integers(0, size + 1), st.sampled_from(BIG_DUMP), st.integers(0, 40)
            )
        )
    cnt = Drawn(draw, DRAWN).count(len(v.entries), label="iov_cnt")
    b.call("iov_hexdump", v.array, cnt, Stream("out"), draw(st.sampled_from(PREFIXES)), limit)
    return b.case()


#: a strategy of cases for each I/O function, by C name (merge into ``STRATEGIES``)
IO_STRATEGIES: dict[str, st.SearchStrategy[Case]] = {
    "do_send_recv": _transfer("do_send_recv"),
    "iov_send_recv": _transfer("iov_send_recv"),
    "iov_send_recv_with_flags": _transfer("iov_send_recv_with_flags"),
    "iov_send": _transfer("iov_send", "send"),
    "iov_recv": _transfer("iov_recv", "recv"),
    "iov_hexdump": _hexdump(),
}
