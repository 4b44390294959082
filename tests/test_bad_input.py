"""The port as a library: bad arguments give clear errors and never corrupt memory."""

from __future__ import annotations

import io
import socket
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pyimpl
from iovspec.structs import QIOV_SIZE

ALLOWED = (TypeError, ValueError, pyimpl.CAssertionError, pyimpl.UndefinedBehaviour, pyimpl.GLibFatalError)
SOCKET_FUNCS = {f.name for f in pyimpl.TABLE if f.sets_errno}
PARAMS = {f.name: [p.py_name for p in f.inputs] for f in pyimpl.TABLE}


def world() -> tuple[pyimpl.Memory, list[int]]:
    """A memory with a data region, a valid iovec array over it and a valid vector."""
    mem = pyimpl.Memory()
    data = mem.buffer(b"0123456789abcdef")
    arr = mem.buffer(32)
    pyimpl.write_iovecs(mem, arr, [(data, 6), (data + 8, 8)])
    q = mem.buffer(QIOV_SIZE)
    pyimpl.qemu_iovec_init_external(mem, q, arr, 2)
    scratch = mem.buffer(64)
    return mem, [data, arr, q, scratch]


def snapshot(mem: pyimpl.Memory, addrs: list[int]) -> tuple[Any, ...]:
    sizes = [16, 32, QIOV_SIZE, 64]
    return (tuple(mem.peek(a, n) for a, n in zip(addrs, sizes, strict=True)), mem.heap_stats())


def anything(addrs: list[int]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.floats(allow_nan=True),
        st.text(max_size=3),
        st.binary(max_size=3),
        st.integers(-(2**70), 2**70),
        st.integers(-3, 40),
        st.sampled_from(addrs),
        st.sampled_from([a + d for a in addrs for d in (1, 8, 16, 24)]),
        st.sampled_from([0, 2**64 - 1, 2**63, 2**32 - 1, 2**31 - 1, -(2**31)]),
        st.lists(st.integers(), max_size=2),
        st.just(io.StringIO()),
    )


@pytest.mark.parametrize("name", [n for n in PARAMS if n not in SOCKET_FUNCS])
@settings(max_examples=60)
@given(data=st.data())
def test_arbitrary_arguments_give_only_documented_errors(name: str, data: st.DataObject) -> None:
    """Property: any arguments to any function raise only TypeError/ValueError (naming a
    parameter, with memory untouched), CAssertionError, UndefinedBehaviour or GLibFatalError."""
    mem, addrs = world()
    fn = getattr(pyimpl, name)
    params = PARAMS[name]
    args = [data.draw(anything(addrs), label=p) for p in params]
    before = snapshot(mem, addrs)
    try:
        fn(mem, *args)
    except (TypeError, ValueError) as exc:
        assert any(p in str(exc) for p in params) or "mem" in str(exc) or "arguments" in str(exc), exc
        assert snapshot(mem, addrs) == before
    except ALLOWED:
        pass


@pytest.mark.parametrize("name", sorted(SOCKET_FUNCS))
@settings(max_examples=40)
@given(data=st.data())
def test_socket_functions_with_arbitrary_arguments(name: str, data: st.DataObject) -> None:
    """Property: as above for the socket functions; the descriptor is always our own
    non-blocking socket (or -1), so arbitrary values never touch the test runner's own fds."""
    mem, addrs = world()
    ours, peer = socket.socketpair()
    ours.setblocking(False)
    peer.setblocking(False)
    try:
        fn = getattr(pyimpl, name)
        args = [
            data.draw(st.sampled_from([ours.fileno(), -1]), label=p)
            if p == "sockfd"
            else data.draw(anything(addrs), label=p)
            for p in PARAMS[name]
        ]
        before = snapshot(mem, addrs)
        try:
            fn(mem, *args)
        except (TypeError, ValueError):
            assert snapshot(mem, addrs) == before
        except ALLOWED:
            pass
    finally:
        ours.close()
        peer.close()
