"""``python -m harness bench --library``: the port as a library, timed against the C facade.

Two kinds of rows:

- the C functions (``to_buf``, ``from_buf``, ``memset``, ``is_zero``, ``compare``,
  ``copy``, ``clone``): for each data size (64 B to 16 MiB), entry count (1 to 1024, the
  bytes split evenly among them) and **layout**, one call of the port on a
  ``pyimpl.Memory()`` (what a library user gets) and one of the same function through the
  ``reference_c`` facade on a ``CMemory``.  ``consecutive``: the entries are consecutive
  pieces of one region (the port then copies them in one slice); ``separate``: each entry
  is a buffer of its own, as ``pyimpl.sg`` maps them;
- ``pyimpl.sg`` itself (``sg_readinto``, ``sg_write``, ``sg_read``): an ``IOVector`` over
  that many separate ``bytearray``\\ s on the port and on ``reference_c``, and, as the floor
  a Python programmer would compare with, the same copy as a plain loop of memoryview
  slices (``loop``).

Each is timed in CPU seconds of this thread (the best of a few repeats, so other processes
on the machine count as little as they can); the tables show the ratios.  Combinations with
fewer bytes than entries make no sense and are skipped.  ``is_zero`` and ``compare`` read
every byte (zeros; equal vectors), ``copy`` and ``clone`` do not touch the data (their cost
is per entry).

The targets of issue 16 are rows of their own (:data:`SG_TARGETS`), measured whenever their
op is selected: 1 MiB over 256 separate buffers (``write``/``readinto`` at most 6x
``reference_c`` and 4x the loop), ``readinto`` of a 4 x 64 B vector (at most 20 us a call)
and the copies one ``read()`` makes (the peak of memory traced during the call over the
bytes read: one copy is 1).

The tables are printed, written as JSON and drawn as a PNG with matplotlib (the optional
``bench`` extra: ``pip install 'iovconf[bench]'``; without it the tables and JSON are
still written).  ``sizes``/``entries``/``ops`` pick a subset (the test runs a tiny one).
"""

from __future__ import annotations

import json
import platform
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pyimpl
from iovspec.structs import IOVEC_SIZE, QIOV_SIZE, MemoryLike, write_iovecs
from pyimpl import sg

#: the C functions, timed on both layouts
RAW_OPS = ("to_buf", "from_buf", "memset", "is_zero", "compare", "copy", "clone")
#: pyimpl.sg's methods, timed over separate buffers against reference_c and a plain loop
SG_OPS = ("sg_readinto", "sg_write", "sg_read")
OPS = RAW_OPS + SG_OPS
LAYOUTS = ("consecutive", "separate")
SIZES = (64, 4 << 10, 64 << 10, 1 << 20, 16 << 20)
ENTRIES = (1, 16, 256, 1024)
#: the targets of the first library issue, on the C functions: (largest entry count, smallest
#: size, ratio at most); each layout is held to them
TARGETS = ((16, 64 << 10, 3.0), (256, 64 << 10, 6.0))
#: per-entry cost of the port at most, in microseconds
PER_ENTRY_TARGET_US = 2.0


@dataclass(frozen=True)
class SgTarget:
    """One target of issue 16: ``measure`` of the cell (op, size, entries) at most ``limit``."""

    op: str
    size: int
    entries: int
    measure: str  # "ratio" (pyimpl / C), "loop_ratio" (pyimpl / loop), "port_us", "copies"
    limit: float

    def label(self) -> str:
        what = {
            "ratio": "pyimpl / reference_c",
            "loop_ratio": "pyimpl / memoryview loop",
            "port_us": "us per call on pyimpl",
            "copies": "copies per read (pyimpl, C)",
        }[self.measure]
        return f"{self.op} {size_label(self.size)} over {self.entries} separate buffers: {what}"


SG_TARGETS = (
    SgTarget("sg_write", 1 << 20, 256, "ratio", 6.0),
    SgTarget("sg_write", 1 << 20, 256, "loop_ratio", 4.0),
    SgTarget("sg_readinto", 1 << 20, 256, "ratio", 6.0),
    SgTarget("sg_readinto", 1 << 20, 256, "loop_ratio", 4.0),
    SgTarget("sg_readinto", 256, 4, "port_us", 20.0),
    SgTarget("sg_read", 1 << 20, 256, "copies", 1.0),
)


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
    layout: str = "consecutive"
    #: the same bytes moved by a plain loop of memoryview slices (the copies and sg's ops)
    loop_us: float | None = None
    #: sg_read: the peak of traced memory during one call over the bytes read, per side
    port_copies: float | None = None
    c_copies: float | None = None

    @property
    def ratio(self) -> float:
        return self.port_us / self.c_us if self.c_us else 0.0

    @property
    def loop_ratio(self) -> float | None:
        return self.port_us / self.loop_us if self.loop_us else None


