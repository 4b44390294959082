"""The I/O functions over real sockets and streams: iov_send_recv, iov_send, iov_recv, iov_hexdump.

Each run gets its own AF_UNIX socket pair whose peer script runs before the call
(harness/worlds/sockets.py), so pyimpl and C meet the same socket state.  The named
cases follow iov.c: the loop at lines 157-219 (skip ``offset``, clip the tail,
one sendmsg/recvmsg, undo, advance), EAGAIN after progress returning the partial
total (line 204), end of file ending a receive (line 209), ``bytes == 0``
returning before anything is allocated (line 149), and the asserts at 167/186
and iov_copy's at 264.  The hexdump cases follow DESIGN.md's description of QEMU
6.x ``qemu_hexdump``.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest
from changes import changed_iov_c
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import reference_c
from harness.generate.io_strategies import IO_STRATEGIES, IOBuilder, pattern
from harness.model.case import Arg, Case, Peer, Ref, Sock, Stream, case_from_json, case_to_json
from harness.model.outcome import AssertFailed, Outcome, Result, Returned
from harness.report.reports import replay_case_json
from harness.verdict.judge import Discrepancy, Judge
from harness.worlds.world import CWorld, PyWorld, Run, run_case

IOV_C = Path(__file__).resolve().parent.parent / "reference_c" / "iov.c"
EXAMPLES = int(os.environ.get("IOVCONF_IO_EXAMPLES", "60"))
SIZE_MAX = (1 << 64) - 1
EAGAIN, EPIPE, EBADF, ENOTSOCK, EMSGSIZE = (
    errno.EAGAIN,
    errno.EPIPE,
    errno.EBADF,
    errno.ENOTSOCK,
    errno.EMSGSIZE,
)
#: heap (allocs, reallocs, frees, live) after iov_send_recv allocated local_iov and freed it
BALANCED = (1, 0, 1, 0)
#: ... and after an assert left the function between g_new0 and g_free
LEAKED = (1, 0, 0, 1)


def observed(outcome: Outcome) -> dict[str, Any]:
    return outcome.observed()


def vector_case(
    lens: list[int],
    peer: Peer,
    func: str,
    *rest: Any,
    content: bytes | None = None,
    order: list[int] | None = None,
    fd: Arg | Sock | None = None,
) -> tuple[Case, bytes]:
    """Elements of ``lens`` bytes laid out in ``order`` in one data region; returns the case and
    the bytes the vectors describe, in iovec order (what iov.c means by "the data")."""
    b = IOBuilder()
    total = sum(lens)
    data_bytes = content if content is not None else pattern(total, 5)
    data = b.data(data_bytes)
    order = order if order is not None else list(range(len(lens)))
    starts, acc = [0] * len(lens), 0
    for k in order:
        starts[k], acc = acc, acc + lens[k]
    arr = b.iovs([(data + s, n) for s, n in zip(starts, lens, strict=True)])
    sock = b.sock(peer) if fd is None else fd
    b.call(func, sock, arr, len(lens), *rest)
    flat = b"".join(data_bytes[s : s + n] for s, n in zip(starts, lens, strict=True))
    return b.case(), flat


def iovecs_as_laid_out(case: Case) -> dict[str, Any]:
    """The iovec observations a case starts with (what the caller's array must still say after)."""
    run = Run(PyWorld(), case)
    try:
        out = {}
        for region in case.regions:
            if region.kind == "iovs":
                for i, (base, n) in enumerate(region.init):
                    out[f"{region.name}[{i}]"] = (run.norm(run.addr(base)), n)
        return out
    finally:
        run.close()


def check(judge: Any, case: Case) -> tuple[Result | None, dict[str, Any]]:
    """Both worlds agree (else Discrepancy); the port's last result and observations."""
    outcome = judge.check(case)
    obs = observed(outcome)
    for key, value in iovecs_as_laid_out(case).items():
        assert obs[key] == value, f"the caller's iovec {key} changed"
    return outcome.last, obs


def region_bytes(obs: dict[str, Any], case: Case) -> bytes:
    name = next(r.name for r in case.regions if r.kind == "data")
    value: bytes = obs[f"bytes of {name}"]
    return value


# -- properties --------------------------------------------------------------------------------
def _property(func: str, judge: Any) -> None:
    def agrees(case: Case) -> None:
        judge.check(case)

    agrees.__name__ = agrees.__qualname__ = f"io_agrees_{func}"
    settings(max_examples=EXAMPLES, deadline=None)(given(IO_STRATEGIES[func])(agrees))()


@pytest.mark.parametrize("func", ["iov_send_recv", "iov_send", "iov_recv", "do_send_recv"])
def test_socket_functions_agree(func: str, judge: Any) -> None:
    """For every drawn socket case (the peer's script, vectors, offsets and byte counts at
    the boundaries, bad descriptors), pyimpl and C return the same value, leave the same
    errno, move the same bytes through the socket (what the peer received, what stayed
    unread), and leave every byte of the arena, the caller's iovecs and the heap the same."""
    _property(func, judge)


def test_hexdump_agrees(judge: Any) -> None:
    """For every drawn iov_hexdump case (limits below and above the data, empty vectors,
    arbitrary bytes, dumps past offset 0x10000), the text pyimpl writes to a Python stream
    is exactly the text C writes to its FILE *, and memory and the heap agree."""
    _property("iov_hexdump", judge)


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.sampled_from(["iov_send", "iov_recv"]).flatmap(lambda f: IO_STRATEGIES[f]))
def test_asserts_fire_before_any_io(judge: Any, case: Case) -> None:
    """Whenever iov_send_recv fails an assert, nothing has crossed the socket: iov_copy clips
    local_iov to the data, so an offset past it fails at 264, an offset at its end at 167, and
    a byte count past it at 186, all on the first pass, before the first sendmsg/recvmsg."""
    outcome = judge.check(case)
    if outcome.assertion is None or not case.peers or case.peers[0].kind != "stream":
        return
    obs = observed(outcome)
    queued = b"".join(
        data[:n]
        for (data, _), n in zip(
            case.peers[0].chunks, obs["sock: filler queued, peer chunks queued"][1], strict=True
        )
    )
    assert obs["sock: bytes the peer received"] == b""
    assert obs["sock: bytes left unread"] == queued


