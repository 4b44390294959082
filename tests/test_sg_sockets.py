"""pyimpl.sg and sockets and files (issue 16, part 3): as the standard library treats them.

A socket's timeout and blocking mode are its owner's: ``send``/``recv_into`` wait as
``socket.send``/``socket.recv_into`` would (``TimeoutError`` when the timeout passes,
``BlockingIOError`` on a non-blocking socket with nothing to do) and leave both as they were;
the wait is in Python, so Ctrl-C gets through on either side.  ``recv_into`` returns what has
arrived, up to ``n``.  TLS sockets are refused.  ``readv``/``writev`` take an fd or a file.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sg_sides import SIDES, side_kwargs

from pyimpl import sg

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(params=SIDES)
def kw(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    kwargs = side_kwargs(request.param)
    yield kwargs
    if request.param == "reference_c":
        kwargs["mem"].close()


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    with a, b:
        yield a, b


def _modes(s: socket.socket) -> tuple[float | None, bool]:
    return s.gettimeout(), os.get_blocking(s.fileno())


def test_recv_into_returns_what_has_arrived_up_to_n(kw: dict[str, Any], pair: Any) -> None:
    """Like ``socket.recv_into``: 3 bytes arrived, a vector of 8 waits for no more."""
    a, b = pair
    a.sendall(b"abc")
    v = sg.IOVector([bytearray(2), bytearray(6)], **kw)
    assert v.recv_into(b) == 3 and v.read(0, 3) == b"abc"
    a.sendall(b"defghijk")
    assert v.recv_into(b, 3, 4) == 4 and v.read() == b"abcdefg\0"
    assert b.recv(8) == b"hijk"  # the rest is still in the socket
    a.close()
    assert v.recv_into(b) == 0  # end of stream


def test_a_timeout_is_waited_for_then_timeout_error_and_modes_stay(kw: dict[str, Any], pair: Any) -> None:
    a, b = pair
    b.settimeout(0.05)
    before = _modes(b)
    v = sg.IOVector([bytearray(4)], **kw)
    with pytest.raises(TimeoutError, match=r"^timed out$"):
        v.recv_into(b)
    assert _modes(b) == before
    a.sendall(b"xy")
    assert v.recv_into(b) == 2 and _modes(b) == before


def test_a_non_blocking_socket_with_nothing_to_read_is_blocking_io_error(
    kw: dict[str, Any], pair: Any
) -> None:
    _, b = pair
    b.setblocking(False)
    v = sg.IOVector([bytearray(4)], **kw)
    with pytest.raises(BlockingIOError) as info:
        v.recv_into(b)
    assert info.value.errno == errno.EAGAIN and _modes(b) == (0.0, False)


def test_send_returns_what_went_and_sendall_sends_it_all(kw: dict[str, Any], pair: Any) -> None:
    a, b = pair
    v = sg.IOVector([bytearray(b"hello "), bytearray(b"world")], **kw)
    assert v.send(a, 3) == 8 and b.recv(16) == b"lo world"
    big = sg.IOVector([bytearray(b"x" * (1 << 20)), bytearray(b"y" * 100)], **kw)
    a.setblocking(False)
    sent = big.send(a)  # a non-blocking socket: what fits in its buffer
    assert 0 < sent < (1 << 20) + 100 and _modes(a) == (0.0, False)


def test_sendall_waits_and_sends_everything(kw: dict[str, Any], pair: Any) -> None:
    import threading

    a, b = pair
    payload = [bytearray(b"%d" % (i % 10) * 65536) for i in range(16)]  # 1 MiB: more than fits
    v = sg.IOVector(payload, **kw)
    got = bytearray()

    def drain() -> None:
        while len(got) < 1 << 20:
            got.extend(b.recv(1 << 16))

    t = threading.Thread(target=drain)
    t.start()
    a.settimeout(30)
    v.sendall(a)
    t.join()
    assert got == b"".join(payload) and _modes(a) == (30.0, False)


def test_the_default_timeout_is_respected_and_never_changed(kw: dict[str, Any]) -> None:
    """With ``socket.setdefaulttimeout()`` set, the issue saw one ``send`` leave the caller's
    socket non-blocking and a timeout show as ``OSError(0, 'Success')``."""
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(0.05)
    try:
        a, b = socket.socketpair()  # both get the default timeout
        plain, other = socket.socketpair()
        plain.settimeout(None)  # a blocking one
        with a, b, plain, other:
            before = [_modes(s) for s in (a, b, plain, other)]
            v = sg.IOVector([bytearray(b"data")], **kw)
            assert v.send(a) == 4 and v.send(plain) == 4
            w = sg.IOVector([bytearray(4)], **kw)
            assert w.recv_into(b) == 4 and w.recv_into(other) == 4
            with pytest.raises(TimeoutError):
                w.recv_into(b)
            assert [_modes(s) for s in (a, b, plain, other)] == before
    finally:
        socket.setdefaulttimeout(old)


def test_tls_sockets_are_refused(kw: dict[str, Any]) -> None:
    """``send`` wrote plaintext under TLS: sg works below TLS, so an SSLSocket is a TypeError."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    tls = ctx.wrap_socket(socket.socket(), server_hostname="example.org", do_handshake_on_connect=False)
    with tls:
        v = sg.IOVector([bytearray(b"secret")], **kw)
        for call in (lambda: v.send(tls), lambda: v.recv_into(tls), lambda: v.sendall(tls)):
            with pytest.raises(TypeError, match=r"^sock: an ssl.SSLSocket"):
                call()


