"""The two worlds a case runs in, and how a run becomes an :class:`Outcome`.

Both worlds expose the same API (``pyimpl`` and the ``reference_c`` facade): a
memory object with ``map_arena``/loads/stores/``heap_stats``/``heap_block``, and
one function per C function taking that memory first.  This module builds a
case in one world, runs its calls, and records everything observable.
"""

from __future__ import annotations

import functools
import io
import signal
import threading
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyimpl
from pyimpl.memory import ssize_t
from pyimpl.structs import (
    IOVEC_SIZE,
    QIOV_LOCAL_IOV,
    read_iovecs,
    read_qiov,
    read_undo,
    write_iovecs,
    write_qiov,
)

from . import sockets as _sockets
from .case import GUARD_BYTE, Case, QiovInit, Ref, Sock, Stream


class World:
    """One implementation: makes memories and looks up functions by C name."""

    name = "?"

    def new_memory(self) -> Any:
        raise NotImplementedError

    def release(self, mem: Any) -> None:
        """Free what a memory holds (the C heap); nothing for pyimpl."""

    def function(self, name: str) -> Callable[..., Any]:
        raise NotImplementedError


class PyWorld(World):
    """The pure-Python port."""

    name = "pyimpl"

    def __init__(self, module: types.ModuleType = pyimpl) -> None:
        self.module = module

    def new_memory(self) -> pyimpl.Memory:
        return pyimpl.Memory(strict=False)  # C semantics: no argument checks beyond C's own

    def function(self, name: str) -> Callable[..., Any]:
        fn: Callable[..., Any] = getattr(self.module, name)
        return functools.partial(_bounded, fn)


class PortTimeout(Exception):
    """A port call ran for PORT_TIME_LIMIT seconds: it hangs where C returns (or also hangs)."""


#: wall-clock seconds one port call may take before it counts as hung (they take microseconds)
PORT_TIME_LIMIT = 20.0


def _on_alarm(signum: int, frame: Any) -> None:
    raise PortTimeout(f"the port ran for {PORT_TIME_LIMIT:.0f}s")


def _bounded(fn: Callable[..., Any], *args: Any) -> Any:
    """Call a port function under a real-time alarm (main thread only), so a port that loops
    forever becomes a ("timeout",) record instead of a hung worker."""
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
    """The compiled reference through the ``reference_c`` facade."""

    name = "C"

    def __init__(self, reference: Any) -> None:
        import reference_c

        self.reference = reference
        self.module = reference_c

    def new_memory(self) -> Any:
        return self.reference.memory()

    def release(self, mem: Any) -> None:
        mem.close()

    def function(self, name: str) -> Callable[..., Any]:
        fn: Callable[..., Any] = getattr(self.module, name)
        return fn


#: functions whose return value (or first tuple item) is a pointer
POINTER_RETURNS = {"iov_skip_offset", "qiov_slice", "qemu_iovec_buf"}
#: functions that set errno: a case calling one observes it
ERRNO_FUNCS = {"do_send_recv", "iov_send_recv", "iov_send", "iov_recv"}


@dataclass(frozen=True)
class Outcome:
    """Everything observable after a case ran: per-call results, then named observations."""

    results: tuple[tuple[Any, ...], ...]
    observations: tuple[tuple[str, Any], ...]

    @property
    def last(self) -> tuple[Any, ...]:
        return self.results[-1] if self.results else ("none",)

    @property
    def ub(self) -> str | None:
        """The UB kind if the run stopped on undefined behaviour."""
        return str(self.last[1]) if self.last[0] == "ub" else None

    @property
    def assertion(self) -> tuple[str, int, str, str] | None:
        """(file, line, func, expr) if the run stopped on a failed assert."""
        if self.last[0] == "assert":
            return self.last[1], self.last[2], self.last[3], self.last[4]
        return None