@settings(max_examples=max(EXAMPLES // 2, 10), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["iov_send", "iov_recv", "do_send_recv"]).flatmap(lambda f: IO_STRATEGIES[f]))
def test_socket_schedule_is_deterministic(reference: Any, case: Case) -> None:
    """Running one socket case twice in the same world gives the same outcome both times,
    in each world: the peer's script fixes everything the kernel's answers depend on."""
    for world in (PyWorld(), CWorld(reference)):
        assert run_case(world, case) == run_case(world, case)


@settings(max_examples=max(EXAMPLES // 2, 10), deadline=None)
@given(st.sampled_from(sorted(IO_STRATEGIES)).flatmap(lambda f: IO_STRATEGIES[f]))
def test_io_cases_survive_json(case: Case) -> None:
    """Every I/O case, peers, Sock and Stream arguments included, comes back from JSON equal."""
    assert case_from_json(case_to_json(case)) == case


# -- iov_send ----------------------------------------------------------------------------------
def test_send_that_fits_completes_at_once(judge: Any) -> None:
    # elements laid out out of order: what is sent follows the iovec order, from the offset
    case, flat = vector_case([5, 7, 4], Peer(), "iov_send", 3, 11, order=[2, 0, 1])
    last, obs = check(judge, case)
    assert last == Returned(11)
    assert obs["sock: bytes the peer received"] == flat[3:14]
    assert obs["errno"] == 0
    assert obs["heap (allocs, reallocs, frees, live)"] == BALANCED


@pytest.mark.parametrize("offset", [0, 1000, 2999, 3000, 3001])
def test_send_partial_then_eagain_returns_the_partial_total(judge: Any, offset: int) -> None:
    # SO_SNDBUF at its floor (4608) cannot take 5999 bytes: the first sendmsg moves part of
    # them, the loop skips what went (into a later element) and the next sendmsg says EAGAIN;
    # iov.c:204 then returns the total so far instead of -1.
    case, flat = vector_case([3000, 3000, 3000], Peer(sndbuf=1), "iov_send", offset, 5999)
    last, obs = check(judge, case)
    assert isinstance(last, Returned) and 0 < last.value < 5999
    assert obs["sock: bytes the peer received"] == flat[offset : offset + last.value]
    assert obs["errno"] == EAGAIN
    assert obs["heap (allocs, reallocs, frees, live)"] == BALANCED


def test_send_into_a_full_buffer_is_eagain_with_nothing_done(judge: Any) -> None:
    case, _ = vector_case([4, 4], Peer(sndbuf=1, fill=1 << 20), "iov_send", 0, 8)
    last, obs = check(judge, case)
    assert last == Returned(-1)
    assert obs["errno"] == EAGAIN
    assert obs["sock: bytes the peer received"] == b""
    assert obs["heap (allocs, reallocs, frees, live)"] == BALANCED


def test_send_to_a_peer_that_stopped_reading_is_epipe(judge: Any) -> None:
    case, _ = vector_case([4, 4], Peer(shut_rd=True), "iov_send", 2, 5)
    last, obs = check(judge, case)
    assert last == Returned(-1) and obs["errno"] == EPIPE


@pytest.mark.parametrize(("fd", "kind", "err"), [(-1, None, EBADF), (None, "pipe", ENOTSOCK)])
def test_send_recv_on_a_bad_descriptor(judge: Any, fd: int | None, kind: str | None, err: int) -> None:
    # iov.c:201: ret < 0 with nothing done is -1, and errno is the kernel's (EBADF for -1)
    for func in ("iov_send", "iov_recv"):
        peer = Peer(kind=kind) if kind else Peer()
        case, _ = vector_case([4, 4], peer, func, 0, 8, fd=fd)
        last, obs = check(judge, case)
        assert last == Returned(-1) and obs["errno"] == err


def test_more_than_iov_max_elements_is_emsgsize(judge: Any) -> None:
    # 1025 one-byte elements, all of them in one sendmsg: more than IOV_MAX (1024)
    case, _ = vector_case([1] * 1025, Peer(), "iov_send", 0, 1025)
    last, obs = check(judge, case)
    assert last == Returned(-1) and obs["errno"] == EMSGSIZE
    # 1024 counted elements are fine
    b = IOBuilder()
    data = b.data(pattern(1025, 1))
    arr = b.iovs([(data + k, 1) for k in range(1025)])
    b.call("iov_send", b.sock(Peer()), arr, 1024, 0, 1024)
    last, obs = check(judge, b.case())
    assert last == Returned(1024) and obs["sock: bytes the peer received"] == pattern(1024, 1)
    # but not 1025 counted elements with only 1024 bytes asked from offset 1: iov_copy fills
    # 1024 local entries and leaves the last one zeroed, and the loop at iov.c:180 takes that
    # zero-length entry too (0 <= tail), so sendmsg still gets 1025 entries
    case, _ = vector_case([1] * 1025, Peer(), "iov_send", 1, 1024)
    last, obs = check(judge, case)
    assert last == Returned(-1) and obs["errno"] == EMSGSIZE


# -- iov_recv ----------------------------------------------------------------------------------
def test_recv_after_peer_shutdown_returns_what_arrived(judge: Any) -> None:
    # iov.c:209: recvmsg returning 0 (orderly shutdown) ends the loop with the total so far
    case, _ = vector_case([4, 4], Peer(chunks=((b"abcde", False),), shut_wr=True), "iov_recv", 0, 8)
    last, obs = check(judge, case)
    assert last == Returned(5)
    assert obs["errno"] == 0
    assert region_bytes(obs, case) == b"abcde" + pattern(8, 5)[5:]
    assert obs["sock: bytes left unread"] == b""
    assert obs["heap (allocs, reallocs, frees, live)"] == BALANCED


def test_recv_eagain_after_partial_returns_the_partial_total(judge: Any) -> None:
    case, _ = vector_case([4, 4], Peer(chunks=((b"abcde", False),)), "iov_recv", 0, 8)
    last, obs = check(judge, case)
    assert last == Returned(5) and obs["errno"] == EAGAIN
    assert region_bytes(obs, case)[:5] == b"abcde"


@pytest.mark.parametrize(("shut_wr", "expected", "err"), [(False, -1, EAGAIN), (True, 0, 0)])
def test_recv_with_nothing_queued(judge: Any, shut_wr: bool, expected: int, err: int) -> None:
    case, _ = vector_case([4, 4], Peer(shut_wr=shut_wr), "iov_recv", 0, 8)
    last, obs = check(judge, case)
    assert last == Returned(expected) and obs["errno"] == err
    assert region_bytes(obs, case) == pattern(8, 5)


def test_recv_loops_and_lands_each_piece_at_the_moving_offset(judge: Any) -> None:
    # Marked chunks end each recvmsg, so the loop runs three times: "abc" lands at data
    # offset 1 (inside element 0), "defg" at 4 (element 1, after skipping element 0 whole),
    # and one byte of "hi" at 8, where `bytes` runs out; "i" stays in the socket.
    chunks = ((b"abc", True), (b"defg", True), (b"hi", False))
    case, _ = vector_case([2, 3, 4], Peer(chunks=chunks), "iov_recv", 1, 8)
    last, obs = check(judge, case)
    assert last == Returned(8) and obs["errno"] == 0
    assert region_bytes(obs, case) == pattern(9, 5)[:1] + b"abcdefgh"
    assert obs["sock: bytes left unread"] == b"i"


def test_recv_scatters_in_iovec_order(judge: Any) -> None:
    case, _ = vector_case([2, 3], Peer(chunks=((b"VWXYZ", False),)), "iov_recv", 0, 5, order=[1, 0])
    last, obs = check(judge, case)
    # element 0 (2 bytes) sits after element 1 (3 bytes) in memory
    assert last == Returned(5) and region_bytes(obs, case) == b"XYZVW"


# -- both directions: bytes == 0 and the asserts ------------------------------------------------
@pytest.mark.parametrize("func", ["iov_send", "iov_recv"])
def test_zero_bytes_returns_zero_before_allocating(judge: Any, func: str) -> None:
    case, _ = vector_case([4], Peer(chunks=((b"xy", False),)), func, 2, 0)
    last, obs = check(judge, case)
    assert last == Returned(0)
    assert obs["heap (allocs, reallocs, frees, live)"] == (0, 0, 0, 0)
    assert obs["sock: bytes the peer received"] == b"" and obs["sock: bytes left unread"] == b"xy"


@pytest.mark.parametrize("func", ["iov_send", "iov_recv"])
@pytest.mark.parametrize(
    ("lens", "offset", "nbytes", "line"),
    [
        ([4, 4], 9, 1, 264),  # offset past the data: iov_copy's assert(offset == 0)
        ([4, 4], 8, 1, 167),  # offset at the end: nothing to skip to
        ([], 0, 1, 167),  # no elements at all
        ([4, 4], 3, 6, 186),  # bytes past the data: the tail cannot be clipped
        ([4, 4], 0, SIZE_MAX, 186),
    ],
)
def test_offsets_and_counts_past_the_data_assert(
    judge: Any, func: str, lens: list[int], offset: int, nbytes: int, line: int
) -> None:
    case, _ = vector_case(lens, Peer(chunks=((b"queued", False),)), func, offset, nbytes)
    last, obs = check(judge, case)
    assert isinstance(last, AssertFailed) and (last.file, last.line) == ("iov.c", line)
    # nothing crossed the socket, and local_iov was never freed
    assert obs["sock: bytes the peer received"] == b"" and obs["sock: bytes left unread"] == b"queued"
    expected_heap = (0, 0, 0, 0) if not lens else LEAKED  # g_new0(struct iovec, 0) is NULL
    assert obs["heap (allocs, reallocs, frees, live)"] == expected_heap


# -- iov_hexdump -------------------------------------------------------------------------------
def hexdump_case(entries: list[bytes], count: int | None, prefix: str, limit: int) -> Case:
    b = IOBuilder()
    refs: list[tuple[Arg, int]] = []
    for chunk in entries:
        refs.append((b.data(chunk), len(chunk)))
    arr = b.iovs(refs)
    b.call("iov_hexdump", arr, len(entries) if count is None else count, Stream("out"), prefix, limit)
    return b.case()


def dump(judge: Any, case: Case) -> str:
    outcome = judge.check(case)
    assert outcome.last == Returned(None)
    text: str = observed(outcome)["text of out"]
    return text


BLANK4 = " " + "   " * 4  # a group of four slots past the end of the data


def test_hexdump_line_layout(judge: Any) -> None:
    text = dump(judge, hexdump_case([b"AB\x00\x7f", b"\x80\xff~ "], None, "p", SIZE_MAX))
    # "%04x:", " %02x" per byte with a space before every 4th slot, blanks past the end,
    # then a space and the bytes as ASCII: < ' ' and > '~' (0x7f, 0x80, 0xff) print '.'
    assert text == "p: 0000:  41 42 00 7f  80 ff 7e 20" + BLANK4 + BLANK4 + " AB....~ \n"


def test_hexdump_limit_below_and_above_the_data(judge: Any) -> None:
    data = bytes(range(0x41, 0x41 + 40))
    text = dump(judge, hexdump_case([data[:20], data[20:]], None, "q", 17))
    lines = text.splitlines()
    assert len(lines) == 2 and lines[1].startswith("q: 0010:  51" + "   " * 3 + " ")
    assert lines[1].endswith(" Q")
    assert dump(judge, hexdump_case([data[:20], data[20:]], None, "q", 40 + 100)).count("\n") == 3


@pytest.mark.parametrize(
    ("entries", "count", "limit"), [([], 0, SIZE_MAX), ([b"abc"], 1, 0), ([b"abc"], 0, 9)]
)
def test_hexdump_of_nothing_prints_nothing(judge: Any, entries: list[bytes], count: int, limit: int) -> None:
    assert dump(judge, hexdump_case(entries, count, "p", limit)) == ""


def test_hexdump_past_0x10000_prints_only_the_offset(judge: Any) -> None:
    size = 0x10010
    data = pattern(size, 9)
    text = dump(judge, hexdump_case([data[:0x8000], data[0x8000:]], None, "p", SIZE_MAX))
    lines = text.split("\n")
    assert lines[-1] == "" and len(lines) - 1 == size // 16
    assert lines[-3].startswith("p: fff0:  ")
    # QEMU 6.x keeps 5 characters of "%04x:" there: the line is just "10000"
    assert lines[-2] == "p: 10000"


# -- the harness catches a change that only shows after a partial transfer ----------------------
CHANGES = {
    "offset not advanced": ("        offset += ret;\n", ""),
    "EAGAIN needs total > 1": ("errno == EAGAIN && total > 0", "errno == EAGAIN && total > 1"),
}


def changed_source(tmp_path: Path, change: str) -> Path:
    return changed_iov_c(tmp_path, *CHANGES[change], name="changed_iov.c")


def shows_after_partial(change: str) -> Case:
    # "offset not advanced": the second recvmsg lands where the first did;
    # "EAGAIN needs total > 1": one byte arrives, then EAGAIN, so the partial total is exactly 1
    chunks = ((b"abc", True), (b"defg", False)) if change == "offset not advanced" else ((b"z", False),)
    case, _ = vector_case([2, 3, 4], Peer(chunks=chunks), "iov_recv", 0, 9)
    return case


@pytest.mark.parametrize("change", list(CHANGES))
def test_harness_catches_a_change_after_a_partial_transfer(change: str, tmp_path: Path, judge: Any) -> None:
    path = changed_source(tmp_path, change)
    changed = Judge(PyWorld(), CWorld(reference_c.load(path)))
    case = shows_after_partial(change)
    judge.check(case)  # the original agrees with the port ...
    with pytest.raises(Discrepancy):  # ... the changed file does not
        changed.check(case)
    # and a plain campaign over the iov_recv strategy finds it by itself
    found: list[Case] = []

    @settings(
        max_examples=300,
        deadline=None,
        database=None,
        derandomize=True,
        phases=(Phase.generate,),
        suppress_health_check=list(HealthCheck),
    )
    @given(IO_STRATEGIES["iov_recv"])
    def agrees(case: Case) -> None:
        try:
            changed.check(case)
        except Discrepancy:
            found.append(case)
            raise

    with pytest.raises(Discrepancy):
        agrees()
    # the found case is a reproducer: its JSON (peer script included) still differs against
    # the changed file only
    assert replay_case_json(case_to_json(found[-1]), str(path)) == 1
    assert replay_case_json(case_to_json(found[-1]), None) == 0


def test_sock_argument_is_a_fresh_socket_per_run(judge: Any) -> None:
    case, _ = vector_case([4], Peer(chunks=((b"q", False),)), "iov_recv", 0, 4)
    runs = [Run(PyWorld(), case) for _ in range(2)]
    try:
        fds = [r.addr(Sock("sock")) for r in runs]
        assert fds[0] != fds[1]
        assert all(isinstance(r.addr(Ref(case.regions[0].name)), int) for r in runs)
    finally:
        for r in runs:
            r.close()
    # a Sock with no peer entry gets a default socket: nothing queued, room to send
    bare = Case(case.regions, case.calls)
    last, obs = check(judge, bare)
    assert last == Returned(-1) and obs["errno"] == EAGAIN
