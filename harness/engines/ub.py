"""The undefined-behaviour campaign: cases made to be UB, confirmed by the oracle.

For every UB kind the port knows, a generator makes varied cases the port
classifies as that kind.  Each one then goes to the UB oracle (``harness.worlds.oracle``:
the sanitize flavour of the reference, guard bytes poisoned) and must draw a
report of the expected kind.  A case the port calls UB but the oracle passes
silently is *unconfirmed*: a finding about the port or the oracle.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from harness.model.case import Arg, Builder, Case, QiovInit, Ref, case_to_json
from harness.worlds.oracle import for_source
from harness.worlds.world import PyWorld, run_case
from iovspec.cint import INT_MAX, SIZE_MAX


def _vectors(b: Builder, rng: random.Random, n: int) -> tuple[Ref, list[int], Ref]:
    lens = [rng.randint(1, 4) for _ in range(n)]
    data = b.data(bytes(rng.randrange(256) for _ in range(sum(lens) + 1)))
    pos, entries = 0, list[tuple[Arg, int]]()
    for length in lens:
        entries.append((data + pos, length))
        pos += length
    return b.iovs(entries), lens, data


def _out_of_bounds(rng: random.Random) -> Case:
    b = Builder()
    arr, lens, _ = _vectors(b, rng, rng.randint(0, 3))
    shape = rng.choice(("count", "small-buffer", "skewed", "wrap"))
    if shape == "wrap":
        return _offset_wrap(rng)
    if shape == "count":
        b.call(rng.choice(("iov_size",)), arr, len(lens) + 1)
    elif shape == "small-buffer" and lens:
        buf = b.data(bytes(max(sum(lens) - rng.randint(1, sum(lens)), 0)))
        b.call("iov_to_buf_full", arr, len(lens), 0, buf, sum(lens))
    else:
        q = b.qiov(QiovInit(arr, len(lens), -1, 0, sum(lens) + rng.randint(2, 5)))
        b.call("qemu_iovec_subvec_niov", q, sum(lens) + 1, 0)
    return b.case("out-of-bounds")


def _use_after_free(rng: random.Random) -> Case:
    b = Builder()
    n = rng.randint(2, 4)
    q = b.qiov(None)
    data = b.data(bytes(8))
    b.call("qemu_iovec_init", q, n)
    for k in range(n):
        b.call("qemu_iovec_add", q, data + k, rng.randint(1, 3))
    b.call("qemu_iovec_concat", q, q, 0, SIZE_MAX)  # the first add reallocates the array it reads
    return b.case("use-after-free")


def _null_pointer(rng: random.Random) -> Case:
    b = Builder()
    n = rng.randint(1, 4)
    arr = b.iovs([(0, n)])
    out = b.data(bytes(n))
    shape = rng.choice(("to_buf", "memset", "from_null"))
    if shape == "to_buf":
        b.call("iov_to_buf_full", arr, 1, 0, out, n)
    elif shape == "memset":
        b.call("iov_memset", arr, 1, 0, rng.randrange(256), n)
    else:
        arr2 = b.iovs([(out, n)])
        b.call("iov_from_buf_full", arr2, 1, 0, 0, n)
    return b.case("null-pointer")


def _offset_wrap(rng: random.Random) -> Case:
    """offset + len wraps to a small sum that passes the assert; skipping offset leaves the array."""
    b = Builder()
    arr, lens, _ = _vectors(b, rng, rng.randint(1, 3))
    q = b.qiov(QiovInit(arr, len(lens), -1, 0, sum(lens)))
    k = rng.randint(0, 3)
    b.call(
        rng.choice(("qemu_iovec_is_zero", "qemu_iovec_subvec_niov")),
        q,
        SIZE_MAX - k,
        k + 1 + rng.randint(0, 1),
    )
    return b.case("out-of-bounds")


def _zero_length_vla(rng: random.Random) -> Case:
    b = Builder()
    src = b.qiov(QiovInit(0, 0, rng.choice((-1, 0)), 0, 0))
    dest = b.qiov(None)
    b.call("qemu_iovec_init", dest, rng.randint(0, 2))
    b.call("qemu_iovec_clone", dest, src, b.data(bytes(4)))
    return b.case("zero-length-vla")


def _overlapping_memcpy(rng: random.Random) -> Case:
    b = Builder()
    n = rng.randint(2, 6)
    data = b.data(bytes(rng.randrange(256) for _ in range(2 * n)))
    arr = b.iovs([(data, n)])
    b.call("iov_to_buf_full", arr, 1, 0, data + rng.randint(1, n - 1), n)
    return b.case("overlapping-memcpy")


def _invalid_free(rng: random.Random) -> Case:
    b = Builder()
    arr, lens, _ = _vectors(b, rng, rng.randint(1, 2))
    q = b.qiov(QiovInit(arr, len(lens), rng.randint(0, 3), 0, sum(lens)))  # nalloc != -1 on a caller array
    b.call("qemu_iovec_destroy", q)
    return b.case("invalid-free")


def _signed_overflow(rng: random.Random) -> Case:
    b = Builder()
    arr, _, data = _vectors(b, rng, 1)
    n = (INT_MAX // 2) + 1 + rng.randint(0, 1000)  # 2 * nalloc + 1 leaves int
    q = b.qiov(QiovInit(arr, n, n, 0, 0))
    b.call("qemu_iovec_add", q, data, 1)
    return b.case("signed-overflow")


def _stack_overflow(rng: random.Random) -> Case:
    b = Builder()
    arr, _, _ = _vectors(b, rng, 1)
    n = (1 << 20) + rng.randint(0, 1 << 16)  # 24+ MiB of IOVectorSortElem on an 8 MiB stack
    src = b.qiov(QiovInit(arr, n, -1, 0, 0))
    dest = b.qiov(None)
    b.call("qemu_iovec_init", dest, 1)
    b.call("qemu_iovec_clone", dest, src, b.data(bytes(4)))
    return b.case("stack-overflow")


GENERATORS: dict[str, Callable[[random.Random], Case]] = {
    "out-of-bounds": _out_of_bounds,
    "use-after-free": _use_after_free,
    "null-pointer": _null_pointer,
    "zero-length-vla": _zero_length_vla,
    "overlapping-memcpy": _overlapping_memcpy,
    "invalid-free": _invalid_free,
    "signed-overflow": _signed_overflow,
    "stack-overflow": _stack_overflow,
}


@dataclass
class KindResult:
    """What the campaign saw for one UB kind."""

    kind: str
    cases: int = 0
    confirmed: int = 0
    unconfirmed: list[str] = field(default_factory=list)  # case JSON of each
    misclassified: int = 0  # generated for this kind, but the port said otherwise
    reports: dict[str, int] = field(default_factory=dict)


def run_ub_campaign(
    per_kind: int,
    seed: int,
    c_source: str | None = None,
    kinds: list[str] | None = None,
    show: Callable[[str], None] = print,
) -> list[KindResult]:
    """Generate ``per_kind`` cases of each kind and have the oracle confirm each."""
    oracle = for_source(c_source)
    rng = random.Random(seed)
    port = PyWorld()
    results = []
    for kind in kinds or list(GENERATORS):
        r = KindResult(kind)
        for _ in range(per_kind):
            case = GENERATORS[kind](rng)
            outcome = run_case(port, case)
            if outcome.ub is None or outcome.ub.kind != kind:
                r.misclassified += 1
                r.unconfirmed.append(case_to_json(case))
                continue
            r.cases += 1
            confirmation = oracle.confirm(case, kind)
            key = re.split(r" on |: |, ", confirmation.report)[0][:60]
            r.reports[key] = r.reports.get(key, 0) + 1
            if confirmation.confirmed:
                r.confirmed += 1
            else:
                r.unconfirmed.append(case_to_json(case))
        show(
            f"  UB {kind}: {r.cases} cases, {r.confirmed} confirmed, {len(r.unconfirmed)} unconfirmed "
            f"({', '.join(f'{k} x{v}' for k, v in r.reports.items())})"
        )
        results.append(r)
    return results
