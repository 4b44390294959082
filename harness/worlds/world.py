"""The worlds a case runs in, and how a run becomes an :class:`~harness.model.outcome.Outcome`.

Both worlds expose the same API (``pyimpl`` and the ``reference_c`` facade): a
memory object with ``map_arena``/loads/stores/``heap_stats``/``heap_block``, and
one function per C function taking that memory first.  A :class:`Run` lays one
case out in one world, makes its calls and records everything observable.
"""

from __future__ import annotations

import functools
import io
import signal
import threading
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyimpl
from harness.model.case import GUARD_BYTE, Call, Case, QiovInit, Ref, Sock, Stream
from harness.model.outcome import (
    AssertFailed,
    Crashed,
    GLibFatal,
    Missing,
    Observed,
    Outcome,
    Result,
    Returned,
    TimedOut,
    Undefined,
)
from harness.model.sites import SiteTable, c_sites, port_sites
from iovspec.cint import ssize_t
from iovspec.ctable import TABLE
from iovspec.structs import HeapStats

from . import sockets as _sockets


class World:
    """One implementation: makes memories, looks up functions by C name, names its asserts."""

    name = "?"

    def new_memory(self, mirror: World | None = None) -> Any:
        """A fresh memory; ``mirror``: a world whose next memory's addresses this one should use."""
        raise NotImplementedError

    def next_addresses(self) -> tuple[int, int]:
        """(arena, heap) addresses this world's next memory will use (0, 0: not known)."""
        return 0, 0

    def release(self, mem: Any) -> None:
        """Free what a memory holds (the C heap); nothing for pyimpl."""

    def function(self, name: str) -> Callable[..., Any]:
        raise NotImplementedError

    def has(self, name: str) -> bool:
        """Whether this world defines ``name`` as the port's table describes it."""
        raise NotImplementedError

    @functools.cached_property
    def sites(self) -> SiteTable:
        raise NotImplementedError

    def classify(self, exc: BaseException) -> Result | None:
        """An exception from a call as a result record, or None if it is not the code's doing."""
        if isinstance(exc, pyimpl.CAssertionError):
            ordinal = self.sites.ordinal(exc.file, exc.func, exc.expr, exc.line)
            return AssertFailed(exc.func, exc.expr, ordinal, exc.line, exc.file)
        if isinstance(exc, pyimpl.GLibFatalError):
            return GLibFatal(exc.message)
        if isinstance(exc, pyimpl.UndefinedBehaviour):
            return Undefined(exc.kind, exc.detail)
        if isinstance(exc, PortTimeout):
            return TimedOut()
        return None


class PyWorld(World):
    """The pure-Python port."""

    name = "pyimpl"

    def __init__(self, module: types.ModuleType = pyimpl) -> None:
        self.module = module

    def new_memory(self, mirror: World | None = None) -> pyimpl.Memory:
        # C semantics: no argument checks beyond C's own; the C world's addresses, so that
        # every pointer the two store is the same number and their bytes compare as they are
        arena_at, heap_at = mirror.next_addresses() if mirror is not None else (0, 0)
        return pyimpl.Memory(strict=False, arena_at=arena_at, heap_at=heap_at)

    def function(self, name: str) -> Callable[..., Any]:
        fn: Callable[..., Any] = getattr(self.module, name)
        return functools.partial(_bounded, fn)

    def has(self, name: str) -> bool:
        return hasattr(self.module, name)

    @functools.cached_property
    def sites(self) -> SiteTable:
        return port_sites()


class PortTimeout(Exception):
    """A port call ran for PORT_TIME_LIMIT seconds: it hangs where C returns (or also hangs)."""


#: wall-clock seconds one port call may take before it counts as hung (they take microseconds)
PORT_TIME_LIMIT = 20.0


def _on_alarm(signum: int, frame: Any) -> None:
    raise PortTimeout(f"the port ran for {PORT_TIME_LIMIT:.0f}s")


def _bounded(fn: Callable[..., Any], *args: Any) -> Any:
    """Call a port function under a real-time alarm (main thread only), so a port that loops
    forever becomes a TimedOut record instead of a hung worker."""
    if threading.current_thread() is not threading.main_thread():
        return fn(*args)
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, PORT_TIME_LIMIT)
    try:
        return fn(*args)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class CWorld(World):
    """A compiled C source through the ``reference_c`` facade."""

    def __init__(self, reference: Any, name: str = "C") -> None:
        import reference_c

        self.reference = reference
        self.module = reference_c
        self.name = name

    def new_memory(self, mirror: World | None = None) -> Any:
        return self.reference.memory()

    def next_addresses(self) -> tuple[int, int]:
        arena, heap = self.reference.next_addresses()
        return int(arena), int(heap)

    def release(self, mem: Any) -> None:
        mem.close()

    def function(self, name: str) -> Callable[..., Any]:
        fn: Callable[..., Any] = getattr(self.module, name)
        return fn

    def has(self, name: str) -> bool:
        return name not in self.reference.missing and name not in self.reference.changed

    @functools.cached_property
    def sites(self) -> SiteTable:
        return c_sites(Path(self.reference.source_path))

    def classify(self, exc: BaseException) -> Result | None:
        from reference_c import CCrash, CTimeout, MissingFunction

        if isinstance(exc, MissingFunction):
            return Missing(exc.name)
        if isinstance(exc, CCrash):
            return Crashed(str(exc))
        if isinstance(exc, CTimeout):
            return TimedOut()
        return super().classify(exc)


