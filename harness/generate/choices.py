"""The choices a case family makes, and the two ways an engine answers them.

A case family (``harness.generate.families``) is written once, as code that asks for
choices: which layout, which vector kind, which offset.  :class:`Drawn` answers
each by a Hypothesis draw (random, shrinking, leaning on the boundaries that
matter); :class:`Enumerated` answers each with every value the
:class:`~harness.generate.bounds.Bound` allows, in order, smallest first, and
:func:`every` runs a family once per combination (a depth-first walk over the
choice points), which is the exhaustive engine's proof within the bound.

Choices that make the same decision in both engines share one method, so the
two engines cannot drift apart: ``amount`` is an offset or a byte count (every
value 0..top+1 plus the values near 2**64, or a boundary +-1 mostly),
``count`` an entry count, ``fill`` a memset byte, ``layout`` the iovec entries
of a data region, and so on.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from hypothesis import strategies as st

from iovspec.cint import INT_MAX, INT_MIN, SIZE_MAX

from .bounds import BACKED_MAX, Bound

T = TypeVar("T")

#: sizes near 2**64 (and other edges of size_t) the Hypothesis engine draws
HUGE = (SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 15, 1 << 63, (1 << 63) - 1, 1 << 32, (1 << 32) - 1, 1 << 31)
#: memset fill values beyond 0..255 (converted to unsigned char by C)
FILLS = (0, 0xFF, -1, 256, 0x1234, -129, INT_MIN, INT_MAX)


class NotEnumerable(Exception):
    """The family asked for a choice only the Hypothesis engine can make (``Choices.draw``)."""


class Choices:
    """What a family may ask; every engine answers the same questions."""

    bound: Bound
    #: True for the exhaustive engine: a family may then shape a choice for a proof (every
    #: value, fixed contents) where the Hypothesis engine shapes it for finding bugs fast
    enumerating: bool = False

    # -- the primitives ------------------------------------------------------------------------
    def pick(self, options: Sequence[T], label: str = "") -> T:
        """One of ``options`` (enumerated in order; drawn uniformly: repeat one to weigh it)."""
        raise NotImplementedError

    def integer(self, lo: int, hi: int, label: str = "") -> int:
        """An integer in [lo, hi] (enumerated: every one; keep the range small)."""
        raise NotImplementedError

    def flag(self, label: str = "", one_in: int = 2) -> bool:
        """True about once in ``one_in`` draws (enumerated: False, then True)."""
        raise NotImplementedError

    def draw(self, strategy: st.SearchStrategy[T], label: str = "") -> T:
        """A value of a Hypothesis strategy: only for families the exhaustive engine skips."""
        raise NotEnumerable(label)

    # -- the choices families share ----------------------------------------------------------
    def amount(self, points: Sequence[int], label: str = "", arith: bool = False) -> int:
        """An offset or byte count for something whose boundaries are ``points``.

        Enumerated: every value 0..max+1, then the bound's huge values (and, with ``arith``,
        the ones that only meet arithmetic).  Drawn: mostly a boundary or +-1, else anything
        up to max+3, or a value near 2**64.
        """
        raise NotImplementedError

    def count(self, n: int, spare: int = 0, label: str = "", wide: bool = False) -> int:
        """An entry count for ``n`` entries (``spare`` more readable after them); with ``wide``,
        also the bound's ``wide_counts`` (unsigned counts negative as int), for a loop that may
        stop before its count, as on a byte count."""
        raise NotImplementedError

    def fill(self, label: str = "fillc") -> int:
        """A memset fill value (an int; C converts it to unsigned char)."""
        raise NotImplementedError

    def content(self, size: int, style: str = "random", hot: Sequence[int] = (), label: str = "") -> bytes:
        """Bytes of a data region: "random" (enumerated: one non-zero ramp), "zeros" (all zero),
        or "zero" (zeros, drawn with at most one non-zero byte, often at a ``hot`` spot;
        enumerated: every zero/non-zero pattern up to ``bound.max_zero_class_bytes``)."""
        raise NotImplementedError


def ramp(n: int, first: int = 1) -> bytes:
    """``n`` non-zero bytes, all different for n < 255."""
    return bytes((first + i - 1) % 255 + 1 for i in range(n))


def zero_classes(size: int, limit: int) -> list[bytes]:
    """Every pattern of zero and non-zero bytes over ``size`` bytes (only all-zero and
    all-non-zero past ``limit``)."""
    if size > limit:
        return [bytes(size), ramp(size)]
    nonzero = ramp(size)
    return [bytes(nonzero[i] if mask >> i & 1 else 0 for i in range(size)) for mask in range(1 << size)]


# -- the Hypothesis engine ------------------------------------------------------------------------
@functools.lru_cache(maxsize=4096)
def _sampled(options: tuple[Any, ...]) -> st.SearchStrategy[Any]:
    return st.sampled_from(options)


@functools.lru_cache(maxsize=4096)
def _integers(lo: int, hi: int) -> st.SearchStrategy[int]:
    return st.integers(lo, hi)


@functools.lru_cache(maxsize=64)
def _binary(size: int) -> st.SearchStrategy[bytes]:
    return st.binary(min_size=size, max_size=size)


_FILL = st.one_of(st.integers(0, 255), st.sampled_from(FILLS))
_HUGE = st.sampled_from(HUGE)


class Drawn(Choices):
    """Answers every choice with a Hypothesis draw (strategies built once and cached)."""

    def __init__(self, draw: Callable[..., Any], bound: Bound) -> None:
        self._draw = draw
        self.bound = bound

    def pick(self, options: Sequence[T], label: str = "") -> T:
        value: T = self._draw(_sampled(tuple(options)))
        return value

    def integer(self, lo: int, hi: int, label: str = "") -> int:
        value: int = self._draw(_integers(lo, hi))
        return value

    def flag(self, label: str = "", one_in: int = 2) -> bool:
        return bool(self._draw(_integers(0, one_in - 1)) == one_in - 1)

    def draw(self, strategy: st.SearchStrategy[T], label: str = "") -> T:
        value: T = self._draw(strategy)
        return value

    def amount(self, points: Sequence[int], label: str = "", arith: bool = False) -> int:
        top = max(points, default=0)
        cands = tuple(sorted({(x + d) & SIZE_MAX for x in points for d in (-1, 0, 1) if x + d >= 0}))
        k = self._draw(_integers(0, 6))
        if k < 4:
            value: int = self._draw(_sampled(cands))
        elif k < 6:
            value = self._draw(_integers(0, min(top + 3, SIZE_MAX)))
        else:
            value = self._draw(_HUGE)
        return value

    def count(self, n: int, spare: int = 0, label: str = "", wide: bool = False) -> int:
        if wide and self._draw(_integers(0, 7)) == 7:
            wide_count: int = self._draw(_sampled(self.bound.wide_counts))
            return wide_count
        if self._draw(_integers(0, 1)):
            return n
        value: int = self._draw(_integers(0, n + spare))
        return value

    def fill(self, label: str = "fillc") -> int:
        value: int = self._draw(_FILL)
        return value

    def content(self, size: int, style: str = "random", hot: Sequence[int] = (), label: str = "") -> bytes:
        if style == "zeros":
            return bytes(size)
        if style == "zero":
            data = bytearray(size)
            if size and self._draw(_integers(0, 1)):
                spots = tuple(sorted({h for h in hot if 0 <= h < size}))
                if spots and self._draw(_integers(0, 1)):
                    where = self._draw(_sampled(spots))
                else:
                    where = self._draw(_integers(0, size - 1))
                data[where] = self._draw(_integers(1, 255))
            return bytes(data)
        value: bytes = self._draw(_binary(size))
        return value


# -- the exhaustive engine --------------------------------------------------------------------------
class Enumerated(Choices):
    """Answers the choices along one path of the depth-first walk (see :func:`every`)."""

    enumerating = True

    def __init__(self, bound: Bound, path: list[int]) -> None:
        self.bound = bound
        self.path = path  # the option index taken at each choice point so far
        self.sizes: list[int] = []  # how many options each choice point had
        self.pos = 0
        self._amounts = _amounts(bound)

    def _choose(self, n: int) -> int:
        if n <= 0:
            raise ValueError("a choice with no options")
        pos = self.pos
        self.pos = pos + 1
        self.sizes.append(n)
        path = self.path
        if pos == len(path):
            path.append(0)
            return 0
        return path[pos]

    def pick(self, options: Sequence[T], label: str = "") -> T:
        return options[self._choose(len(options))]

    def integer(self, lo: int, hi: int, label: str = "") -> int:
        return lo + self._choose(hi - lo + 1)

    def flag(self, label: str = "", one_in: int = 2) -> bool:
        return self._choose(2) == 1

    def amount(self, points: Sequence[int], label: str = "", arith: bool = False) -> int:
        top = max(points) if points else 0
        small = top <= BACKED_MAX  # every value up to the top (keyed by it); else a wide layout's
        key: tuple[Any, bool] = (top, arith) if small else (tuple(points), arith)
        options = self._amounts.get(key)
        if options is None:
            bound = self.bound
            options = bound.sizes(top, arith) if small else bound.amounts(tuple(points), arith)
            self._amounts[key] = options
        return options[self._choose(len(options))]

    def count(self, n: int, spare: int = 0, label: str = "", wide: bool = False) -> int:
        return _count(self, n + spare, self.bound.wide_counts if wide else ())

    def fill(self, label: str = "fillc") -> int:
        return self.pick(self.bound.fills)

    def content(self, size: int, style: str = "random", hot: Sequence[int] = (), label: str = "") -> bytes:
        if style == "zeros":
            return bytes(size)
        if style == "zero":
            return self.pick(zero_classes(size, self.bound.max_zero_class_bytes))
        return ramp(size)


def _count(c: Enumerated, top: int, extra: tuple[int, ...]) -> int:
    """Every count 0..top, then each of ``extra``."""
    k = c._choose(top + 1 + len(extra))
    return k if k <= top else extra[k - top - 1]


#: each bound's amounts (Bound.sizes) by (top or points, arith), kept with the bound they belong to
_AMOUNTS: dict[int, tuple[Bound, dict[tuple[Any, bool], tuple[int, ...]]]] = {}


def _amounts(bound: Bound) -> dict[tuple[Any, bool], tuple[int, ...]]:
    found = _AMOUNTS.get(id(bound))
    if found is None or found[0] is not bound:
        found = _AMOUNTS[id(bound)] = (bound, {})
    return found[1]


class Sweep(Enumerated):
    """The batched engine's choices: every boundary amount and count, everything else drawn once.

    ``amount`` walks each boundary and +-1 (and a few values near 2**64), ``count`` every
    entry count; every other choice is drawn from ``drawn`` the first time the walk reaches
    it and kept for the rest of the walk, so one Hypothesis example stands for all the
    boundary cases of one drawn layout.
    """

    enumerating = False

    def __init__(
        self,
        drawn: Drawn,
        path: list[int],
        memo: dict[int, Any],
        swept: dict[tuple[int, ...], list[int]] | None = None,
    ) -> None:
        # Enumerated's state, less its amounts (a sweep has its own)
        self.bound = drawn.bound
        self.path = path
        self.sizes = []
        self.pos = 0
        self.drawn = drawn
        self.memo = memo
        #: the amounts swept for each set of boundary points (shared by the walks of a sweep)
        self.swept: dict[tuple[int, ...], list[int]] = {} if swept is None else swept
        self.asked = 0  # choice points met so far in this walk (drawn or swept)

    def _kept(self, make: Callable[[], Any]) -> Any:
        k = self.asked
        self.asked += 1
        if k not in self.memo:
            self.memo[k] = make()
        return self.memo[k]

    def pick(self, options: Sequence[T], label: str = "") -> T:
        value: T = self._kept(lambda: self.drawn.pick(options, label))
        return value

    def integer(self, lo: int, hi: int, label: str = "") -> int:
        value: int = self._kept(lambda: self.drawn.integer(lo, hi, label))
        return value

    def flag(self, label: str = "", one_in: int = 2) -> bool:
        return bool(self._kept(lambda: self.drawn.flag(label, one_in)))

    def draw(self, strategy: st.SearchStrategy[T], label: str = "") -> T:
        value: T = self._kept(lambda: self.drawn.draw(strategy, label))
        return value

    def count(self, n: int, spare: int = 0, label: str = "", wide: bool = False) -> int:
        self.asked += 1
        # every count: 0..n, into the spare entries, and (wide) past INT_MAX
        return _count(self, n + spare, self.bound.wide_counts if wide else ())

    def fill(self, label: str = "fillc") -> int:
        value: int = self._kept(lambda: self.drawn.fill(label))
        return value

    def content(self, size: int, style: str = "random", hot: Sequence[int] = (), label: str = "") -> bytes:
        value: bytes = self._kept(lambda: self.drawn.content(size, style, hot, label))
        return value

    def amount(self, points: Sequence[int], label: str = "", arith: bool = False) -> int:
        self.asked += 1
        key = tuple(points)
        options = self.swept.get(key)
        if options is None:
            near = {(x + d) & SIZE_MAX for x in points for d in (-1, 0, 1) if x + d >= 0}
            options = self.swept[key] = sorted(near | set(SWEPT_HUGE))
        return options[self._choose(len(options))]


#: the values near 2**64 a sweep tries at every amount
SWEPT_HUGE = (SIZE_MAX, 1 << 63)


def sweep(drawn: Drawn, test: Callable[[Choices], T], limit: int) -> list[T]:
    """Every boundary variant of ``test`` (see :class:`Sweep`), at most ``limit`` of them spread
    evenly over the walk when there are more.

    The walk is depth-first, the last choice varying fastest.  Where the first walk's choice
    points multiply to more than ``limit`` variants, only the ones kept are walked (their paths
    are the positions in that product), provided each of them meets the same choice points
    (the swept ones only say which value, never which choices come next; the families are
    written so); if one does not, the whole walk is made and spread as before.
    """
    memo: dict[int, Any] = {}
    swept: dict[tuple[int, ...], list[int]] = {}
    first = Sweep(drawn, [], memo, swept)
    made = test(first)
    radices = first.sizes
    total = 1
    for n in radices:
        total *= n
    if total > limit:
        kept = _spread(test, drawn, memo, swept, radices, total, limit)
        if kept is not None:
            return [made, *kept]
    path = list(first.path)
    out: list[T] = [made]
    sizes = radices
    while True:
        del path[len(sizes) :]
        while path and path[-1] + 1 >= sizes[len(path) - 1]:
            path.pop()
        if not path:
            break
        path[-1] += 1
        c = Sweep(drawn, path, memo, swept)
        out.append(test(c))
        sizes = c.sizes
    if len(out) > limit:
        step = len(out) / limit
        out = [out[int(k * step)] for k in range(limit)]
    return out


def _spread(
    test: Callable[[Choices], T],
    drawn: Drawn,
    memo: dict[int, Any],
    swept: dict[tuple[int, ...], list[int]],
    radices: list[int],
    total: int,
    limit: int,
) -> list[T] | None:
    """The variants at positions int(k * total / limit) for k = 1..limit-1 of the product of
    ``radices`` (most significant first), each walked alone; None if one meets other choice
    points than the first walk did."""
    step = total / limit
    out: list[T] = []
    for k in range(1, limit):
        index = int(k * step)
        path = [0] * len(radices)
        for i in range(len(radices) - 1, -1, -1):
            index, path[i] = divmod(index, radices[i])
        c = Sweep(drawn, path, memo, swept)
        out.append(test(c))
        if c.sizes != radices:
            return None
    return out


def every(bound: Bound, family: Callable[[Choices], T]) -> Iterator[T]:
    """Run ``family`` once for every combination of its choices within ``bound``, in order:
    the last choice varies fastest and every choice starts with its first (smallest) option."""
    path: list[int] = []
    while True:
        c = Enumerated(bound, path)
        yield family(c)
        sizes = c.sizes
        del path[len(sizes) :]  # a shorter walk this time: forget what it did not reach
        while path and path[-1] + 1 >= sizes[len(path) - 1]:
            path.pop()
        if not path:
            return
        path[-1] += 1


def count_every(bound: Bound, family: Callable[[Choices], Any]) -> int:
    return sum(1 for _ in every(bound, family))


__all__ = [
    "FILLS",
    "HUGE",
    "Choices",
    "Drawn",
    "Enumerated",
    "NotEnumerable",
    "count_every",
    "every",
    "sweep",
    "ramp",
    "zero_classes",
]
