"""Compact C for reproducers: bytes without one initializer per byte, iovec arrays without one line per entry.

A C reproducer gives each data region its initial bytes and checks the final bytes
the port expects.  Spelt out one byte at a time, a 64 KiB region costs 256 KiB of C.
Here bytes are cut into *pieces*: literal stretches, fills (``memset``) and repeats
of the bytes a fixed distance back (what a patterned buffer is made of), which C
rebuilds with ``memcpy``, ``memset`` and :data:`C_HELPERS`' ``repro_repeat``.

What does not fit even so is checked by the CRC-32 (zlib's) of each :data:`BLOCK`
bytes, computed the same way by ``repro_crc32`` in C: every byte is still checked,
and a difference is placed to its block.

Likewise a long iovec array (a vector of 1,025 one-byte entries) is made of
:func:`progressions`: runs of entries whose numbers step evenly, one C loop each.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

#: bytes a repeat must cover to be worth its statement (a literal byte costs 1 to 4 characters)
MIN_REPEAT = 16
#: how far back a repeat may reach (a pattern's period at most)
WINDOW = 4096
#: bytes a literal statement holds (one line of C each)
LITERAL_BYTES = 48
#: bytes per CRC-32 when a value is checked by its blocks' CRCs
BLOCK = 4096

C_HELPERS = r"""
/* p[0..n) becomes what lies dist bytes before each byte: a pattern of period dist */
static UNUSED void repro_repeat(unsigned char *p, size_t dist, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = (p - dist)[i];
    }
}

/* zlib's CRC-32 of p[0..n) (what the harness computed of the port's bytes) */
static UNUSED uint32_t repro_crc32(const unsigned char *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;

    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) {
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
        }
    }
    return ~c;
}
"""


@dataclass(frozen=True)
class Literal:
    at: int
    data: bytes


@dataclass(frozen=True)
class Fill:
    at: int
    n: int
    byte: int


@dataclass(frozen=True)
class Repeat:
    """Bytes ``at..at+n`` are each the byte ``dist`` before them (``dist`` > 1; 1 is a :class:`Fill`)."""

    at: int
    n: int
    dist: int


Piece = Literal | Fill | Repeat


def c_string(data: bytes) -> str:
    """A C string literal of ``data``: printable ASCII as it is, the rest as 3-digit octal
    escapes (which never swallow a following digit); ``?`` escaped, so no trigraphs."""
    out = []
    for ch in data:
        if ch in (0x22, 0x5C):
            out.append("\\" + chr(ch))
        elif 0x20 <= ch < 0x7F and ch != 0x3F:
            out.append(chr(ch))
        else:
            out.append(f"\\{ch:03o}")
    return '"' + "".join(out) + '"'


def _match(data: bytes, i: int, dist: int) -> int:
    """How many bytes from ``i`` on equal the byte ``dist`` before each (compared in chunks that
    grow to WINDOW bytes, so the byte-by-byte search of the last is short)."""
    n, length, step = len(data), 0, 64
    while i + length < n:
        m = min(step, n - i - length)
        here, back = data[i + length : i + length + m], data[i + length - dist : i + length - dist + m]
        if here != back:
            return length + next(k for k in range(m) if here[k] != back[k])
        length += m
        step = min(step * 2, WINDOW)
    return length


def pieces(data: bytes) -> Iterator[Piece]:
    """``data`` as literals, fills and repeats, in order (greedy: the nearest earlier copy of
    the next MIN_REPEAT bytes, as far as it goes)."""
    n, i, start = len(data), 0, 0
    while i < n:
        # the nearest earlier start of the next MIN_REPEAT bytes (rfind's end keeps it before i)
        found = data.rfind(data[i : i + MIN_REPEAT], max(i - WINDOW, 0), i + MIN_REPEAT - 1)
        if found < 0 or i + MIN_REPEAT > n:
            i = min(i + 4, n)  # a few bytes on: a literal stretch costs one search per 4 bytes
            continue
        for at in range(start, i, LITERAL_BYTES):
            yield Literal(at, data[at : min(at + LITERAL_BYTES, i)])
        dist = i - found
        length = _match(data, i, dist)
        yield Fill(i, length, data[i - 1]) if dist == 1 else Repeat(i, length, dist)
        i = start = i + length
    for at in range(start, n, LITERAL_BYTES):
        yield Literal(at, data[at : min(at + LITERAL_BYTES, n)])


def _statement(dest: str, p: Piece) -> str:
    if isinstance(p, Literal):
        return f"memcpy({dest} + {p.at}, {c_string(p.data)}, {len(p.data)});"
    if isinstance(p, Fill):
        return f"memset({dest} + {p.at}, {p.byte:#04x}, {p.n});"
    return f"repro_repeat({dest} + {p.at}, {p.dist}, {p.n});"


def statements(dest: str, data: bytes) -> list[str]:
    """C statements that write ``data`` at ``dest`` (an ``unsigned char *`` expression)."""
    return [_statement(dest, p) for p in pieces(data)]


def statements_within(dest: str, data: bytes, budget: int) -> list[str] | None:
    """:func:`statements`, or None as soon as they take more than ``budget`` characters."""
    out: list[str] = []
    size = 0
    for p in pieces(data):
        out.append(_statement(dest, p))
        size += len(out[-1]) + 5  # and its indent and line end
        if size > budget:
            return None
    return out


def block_crcs(data: bytes) -> list[int]:
    """The CRC-32 of each BLOCK bytes of ``data`` (the last block may be shorter)."""
    return [zlib.crc32(data[at : at + BLOCK]) for at in range(0, len(data), BLOCK)]


def rebuild(data_len: int, parts: list[Piece]) -> bytes:
    """The bytes the pieces make, as the C statements make them (for tests and checks)."""
    out = bytearray(data_len)
    for p in parts:
        if isinstance(p, Literal):
            out[p.at : p.at + len(p.data)] = p.data
        elif isinstance(p, Fill):
            out[p.at : p.at + p.n] = bytes([p.byte]) * p.n
        else:
            for k in range(p.at, p.at + p.n):
                out[k] = out[k - p.dist]
    return bytes(out)


@dataclass(frozen=True)
class Progression:
    """Items ``start..start+count`` of a sequence: the same ``key``, numbers ``first + i * step``."""

    start: int
    count: int
    key: object
    first: tuple[int, ...]
    step: tuple[int, ...]


def progressions(items: Sequence[tuple[object, tuple[int, ...]]]) -> list[Progression]:
    """Cut ``items`` (key, numbers) into the fewest runs (greedily, left to right) of one key whose
    numbers step by the same amounts; a run of one item has step 0."""
    out: list[Progression] = []
    i = 0
    while i < len(items):
        key, first = items[i]
        step = tuple(0 for _ in first)
        j = i + 1
        if j < len(items) and items[j][0] == key:
            step = tuple(b - a for a, b in zip(first, items[j][1], strict=True))
            while (
                j < len(items)
                and items[j][0] == key
                and items[j][1] == tuple(a + (j - i) * d for a, d in zip(first, step, strict=True))
            ):
                j += 1
        if j - i == 1:
            step = tuple(0 for _ in first)
        out.append(Progression(i, j - i, key, first, step))
        i = j
    return out