#: functions whose return value (or first tuple item) is a pointer
POINTER_RETURNS = frozenset(f.name for f in TABLE if f.pointer_return)
#: functions that set errno: a case calling one observes it
ERRNO_FUNCS = frozenset(f.name for f in TABLE if f.sets_errno)


class Run:
    """A case laid out in one world's memory."""

    def __init__(self, world: World, case: Case, mirror: World | None = None) -> None:
        self.world = world
        self.case = case
        self.mem = world.new_memory(mirror)
        self._ranks: tuple[Any, dict[int, int]] | None = None
        self.offsets, parts, self.total = case.layout()
        self.base: int = self.mem.map_arena(parts)
        self._fill_guards(parts)
        for region in case.regions:
            region.spec.lay_out(self, region, self.addr(Ref(region.name)))
        self._open_io()

    def _open_io(self) -> None:
        """Fresh sockets (peer scripts run) and text streams for the case's Sock/Stream args."""
        self.pairs = _sockets.open_all(self.case)
        self.streams = {
            a.name: io.StringIO() for c in self.case.calls for a in c.args if isinstance(a, Stream)
        }

    # -- addresses -------------------------------------------------------------
    def addr(self, arg: Any) -> Any:
        if isinstance(arg, Ref):
            return self.base + self.offsets[arg.region] + arg.offset
        if isinstance(arg, Sock):
            return self.pairs[arg.name].fd
        if isinstance(arg, Stream):
            return self.streams[arg.name]
        return arg

    def norm(self, ptr: int) -> Any:
        """A pointer as something both worlds agree on: NULL, arena offset or heap block."""
        if ptr == 0:
            return 0
        block = self.mem.heap_block(ptr)
        if block is not None:
            return ("heap", self._rank(block[0]), block[1])
        block = self.mem.heap_block(ptr - 1)  # one past the end of a block is a valid pointer too
        if block is not None:
            return ("heap", self._rank(block[0]), block[1] + 1)
        if self.base <= ptr <= self.base + self.total:
            return ("arena", ptr - self.base)
        if ptr < (1 << 16) or ptr in self.literals:
            # NULL + small, or a number the case itself holds (stale junk): the same in both worlds
            return ("abs", ptr)
        # anything else was computed from the addresses of our objects: relative to the arena,
        # it is the same number in two worlds whose arenas and heaps lie alike
        return ("wild", ssize_t(ptr - self.base))

    def _rank(self, serial: int) -> int:
        """A heap block's name: its rank among the live blocks by age (1 is the oldest), so a
        block freed meanwhile (a temporary) does not rename the others."""
        counters = self.mem.heap_stats()
        if self._ranks is None or self._ranks[0] != counters:
            self._ranks = (counters, {s: k for k, s in enumerate(self.mem.heap_serials(), start=1)})
        return self._ranks[1].get(serial, 0)

    @functools.cached_property
    def literals(self) -> frozenset[int]:
        """The numbers the case itself puts where pointers go (arguments and initial fields)."""
        found: set[int] = set()

        def scan(value: Any) -> None:
            if isinstance(value, bool):
                return
            if isinstance(value, int):
                found.add(value & ((1 << 64) - 1))
            elif isinstance(value, tuple | list):
                for v in value:
                    scan(v)
            elif isinstance(value, QiovInit):
                scan((value.iov, value.local_base))

        for region in self.case.regions:
            if region.kind in ("iovs", "qiov", "ptr"):
                scan(region.init)
            elif region.kind == "undo" and isinstance(region.init, bytes):
                found.update(int.from_bytes(region.init[k : k + 8], "little") for k in (0, 8))
        for call in self.case.calls:
            scan(call.args)
        return frozenset(found)

    # -- building ----------------------------------------------------------------
    def _poke(self, addr: int, data: bytes) -> None:
        """Store as an observer: pyimpl refuses ordinary stores into guards, C memory does not."""
        getattr(self.mem, "poke", self.mem.write)(addr, data)

    def _fill_guards(self, parts: list[tuple[int, bool]]) -> None:
        pos = 0
        for size, guard in parts:
            if guard:
                self._poke(self.base + pos, bytes([GUARD_BYTE]) * size)
            pos += size

    # -- running -----------------------------------------------------------------
    def call(self, call: Call) -> Result:
        """Make one call; the code's own ways of not returning become records too."""
        fn = self.world.function(call.func)
        self.mem.errno = 0  # as the C facade does before each call
        try:
            ret = fn(self.mem, *[self.addr(a) for a in call.args])
        except Exception as exc:
            record = self.world.classify(exc)
            if record is None:
                raise
            return record
        return Returned(self._norm_ret(call.func, ret))

    def calls(self, calls: tuple[Call, ...], results: list[Result] | None = None) -> list[Result]:
        """Make ``calls`` in order, stopping after the first that does not return."""
        out = [] if results is None else results
        for call in calls:
            out.append(self.call(call))
            if not isinstance(out[-1], Returned):
                break
        return out

    def run(self) -> Outcome:
        """Make every call of the case in order, stopping at the first that does not return."""
        try:
            return Outcome(tuple(self.calls(self.case.calls)), self.observe())
        finally:
            self.close()

    def close(self) -> None:
        _sockets.close_all(self.pairs)
        self.world.release(self.mem)

    def _norm_ret(self, func: str, ret: Any) -> Any:
        if func in POINTER_RETURNS:
            if isinstance(ret, tuple):
                return (self.norm(ret[0]), *ret[1:])
            return self.norm(ret)
        return ret

    def observe(self, snapshot: bytes | None = None) -> tuple[Observed, ...]:
        """Every byte and field of the arena in region order (each region's trailing guard
        after it), then the heap, errno, sockets and text; ``snapshot``: the arena bytes now."""
        data = self.arena_bytes() if snapshot is None else snapshot
        first = self.offsets[self.case.regions[0].name] if self.case.regions else self.total
        obs: list[Observed] = [Observed("guard before the first region", data[:first], "guard")]
        regions = self.case.regions
        for k, region in enumerate(regions):
            start = self.offsets[region.name]
            end = start + region.size
            obs += region.spec.observe(self, region, self.base + start, data[start:end])
            nxt = self.offsets[regions[k + 1].name] if k + 1 < len(regions) else self.total
            obs.append(Observed(f"guard after {region.name}", data[end:nxt], "guard", region.name))
        obs.append(Observed("heap (allocs, reallocs, frees, live)", _heap_tuple(self.mem.heap_stats())))
        if self.pairs or any(c.func in ERRNO_FUNCS for c in self.case.calls):
            obs.append(Observed("errno", self.mem.errno))
            for pair in self.pairs.values():
                obs += [Observed(label, value) for label, value in _sockets.observe(pair)]
        for name, stream in self.streams.items():
            obs.append(Observed(f"text of {name}", stream.getvalue()))
        return tuple(obs)

    # -- reuse (the exhaustive engine makes many calls against one layout) ----------
    def arena_bytes(self) -> bytes:
        """Every byte of the arena now, guards included."""
        return bytes(self.mem.peek(self.base, self.total))

    def checkpoint(self, spans: tuple[tuple[int, int], ...] = ()) -> Checkpoint:
        """Remember the arena bytes, ``spans`` (addr, n) of heap blocks and the heap counters;
        :meth:`reset` returns here (after the calls made so far, not before them)."""
        return Checkpoint(
            self.arena_bytes(),
            tuple((addr, bytes(self.mem.read(addr, n))) for addr, n in spans),
            self.mem.heap_stats(),
        )

    def reset(self, cp: Checkpoint, heap: Any = None) -> bool:
        """Put the arena and the spans back as they were at ``cp``; False if that cannot be done.

        It cannot once the heap was used since ``cp`` (its counters only grow, so equal counters
        mean no block was allocated, resized or freed), nor with sockets or streams: then build
        a new Run.  ``heap``: the heap counters now, if the caller has just read them.
        """
        if heap is None:
            heap = self.mem.heap_stats()
        if self.pairs or self.streams or heap != cp.heap:
            return False
        self._poke(self.base, cp.arena)
        for addr, saved in cp.spans:
            self.mem.write(addr, saved)
        self.mem.errno = 0
        return True


def _heap_tuple(stats: HeapStats) -> tuple[int, int, int, int]:
    return (stats.allocs, stats.reallocs, stats.frees, stats.live)


@dataclass(frozen=True)
class Checkpoint:
    """What :meth:`Run.reset` restores: the arena bytes, other spans (addr, bytes), the heap counters."""

    arena: bytes
    spans: tuple[tuple[int, bytes], ...]
    heap: Any


def run_case(world: World, case: Case, mirror: World | None = None) -> Outcome:
    """Lay ``case`` out in ``world`` (at ``mirror``'s next addresses), run its calls, observe."""
    return Run(world, case, mirror).run()
