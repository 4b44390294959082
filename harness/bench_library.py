"""``python -m harness bench --library``: the port as a library, timed against the C facade.

For each bulk operation (``to_buf``, ``from_buf``, ``memset``, ``is_zero``, ``compare``,
``copy``, ``clone``), each data size (64 B to 16 MiB) and each entry count (1 to 1024
entries, the bytes split evenly among them), one call of the port on a strict
``pyimpl.Memory()`` (what a library user gets) and one of the same function through the
``reference_c`` facade on a ``CMemory``, each timed in CPU seconds of this thread (the
best of a few repeats, so other processes on the machine count as little as they can);
the table is their ratio.  Both sides pay Python per call: the port its wrapper and
checks, the facade its conversions and the crossing into C.

Combinations with fewer bytes than entries (64 B over 256 or 1024 entries) make no
sense and are skipped.  ``is_zero`` and ``compare`` read every byte (zeros; equal
vectors), ``copy`` and ``clone`` do not touch the data (their cost is per entry).

The table is printed, written as JSON and drawn as a PNG with matplotlib (the optional
``bench`` extra: ``pip install 'iovconf[bench]'``; without it the table and JSON are still
written).  ``sizes``/``entries``/``ops`` pick a subset (the test runs a tiny one).
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pyimpl
from pyimpl.structs import IOVEC_SIZE, QIOV_SIZE, MemoryLike, write_iovecs

OPS = ("to_buf", "from_buf", "memset", "is_zero", "compare", "copy", "clone")
SIZES = (64, 4 << 10, 64 << 10, 1 << 20, 16 << 20)
ENTRIES = (1, 16, 256, 1024)
#: the targets the issue sets: (largest entry count, smallest size, ratio at most)
TARGETS = ((16, 64 << 10, 3.0), (256, 64 << 10, 6.0))
#: per-entry cost of the port at most, in microseconds
PER_ENTRY_TARGET_US = 2.0


def size_label(n: int) -> str:
    for unit, shift in (("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return f"{n >> shift} {unit}"
    return f"{n} B"


def skipped(size: int, entries: int) -> bool:
    """Fewer bytes than entries: not a layout anyone uses."""
    return size < entries


@dataclass
class Cell:
    op: str
    size: int
    entries: int
    port_us: float
    c_us: float

    @property
    def ratio(self) -> float:
        return self.port_us / self.c_us if self.c_us else 0.0


def _layout(mem: MemoryLike, lib: Any, op: str, size: int, n: int) -> Callable[[], object]:
    """Lay one case out in ``mem`` and return the call to time (on ``lib``'s side)."""
    per, last = divmod(size, n)
    lens = [per] * (n - 1) + [per + last]

    def vectors(data: int) -> int:
        arr = mem.buffer(IOVEC_SIZE * n)
        entries: list[tuple[int, int]] = []
        pos = 0
        for k in lens:
            entries.append((data + pos, k))
            pos += k
        write_iovecs(mem, arr, entries)
        return arr

    def qiov(arr: int) -> int:
        q: int = mem.buffer(QIOV_SIZE)
        lib.qemu_iovec_init_external(mem, q, arr, n)
        return q

    data = mem.map(bytearray(size))
    arr = vectors(data)
    if op == "to_buf":
        out = mem.map(bytearray(size))
        return lambda: lib.iov_to_buf(mem, arr, n, 0, out, size)
    if op == "from_buf":
        src = mem.map(bytearray(b"x" * size))
        return lambda: lib.iov_from_buf(mem, arr, n, 0, src, size)
    if op == "memset":
        return lambda: lib.iov_memset(mem, arr, n, 0, 0x5A, size)
    if op == "is_zero":
        q = qiov(arr)
        return lambda: lib.qemu_iovec_is_zero(mem, q, 0, size)
    if op == "compare":
        a, b = qiov(arr), qiov(vectors(mem.map(bytearray(size))))
        return lambda: lib.qemu_iovec_compare(mem, a, b)
    if op == "copy":
        dst = mem.buffer(IOVEC_SIZE * n)
        return lambda: lib.iov_copy(mem, dst, n, arr, n, 0, size)
    if op == "clone":
        src, dest = qiov(arr), mem.buffer(QIOV_SIZE)
        lib.qemu_iovec_init(mem, dest, n)
        buf = mem.map(bytearray(size))

        def clone() -> None:
            lib.qemu_iovec_clone(mem, dest, src, buf)
            lib.qemu_iovec_reset(mem, dest)  # keeps the array: the next clone adds in place

        return clone
    raise ValueError(f"op: {op!r}")


def _time(call: Callable[[], object], budget: float) -> float:
    """Seconds of CPU per call: the best of five repeats of enough calls to fill ``budget``."""
    clock = time.thread_time
    call()  # warm: caches, first-time allocations
    reps = 1
    while True:
        t0 = clock()
        for _ in range(reps):
            call()
        spent = clock() - t0
        if spent >= budget / 5 or reps >= 1 << 16:
            break
        reps = max(reps * 2, int(reps * budget / 5 / max(spent, 1e-6)))
    best = spent / reps
    for _ in range(4):
        t0 = clock()
        for _ in range(reps):
            call()
        best = min(best, (clock() - t0) / reps)
    return best


def bench(
    budget: float = 0.05,
    ops: tuple[str, ...] = OPS,
    strict: bool = True,
    sizes: tuple[int, ...] = SIZES,
    entries: tuple[int, ...] = ENTRIES,
) -> list[Cell]:
    """Time every (op, size, entries) cell on both sides; ``budget`` CPU seconds per side."""
    import reference_c

    ref = reference_c.load()
    cells = []
    for op in ops:
        if op not in OPS:
            raise ValueError(f"ops: {op!r} is not one of {', '.join(OPS)}")
        for size in sizes:
            for n in entries:
                if skipped(size, n):
                    continue
                port = _time(_layout(pyimpl.Memory(strict=strict), pyimpl, op, size, n), budget)
                with ref.memory() as cmem:
                    c = _time(_layout(cmem, reference_c, op, size, n), budget)
                cells.append(Cell(op, size, n, port * 1e6, c * 1e6))
    return cells


def per_entry_us(cells: list[Cell]) -> dict[str, float]:
    """The port's cost of one more entry, per op, less the C facade's: the slope from the
    fewest (but at least 16) to the most entries at 1 MiB (else the largest size timed with
    several counts): the same bytes either way (16 -> 1024 entries in the full table)."""
    out = {}
    for op in sorted({c.op for c in cells}):
        mine = [c for c in cells if c.op == op]
        for size in sorted({c.size for c in mine}, key=lambda s: (s != 1 << 20, -s)):
            row = sorted((c for c in mine if c.size == size), key=lambda c: c.entries)
            many = [c for c in row if c.entries >= 16]  # one entry is not a per-entry cost
            row = many if len(many) >= 2 else row
            if len(row) >= 2 and row[-1].entries > row[0].entries:
                lo, hi = row[0], row[-1]
                steps = hi.entries - lo.entries
                out[op] = round((hi.port_us - lo.port_us - (hi.c_us - lo.c_us)) / steps, 3)
                break
    return out


def verdicts(cells: list[Cell]) -> list[str]:
    """Which targets each cell misses (the issue's targets)."""
    misses = []
    for c in cells:
        for max_entries, min_size, limit in TARGETS:
            if c.size >= min_size and c.entries <= max_entries and c.ratio > limit:
                if max_entries == 256 and c.entries <= 16:
                    continue  # the stricter target covers it
                misses.append(
                    f"{c.op} {size_label(c.size)} x {c.entries}: {c.ratio:.1f}x (target <= {limit:g}x)"
                )
    return misses


def report(
    cells: list[Cell], strict: bool, sizes: tuple[int, ...] = SIZES, entries: tuple[int, ...] = ENTRIES
) -> dict[str, Any]:
    """The table as JSON: every cell (microseconds per call on each side, their ratio), the
    per-entry costs and the targets missed."""
    return {
        "machine": {"python": platform.python_version(), "machine": platform.machine()},
        "memory": "pyimpl.Memory()" if strict else "pyimpl.Memory(strict=False)",
        "clock": "thread CPU time, best of 5",
        "sizes": list(sizes),
        "entries": list(entries),
        "skipped": [f"{size_label(s)} over {n} entries" for s in sizes for n in entries if skipped(s, n)],
        "cells": [{**asdict(c), "ratio": round(c.ratio, 2)} for c in cells],
        "port_per_entry_us_minus_c": per_entry_us(cells),
        "misses": verdicts(cells),
    }


def plot(cells: list[Cell], path: Path, title: str) -> bool:
    """Draw the ratios as a PNG (one panel per op: ratio against size, a line per entry count,
    the targets as dashed lines); False when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display: files only
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    ops = [op for op in OPS if any(c.op == op for c in cells)]
    cols = min(4, len(ops))
    rows = -(-len(ops) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False, sharey=True)
    for ax, op in zip(axes.flat, ops, strict=False):
        mine = [c for c in cells if c.op == op]
        for n in sorted({c.entries for c in mine}):
            line = sorted((c for c in mine if c.entries == n), key=lambda c: c.size)
            ax.plot([c.size for c in line], [c.ratio for c in line], marker="o", label=f"{n} entries")
        for _, _, limit in TARGETS:
            ax.axhline(limit, color="grey", linestyle="--", linewidth=0.8)
        ax.axhline(1.0, color="black", linewidth=0.6)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        sizes = sorted({c.size for c in mine})
        ax.set_xticks(sizes, [size_label(s) for s in sizes], fontsize=7)
        ax.set_title(op)
        ax.set_xlabel("bytes")
        ax.grid(True, which="both", linewidth=0.3)
    for ax in axes.flat[len(ops) :]:
        ax.set_visible(False)
    axes[0][0].set_ylabel("pyimpl / C time")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def main(
    out: Path | None,
    png: Path | None,
    budget: float = 0.05,
    strict: bool = True,
    sizes: tuple[int, ...] = SIZES,
    entries: tuple[int, ...] = ENTRIES,
    ops: tuple[str, ...] = OPS,
) -> int:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, width=160)
    cells = bench(budget, ops, strict, sizes, entries)
    data = report(cells, strict, sizes, entries)
    by = {(c.op, c.size, c.entries): c for c in cells}
    title = f"pyimpl / C facade time ratio ({data['memory']}; thread CPU time)"
    table = Table(title=title)
    table.add_column("op")
    table.add_column("size", justify="right")
    for n in entries:
        table.add_column(f"{n} entr{'y' if n == 1 else 'ies'}", justify="right")
    for op in ops:
        for size in sizes:
            row = [op, size_label(size)]
            for n in entries:
                c = by.get((op, size, n))
                row.append("-" if c is None else f"{c.ratio:.1f}x ({c.port_us:,.0f} us)")
            table.add_row(*row)
        table.add_section()
    console.print(table)
    if data["skipped"]:
        console.print("skipped (fewer bytes than entries): " + ", ".join(data["skipped"]))
    per = data["port_per_entry_us_minus_c"]
    if per:
        console.print(
            "per-entry cost of the port beyond C's, us: "
            + ", ".join(f"{op} {per[op]:.2f}" for op in ops if op in per)
            + f" (target <= {PER_ENTRY_TARGET_US:g})"
        )
    if data["misses"]:
        console.print("missed targets: " + "; ".join(data["misses"]))
    else:
        console.print("every target met")
    if out is not None:
        out.write_text(json.dumps(data, indent=1))
        console.print(f"written: {out}")
    if png is not None:
        if plot(cells, png, title):
            console.print(f"written: {png}")
        else:
            console.print(
                "no PNG: matplotlib is not installed (it is the optional 'bench' extra: "
                "pip install 'iovconf[bench]', or pip install 'matplotlib>=3.8'); "
                "the table and JSON above are complete",
                markup=False,  # [bench] is not a style
            )
    return 0
