"""pyimpl.sg's one argument contract (issue 16, part 2).

``sg`` checks every argument once, before it calls either side: a count or offset is an
int (anything ``operator.index`` takes, numpy integers included; ``bool`` is refused), never
negative, never past what the vector holds; the same exception with the same message on the
port and on the C code, naming the Python parameter (``n``, not ``bytes_``), and nothing is
called, allocated or written.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest
from sg_sides import SIDES, on, outcome, side_kwargs

import pyimpl
import reference_c
from pyimpl import sg

#: (name, call on an IOVector ``v`` of 8 bytes or a QIOV ``q`` of 8 bytes, with ``x`` the value
#: under test as the parameter named ``param``)
CALLS: list[tuple[str, str, Callable[[Any, Any, Any], Any]]] = [
    ("v.read offset", "offset", lambda v, q, x: v.read(x)),
    ("v.read n", "n", lambda v, q, x: v.read(0, x)),
    ("v.readinto offset", "offset", lambda v, q, x: v.readinto(bytearray(2), x)),
    ("v.write offset", "offset", lambda v, q, x: v.write(b"ab", x)),
    ("v.fill offset", "offset", lambda v, q, x: v.fill(0, x)),
    ("v.fill n", "n", lambda v, q, x: v.fill(0, 0, x)),
    ("v.copy offset", "offset", lambda v, q, x: v.copy(x)),
    ("v.copy n", "n", lambda v, q, x: v.copy(0, x)),
    ("v.discarded front", "front", lambda v, q, x: v.discarded(front=x).__enter__()),
    ("v.discarded back", "back", lambda v, q, x: v.discarded(back=x).__enter__()),
    ("q.is_zero offset", "offset", lambda v, q, x: q.is_zero(x)),
    ("q.is_zero n", "n", lambda v, q, x: q.is_zero(0, x)),
    ("q.to_bytes offset", "offset", lambda v, q, x: q.to_bytes(x)),
    ("q.to_bytes n", "n", lambda v, q, x: q.to_bytes(0, x)),
    ("q.write offset", "offset", lambda v, q, x: q.write(b"ab", x)),
    ("q.fill offset", "offset", lambda v, q, x: q.fill(0, x)),
    ("q.fill n", "n", lambda v, q, x: q.fill(0, 0, x)),
    ("q.slice offset", "offset", lambda v, q, x: q.slice(x, 1)),
    ("q.slice n", "n", lambda v, q, x: q.slice(0, x)),
    ("q.concat offset", "offset", lambda v, q, x: sg.QIOV(lib=q.lib, mem=q.mem).concat(q, x)),
    ("q.concat n", "n", lambda v, q, x: sg.QIOV(lib=q.lib, mem=q.mem).concat(q, 0, x)),
    ("QIOV alloc_hint", "alloc_hint", lambda v, q, x: sg.QIOV(alloc_hint=x, lib=q.lib, mem=q.mem)),
]

#: a value, and the exception and message (with {p} the parameter) every call above gives
BAD: list[tuple[Any, str, str]] = [
    (-1, "ValueError", "{p}: -1 is negative"),
    (-(2**64), "ValueError", "{p}: -18446744073709551616 is negative"),
    (True, "TypeError", "{p}: expected an int, got bool"),
    (1.0, "TypeError", "{p}: expected an int, got float"),
    ("1", "TypeError", "{p}: expected an int, got str"),
    (None, "TypeError", "{p}: expected an int, got NoneType"),
]


def _world(side: str) -> tuple[Any, Any, list[bytearray]]:
    kw = side_kwargs(side)
    chain = [bytearray(b"abc"), bytearray(b"defgh")]
    return sg.IOVector(chain, **kw), sg.QIOV([bytearray(b"ABCD"), bytearray(b"EFGH")], **kw), chain


def bad_arguments(state: dict[str, Any], side: str) -> list[Any]:
    v, q, chain = _world(side)
    mem = v.mem
    seen = []
    for _, param, call in CALLS:
        for value, _, _ in BAD:
            if value is None and param in ("n",):
                continue  # n=None means "to the end"
            before = (bytes(chain[0] + chain[1]), q.to_bytes(), mem.heap_stats())
            seen.append((param, outcome(lambda: call(v, q, value))))  # noqa: B023
            assert (bytes(chain[0] + chain[1]), q.to_bytes(), mem.heap_stats()) == before
    return seen


def expected_bad() -> list[Any]:
    out = []
    for _, param, _ in CALLS:
        for value, kind, message in BAD:
            if value is None and param in ("n",):
                continue
            out.append((param, (kind, message.format(p=param))))
    return out


@pytest.mark.parametrize("side", SIDES)
def test_every_count_and_offset_is_checked_once_the_same_way_on_both_sides(side: str) -> None:
    """The issue's ``discarded(front=-1)`` (discarded everything), ``fill(n=-1)`` (filled
    everything), ``is_zero(-1)`` (2 s, then a timeout), ``read(-1)`` (an assertion error on
    the C side): each a ValueError naming the parameter, with nothing called or changed."""
    assert on(side, bad_arguments) == expected_bad()


def past_the_end(state: dict[str, Any], side: str) -> list[Any]:
    v, q, _ = _world(side)
    return [
        outcome(lambda: v.read(9)),
        outcome(lambda: v.read(3, 6)),
        outcome(lambda: v.fill(0, 0, 9)),
        outcome(lambda: v.discarded(front=5, back=4).__enter__()),
        outcome(lambda: q.is_zero(0, 2**64 - 1)),
        outcome(lambda: q.slice(7, 2)),
        outcome(lambda: v.fill(256)),
        outcome(lambda: v.fill(-1)),
        outcome(lambda: q.fill(True)),
    ]


@pytest.mark.parametrize("side", SIDES)
def test_past_the_end_and_bad_bytes_are_the_same_errors_on_both_sides(side: str) -> None:
    assert on(side, past_the_end) == [
        ("ValueError", "offset: 9, but the vector holds 8 bytes"),
        ("ValueError", "n: 6, but the vector holds 5 bytes past offset 3"),
        ("ValueError", "n: 9, but the vector holds 8 bytes"),
        ("ValueError", "front + back: 9, but the vector holds 8 bytes"),
        ("ValueError", "n: 18446744073709551615, but the vector holds 8 bytes"),
        ("ValueError", "n: 2, but the vector holds 1 bytes past offset 7"),
        ("ValueError", "byte: 256 is not a byte (0 to 255)"),
        ("ValueError", "byte: -1 is not a byte (0 to 255)"),
        ("TypeError", "byte: expected an int, got bool"),
    ]


@pytest.mark.parametrize("side", SIDES)
def test_numpy_integers_are_integers(side: str) -> None:
    np = pytest.importorskip("numpy")
    kw = side_kwargs(side)
    chain = [bytearray(b"abc"), bytearray(b"defgh")]
    v = sg.IOVector(chain, **kw)
    assert v.read(np.int64(2), np.uint8(3)) == b"cde"
    assert v.fill(np.int32(0x2E), np.intp(1), np.uint64(2)) == 2 and v.read() == b"a..defgh"
    with v.discarded(front=np.int16(1), back=np.uint32(1)) as mid:
        assert mid.read() == b"..defg"
    q = sg.QIOV(chain, alloc_hint=np.int8(4), **kw)
    assert q.slice(np.int64(1), np.int64(2)).to_bytes() == b".."
    with pytest.raises(ValueError, match=r"^n: -1 is negative$"):
        v.read(0, np.int64(-1))
    with pytest.raises(TypeError, match=r"^offset: expected an int, got bool$"):
        v.read(np.bool_(True))


def misuse_of_objects(state: dict[str, Any], side: str) -> list[Any]:
    kw = side_kwargs(side)
    q = sg.QIOV([bytearray(b"ab"), bytearray(b"cd")], **kw)
    r = sg.QIOV([bytearray(b"abc")], **kw)
    other_mem = side_kwargs(side)
    elsewhere = sg.QIOV([bytearray(b"ab")], **other_mem)
    return [
        outcome(lambda: q.compare(r)),  # C asserts equal entry lengths
        outcome(lambda: q.compare(elsewhere)),
        outcome(lambda: q.concat(elsewhere)),
        outcome(lambda: sg.QIOV(**kw).clone()),
        outcome(lambda: q.slice(0, 1).add(bytearray(1))),  # one entry: a buffer vector, nalloc -1
        outcome(lambda: q.compare("q")),  # type: ignore[arg-type]
        outcome(lambda: sg.IOVector([b"read-only"], **kw)),
        outcome(lambda: sg.IOVector(bytearray(b"one buffer, not a list"), **kw)),  # type: ignore[arg-type]
    ]


@pytest.mark.parametrize("side", SIDES)
def test_what_the_c_code_would_assert_is_refused_before_the_call(side: str) -> None:
    assert on(side, misuse_of_objects) == [
        ("ValueError", "other: its entries differ in length from this vector's (qemu_iovec_compare asserts)"),
        ("ValueError", "other: lives in another memory"),
        ("ValueError", "other: lives in another memory"),
        ("ValueError", "qiov: clone of an empty vector (its C VLA would have length 0)"),
        ("ValueError", "qiov: a vector of one buffer (nalloc -1) cannot grow"),
        ("TypeError", "other: expected a QIOV, got str"),
        ("TypeError", "buffer: bytes is read-only; a vector maps writable buffers"),
        ("TypeError", "buffers: expected an iterable of buffers, got one bytearray"),
    ]


@pytest.mark.parametrize("side", SIDES)
def test_read_makes_one_copy(side: str) -> None:
    """``read()`` fills the bytes object it returns, not a bytearray that is then copied twice
    (the issue's 2 ms per MiB): the memory traced during a read of 1 MiB is about 1 MiB."""
    size = 1 << 20
    kw = side_kwargs(side)
    chain = [bytearray(b"%d" % (i % 10) * 4096) for i in range(256)]
    v = sg.IOVector(chain, **kw)
    assert v.read() == b"".join(chain)  # warm: the first call's own allocations
    tracemalloc.start()
    try:
        data = v.read()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert data == b"".join(chain)
    assert peak < 1.25 * size, f"{peak / size:.2f} copies"
    if side == "reference_c":
        kw["mem"].close()


def test_mem_without_lib_and_lib_without_mem() -> None:
    with pytest.raises(TypeError, match=r"^mem: required with lib='reference_c'"):
        sg.IOVector([bytearray(1)], lib=reference_c)  # type: ignore[call-overload]
    with (
        reference_c.memory() as cmem,
        pytest.raises(TypeError, match=r"^mem: expected pyimpl.Memory, got reference_c.CMemory$"),
    ):
        sg.IOVector([bytearray(1)], mem=cmem)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match=r"^mem: expected reference_c.CMemory, got pyimpl.Memory$"):
        sg.QIOV(lib=reference_c, mem=pyimpl.Memory())  # type: ignore[misc]
