"""Real sockets for cases that pass a :class:`~harness.model.case.Sock`, with a scripted peer.

Each run of a case (so each world) gets its own fresh ``socketpair(AF_UNIX,
SOCK_STREAM)`` and the peer's whole script runs *before* the calls, so the
call under test meets a socket whose state is fixed: the bytes queued for it to
read, the room left in its send buffer, and which directions are shut down.
Nothing runs concurrently with the call, so the kernel's answers (how much one
``sendmsg``/``recvmsg`` moves, when it says EAGAIN or end of file) depend only
on that state and on the call's own sequence of system calls: identical on both
sides exactly when the two implementations make identical system calls.

Nothing can block: both ends are ``O_NONBLOCK`` and also carry
``SO_SNDTIMEO``/``SO_RCVTIMEO`` as a backstop; every harness read and write is
a bounded loop that stops at EAGAIN.

Linux facts the scripts lean on (AF_UNIX stream sockets):
- a sender may queue skbs while the bytes it has queued (counted with per-skb
  overhead) are below its ``SO_SNDBUF`` (the kernel doubles the value asked for,
  with a floor of 4608); one ``sendmsg`` cuts its data into skbs of at most
  ``sndbuf / 2 - 64`` bytes and returns a partial count when the buffer fills
  between two of them (EAGAIN only if nothing went);
- one ``recvmsg`` gathers queued bytes across skbs up to the space it was given,
  but stops right after consuming an skb that carried file descriptors
  (``SCM_RIGHTS``); that is how a script makes ``iov_recv`` loop;
- after the peer's ``shutdown(SHUT_WR)`` a read of an empty queue returns 0;
  after its ``shutdown(SHUT_RD)`` a send fails with EPIPE (Python ignores SIGPIPE).
"""

from __future__ import annotations

import array
import errno
import os
import socket
import struct
from dataclasses import dataclass, field

from harness.model.case import Case, Peer, Sock

#: upper bound on what the harness reads from one end after the calls
DRAIN_LIMIT = 1 << 22
#: backstop timeout on every socket (they are non-blocking anyway)
TIMEOUT = 2.0
#: what the tested end writes as filler before the calls
FILLER_BYTE = 0xF1
_CHUNK = 1 << 16


@dataclass
class Pair:
    """The two ends made for one :class:`Peer`; ``fd`` is what the Sock argument becomes."""

    peer: Peer
    fd: int
    mine: socket.socket | None = None  # the tested end (None for a pipe)
    theirs: socket.socket | None = None  # the peer end
    pipe_fds: tuple[int, ...] = ()
    filled: int = 0  # filler bytes the tested end managed to queue
    written: list[int] = field(default_factory=list)  # bytes of each chunk the peer managed to queue

    def close(self) -> None:
        for s in (self.mine, self.theirs):
            if s is not None:
                s.close()
        for fd in self.pipe_fds:
            os.close(fd)
        self.mine = self.theirs = None
        self.pipe_fds = ()


def _timeouts(s: socket.socket) -> None:
    tv = struct.pack("ll", int(TIMEOUT), int((TIMEOUT % 1) * 1e6))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, tv)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, tv)
    s.setblocking(False)


def _send_some(s: socket.socket, data: bytes, fds: list[int] | None = None) -> int:
    """Queue as much of ``data`` as fits without blocking, in one sendmsg; its count."""
    try:
        if fds:
            return s.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
        return s.sendmsg([data])
    except BlockingIOError:
        return 0


def _fill(s: socket.socket, n: int) -> int:
    """Write up to ``n`` filler bytes, stopping when the send buffer is full."""
    done = 0
    while done < n:
        k = _send_some(s, bytes([FILLER_BYTE]) * min(_CHUNK, n - done))
        if k == 0:
            break
        done += k
    return done


def open_pair(peer: Peer) -> Pair:
    """Make the ends for ``peer`` and run its script."""
    if peer.kind == "pipe":
        r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        return Pair(peer, r, pipe_fds=(r, w))
    if peer.kind != "stream":
        raise ValueError(f"peer.kind: {peer.kind!r} is not 'stream' or 'pipe'")
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pair = Pair(peer, mine.fileno(), mine, theirs)
    try:
        _timeouts(mine)
        _timeouts(theirs)
        if peer.sndbuf:
            mine.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, peer.sndbuf)
        pair.filled = _fill(mine, peer.fill)
        for data, mark in peer.chunks:
            if mark:
                token = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
                try:
                    pair.written.append(_send_some(theirs, data, [token]))
                finally:
                    os.close(token)
            else:
                pair.written.append(_send_some(theirs, data))
        if peer.shut_wr:
            theirs.shutdown(socket.SHUT_WR)
        if peer.shut_rd:
            theirs.shutdown(socket.SHUT_RD)
    except BaseException:
        pair.close()
        raise
    return pair


def drain(s: socket.socket, limit: int = DRAIN_LIMIT) -> tuple[bytes, str]:
    """Everything readable from ``s`` now (at most ``limit`` bytes) and why reading stopped."""
    out = bytearray()
    while len(out) < limit:
        try:
            got = s.recv(min(_CHUNK, limit - len(out)))
        except BlockingIOError:
            return bytes(out), "EAGAIN"
        except OSError as exc:
            return bytes(out), errno.errorcode.get(exc.errno or 0, str(exc.errno))
        if not got:
            return bytes(out), "EOF"
        out += got
    return bytes(out), "limit"


def observe(pair: Pair) -> list[tuple[str, object]]:
    """What crossed the socket: the script's effect, what the peer received, what was left unread."""
    name = pair.peer.name
    obs: list[tuple[str, object]] = []
    if pair.mine is None or pair.theirs is None:
        return obs
    obs.append((f"{name}: filler queued, peer chunks queued", (pair.filled, tuple(pair.written))))
    received, why = drain(pair.theirs)
    filler = received[: pair.filled]
    if filler != bytes([FILLER_BYTE]) * pair.filled:
        obs.append((f"{name}: filler as received", filler))
    obs.append((f"{name}: bytes the peer received", received[pair.filled :]))
    obs.append((f"{name}: peer read stopped at", why))
    left, why = drain(pair.mine)
    obs.append((f"{name}: bytes left unread", left))
    obs.append((f"{name}: tested-end read stopped at", why))
    return obs


def peers_of(case: Case) -> list[Peer]:
    """The case's peers, plus a default one for every Sock argument that has none."""
    peers = list(case.peers)
    named = {p.name for p in peers}
    for call in case.calls:
        for arg in call.args:
            if isinstance(arg, Sock) and arg.name not in named:
                peers.append(Peer(arg.name))
                named.add(arg.name)
    return peers


def open_all(case: Case) -> dict[str, Pair]:
    """A fresh pair per peer of ``case``, scripts run; closes what it made if one fails."""
    pairs: dict[str, Pair] = {}
    try:
        for peer in peers_of(case):
            pairs[peer.name] = open_pair(peer)
    except BaseException:
        close_all(pairs)
        raise
    return pairs


def close_all(pairs: dict[str, Pair]) -> None:
    for pair in pairs.values():
        pair.close()
    pairs.clear()
