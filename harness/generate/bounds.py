"""How far each engine goes: the exhaustive engine's bounds, and the Hypothesis engine's limits.

A :class:`Bound` says which values the exhaustive engine enumerates (every value below,
in every combination) and how large the layouts the Hypothesis engine draws may get.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields

from iovspec.cint import INT_MAX, INT_MIN, SIZE_MAX, UINT_MAX

#: lengths at the edges of int (2**31 - 1 is INT_MAX), unsigned int and ssize_t (2**63 is
#: negative as ssize_t): a length narrowed to an int, or compared signed, goes wrong at one of them
WIDE = tuple(e + d for e in (1 << 31, 1 << 32, 1 << 63) for d in (-1, 0, 1))
#: unsigned counts negative as int: INT_MAX + 1 and UINT_MAX
WIDE_COUNTS = (INT_MAX + 1, UINT_MAX)
#: entries longer than this are not backed by memory (harness.generate.layouts: a wide entry holds one
#: real byte), and offsets and byte counts are enumerated value by value only up to it: past
#: it, at a wide entry's boundaries, only the boundary and +-1
BACKED_MAX = 1 << 16


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
    # entries of the vectors of functions that allocate: add, concat, concat_iov's source,
    # init_extended, init_slice, clone; and compare's
    max_alloc_vectors: int = 2
    hints: tuple[int, ...] = (-1, 0, 1, 2, INT_MAX, INT_MIN)  # qemu_iovec_init alloc_hint
    end_lens: tuple[int, ...] = (1,)  # qemu_iovec_init_extended head/tail lengths besides 0, huge
    max_zero_class_bytes: int = 6  # is_zero: every zero/non-zero pattern of a data region this big
    # entry lengths at the widths a length may be narrowed to (int, unsigned int, ssize_t), given
    # to the functions that read lengths without touching the bytes (harness.generate.layouts.wide_layouts)
    wide: tuple[int, ...] = WIDE
    # counts past INT_MAX (negative as int) for the unsigned counts a loop compares with an int
    wide_counts: tuple[int, ...] = WIDE_COUNTS

    def describe(self) -> str:
        """The bound as ``name=value`` pairs, the values that differ from the default first."""
        default = Bound()
        items = [(f.name, getattr(self, f.name)) for f in fields(self)]
        changed = [f"{k}={v!r}" for k, v in items if v != getattr(default, k)]
        return "bound: " + (", ".join(changed) if changed else "the default bound")

    def sizes(self, top: int, arith: bool = False) -> tuple[int, ...]:
        """Offsets and byte counts: 0..top+1, then the huge values (and the arith ones)."""
        return _sizes(self, top, arith)

    def amounts(self, points: tuple[int, ...], arith: bool = False) -> tuple[int, ...]:
        """Offsets and byte counts for something whose boundaries are ``points``: every value up
        to the last small point + 1, each larger point (a wide entry's end) and +-1, modulo
        2**64, then the huge values (and the arith ones).  Without wide points: :meth:`sizes`."""
        return _amounts(self, points, arith)


@functools.lru_cache(maxsize=4096)
def _sizes(bound: Bound, top: int, arith: bool) -> tuple[int, ...]:
    huge = (*bound.huge, *bound.arith_huge) if arith else bound.huge
    return (*range(top + 2), *(h for h in huge if h > top + 1))


@functools.lru_cache(maxsize=4096)
def _amounts(bound: Bound, points: tuple[int, ...], arith: bool) -> tuple[int, ...]:
    top = max((p for p in points if p <= BACKED_MAX), default=0)
    small = _sizes(bound, top, arith)
    near = sorted({(p + d) & SIZE_MAX for p in points if p > BACKED_MAX for d in (-1, 0, 1)})
    seen = set(range(top + 2))
    out = [*range(top + 2)]
    for v in (*near, *small[top + 2 :]):
        if v not in seen:
            seen.add(v)
            out.append(v)
    return tuple(out)


#: every function: about 527,000 cases (428,000 without the wide entries)
DEFAULT_BOUND = Bound()
#: every function: about 36,000 cases in a few seconds (19,000 without the wide entries, which
#: take one length per width here: INT_MAX + 1, UINT_MAX + 2, 2**63)
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
    wide=(1 << 31, (1 << 32) + 1, 1 << 63),
    wide_counts=(1 << 31,),
)
#: how large what the Hypothesis engine draws may get (it draws, it does not enumerate)
DRAWN = Bound(max_vectors=6, max_len=12, max_qiov_vectors=6, max_adds=4, max_alloc_vectors=6)

#: the bounds the profiles name
BOUNDS = {"quick": QUICK_BOUND, "default": DEFAULT_BOUND}