def classify(exc: BaseException) -> tuple[Any, ...] | None:
    """An exception from a call as an outcome record, or None if it is not the code's doing."""
    if isinstance(exc, pyimpl.CAssertionError):
        return ("assert", exc.file, exc.line, exc.func, exc.expr)
    if isinstance(exc, pyimpl.GLibFatalError):
        return ("fatal", exc.message)
    if isinstance(exc, pyimpl.UndefinedBehaviour):
        return ("ub", exc.kind, exc.detail)
    name = type(exc).__name__
    if name == "MissingFunction":
        return ("missing", str(exc))
    if name == "CCrash":
        return ("crash", str(exc))
    if name in ("CTimeout", "PortTimeout"):
        return ("timeout",)
    return None


class Run:
    """A case laid out in one world's memory."""

    def __init__(self, world: World, case: Case) -> None:
        self.world = world
        self.case = case
        self.mem = world.new_memory()
        self.offsets, parts, self.total = case.layout()
        self.base: int = self.mem.map_arena(parts)
        self._fill_guards(parts)
        for region in case.regions:
            self._init(region.name, region.kind, region.init)
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
            return ("heap", *block)
        block = self.mem.heap_block(ptr - 1)  # one past the end of a block is a valid pointer too
        if block is not None:
            return ("heap", block[0], block[1] + 1)
        if self.base <= ptr <= self.base + self.total:
            return ("arena", ptr - self.base)
        offset = ssize_t(ptr - self.base)
        if ptr < (1 << 16) or abs(offset) >= (1 << 32):
            # NULL + small, or a value no arithmetic on our objects made (stale junk):
            # the same number in both worlds
            return ("abs", ptr)
        return ("wild", offset)

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

    def _init(self, name: str, kind: str, init: Any) -> None:
        at = self.addr(Ref(name))
        if kind == "data":
            self.mem.write(at, init)
        elif kind == "iovs":
            write_iovecs(self.mem, at, [(self.addr(b), n) for b, n in init])
        elif kind == "qiov" and isinstance(init, QiovInit):
            write_qiov(
                self.mem,
                at,
                pyimpl.QiovFields(
                    self.addr(init.iov), init.niov, init.nalloc, self.addr(init.local_base), init.size
                ),
            )
        elif kind == "undo" and isinstance(init, bytes):
            self.mem.write(at, init)
        elif kind == "ptr":
            self.mem.set_u64(at, self.addr(init))
        elif kind == "uint":
            self.mem.set_u32(at, init)

    # -- running -----------------------------------------------------------------
    def call(self, call: Any) -> tuple[Any, ...]:
        """Make one call; the code's own ways of not returning become records too."""
        fn = self.world.function(call.func)
        self.mem.errno = 0  # as the C facade does before each call
        try:
            ret = fn(self.mem, *[self.addr(a) for a in call.args])
        except Exception as exc:
            record = classify(exc)
            if record is None:
                raise
            return record
        return ("ret", self._norm_ret(call.func, ret))

    def run(self) -> Outcome:
        """Make every call of the case in order, stopping at the first that does not return."""
        results: list[tuple[Any, ...]] = []
        try:
            for call in self.case.calls:
                results.append(self.call(call))
                if results[-1][0] != "ret":
                    break
            return Outcome(tuple(results), tuple(self.observe()))
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

    def observe(self) -> list[tuple[str, Any]]:
        """Every byte and field of the arena, in region order, then the heap."""
        obs: list[tuple[str, Any]] = []
        snapshot = self.mem.peek(self.base, self.total)
        guards = bytearray()
        pos = 0
        for region in self.case.regions:
            start = self.offsets[region.name]
            guards += snapshot[pos:start]
            pos = start + region.size
            at = self.base + start
            if region.kind == "data":
                obs.append((f"bytes of {region.name}", snapshot[start:pos]))
            elif region.kind == "iovs":
                entries = read_iovecs(self.mem, at, region.size // IOVEC_SIZE)
                for i, (b, n) in enumerate(entries):
                    obs.append((f"{region.name}[{i}]", (self.norm(b), n)))
            elif region.kind == "qiov":
                obs += self._observe_qiov(region.name, at)
            elif region.kind == "undo":
                u = read_undo(self.mem, at)
                obs.append((f"{region.name}.modified_iov", self.norm(u.modified_iov)))
                obs.append((f"{region.name}.orig", (self.norm(u.orig_base), u.orig_len)))
            elif region.kind == "ptr":
                obs.append((f"*{region.name}", self.norm(self.mem.u64(at))))
            elif region.kind == "uint":
                obs.append((f"*{region.name}", self.mem.u32(at)))
        guards += snapshot[pos:]
        obs.append(("guard bytes", bytes(guards)))
        obs.append(("heap (allocs, reallocs, frees, live)", tuple(vars(self.mem.heap_stats()).values())))
        if self.pairs or any(c.func in ERRNO_FUNCS for c in self.case.calls):
            obs.append(("errno", self.mem.errno))
            for pair in self.pairs.values():
                obs += _sockets.observe(pair)
        for name, stream in self.streams.items():
            obs.append((f"text of {name}", stream.getvalue()))
        return obs

    def _observe_qiov(self, name: str, at: int) -> list[tuple[str, Any]]:
        q = read_qiov(self.mem, at)
        iov = "&local_iov" if q.iov == at + QIOV_LOCAL_IOV else self.norm(q.iov)
        obs: list[tuple[str, Any]] = [
            (f"{name}.iov", iov),
            (f"{name}.niov", q.niov),
            (f"{name}.nalloc", q.nalloc),
            (f"{name}.local_iov.iov_base", self.norm(q.local_base)),
            (f"{name}.size", q.size),
        ]
        if isinstance(iov, tuple) and iov[0] == "heap" and 0 < q.niov <= max(q.nalloc, 0):
            for i, (b, n) in enumerate(read_iovecs(self.mem, q.iov, min(q.niov, 4096))):
                obs.append((f"{name}.iov[{i}]", (self.norm(b), n)))
        return obs

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


@dataclass(frozen=True)
class Checkpoint:
    """What :meth:`Run.reset` restores: the arena bytes, other spans (addr, bytes), the heap counters."""

    arena: bytes
    spans: tuple[tuple[int, bytes], ...]
    heap: Any


def run_case(world: World, case: Case) -> Outcome:
    """Lay ``case`` out in ``world``, run its calls and observe the result."""
    return Run(world, case).run()


def first_difference(a: Outcome, b: Outcome, names: tuple[str, str] = ("pyimpl", "C")) -> str | None:
    """A sentence naming the first thing that differs between two outcomes, or None."""
    for i in range(max(len(a.results), len(b.results))):
        ra = a.results[i] if i < len(a.results) else ("not reached",)
        rb = b.results[i] if i < len(b.results) else ("not reached",)
        if ra != rb:
            return f"result of call {i + 1}: {names[0]} {_show(ra)} vs {names[1]} {_show(rb)}"
    for (label, va), (label_b, vb) in zip(a.observations, b.observations, strict=False):
        if label != label_b:
            return f"observed {label} in {names[0]} but {label_b} in {names[1]}"
        if va != vb:
            if isinstance(va, bytes) and isinstance(vb, bytes):
                pairs = enumerate(zip(va, vb, strict=False))
                k = next((j for j, (x, y) in pairs if x != y), min(len(va), len(vb)))
                return (
                    f"{label}: first difference at byte {k}: {names[0]} {va[k : k + 8].hex()} "
                    f"vs {names[1]} {vb[k : k + 8].hex()}"
                )
            return f"{label}: {names[0]} {va!r} vs {names[1]} {vb!r}"
    if len(a.observations) != len(b.observations):
        return f"observations: {names[0]} has {len(a.observations)}, {names[1]} {len(b.observations)}"
    return None


def _show(record: tuple[Any, ...]) -> str:
    kind = record[0]
    if kind == "ret":
        return f"returned {record[1]!r}"
    if kind == "assert":
        return f"failed assert `{record[4]}` ({record[1]}:{record[2]} in {record[3]})"
    if kind == "crash":
        return f"crashed ({record[1]})"
    if kind == "timeout":
        return "hung (CPU time limit)"
    if kind == "ub":
        return f"undefined behaviour ({record[1]}: {record[2]})"
    return " ".join(map(str, record))