def _lengths(size: int, n: int) -> list[int]:
    per, last = divmod(size, n)
    return [per] * (n - 1) + [per + last]


def _layout(mem: MemoryLike, lib: Any, op: str, size: int, n: int, layout: str) -> Callable[[], object]:
    """Lay one case of a C function out in ``mem`` and return the call to time (on ``lib``'s side)."""
    lens = _lengths(size, n)

    def vectors() -> int:
        """An iovec array over ``size`` fresh bytes, laid out as ``layout`` says."""
        arr = mem.buffer(IOVEC_SIZE * n)
        if layout == "separate":
            entries = [(mem.map(bytearray(k)), k) for k in lens]
        else:
            data = mem.map(bytearray(size))
            entries = []
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

    arr = vectors()
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
        a, b = qiov(arr), qiov(vectors())
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


def _sg_call(v: sg.IOVector[Any], op: str, size: int) -> Callable[[], object]:
    """The call of an sg op on the vector ``v`` of ``size`` bytes."""
    if op == "sg_readinto":
        out = bytearray(size)
        return lambda: v.readinto(out)
    if op == "sg_write":
        src = b"x" * size
        return lambda: v.write(src)
    if op == "sg_read":
        return v.read
    raise ValueError(f"op: {op!r}")


def _loop_call(op: str, size: int, n: int) -> Callable[[], object] | None:
    """What the op does, written as a plain loop of memoryview slices over ``n`` separate
    buffers (None: no such loop for the op)."""
    views = [memoryview(bytearray(k)) for k in _lengths(size, n)]
    flat = memoryview(bytearray(b"x" * size))
    if op in ("to_buf", "sg_readinto"):

        def gather() -> None:
            pos = 0
            for v in views:
                k = len(v)
                flat[pos : pos + k] = v
                pos += k

        return gather
    if op in ("from_buf", "sg_write"):

        def scatter() -> None:
            pos = 0
            for v in views:
                k = len(v)
                v[:] = flat[pos : pos + k]
                pos += k

        return scatter
    if op == "sg_read":
        return lambda: b"".join(views)
    return None


def _copies(call: Callable[[], object], size: int) -> float:
    """The peak of memory traced during one call, over ``size``: how many copies it made."""
    call()  # warm: first-time allocations are not the call's
    tracemalloc.start()
    try:
        call()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak / size if size else 0.0


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


def _raw_cell(op: str, size: int, n: int, layout: str, budget: float, strict: bool) -> Cell:
    import reference_c

    port = _time(_layout(pyimpl.Memory(strict=strict), pyimpl, op, size, n, layout), budget)
    with reference_c.memory() as cmem:
        c = _time(_layout(cmem, reference_c, op, size, n, layout), budget)
    loop = _loop_call(op, size, n) if layout == "separate" else None
    loop_us = None if loop is None else _time(loop, budget) * 1e6
    return Cell(op, size, n, port * 1e6, c * 1e6, layout, loop_us)


def _sg_cell(op: str, size: int, n: int, budget: float, strict: bool) -> Cell:
    import reference_c

    bufs = [bytearray(k) for k in _lengths(size, n)]
    port_v = sg.IOVector(bufs, mem=pyimpl.Memory(strict=strict))
    port_call = _sg_call(port_v, op, size)
    port = _time(port_call, budget)
    with reference_c.memory() as cmem:
        c_v = sg.IOVector(bufs, lib=reference_c, mem=cmem)
        c_call = _sg_call(c_v, op, size)
        c = _time(c_call, budget)
        copies = (_copies(port_call, size), _copies(c_call, size)) if op == "sg_read" else (None, None)
        c_v.close()
    port_v.close()
    loop = _loop_call(op, size, n)
    loop_us = None if loop is None else _time(loop, budget) * 1e6
    return Cell(op, size, n, port * 1e6, c * 1e6, "separate", loop_us, *copies)


