"""A built C source (QEMU util/iov.c) loaded in this process, and its memory.

``load()`` builds (or finds in the cache) a cffi extension of the chosen C
source with our shims, and returns a :class:`Reference`.  ``Reference.memory()``
gives a :class:`CMemory`: real process memory with the same loads, stores and
heap observers as :class:`pyimpl.memory.Memory`.  The module-level functions
take that memory first and then the C arguments in C order; pointers are int
addresses (NULL is 0) and ints are converted to the C parameter types the way
C converts them.

A failing C assert raises :class:`iovspec.errors.CAssertionError`, a fatal GLib
error :class:`iovspec.errors.GLibFatalError`, a fatal signal :class:`CCrash`,
an endless loop :class:`CTimeout` and a function the source lacks
:class:`MissingFunction`; the process survives all of them (trap flavour).
"""

from __future__ import annotations

import os
import signal
import struct
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from iovspec.arguments import readonly_view, type_name, writable_view
from iovspec.cint import int_, size_t, ssize_t, unsigned
from iovspec.ctable import BY_NAME, value_kind
from iovspec.errors import CAssertionError, GLibFatalError
from iovspec.structs import HeapStats

from . import _forked
from . import build as _build
from .build import WRAPPER_CTYPE, Entry
from .errors import BuildError, CCrash, CTimeout, MissingFunction

if TYPE_CHECKING:
    from typing_extensions import Buffer

DEFAULT_SOURCE = _build.DEFAULT_SOURCE
DEFAULT_TIMEOUT = 2.0
#: bytes of one memory's arena slot (larger arenas are real allocations: no mirrored address)
ARENA_SLOT = 1 << 20
#: room for one test's heap record in a batch (more: no record, the judge decodes instead)
HEAP_RECORD_CAP = 4096
_U64 = (1 << 64) - 1
_SIZE_MAX = _U64
_CALL = struct.Struct("<II8Q")  # struct iovconf_call
_PAD = (0,) * 8
_CALLRES = struct.Struct("<ii4QiiQQQ128s")  # struct iovconf_callres
#: words per call and per test in a batch's plain-word output (shim/batch.c)
CALL_WORDS = 5
TEST_WORDS = 6
#: the C parameter kinds whose values travel as signed 64-bit words in a batch
_SIGNED_KINDS = frozenset({"int", "ssize_t"})


class _SharedSpace:
    """The address space (arena slots and heap pool, shim/glib.c) that every pool build loaded
    in this process shares: the first one's.  Two builds of two sources (``harness diff``)
    then lay a case out at the same addresses, one memory after the other, so their states
    compare as plain numbers, as the port's do with C's."""

    def __init__(self) -> None:
        self.state = 0  # the first build's space (its struct, shim/glib.c), 0: none yet
        self.sessions: list[CMemory] = []

    def share(self, reference: Reference) -> bool:
        """Make ``reference`` (just loaded) use the shared space; False for a build without a
        pool (the sanitize flavour) or one whose own space is already in use."""
        lib, ffi = reference.lib, reference.ffi
        if reference.flavour == "sanitize":
            return False
        if not self.state:
            if not lib.iovconf_space_arenas(ffi.new("size_t *")):
                return False  # no pool here (mmap failed): real allocations
            self.state = int(ffi.cast("uintptr_t", lib.iovconf_space_state()))
            return True
        if int(ffi.cast("uintptr_t", lib.iovconf_space_state())) == self.state:
            return True  # the first build itself, loaded again
        return bool(lib.iovconf_space_share(ffi.cast("void *", self.state)))


_SPACE = _SharedSpace()


