"""How far each engine goes: the exhaustive engine's bounds, and the Hypothesis engine's limits.

A :class:`Bound` says which values the exhaustive engine enumerates (every value below,
in every combination) and how large the layouts the Hypothesis engine draws may get.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields

from pyimpl.memory import INT_MAX, INT_MIN, SIZE_MAX


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

    def describe(self) -> str:
        """The bound as ``name=value`` pairs, the values that differ from the default first."""
        default = Bound()
        items = [(f.name, getattr(self, f.name)) for f in fields(self)]
        changed = [f"{k}={v!r}" for k, v in items if v != getattr(default, k)]
        return "bound: " + (", ".join(changed) if changed else "the default bound")

    def sizes(self, top: int, arith: bool = False) -> tuple[int, ...]:
        """Offsets and byte counts: 0..top+1, then the huge values (and the arith ones)."""
        return _sizes(self, top, arith)


@functools.lru_cache(maxsize=4096)
def _sizes(bound: Bound, top: int, arith: bool) -> tuple[int, ...]:
    huge = (*bound.huge, *bound.arith_huge) if arith else bound.huge
    return (*range(top + 2), *(h for h in huge if h > top + 1))


#: every function: about 417,000 cases
DEFAULT_BOUND = Bound()
#: every function: about 18,000 cases in a few seconds
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
)
#: how large what the Hypothesis engine draws may get (it draws, it does not enumerate)
DRAWN = Bound(max_vectors=6, max_len=12, max_qiov_vectors=6, max_adds=4, max_alloc_vectors=6)

#: the bounds the profiles name
BOUNDS = {"quick": QUICK_BOUND, "default": DEFAULT_BOUND}