def bench(
    budget: float = 0.05,
    ops: tuple[str, ...] = OPS,
    strict: bool = True,
    sizes: tuple[int, ...] = SIZES,
    entries: tuple[int, ...] = ENTRIES,
) -> list[Cell]:
    """Time every (op, size, entries, layout) cell, and the cells of :data:`SG_TARGETS` of the
    ops asked for; ``budget`` CPU seconds per side."""
    cells = []
    for op in ops:
        if op not in OPS:
            raise ValueError(f"ops: {op!r} is not one of {', '.join(OPS)}")
    for op in ops:
        grid = [(size, n) for size in sizes for n in entries if not skipped(size, n)]
        if op in SG_OPS:
            grid += [(t.size, t.entries) for t in SG_TARGETS if t.op == op]
            for size, n in dict.fromkeys(grid):  # in order, once each
                cells.append(_sg_cell(op, size, n, budget, strict))
            continue
        for layout in LAYOUTS:
            for size, n in grid:
                cells.append(_raw_cell(op, size, n, layout, budget, strict))
    return cells


def per_entry_us(cells: list[Cell]) -> dict[str, dict[str, float]]:
    """Per layout, the port's cost of one more entry, per op, less the C facade's: the slope
    from the fewest (but at least 16) to the most entries at 1 MiB (else the largest size timed
    with several counts): the same bytes either way (16 -> 1024 entries in the full table)."""
    out: dict[str, dict[str, float]] = {}
    for layout in sorted({c.layout for c in cells}):
        slopes = out[layout] = {}
        for op in sorted({c.op for c in cells if c.layout == layout}):
            mine = [c for c in cells if c.op == op and c.layout == layout]
            for size in sorted({c.size for c in mine}, key=lambda s: (s != 1 << 20, -s)):
                row = sorted((c for c in mine if c.size == size), key=lambda c: c.entries)
                many = [c for c in row if c.entries >= 16]  # one entry is not a per-entry cost
                row = many if len(many) >= 2 else row
                if len(row) >= 2 and row[-1].entries > row[0].entries:
                    lo, hi = row[0], row[-1]
                    steps = hi.entries - lo.entries
                    slopes[op] = round((hi.port_us - lo.port_us - (hi.c_us - lo.c_us)) / steps, 3)
                    break
    return out


def verdicts(cells: list[Cell]) -> list[str]:
    """Which targets of the first library issue each C-function cell misses."""
    misses = []
    for c in cells:
        if c.op not in RAW_OPS:
            continue
        for max_entries, min_size, limit in TARGETS:
            if c.size >= min_size and c.entries <= max_entries and c.ratio > limit:
                if max_entries == 256 and c.entries <= 16:
                    continue  # the stricter target covers it
                misses.append(
                    f"{c.op} {size_label(c.size)} x {c.entries} ({c.layout}): "
                    f"{c.ratio:.1f}x (target <= {limit:g}x)"
                )
    return misses


def sg_targets(cells: list[Cell]) -> list[dict[str, Any]]:
    """Each target of :data:`SG_TARGETS` whose cell was timed: what it measured, and whether
    that meets it (for copies, both sides must)."""
    by = {(c.op, c.size, c.entries): c for c in cells if c.layout == "separate"}
    rows = []
    for t in SG_TARGETS:
        cell = by.get((t.op, t.size, t.entries))
        if cell is None:
            continue
        if t.measure == "copies":
            values = [v for v in (cell.port_copies, cell.c_copies) if v is not None]
            value: float | None = max(values) if values else None
            shown = f"{cell.port_copies:.2f}, {cell.c_copies:.2f}" if len(values) == 2 else "-"
        else:
            value = getattr(cell, t.measure)
            shown = "-" if value is None else f"{value:.2f}"
        rows.append(
            {
                "target": t.label(),
                "op": t.op,
                "size": t.size,
                "entries": t.entries,
                "measure": t.measure,
                "value": None if value is None else round(value, 3),
                "shown": shown,
                "limit": t.limit,
                # copies: the traced peak holds the result plus a little bookkeeping
                "met": value is not None and value <= t.limit * (1.25 if t.measure == "copies" else 1.0),
            }
        )
    return rows