@dataclass
class BatchOut:
    """What a batch left, as shim/batch.c lays it out.

    ``words``: per call, CALL_WORDS words: status (-1 as 2**64-1: not reached), then the out
    values and the return value (OK), or the assert's expression, function and file addresses
    and line (ASSERT), or zeros.  ``tests``: per test, TEST_WORDS words: calls made, heap record
    length (0xFFFFFFFF: it did not fit), allocs, reallocs, frees (counted since the process
    began: ``base`` holds this memory's starting allocs, reallocs and frees), blocks live.
    ``arenas``: each test's arena bytes, one after another; ``heaps``: their heap records,
    packed one after another.
    """

    reference: Reference
    ran: int  # tests run (fewer than asked: the C code crashed in the last one)
    calls: bytes  # the struct iovconf_callres of each call (filled in where it did not return)
    words: list[int]
    tests: list[int]
    arenas: bytes
    heaps: bytes
    arena_len: int
    base: tuple[int, int, int]

    def record(self, i: int) -> tuple[Any, ...]:
        """Call i's (status, errno, o0..o3, line, signum, expr, func, file, message bytes)
        (only meaningful for a call that did not return)."""
        return _CALLRES.unpack_from(self.calls, i * _CALLRES.size)

    def test(self, t: int) -> tuple[int, int, int, int, int, int]:
        """(calls made, heap record length, allocs, reallocs, frees, live) of test t (counts
        since the memory began)."""
        calls, heap_len, allocs, reallocs, frees, live = self.tests[t * TEST_WORDS : (t + 1) * TEST_WORDS]
        base = self.base
        return calls, heap_len, allocs - base[0], reallocs - base[1], frees - base[2], live

    def arena(self, t: int) -> bytes:
        return self.arenas[t * self.arena_len : (t + 1) * self.arena_len]

    def heap_offsets(self) -> list[int]:
        """Where each test's heap record starts in ``heaps`` (one more: where the last ends)."""
        out, at = [0], 0
        for t in range(self.ran):
            length = self.tests[t * TEST_WORDS + 1]
            if length != 0xFFFFFFFF:
                at += length
            out.append(at)
        return out

    def heap(self, t: int) -> bytes | None:
        if self.tests[t * TEST_WORDS + 1] == 0xFFFFFFFF:
            return None
        offsets = self.heap_offsets()
        return self.heaps[offsets[t] : offsets[t + 1]]


# Status codes of the C wrappers (shim.h)
OK, ASSERT, FATAL, CRASH, TIMEOUT, MISSING = range(6)

_U32 = (1 << 32) - 1

#: Python int -> the C parameter type, as C converts it
_CONVERT: dict[str, Callable[[int], Any]] = {
    "ptr": size_t,
    "str": size_t,
    "stream": size_t,
    "size_t": size_t,
    "ssize_t": ssize_t,
    "int": int_,
    "unsigned": unsigned,
    "bool": bool,
}

#: One C call at a time in this process: the wrappers share one jump buffer
#: per module and the CPU timer is process-wide.
_CALL_LOCK = threading.RLock()
_LOAD_LOCK = threading.Lock()
_LOADED: dict[tuple[str, str], Reference] = {}


class TextSink(Protocol):
    def write(self, s: str, /) -> object: ...


class _Callable:
    """A wrapper function with its conversions and out buffers prepared."""

    def __init__(self, fn: Entry, cfunc: Any, ffi: Any, index: int) -> None:
        self.fn = fn
        self.cfunc = cfunc
        self.index = index  # in the dispatch table of the batch runner
        self.converters = [_CONVERT[p.kind] for p in fn.inputs]
        out_kinds = [value_kind(fn.pointee(p)) for p in fn.params if p.name in fn.outs]
        if fn.ret_kind != "void":
            out_kinds.append(fn.ret_kind)
        # reused by every call: calls are serialised by _CALL_LOCK
        self.outs = [ffi.new(f"{WRAPPER_CTYPE[k]} *") for k in out_kinds]
        self.n_c_outs = len(fn.outs)

    def result(self, values: list[Any]) -> Any:
        """The Python result from the out values (C out parameters first, then the return)."""
        if self.fn.ret_kind == "void":
            ret = None
        else:
            ret = values[-1]
            if self.fn.ret_kind == "bool":
                ret = bool(ret)
        if self.n_c_outs:
            return (ret, *(int(v) for v in values[: self.n_c_outs]))
        return ret