def test_errno_becomes_the_matching_oserror(kw: dict[str, Any], pair: Any) -> None:
    a, b = pair
    b.close()
    v = sg.IOVector([bytearray(b"data")], **kw)
    with pytest.raises(BrokenPipeError) as info:
        v.send(a)
    assert info.value.errno == errno.EPIPE
    r, w = os.pipe()
    try:
        with pytest.raises(OSError) as not_sock:
            v.send(w)
        assert not_sock.value.errno == errno.ENOTSOCK
    finally:
        os.close(r)
        os.close(w)
    closed = socket.socket()
    closed.close()
    with pytest.raises(OSError) as bad:
        v.send(closed)
    assert bad.value.errno == errno.EBADF
    with pytest.raises(TypeError, match=r"^sock: expected a socket, a file object or an fd, got str$"):
        v.send("sock")  # type: ignore[arg-type]


def test_readv_and_writev_take_an_fd_or_a_file(kw: dict[str, Any]) -> None:
    v = sg.IOVector([bytearray(b"scatter "), bytearray(b"gather")], **kw)
    r, w = os.pipe()
    try:
        assert v.writev(w, 2, 10) == 10
        assert os.read(r, 10) == b"atter gath"
        os.write(w, b"0123456789")
        assert v.readv(r, 4) == 10 and v.read() == b"scat0123456789"
    finally:
        os.close(r)
        os.close(w)
    with tempfile.TemporaryFile() as f:
        f.write(b"head:")  # buffered: writev flushes it first, so the order stays
        assert v.writev(f) == 14
        f.seek(0)
        assert f.read() == b"head:scat0123456789"
    with tempfile.TemporaryFile(buffering=0) as f:
        f.write(b"ABCDEFGHIJKLMNOP")
        f.seek(0)
        assert v.readv(f, 0, 3) == 3 and v.read(0, 4) == b"ABCt"


# -- Ctrl-C while waiting ----------------------------------------------------------------------

_WAITER = textwrap.dedent(
    """
    import socket, sys
    sys.path[:0] = [{root!r}]
    from pyimpl import sg
    import pyimpl, reference_c
    side = sys.argv[1]
    kw = {{}} if side == "pyimpl" else {{"lib": reference_c, "mem": reference_c.memory()}}
    a, b = socket.socketpair()  # nobody will ever send: a blocking wait
    v = sg.IOVector([bytearray(8)], **kw)
    try:
        print("waiting", flush=True)
        v.recv_into(b)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    """
)


@pytest.mark.parametrize("side", SIDES)
def test_ctrl_c_gets_through_a_blocking_recv_into(side: str, tmp_path: Path) -> None:
    """On the C side the wait was inside C, retrying EINTR: Ctrl-C went unheard."""
    script = tmp_path / "waiter.py"
    script.write_text(_WAITER.format(root=str(ROOT)))
    proc = subprocess.Popen(
        [sys.executable, str(script), side], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "waiting\n"
        time.sleep(0.5)  # into the wait (were Ctrl-C earlier, Python would see it anyway)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert out == "interrupted\n", err