def _cell_json(c: Cell) -> dict[str, Any]:
    out = {**asdict(c), "ratio": round(c.ratio, 2)}
    if c.loop_ratio is not None:
        out["loop_ratio"] = round(c.loop_ratio, 2)
    return out


def report(
    cells: list[Cell], strict: bool, sizes: tuple[int, ...] = SIZES, entries: tuple[int, ...] = ENTRIES
) -> dict[str, Any]:
    """The tables as JSON: every cell (microseconds per call on each side and of the loop,
    their ratios), the per-entry costs, the targets of issue 16 and the earlier targets missed."""
    targets = sg_targets(cells)
    return {
        "machine": {"python": platform.python_version(), "machine": platform.machine()},
        "memory": "pyimpl.Memory()" if strict else "pyimpl.Memory(strict=False)",
        "clock": "thread CPU time, best of 5",
        "sizes": list(sizes),
        "entries": list(entries),
        "layouts": list(LAYOUTS),
        "skipped": [f"{size_label(s)} over {n} entries" for s in sizes for n in entries if skipped(s, n)],
        "cells": [_cell_json(c) for c in cells],
        "port_per_entry_us_minus_c": per_entry_us(cells),
        "targets": targets,
        "misses": verdicts(cells)
        + [f"{t['target']}: {t['shown']} (target <= {t['limit']:g})" for t in targets if not t["met"]],
    }


def plot(cells: list[Cell], path: Path, title: str) -> bool:
    """Draw the pyimpl/C ratios as a PNG (one panel per op: ratio against size, a line per
    entry count and layout, separate buffers dashed, the targets as grey lines); False when
    matplotlib is not installed."""
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
        for layout in LAYOUTS:
            for n in sorted({c.entries for c in mine if c.layout == layout}):
                line = sorted(
                    (c for c in mine if c.entries == n and c.layout == layout), key=lambda c: c.size
                )
                ax.plot(
                    [c.size for c in line],
                    [c.ratio for c in line],
                    marker="o",
                    linestyle="--" if layout == "separate" else "-",
                    label=f"{n} entries, {layout}",
                )
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
    axes[0][0].legend(fontsize=6)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _ratio_text(c: Cell | None) -> str:
    if c is None:
        return "-"
    text = f"{c.ratio:.1f}x ({c.port_us:,.0f} us)"
    if c.loop_ratio is not None:
        text += f" loop {c.loop_ratio:.1f}x"
    return text


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

    console = Console(highlight=False, width=200)
    cells = bench(budget, ops, strict, sizes, entries)
    data = report(cells, strict, sizes, entries)
    by = {(c.op, c.size, c.entries, c.layout): c for c in cells}
    title = (
        f"pyimpl / C facade time ratio ({data['memory']}; thread CPU time; loop: pyimpl / memoryview loop)"
    )
    table = Table(title=title)
    table.add_column("op")
    table.add_column("layout")
    table.add_column("size", justify="right")
    for n in entries:
        table.add_column(f"{n} entr{'y' if n == 1 else 'ies'}", justify="right")
    for op in ops:
        for layout in ("separate",) if op in SG_OPS else LAYOUTS:
            for size in sizes:
                row = [op, layout, size_label(size)]
                row += [_ratio_text(by.get((op, size, n, layout))) for n in entries]
                table.add_row(*row)
            table.add_section()
    console.print(table)
    if data["targets"]:
        goals = Table(title="issue 16: pyimpl.sg over separate buffers")
        for name in ("target", "pyimpl us", "reference_c us", "loop us", "measured", "at most", "met"):
            goals.add_column(name, justify="left" if name == "target" else "right")
        cells_by = {(c.op, c.size, c.entries): c for c in cells if c.layout == "separate"}
        for t in data["targets"]:
            c = cells_by[(t["op"], t["size"], t["entries"])]
            goals.add_row(
                t["target"],
                f"{c.port_us:,.1f}",
                f"{c.c_us:,.1f}",
                "-" if c.loop_us is None else f"{c.loop_us:,.1f}",
                t["shown"],
                f"{t['limit']:g}",
                "yes" if t["met"] else "NO",
            )
        console.print(goals)
    if data["skipped"]:
        console.print("skipped (fewer bytes than entries): " + ", ".join(data["skipped"]))
    for layout, per in data["port_per_entry_us_minus_c"].items():
        if per:
            console.print(
                f"per-entry cost of the port beyond C's ({layout}), us: "
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