class Reference:
    """One built and loaded C source in one flavour."""

    def __init__(self, built: _build.Built, module: Any) -> None:
        plan = built.plan
        self.build_info = built
        self.source_path: Path = plan.source_path
        self.source_sha256: str = plan.source_sha256
        self.flavour: str = plan.flavour
        found = plan.contents
        #: what Python can call: every function of the source, by its own prototype
        self.prototypes: dict[str, str] = dict(found.prototypes)
        #: functions of the table the source lacks (or a header inline whose callee it lacks)
        self.missing: frozenset[str] = found.missing
        #: functions of the table the source defines with another prototype: name -> that one
        self.changed: dict[str, str] = dict(found.changed)
        #: functions of the table whose prototype the source spells otherwise, taking and
        #: returning the same values (called as the table's): name -> the source's prototype
        self.respelt: dict[str, str] = dict(found.respelt)
        #: functions the source defines that the table does not know
        self.added: frozenset[str] = found.added
        #: the table's functions that can be called as the table describes them
        self.available: frozenset[str] = frozenset(
            e.name for e in found.entries if e.name in BY_NAME and e.name not in self.changed
        )
        self.ffi: Any = module.ffi
        self.lib: Any = module.lib
        self.lib.iovconf_install()
        size = self.ffi.new("size_t *")
        shared = _SPACE.share(self)
        #: the area arena slots are cut from (0 in the sanitize flavour: real allocations)
        self._arenas: int = int(self.lib.iovconf_space_arenas(size))
        self._arena_slots = int(size[0]) // ARENA_SLOT
        #: the memories open now, in the order they were made (every build sharing one
        #: address space shares one list: a memory's slot and heap start follow all of them)
        self._sessions: list[CMemory] = _SPACE.sessions if shared else []
        self.trap: Any = self.lib.iovconf_last()  # points at the C trap record
        self._callables = {
            e.name: _Callable(e, getattr(self.lib, _build.wrapper_name(e.name)), self.ffi, k)
            for k, e in enumerate(found.entries)
        }
        self._texts: dict[int, str] = {}
        self._packers: dict[str, tuple[int, struct.Struct, list[Callable[[int], Any]]]] = {}
        self._scratch = bytearray()

    def __repr__(self) -> str:
        return f"<Reference {self.source_path} flavour={self.flavour} missing={sorted(self.missing)}>"

    def next_addresses(self) -> tuple[int, int]:
        """(arena, heap) addresses a memory made now would use for its first arena and heap block
        (0, 0 where it would use real allocations): the port's memory mirrors them."""
        slot = len(self._sessions)
        if not self._arenas or slot >= self._arena_slots:
            return 0, 0
        return self._arenas + slot * ARENA_SLOT, int(self.lib.iovconf_heap_top())

    # -- settings -------------------------------------------------------------
    @property
    def timeout(self) -> float:
        """CPU seconds a call may use before :class:`CTimeout` (0: no limit)."""
        return float(self.lib.iovconf_get_timeout_usec()) / 1e6

    def set_timeout(self, seconds: float) -> None:
        self.lib.iovconf_set_timeout_usec(max(0, round(seconds * 1e6)))

    def memory(self) -> CMemory:
        return CMemory(self)

    # -- calling C -------------------------------------------------------------
    def trap_record(self, status: int) -> tuple[Any, ...]:
        """The C trap record of the last call as plain values (OK: just the status)."""
        if status == OK:
            return (OK,)
        t, ffi = self.trap, self.ffi

        def text(p: Any) -> str:
            return "" if p == ffi.NULL else str(ffi.string(p).decode(errors="replace"))

        if status == ASSERT:
            return (status, text(t.expr), text(t.func), int(t.line), text(t.file))
        return (status, ffi.string(t.message).decode(errors="replace"), int(t.signum))

    def error(self, record: tuple[Any, ...]) -> Exception:
        """The exception for a trap record."""
        status = record[0]
        if status == ASSERT:
            _, expr, func, line, file = record
            return CAssertionError(expr, func, line, file)
        _, message, signum = record
        if status == FATAL:
            return GLibFatalError(message)
        if status == CRASH:
            return CCrash(signum, message)
        if status == TIMEOUT:
            return CTimeout(self.timeout)
        if status == MISSING:
            return MissingFunction(message)
        # The wrapper's own stack frame was overwritten (e.g. a write past a VLA):
        # the C code corrupted its caller, which is a crash in all but name.
        return CCrash(signal.SIGSEGV, f"the C code corrupted its caller's stack (status {status})")

    # -- batches ---------------------------------------------------------------------
    @property
    def batches(self) -> bool:
        """Whether :meth:`batch` can run here (the pool heap: not in the sanitize flavour)."""
        return bool(self._arenas) and self.flavour in ("trap", "coverage")

    def batch_packer(self, name: str) -> tuple[int, struct.Struct, list[Callable[[int], Any]]]:
        """How a call of ``name`` travels in a batch: (dispatch index, its struct iovconf_call
        with the arguments as plain 64-bit words, the facade's conversions).  The plain words
        need no conversion (C truncates them to the parameter types as Python's conversions
        do); a value that does not fit in 64 bits goes through the conversions instead."""
        packer = self._packers.get(name)
        if packer is None:
            c = self._callables.get(name)
            if c is None or name in self.changed:
                raise MissingFunction(name)
            letters = "".join("q" if p.kind in _SIGNED_KINDS else "Q" for p in c.fn.inputs)
            packer = self._packers[name] = (c.index, struct.Struct(f"<II{letters}"), c.converters)
        return packer

    def batch(
        self,
        mem: CMemory,
        arena: int,
        arena0: bytes,
        calls: Sequence[tuple[str, int, Sequence[int]]],
        ntests: int,
    ) -> BatchOut:
        """Run ``ntests`` tests in one crossing: ``calls`` is every call, (function, test, C
        arguments), a test's calls consecutive and in order; each test starts from the arena
        bytes ``arena0`` at ``arena`` and the heap as it is now.  See shim/batch.c."""
        if not self.batches:
            raise RuntimeError("batches need the trap (or coverage) flavour")
        k = len(calls)
        size = _CALL.size
        buf = bytearray(size * k)
        packer = self.batch_packer
        off = 0
        for name, t, args in calls:
            index, plain, converters = packer(name)
            try:
                plain.pack_into(buf, off, index, t, *args)
            except struct.error:
                values = [conv(a) & _U64 for conv, a in zip(converters, args, strict=True)]
                _CALL.pack_into(buf, off, index, t, *values, *_PAD[len(values) :])
            off += size
        ffi, lib = self.ffi, self.lib
        cres = bytearray(_CALLRES.size * max(k, 1))
        words = bytearray(8 * CALL_WORDS * max(k, 1))
        tests = bytearray(8 * TEST_WORDS * max(ntests, 1))
        arenas = bytearray(len(arena0) * ntests)
        heaps = bytearray(HEAP_RECORD_CAP * ntests)
        with _CALL_LOCK:
            ran = int(
                lib.iovconf_batch(
                    ffi.from_buffer("struct iovconf_call[]", buf),
                    k,
                    ntests,
                    arena,
                    arena0,
                    len(arena0),
                    mem._base[3],
                    ffi.from_buffer("struct iovconf_callres[]", cres),
                    ffi.from_buffer("uint64_t[]", words),
                    ffi.from_buffer("uint64_t[]", tests),
                    ffi.from_buffer(arenas),
                    ffi.from_buffer(heaps),
                    HEAP_RECORD_CAP,
                )
            )
        out_tests = memoryview(tests).cast("Q")[: ran * TEST_WORDS].tolist()
        lengths = out_tests[1::TEST_WORDS]
        heap_end = sum(n for n in lengths if n != 0xFFFFFFFF)
        base = mem._base
        return BatchOut(
            self,
            ran,
            bytes(cres),
            memoryview(words).cast("Q")[: k * CALL_WORDS].tolist(),
            out_tests,
            bytes(arenas[: ran * len(arena0)]),
            bytes(heaps[:heap_end]),
            len(arena0),
            (int(base[0]), int(base[1]), int(base[2])),
        )

    def _record_buffer(self, size: int) -> bytearray:
        """A scratch buffer of at least ``size`` bytes for heap records (one at a time)."""
        if len(self._scratch) < size:
            self._scratch = bytearray(size)
        return self._scratch

    def text(self, ptr: int) -> str:
        """The C string at ``ptr`` (trap records' expressions and names are static strings)."""
        text = self._texts.get(ptr)
        if text is None:
            text = "" if ptr == 0 else self.ffi.string(self.ffi.cast("char *", ptr)).decode(errors="replace")
            self._texts[ptr] = text
        return text

    def call(self, mem: CMemory, name: str, *args: int) -> Any:
        """Call C function ``name`` with int arguments (pointers as addresses).

        Returns the C return value (None for void); a function with C out
        parameters returns a tuple (return value, out values...).
        """
        c = self._callables.get(name)
        if c is None:
            if name in BY_NAME:
                raise MissingFunction(name)
            raise ValueError(f"name: no C function {name!r}")
        if name in self.changed:
            raise MissingFunction(name, f"the C source declares it as {self.changed[name]}")
        if mem.reference is not self:
            raise ValueError("mem: belongs to another Reference")
        if mem.closed:
            raise ValueError("mem: closed")
        if len(args) != len(c.converters):
            raise TypeError(f"{name}() takes {len(c.converters)} C arguments, got {len(args)}")
        cargs = [conv(a) for conv, a in zip(c.converters, args, strict=True)]
        with _CALL_LOCK:
            if self.flavour == "abort":
                return self._call_forked(mem, c, cargs)
            status = c.cfunc(*cargs, *c.outs)
            mem.errno = self.trap.err
            if status != OK:
                raise self.error(self.trap_record(status))
            return c.result([o[0] for o in c.outs])

    def _call_forked(self, mem: CMemory, c: _Callable, cargs: list[Any]) -> Any:
        """Abort flavour: the call runs in a forked child, then is replayed here."""
        child = _forked.run_in_child(self, c, cargs)
        if child.signum not in (0, signal.SIGABRT):
            raise child.error()  # replaying it would kill this process too
        status = _forked.replay(self, c, cargs, child)
        mem.errno = self.trap.err
        replayed = self.error(self.trap_record(status)) if status != OK else None
        _forked.check_agreement(c.fn.name, child, status, replayed)
        if child.signum:
            raise child.error()
        if replayed is not None:
            raise replayed
        return c.result([o[0] for o in c.outs])


class CMemory:
    """Real memory of this process, observed like :class:`pyimpl.memory.Memory`.

    Loads and stores run under the same crash guard as the C calls, so a bad
    address raises :class:`CCrash` instead of killing the process.  Heap
    counters and serial numbers count from the creation of this object.
    """

    def __init__(self, reference: Reference) -> None:
        self.reference = reference
        self.ffi: Any = reference.ffi
        self.lib: Any = reference.lib
        self.errno = 0
        self.closed = False
        self._owned: list[int] = []  # raw blocks from map_arena and buffer
        self._mapped: dict[int, list[Any]] = {}  # Python buffers mapped zero-copy, by address
        with _CALL_LOCK:
            self._base = self.raw_heap_counters()
            #: where this memory's first arena and first heap block go (see Reference.next_addresses)
            self.arena_at, self.heap_at = reference.next_addresses()
            self._arena_used = 0  # bytes of the arena slot handed out (0: not yet)
            reference._sessions.append(self)

    def __enter__(self) -> CMemory:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Free what this memory mapped and the heap blocks still live since it began; the last
        memory open hands its arena slot and heap pool back (zeroed) for the next."""
        if self.closed:
            return
        with _CALL_LOCK:
            self.lib.iovconf_heap_release_since(self._base[3])
            for addr in self._owned:
                self.lib.iovconf_raw_free(addr)
            self.closed = True
            sessions = self.reference._sessions
            while sessions and sessions[-1].closed:
                last = sessions.pop()
                if last._arena_used:
                    self.lib.iovconf_store(last.arena_at, bytes(last._arena_used), last._arena_used)
                if last.heap_at:
                    self.lib.iovconf_heap_rewind(last.heap_at)
        self._owned.clear()
        self._mapped.clear()

    # -- placing regions -------------------------------------------------------
    def _alloc(self, n: int) -> int:
        if self.closed:
            raise ValueError("mem: closed")
        addr = int(self.lib.iovconf_raw_alloc(n))
        if addr == 0:
            raise MemoryError(f"cannot allocate {n} bytes")
        self._owned.append(addr)
        return addr

    def map_arena(self, layout: Iterable[tuple[int, bool]]) -> int:
        """One contiguous zeroed block for back-to-back regions (size, is_guard).

        Returns its base address; it stays allocated until :meth:`close`.
        """
        parts = [(int(size), bool(guard)) for size, guard in layout]
        if any(size < 0 for size, _ in parts):
            raise ValueError("layout: region sizes must be >= 0")
        total = sum(size for size, _ in parts)
        if self.arena_at and not self._arena_used and 0 < total <= ARENA_SLOT:
            self._arena_used = total  # this memory's slot: the address the port mirrors
            return self.arena_at
        return self._alloc(total)

    def buffer(self, data: bytes | int) -> int:
        """A new block holding ``data`` (or that many zero bytes); returns its address."""
        content = bytes(data)
        addr = self._alloc(len(content))
        self.write(addr, content)
        return addr

    def map(self, buffer: Buffer, *, readonly: bool = False) -> int:
        """The address of a writable Python buffer (zero-copy; kept alive until unmap or close);
        ``readonly=True`` takes read-only ones too (bytes), for what the C code only reads."""
        view = readonly_view(buffer) if readonly else writable_view(buffer)
        if self.closed:
            raise ValueError("mem: closed")
        cdata = self.ffi.from_buffer(view)
        addr = int(self.ffi.cast("uintptr_t", cdata))
        self._mapped.setdefault(addr, []).append(cdata)  # views of one buffer share an address
        return addr

    def unmap(self, addr: int) -> None:
        """Let go of a buffer :meth:`map` lent, or free a block :meth:`buffer` made."""
        lent = self._mapped.get(addr)
        if lent:
            lent.pop()
            if not lent:
                del self._mapped[addr]
            return
        if addr in self._owned and addr != self.arena_at:
            self._owned.remove(addr)
            with _CALL_LOCK:
                self.lib.iovconf_raw_free(addr)
            return
        raise ValueError(f"addr: {addr:#x} is not a buffer this memory mapped or made")

    # -- loads and stores --------------------------------------------------------
    def read(self, addr: int, n: int) -> bytes:
        if n == 0:
            return b""
        out = bytearray(n)
        with _CALL_LOCK:
            status = self.lib.iovconf_load(self.ffi.from_buffer(out), size_t(addr), n)
            if status != OK:
                raise self.reference.error(self.reference.trap_record(status))
        return bytes(out)

    peek = read

    def write(self, addr: int, data: bytes | bytearray | memoryview) -> None:
        data = bytes(data)
        if not data:
            return
        with _CALL_LOCK:
            status = self.lib.iovconf_store(size_t(addr), data, len(data))
            if status != OK:
                raise self.reference.error(self.reference.trap_record(status))

    def u64(self, addr: int) -> int:
        return int.from_bytes(self.read(addr, 8), "little")

    def set_u64(self, addr: int, value: int) -> None:
        self.write(addr, size_t(value).to_bytes(8, "little"))

    def i32(self, addr: int) -> int:
        return int.from_bytes(self.read(addr, 4), "little", signed=True)

    def set_i32(self, addr: int, value: int) -> None:
        self.write(addr, int_(value).to_bytes(4, "little", signed=True))

    def u32(self, addr: int) -> int:
        return int.from_bytes(self.read(addr, 4), "little")

    def set_u32(self, addr: int, value: int) -> None:
        self.write(addr, (value & _U32).to_bytes(4, "little"))

    # -- the GLib heap -----------------------------------------------------------
    def raw_heap_counters(self) -> tuple[int, int, int, int]:
        """The C heap's counters since the module loaded: allocs, reallocs, frees, last serial."""
        s = self.ffi.new("struct iovconf_heap_stats *")
        self.lib.iovconf_heap_get_stats(s)
        return int(s.allocs), int(s.reallocs), int(s.frees), int(s.serial)

    def heap_stats(self) -> HeapStats:
        """Counts since this memory was created; live = blocks allocated since and still live."""
        with _CALL_LOCK:
            allocs, reallocs, frees, _ = self.raw_heap_counters()
            live = int(self.lib.iovconf_heap_live_since(self._base[3]))
        base = self._base
        return HeapStats(allocs - base[0], reallocs - base[1], frees - base[2], live)

    def heap_serials(self) -> list[int]:
        """The serials of the live blocks allocated since this memory was created, sorted."""
        live = self.heap_stats().live
        out = self.ffi.new("uint64_t[]", max(live, 1))
        with _CALL_LOCK:
            n = int(self.lib.iovconf_heap_serials(self._base[3], out, live))
        return sorted(int(out[k]) for k in range(n))

    def heap_record(self, cap: int = 1 << 18) -> bytes | None:
        """The live blocks allocated since this memory was created as ``pyimpl``'s
        ``Memory.heap_record`` writes them (serials count from 1); None if longer than ``cap``."""
        buf = self.reference._record_buffer(cap)
        with _CALL_LOCK:
            length = int(self.lib.iovconf_heap_record(self._base[3], self.ffi.from_buffer(buf), cap))
        return None if length == _SIZE_MAX else bytes(buf[:length])

    def heap_block(self, addr: int) -> tuple[int, int] | None:
        """(serial, offset) when ``addr`` is inside a live block allocated since
        this memory was created (serials count from 1), else None."""
        serial = self.ffi.new("uint64_t *")
        offset = self.ffi.new("size_t *")
        with _CALL_LOCK:
            found = self.lib.iovconf_heap_find(size_t(addr), serial, offset)
        if not found or serial[0] <= self._base[3]:
            return None
        return int(serial[0]) - self._base[3], int(offset[0])


def load(c_source: str | os.PathLike[str] | None = None, flavour: str = "trap") -> Reference:
    """Build (or reuse) and load the C reference.

    ``c_source`` defaults to ``$IOVCONF_C_SOURCE`` or the original iov.c.
    One :class:`Reference` per (path, flavour) per process.
    """
    chosen = c_source if c_source is not None else os.environ.get("IOVCONF_C_SOURCE")
    path = Path(chosen if chosen else DEFAULT_SOURCE).resolve()
    key = (str(path), flavour)
    with _LOAD_LOCK:
        ref = _LOADED.get(key)
        if ref is None:
            built = _build.build(path, flavour)
            if flavour == "sanitize" and not _asan_loaded():
                raise BuildError(
                    f"built {built.so_path}, but the sanitize flavour loads only into a "
                    "process started with LD_PRELOAD=$(gcc -print-file-name=libasan.so)"
                )
            try:
                module = _build.load_module(built)
            except ImportError as e:
                raise BuildError(f"cannot load {built.so_path}: {e}") from e
            ref = Reference(built, module)
            _LOADED[key] = ref
    return ref


def _asan_loaded() -> bool:
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as f:
            return "libasan" in f.read()
    except OSError:
        return False


# -- iov_hexdump's FILE * and const char * ------------------------------------------------------


def call(mem: CMemory, name: str, *args: int) -> Any:
    """What the facade's functions do: :meth:`Reference.call` in ``mem``'s reference."""
    if not isinstance(mem, CMemory):
        raise TypeError(f"mem: expected reference_c.CMemory, got {type_name(mem)}")
    return mem.reference.call(mem, name, *args)


def hexdump(
    mem: CMemory, iov: int, iov_cnt: int, fp: TextSink | None, prefix: str | None, limit: int
) -> None:
    """The C side writes to a memory stream; its text is then written to ``fp``.

    ``fp`` None passes a NULL ``FILE *``; ``prefix`` None passes NULL.
    """
    if not isinstance(mem, CMemory):
        raise TypeError(f"mem: expected reference_c.CMemory, got {type_name(mem)}")
    ffi, lib = mem.ffi, mem.lib
    if "iov_hexdump" not in mem.reference.available:
        mem.reference.call(mem, "iov_hexdump", 0, 0, 0, 0, 0)  # raises MissingFunction
    c_prefix = ffi.NULL if prefix is None else ffi.new("char[]", prefix.encode())
    prefix_addr = int(ffi.cast("uintptr_t", c_prefix))
    if fp is None:
        mem.reference.call(mem, "iov_hexdump", iov, iov_cnt, 0, prefix_addr, limit)
        return
    stream = lib.iovconf_stream_open()
    if stream == ffi.NULL:
        raise OSError("open_memstream failed")
    try:
        try:
            fp_addr = int(ffi.cast("uintptr_t", stream.fp))
            mem.reference.call(mem, "iov_hexdump", iov, iov_cnt, fp_addr, prefix_addr, limit)
        finally:
            lib.iovconf_stream_close(stream)
            text = ffi.unpack(stream.text, stream.len) if stream.text != ffi.NULL else b""
            fp.write(text.decode("utf-8", errors="surrogateescape"))
    finally:
        lib.iovconf_stream_free(stream)
