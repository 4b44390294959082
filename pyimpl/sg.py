"""Scatter/gather over real Python buffers: a Pythonic layer that stays faithful to ``iov.c``.

Every method is one call (or a few) of the port's functions: ``IOVector.read`` is
``iov_to_buf``, ``discarded`` is ``iov_discard_front_undoable`` +
``iov_discard_back_undoable`` and, on the way out, ``iov_discard_undo`` twice, ``QIOV`` is
a ``QEMUIOVector`` driven by ``qemu_iovec_*``.  So it does what QEMU's C code does, and
is checked against the C original like everything else: the functions come from a
*library* module, the port by default, or ``reference_c`` (the compiled ``iov.c``) with a
memory of its own::

    from pyimpl import sg
    v = sg.IOVector([bytearray(b"hello, "), bytearray(b"world")])
    v.read(3, 6)                                   # b'lo, wo'

    import reference_c
    with reference_c.memory() as cmem:
        c = sg.IOVector([bytearray(b"hello, "), bytearray(b"world")], lib=reference_c, mem=cmem)
        c.read(3, 6)                               # the same bytes, from the C code

Buffers are mapped zero-copy (any writable buffer: bytearray, memoryview, mmap, array,
numpy arrays), so writes through a vector land in them and ``buffers()`` gives
memoryviews of the entries, ready for ``os.writev`` or ``socket.sendmsg``.

**One argument contract.**  The layer checks every argument once, before it calls either
side, so both sides raise the same exception with the same message, naming the parameter:
counts and offsets are ints (anything ``operator.index`` takes, numpy integers included;
``bool`` is refused), never negative, never past what the vector holds; what the C code
would assert (a clone into a short buffer, a compare of vectors of other shapes, a slice
of more than ``IOV_MAX`` entries) is a ``ValueError`` first.  The calls themselves then run
unchecked (on the port, as its own nested calls do): the layer has checked all a strict
memory would.

**Lifetimes.**  Each object knows what it depends on: a ``copy()``, a ``slice()``, a
``vector()`` view and a ``discarded()`` view depend on the object they were made from; a
QIOV that took another's entries (``concat``) depends on the objects owning those buffers;
a ``clone()`` owns its buffer and array and depends on nothing.  ``close()`` (for a QIOV
also ``destroy()``) closes everything that depends on the object first, then frees what the
object made (its mapped buffers, arrays and struct); using a closed object is a
``ValueError`` that touches nothing.  A ``discarded()`` view ends with its block, a
``vector()`` view when its QIOV adds entries (the array may move), and a QIOV whose entries
a ``discarded()`` block cuts refuses everything but ``destroy()`` until the block ends.
"""

from __future__ import annotations

import bisect
import contextlib
import ctypes
import errno
import io
import operator
import os
import select
import struct
import sys
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Protocol, SupportsIndex, TypeVar, overload

from iovspec.arguments import type_name
from iovspec.cint import INT_MAX
from iovspec.structs import (
    IOV_MAX,
    IOVEC_SIZE,
    QIOV_SIZE,
    SORTELEM_SIZE,
    UNDO_SIZE,
    MemoryLike,
    QiovFields,
    read_iovecs,
    read_qiov,
)

from . import iov as _port
from .iov import STACK_LIMIT
from .memory import Memory

if TYPE_CHECKING:
    from typing_extensions import Buffer

__all__ = ["QIOV", "IOVector", "Library"]

M = TypeVar("M", bound=MemoryLike)
C = TypeVar("C", bound=MemoryLike, contravariant=True)  # a library is generic in its memory


class _FileLike(Protocol):
    def fileno(self) -> int: ...


#: what ``send``/``recv_into`` take: a socket (or anything with ``fileno()``) or an fd
Socket = _FileLike | int
#: what ``readv``/``writev`` take: a file object or an fd
File = _FileLike | int


class Library(Protocol[C]):
    """The functions the layer calls, as both ``pyimpl`` and ``reference_c`` define them."""

    def iov_size(self, mem: C, iov: int, iov_cnt: int) -> int: ...
    def iov_to_buf(self, mem: C, iov: int, iov_cnt: int, offset: int, buf: int, bytes_: int) -> int: ...
    def iov_from_buf(self, mem: C, iov: int, iov_cnt: int, offset: int, buf: int, bytes_: int) -> int: ...
    def iov_memset(self, mem: C, iov: int, iov_cnt: int, offset: int, fillc: int, bytes_: int) -> int: ...
    def iov_copy(
        self, mem: C, dst_iov: int, dst_iov_cnt: int, iov: int, iov_cnt: int, offset: int, bytes_: int
    ) -> int: ...
    def iov_send(self, mem: C, sockfd: int, iov: int, iov_cnt: int, offset: int, bytes_: int) -> int: ...
    def iov_recv(self, mem: C, sockfd: int, iov: int, iov_cnt: int, offset: int, bytes_: int) -> int: ...
    def iov_discard_front_undoable(self, mem: C, iov: int, iov_cnt: int, bytes_: int, undo: int) -> int: ...
    def iov_discard_back_undoable(self, mem: C, iov: int, iov_cnt: int, bytes_: int, undo: int) -> int: ...
    def iov_discard_undo(self, mem: C, undo: int) -> None: ...
    def qemu_iovec_init(self, mem: C, qiov: int, alloc_hint: int) -> None: ...
    def qemu_iovec_add(self, mem: C, qiov: int, base: int, len_: int) -> None: ...
    def qemu_iovec_concat(self, mem: C, dst: int, src: int, soffset: int, sbytes: int) -> None: ...
    def qemu_iovec_init_slice(self, mem: C, qiov: int, source: int, offset: int, len_: int) -> None: ...
    def qemu_iovec_clone(self, mem: C, dest: int, src: int, buf: int) -> None: ...
    def qemu_iovec_is_zero(self, mem: C, qiov: int, offset: int, bytes_: int) -> bool: ...
    def qemu_iovec_compare(self, mem: C, a: int, b: int) -> int: ...
    def qemu_iovec_to_buf(self, mem: C, qiov: int, offset: int, buf: int, bytes_: int) -> int: ...
    def qemu_iovec_from_buf(self, mem: C, qiov: int, offset: int, buf: int, bytes_: int) -> int: ...
    def qemu_iovec_memset(self, mem: C, qiov: int, offset: int, fillc: int, bytes_: int) -> int: ...
    def qemu_iovec_destroy(self, mem: C, qiov: int) -> None: ...


# -- the argument contract ----------------------------------------------------------------


def _int(name: str, value: object) -> int:
    """``value`` as an int (``operator.index``: numpy integers too), not a bool."""
    if type(value) is int:
        return value
    if isinstance(value, bool) or not isinstance(value, SupportsIndex):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name}: expected an int, got {type(value).__name__}") from None


def _index(name: str, value: object) -> int:
    """``value`` as a count or offset: an int, not negative."""
    value = _int(name, value)
    if value < 0:
        raise ValueError(f"{name}: {value} is negative")
    return value


def _optional(name: str, value: object) -> int | None:
    return None if value is None else _index(name, value)


def _byte(name: str, value: object) -> int:
    value = _int(name, value)
    if not 0 <= value <= 255:
        raise ValueError(f"{name}: {value} is not a byte (0 to 255)")
    return value


def _offset(size: int, offset: int) -> None:
    if offset > size:
        raise ValueError(f"offset: {offset}, but the vector holds {size} bytes")


def _rest(size: int, offset: int, n: int | None) -> int:
    """The bytes from ``offset`` to use: ``n``, or all of them; C asserts past the end, we raise."""
    _offset(size, offset)
    rest = size - offset
    if n is None:
        return rest
    if n > rest:
        where = "" if offset == 0 else f" past offset {offset}"
        raise ValueError(f"n: {n}, but the vector holds {rest} bytes{where}")
    return n


def _bytes_view(buffer: object, name: str, *, writable: bool) -> memoryview:
    """``buffer`` as a flat view of bytes (numpy arrays and other formats included)."""
    try:
        view = memoryview(buffer)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{name}: expected a buffer, got {type(buffer).__name__}") from None
    if writable and view.readonly:
        raise TypeError(f"{name}: {type(buffer).__name__} is read-only; a vector maps writable buffers")
    if not view.c_contiguous:
        raise ValueError(f"{name}: must be C-contiguous")
    return view if view.format == "B" and view.ndim == 1 else view.cast("B")


def _buffer_views(buffers: object) -> list[memoryview]:
    """Each of ``buffers`` as a writable view, all checked before any is mapped."""
    try:
        memoryview(buffers)  # type: ignore[arg-type]
    except TypeError:
        pass
    else:
        raise TypeError(f"buffers: expected an iterable of buffers, got one {type(buffers).__name__}")
    if not isinstance(buffers, Iterable):
        raise TypeError(f"buffers: expected an iterable of buffers, got {type(buffers).__name__}")
    return [_bytes_view(b, "buffer", writable=True) for b in buffers]


def _library(lib: Any, mem: Any) -> tuple[Any, Any]:
    """The library and memory an object runs on; a memory of the other side is a TypeError."""
    if lib is None:
        if mem is None:
            return _port, Memory()
        if not isinstance(mem, Memory):
            raise TypeError(f"mem: expected pyimpl.Memory, got {type_name(mem)}")
        return _port, mem
    if mem is None:
        raise TypeError(
            f"mem: required with lib={getattr(lib, '__name__', lib)!r} (e.g. reference_c.memory())"
        )
    lib.iov_size(mem, 0, 0)  # the library's own check of its memory (a TypeError, or closed)
    return lib, mem


def _closed(mem: object) -> bool:
    return bool(getattr(mem, "closed", False))


# -- the buffers mapped into a memory ------------------------------------------------------


class _Buffers:
    """The Python buffers sg mapped into one memory: address, view and the object owning the
    mapping (weakly: this index lives as long as the memory, which its objects keep alive),
    sorted by address (what ``buffers()`` slices and ``concat`` depends on)."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.views: list[memoryview] = []
        self.owners: list[weakref.ref[_Node]] = []
        self.longest = 0  # no buffer starting further before an address holds it
        #: the port's regions under the buffers (None on another library: its addresses are real)
        self.regions: _Regions | None = None

    def acquire(self, mem: Any, view: memoryview) -> int:
        """The address of a buffer being mapped: on the port, inside a region shared with
        every other buffer over the same bytes (:class:`_Regions`)."""
        if not isinstance(mem, Memory):
            return int(mem.map(view))
        if self.regions is None:
            self.regions = _Regions()
        return self.regions.acquire(mem, view)

    def release(self, mem: Any, addr: int) -> None:
        """Give back an address :meth:`acquire` gave (or a region the object made)."""
        if self.regions is None:
            mem.unmap(addr)
        else:
            self.regions.release(mem, addr)

    def add(self, addr: int, view: memoryview, owner: _Node) -> None:
        self.longest = max(self.longest, len(view))
        i = bisect.bisect(self.starts, addr)
        self.starts.insert(i, addr)
        self.views.insert(i, view)
        self.owners.insert(i, weakref.ref(owner))

    def forget(self, addr: int, owner: _Node) -> None:
        i = bisect.bisect_left(self.starts, addr)
        while i < len(self.starts) and self.starts[i] == addr:
            if self.owners[i]() is owner:
                del self.starts[i], self.views[i], self.owners[i]
                return
            i += 1

    def _holding(self, addr: int, n: int) -> Iterator[int]:
        """The indexes of the mapped buffers holding [addr, addr+n) (on the C side one buffer
        may be mapped twice, or two views of one overlap: all of them)."""
        i = bisect.bisect(self.starts, addr) - 1
        while i >= 0 and self.starts[i] >= addr - self.longest:
            if addr + n <= self.starts[i] + len(self.views[i]):
                yield i
            i -= 1

    def view(self, addr: int, n: int) -> memoryview:
        """The bytes [addr, addr+n) of one mapped buffer, zero-copy."""
        if n == 0:
            return memoryview(bytearray())  # writable, as every view it gives
        for i in self._holding(addr, n):
            off = addr - self.starts[i]
            return self.views[i][off : off + n]
        raise ValueError(f"entry: {n} bytes at {addr:#x} are not inside one buffer sg mapped")

    def owners_of(self, entries: Iterable[tuple[int, int]]) -> list[_Node]:
        """The objects owning the buffers the entries point into."""
        found: dict[int, _Node] = {}
        for addr, n in entries:
            for i in self._holding(addr, n):
                owner = self.owners[i]()
                if owner is not None:
                    found.setdefault(id(owner), owner)
        return list(found.values())


def _real_address(view: memoryview) -> int | None:
    """Where a writable buffer's bytes are in this process (None if it has none to give)."""
    if not len(view) or view.readonly:
        return None
    return ctypes.addressof(ctypes.c_char.from_buffer(view))


def _whole(view: memoryview) -> memoryview:
    """The whole object ``view`` is a view of (a bytearray, say), if it exports one writable
    contiguous buffer holding the view; else the view itself."""
    try:
        whole = memoryview(view.obj).cast("B")
    except (TypeError, ValueError):
        return view
    if whole.readonly or not whole.contiguous:
        return view
    start, mine = _real_address(whole), _real_address(view)
    if start is None or mine is None or not (start <= mine and mine + len(view) <= start + len(whole)):
        return view
    return whole


def _real_start(region: tuple[int, int, int]) -> int:
    return region[0]


class _Regions:
    """The port's regions over Python buffers, shared as C shares an address: in C a buffer
    has one address however often it is put in vectors, and a slice of it lies inside it, so
    what compares addresses (``qemu_iovec_clone`` merging entries that overlap) sees the same
    thing on both sides.  A region maps the whole object a buffer views (a slice's bytearray)
    and is unmapped when the last buffer inside it is given back."""

    def __init__(self) -> None:
        self.regions: list[tuple[int, int, int]] = []  # (real start, length, port address), sorted
        self.users: dict[int, int] = {}  # port address of a region -> buffers mapped in it
        self.inside: dict[int, int] = {}  # port address given out -> its region's
        self.longest = 0

    def acquire(self, mem: Memory, view: memoryview) -> int:
        real = _real_address(view)
        if real is None:
            return mem.map(view)
        i = bisect.bisect(self.regions, real, key=_real_start) - 1
        while i >= 0 and self.regions[i][0] >= real - self.longest:
            start, length, region = self.regions[i]
            if real + len(view) <= start + length:
                return self._give(region, region + real - start)
            i -= 1
        whole = _whole(view)
        whole_start = _real_address(whole)
        assert whole_start is not None
        region = mem.map(whole)
        bisect.insort(self.regions, (whole_start, len(whole), region), key=_real_start)
        self.longest = max(self.longest, len(whole))
        return self._give(region, region + real - whole_start)

    def _give(self, region: int, addr: int) -> int:
        self.users[region] = self.users.get(region, 0) + 1
        self.inside[addr] = region
        return addr

    def release(self, mem: Memory, addr: int) -> None:
        region = self.inside.get(addr)
        if region is None:
            mem.unmap(addr)
            return
        self.users[region] -= 1
        if self.users[region]:
            return
        del self.users[region]
        self.inside = {a: r for a, r in self.inside.items() if r != region}
        self.regions = [r for r in self.regions if r[2] != region]
        mem.unmap(region)


_BUFFERS: weakref.WeakKeyDictionary[object, _Buffers] = weakref.WeakKeyDictionary()


def _buffers_of(mem: object) -> _Buffers:
    index = _BUFFERS.get(mem)
    if index is None:
        index = _BUFFERS[mem] = _Buffers()
    return index


class _Trust:
    """A call the layer has checked: on the port, run as the port's nested calls run (the
    per-call checks of a strict memory skipped); on another library, a plain call."""

    __slots__ = ("mem",)

    def __init__(self, mem: object) -> None:
        self.mem = mem if isinstance(mem, Memory) else None

    def __enter__(self) -> None:
        if self.mem is not None:
            self.mem.depth += 1

    def __exit__(self, *exc: object) -> None:
        if self.mem is not None:
            self.mem.depth -= 1


# -- what every object shares: its lifetime ---------------------------------------------


class _Node:
    """An sg object's place among the others: what it depends on, what depends on it, and the
    regions it made (unmapped when it is closed)."""

    #: how errors name the object, and what closing it is called
    _what = "object"
    _ended = "closed"

    lib: Any
    mem: Any

    def _setup(self, lib: Any, mem: Any) -> None:
        self.lib, self.mem = lib, mem
        self._trust = _Trust(mem)
        self._buffers = _buffers_of(mem)
        self._closed_as: str | None = None
        self._parents: list[_Node] = []
        self._dependants: list[_Node] = []
        self._owned: list[int] = []
        #: open discarded() blocks cutting this object's array
        self._cuts = 0

    def _depend_on(self, parent: _Node) -> None:
        if parent is not self and all(p is not parent for p in self._parents):
            self._parents.append(parent)
            parent._dependants.append(self)

    def _usable(self, name: str | None = None) -> None:
        """Raise ValueError (naming the object, or the parameter ``name``) if it is closed."""
        if self._closed_as is not None:
            raise ValueError(f"{name or self._what}: {self._closed_as}")
        if _closed(self.mem):
            raise ValueError(f"{name or self._what}: its memory is closed")

    def _end(self, reason: str) -> None:
        """Close this object (``reason``: what later uses are told): what depends on it first,
        then what it made."""
        if self._closed_as is not None:
            return
        self._closed_as = reason
        kind = type(self).__name__
        for d in list(self._dependants):
            d._end(f"{d._ended} with the {kind} it depends on")
        self._free()
        for p in self._parents:
            p._dependants = [d for d in p._dependants if d is not self]
        self._parents.clear()
        self._dependants.clear()

    def _free(self) -> None:
        """Give back the regions this object mapped or made (not when its memory is closed:
        then they are gone)."""
        if not _closed(self.mem):
            for addr in self._owned:
                self._buffers.forget(addr, self)
                self._buffers.release(self.mem, addr)
        self._owned.clear()

    def _map(self, view: memoryview) -> int:
        """Map a buffer for as long as this object lives."""
        addr = self._buffers.acquire(self.mem, view)
        self._owned.append(addr)
        self._buffers.add(addr, view, self)
        return addr

    def _make(self, size: int) -> int:
        """A zeroed region of ``size`` bytes for as long as this object lives."""
        addr: int = self.mem.buffer(size)
        self._owned.append(addr)
        return addr

    def _drop(self, addr: int) -> None:
        """Give back one region this object made, before it is closed."""
        self._owned.remove(addr)
        self.mem.unmap(addr)


def _wait(fd: int, writing: bool, deadline: float | None) -> None:
    """Wait in Python (so Ctrl-C gets through) until ``fd`` is ready; TimeoutError past
    ``deadline``, as a socket with a timeout raises it."""
    poller = select.poll()
    poller.register(fd, select.POLLOUT if writing else select.POLLIN)
    while True:
        ms = None if deadline is None else max(0.0, deadline - time.monotonic()) * 1000
        if poller.poll(ms):
            return  # ready, or an error or hang-up the call will report
        if deadline is not None and time.monotonic() >= deadline:
            raise TimeoutError("timed out")


def _socket(sock: object) -> tuple[int, float | None]:
    """The fd of ``sock`` and how long a call on it may wait (its timeout: None for ever, 0
    not at all); TLS sockets are refused (the bytes would bypass the encryption)."""
    ssl = sys.modules.get("ssl")
    if ssl is not None and isinstance(sock, ssl.SSLSocket):
        raise TypeError("sock: an ssl.SSLSocket; sg sends and receives below TLS, which would bypass it")
    fd = _fd("sock", sock, "a socket, a file object or an fd")
    gettimeout = getattr(sock, "gettimeout", None)
    if callable(gettimeout):
        timeout: float | None = gettimeout()
    else:
        timeout = None if os.get_blocking(fd) else 0.0
    return fd, timeout


def _fd(name: str, obj: object, what: str) -> int:
    if isinstance(obj, int) and not isinstance(obj, bool):
        fd = obj
    elif callable(getattr(obj, "fileno", None)):
        fd = obj.fileno()  # type: ignore[attr-defined]
    else:
        raise TypeError(f"{name}: expected {what}, got {type(obj).__name__}")
    if not isinstance(fd, int) or fd < 0:
        raise OSError(errno.EBADF, os.strerror(errno.EBADF))
    return fd


class IOVector(_Node, Generic[M]):
    """A ``struct iovec`` array over Python buffers, one entry per buffer.

    ``len()`` is the total byte count (``iov_size``); offsets and counts are in bytes from
    the start of the vector, as in C.
    """

    _what = "vector"
    _ended = "closed"

    lib: Library[M]
    mem: M
    #: where the ``struct iovec`` array is, and how many entries it has
    array: int
    count: int

    @overload
    def __init__(
        self: IOVector[Memory], buffers: Iterable[Buffer] = (), *, mem: Memory | None = None
    ) -> None: ...
    @overload
    def __init__(self, buffers: Iterable[Buffer] = (), *, lib: Library[M], mem: M) -> None: ...

    def __init__(self, buffers: Iterable[Buffer] = (), *, lib: Any = None, mem: Any = None) -> None:
        lib, mem = _library(lib, mem)
        views = _buffer_views(buffers)
        self._setup(lib, mem)
        self._owner: _Node = self  # the object whose array this is
        entries = [(self._map(v), len(v)) for v in views]
        self.count = len(entries)
        self.array = self._make(IOVEC_SIZE * max(self.count, 1))
        if entries:
            flat = [word for entry in entries for word in entry]
            self.mem.write(self.array, struct.pack(f"<{len(flat)}Q", *flat))

    @classmethod
    def _over(cls, parent: _Node, array: int, count: int, owner: _Node) -> IOVector[M]:
        """Another vector over ``count`` entries at ``array`` (``owner``'s), depending on ``parent``."""
        v = cls.__new__(cls)
        v._setup(parent.lib, parent.mem)
        v._owner = owner
        v.array, v.count = array, count
        v._depend_on(parent)
        return v

    def _size(self) -> int:
        with self._trust:
            return self.lib.iov_size(self.mem, self.array, self.count)

    def __len__(self) -> int:
        self._usable()
        return self._size()

    def __repr__(self) -> str:
        if self._closed_as is not None or _closed(self.mem):
            return f"<IOVector {self._closed_as or 'of a closed memory'}>"
        return f"<IOVector {self.count} entries, {self._size()} bytes>"

    def entries(self) -> list[tuple[int, int]]:
        """The ``(iov_base, iov_len)`` of each entry, as the array holds them now."""
        self._usable()
        return read_iovecs(self.mem, self.array, self.count)

    def buffers(self) -> list[memoryview]:
        """Each entry's bytes as a memoryview (zero-copy), for ``os.writev``/``socket.sendmsg``."""
        return [self._buffers.view(base, n) for base, n in self.entries()]

    # -- bytes ------------------------------------------------------------------------------
    def readinto(self, buf: Buffer, offset: int = 0) -> int:
        """Copy up to ``len(buf)`` bytes from ``offset`` into ``buf`` (``iov_to_buf``); the count."""
        self._usable()
        view = _bytes_view(buf, "buf", writable=True)
        offset = _index("offset", offset)
        _offset(self._size(), offset)
        mem = self.mem
        addr = mem.map(view)
        try:
            with self._trust:
                return self.lib.iov_to_buf(mem, self.array, self.count, offset, addr, len(view))
        finally:
            mem.unmap(addr)

    def read(self, offset: int = 0, n: int | None = None) -> bytes:
        """``n`` bytes from ``offset`` (default: to the end), through ``iov_to_buf``, copied once:
        straight into the bytes object returned."""
        self._usable()
        offset = _index("offset", offset)
        n = _rest(self._size(), offset, _optional("n", n))
        mem, lib, array, count = self.mem, self.lib, self.array, self.count
        return _filled(mem, n, lambda addr: lib.iov_to_buf(mem, array, count, offset, addr, n), self._trust)

    def write(self, data: Buffer, offset: int = 0) -> int:
        """Copy ``data`` into the vector from ``offset`` (``iov_from_buf``); the count copied."""
        self._usable()
        view = _bytes_view(data, "data", writable=False)
        offset = _index("offset", offset)
        _offset(self._size(), offset)
        mem = self.mem
        addr = mem.map(view, readonly=True)
        try:
            with self._trust:
                return self.lib.iov_from_buf(mem, self.array, self.count, offset, addr, len(view))
        finally:
            mem.unmap(addr)

    def fill(self, byte: int, offset: int = 0, n: int | None = None) -> int:
        """Set ``n`` bytes from ``offset`` (default: to the end) to ``byte`` (``iov_memset``)."""
        self._usable()
        byte = _byte("byte", byte)
        offset = _index("offset", offset)
        n = _rest(self._size(), offset, _optional("n", n))
        with self._trust:
            return self.lib.iov_memset(self.mem, self.array, self.count, offset, byte, n)

    def copy(self, offset: int = 0, n: int | None = None) -> IOVector[M]:
        """A new vector over the same bytes [offset, offset+n) (``iov_copy``: no data copied);
        it depends on this one."""
        self._usable()
        offset = _index("offset", offset)
        n = _rest(self._size(), offset, _optional("n", n))
        c: IOVector[M] = IOVector._over(self, 0, 0, self)
        c._owner = c
        c.array = c._make(IOVEC_SIZE * max(self.count, 1))
        with self._trust:
            c.count = self.lib.iov_copy(self.mem, c.array, self.count, self.array, self.count, offset, n)
        return c

    # -- sockets and files ----------------------------------------------------------------------
    def send(self, sock: Socket, offset: int = 0, n: int | None = None) -> int:
        """Send up to ``n`` bytes from ``offset`` (``iov_send``) as ``socket.send`` does: wait for
        the socket to take some (its timeout, then ``TimeoutError``), send what it takes; the
        count sent.  Its timeout and blocking mode stay as they were."""
        return self._transfer(sock, offset, n, sending=True, whole=False)

    def sendall(self, sock: Socket, offset: int = 0, n: int | None = None) -> None:
        """Send all ``n`` bytes from ``offset`` (``iov_send`` until done), as ``socket.sendall``:
        the socket's timeout bounds the whole call."""
        self._transfer(sock, offset, n, sending=True, whole=True)

    def recv_into(self, sock: Socket, offset: int = 0, n: int | None = None) -> int:
        """Receive what has arrived, up to ``n`` bytes, into the vector from ``offset``
        (``iov_recv``), as ``socket.recv_into`` does: wait for some (its timeout, then
        ``TimeoutError``); 0 at the end of the stream."""
        return self._transfer(sock, offset, n, sending=False, whole=False)

    def _transfer(self, sock: Socket, offset: int, n: int | None, *, sending: bool, whole: bool) -> int:
        self._usable()
        fd, timeout = _socket(sock)
        offset = _index("offset", offset)
        n = _rest(self._size(), offset, _optional("n", n))
        blocking = os.get_blocking(fd)  # EBADF for a descriptor that is gone
        deadline = None if timeout is None else time.monotonic() + timeout
        call = self.lib.iov_send if sending else self.lib.iov_recv
        mem = self.mem
        done = 0
        while done < n:
            if timeout != 0.0:
                _wait(fd, sending, deadline)
            if blocking:  # the C loop must not block: it would wait where Ctrl-C is not heard
                os.set_blocking(fd, False)
            try:
                with self._trust:
                    ret = call(mem, fd, self.array, self.count, offset + done, n - done)
            finally:
                if blocking:
                    os.set_blocking(fd, True)
            if ret < 0:
                err = mem.errno
                if err in (errno.EAGAIN, errno.EWOULDBLOCK) and timeout != 0.0:
                    continue  # woken for nothing: wait again
                raise OSError(err, os.strerror(err))
            done += ret
            if not whole or (ret == 0 and not sending):
                break
        return done

    def writev(self, file: File, offset: int = 0, n: int | None = None) -> int:
        """``os.writev`` of the entries of [offset, offset+n) (``iov_copy``) to an fd or a file
        object (flushed first, so what it buffered goes before); the count written."""
        return self._io(file, offset, n, writing=True)

    def readv(self, file: File, offset: int = 0, n: int | None = None) -> int:
        """``os.readv`` into the entries of [offset, offset+n) from an fd or a file object (its
        descriptor: what a buffered file read ahead is not seen); the count read."""
        return self._io(file, offset, n, writing=False)

    def _io(self, file: File, offset: int, n: int | None, *, writing: bool) -> int:
        self._usable()
        fd = _fd("file", file, "a file object or an fd")
        offset = _index("offset", offset)
        n = _rest(self._size(), offset, _optional("n", n))
        if n == 0:
            return 0
        flush = getattr(file, "flush", None)
        if writing and callable(flush):
            flush()
        part = self.copy(offset, n)
        try:
            views = part.buffers()
            return os.writev(fd, views) if writing else os.readv(fd, views)
        finally:
            part.close()

    # -- the discard functions ----------------------------------------------------------------
    @contextmanager
    def discarded(self, front: int = 0, back: int = 0) -> Iterator[IOVector[M]]:
        """The vector without its first ``front`` and last ``back`` bytes, for the block.

        ``iov_discard_front_undoable`` then ``iov_discard_back_undoable`` cut the entries in
        place (this vector sees the cuts too, as in C); on the way out, also on an
        exception, ``iov_discard_undo`` restores them in reverse order, unless the array is
        gone by then (its vector closed).  The view ends with the block.
        """
        self._usable()
        front = _index("front", front)
        back = _index("back", back)
        size = self._size()
        if front + back > size:
            raise ValueError(f"front + back: {front + back}, but the vector holds {size} bytes")
        mem, lib, owner = self.mem, self.lib, self._owner
        scratch = owner._make(16 + 2 * UNDO_SIZE)  # struct iovec *iov; unsigned cnt; two undo records
        iov_var, cnt_var, undo_front, undo_back = scratch, scratch + 8, scratch + 16, scratch + 16 + UNDO_SIZE
        owner._cuts += 1
        try:
            mem.set_u64(iov_var, self.array)
            mem.set_u32(cnt_var, self.count)
            with self._trust:
                lib.iov_discard_front_undoable(mem, iov_var, cnt_var, front, undo_front)
            try:
                middle = mem.u64(iov_var)
                with self._trust:
                    lib.iov_discard_back_undoable(mem, middle, cnt_var, back, undo_back)
                mid: IOVector[M] = IOVector._over(self, middle, mem.u32(cnt_var), owner)
                try:
                    yield mid
                finally:
                    mid._end("closed at the end of its discarded() block")
                    if owner._closed_as is None and not _closed(mem):
                        with self._trust:
                            lib.iov_discard_undo(mem, undo_back)
            finally:
                if owner._closed_as is None and not _closed(mem):
                    with self._trust:
                        lib.iov_discard_undo(mem, undo_front)
        finally:
            owner._cuts -= 1
            if owner._closed_as is None and not _closed(mem):
                owner._drop(scratch)

    # -- the end --------------------------------------------------------------------------------
    def close(self) -> None:
        """Close what depends on this vector, then free its array and unmap its buffers."""
        self._end(self._ended)

    def __enter__(self) -> IOVector[M]:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _filled(mem: MemoryLike, n: int, fill: Callable[[int], int], trust: _Trust) -> bytes:
    """A bytes object of ``n`` bytes that ``fill(addr)`` writes in place (one copy of the data:
    an io.BytesIO's buffer, mapped while it fills, then handed out without a copy)."""
    if n == 0:
        return b""
    out = io.BytesIO(bytes(n))
    view = out.getbuffer()
    addr = mem.map(view)
    try:
        with trust:
            got = fill(addr)
    finally:
        mem.unmap(addr)
        with contextlib.suppress(BufferError):  # still exported somewhere: getvalue() copies
            view.release()
    data = out.getvalue()
    return data if got == n else data[:got]


class QIOV(_Node, Generic[M]):
    """A ``QEMUIOVector`` in the memory; a context manager whose exit destroys it.

    Made with ``qemu_iovec_init``; ``add`` maps a buffer and appends it (``qemu_iovec_add``).
    """

    _what = "qiov"
    _ended = "destroyed"

    lib: Library[M]
    mem: M
    #: where the struct is
    addr: int

    @overload
    def __init__(
        self: QIOV[Memory], buffers: Iterable[Buffer] = (), *, alloc_hint: int = 0, mem: Memory | None = None
    ) -> None: ...
    @overload
    def __init__(
        self, buffers: Iterable[Buffer] = (), *, alloc_hint: int = 0, lib: Library[M], mem: M
    ) -> None: ...

    def __init__(
        self, buffers: Iterable[Buffer] = (), *, alloc_hint: int = 0, lib: Any = None, mem: Any = None
    ) -> None:
        lib, mem = _library(lib, mem)
        hint = _index("alloc_hint", alloc_hint)
        if hint > INT_MAX:
            raise ValueError(f"alloc_hint: {hint} does not fit a C int")
        views = _buffer_views(buffers)
        self._setup(lib, mem)
        self.addr = self._make(QIOV_SIZE)
        with self._trust:
            lib.qemu_iovec_init(mem, self.addr, max(hint, len(views)))
        for view in views:
            self._add(view)

    @classmethod
    def _blank(cls, parent: QIOV[M] | None, like: QIOV[M]) -> QIOV[M]:
        """Room for a vector another function initialises (on ``like``'s side), depending on
        ``parent``."""
        q = cls.__new__(cls)
        q._setup(like.lib, like.mem)
        q.addr = q._make(QIOV_SIZE)
        if parent is not None:
            q._depend_on(parent)
        return q

    def _usable(self, name: str | None = None) -> None:
        super()._usable(name)
        if self._cuts:
            raise ValueError(f"{name or self._what}: its entries are cut by an open discarded() block")

    def _other(self, other: object) -> QIOV[M]:
        """``other`` as a QIOV this one can work with."""
        if not isinstance(other, QIOV):
            raise TypeError(f"other: expected a QIOV, got {type(other).__name__}")
        other._usable("other")
        if other.mem is not self.mem:
            raise ValueError("other: lives in another memory")
        return other

    def _end_views(self) -> None:
        """The array may move: the vector() views of it end."""
        for d in list(self._dependants):
            if isinstance(d, IOVector) and d._owner is self:
                d._end("closed when its QIOV's entries changed")

    # -- what it holds -----------------------------------------------------------
    @property
    def fields(self) -> QiovFields:
        """The struct's fields, read now (a frozen copy: write through the methods)."""
        self._usable()
        return read_qiov(self.mem, self.addr)

    @property
    def size(self) -> int:
        return self.fields.size

    @property
    def niov(self) -> int:
        return self.fields.niov

    @property
    def nalloc(self) -> int:
        return self.fields.nalloc

    def __len__(self) -> int:
        return self.size

    def __repr__(self) -> str:
        if self._closed_as is not None or _closed(self.mem):
            return f"<QIOV {self._closed_as or 'of a closed memory'}>"
        f = read_qiov(self.mem, self.addr)
        return f"<QIOV niov={f.niov} nalloc={f.nalloc} size={f.size}>"

    def entries(self) -> list[tuple[int, int]]:
        f = self.fields
        return read_iovecs(self.mem, f.iov, max(f.niov, 0))

    def vector(self) -> IOVector[M]:
        """An :class:`IOVector` over this vector's entries; it ends when this one adds entries
        (its array may move) or is destroyed."""
        f = self.fields
        return IOVector._over(self, f.iov, max(f.niov, 0), self)

    def buffers(self) -> list[memoryview]:
        return [self._buffers.view(base, n) for base, n in self.entries()]

    # -- building ---------------------------------------------------------------
    def _growable(self) -> None:
        if read_qiov(self.mem, self.addr).nalloc == -1:
            raise ValueError("qiov: a vector of one buffer (nalloc -1) cannot grow")

    def add(self, buffer: Buffer) -> None:
        """Map ``buffer`` and append it as one entry (``qemu_iovec_add``)."""
        self._usable()
        view = _bytes_view(buffer, "buffer", writable=True)
        self._growable()
        self._end_views()
        addr = self._map(view)
        with self._trust:
            self.lib.qemu_iovec_add(self.mem, self.addr, addr, len(view))

    def _add(self, view: memoryview) -> None:
        addr = self._map(view)
        with self._trust:
            self.lib.qemu_iovec_add(self.mem, self.addr, addr, len(view))

    def concat(self, other: QIOV[M], offset: int = 0, n: int | None = None) -> None:
        """Append entries for ``n`` bytes of ``other`` from ``offset`` (``qemu_iovec_concat``);
        this vector then depends on the objects owning those bytes' buffers."""
        self._usable()
        other = self._other(other)
        offset = _index("offset", offset)
        n = _rest(other.size, offset, _optional("n", n))
        if n == 0:
            return  # qemu_iovec_concat_iov returns before anything else
        self._growable()
        if other is self:  # C would read the array it grows (g_renew frees it): a slice first
            part = self.slice(offset, n)
            try:
                self.concat(part)
            finally:
                part.destroy()
            return
        self._end_views()
        with self._trust:
            self.lib.qemu_iovec_concat(self.mem, self.addr, other.addr, offset, n)
        for owner in self._buffers.owners_of(other.entries()):
            self._depend_on(owner)

    def slice(self, offset: int, n: int) -> QIOV[M]:
        """A new vector over [offset, offset+n) of this one (``qemu_iovec_init_slice``); it
        depends on this one."""
        self._usable()
        offset = _index("offset", offset)
        n = _rest(self.size, offset, _index("n", n))
        niov = self.niov
        if niov > IOV_MAX:
            raise ValueError(f"qiov: {niov} entries, but a slice is made of at most IOV_MAX ({IOV_MAX})")
        q = QIOV._blank(self, self)
        with self._trust:
            self.lib.qemu_iovec_init_slice(self.mem, q.addr, self.addr, offset, n)
        return q

    def clone(self, buffer: Buffer | None = None) -> QIOV[M]:
        """A vector laid out like this one over ``buffer`` (default: a new one of ``size``
        bytes), overlaps kept (``qemu_iovec_clone``); no bytes are copied.  It owns its
        buffer and array: it depends on nothing."""
        self._usable()
        f = self.fields
        view = None if buffer is None else _bytes_view(buffer, "buffer", writable=True)
        if f.niov <= 0:
            raise ValueError("qiov: clone of an empty vector (its C VLA would have length 0)")
        if f.niov * SORTELEM_SIZE > STACK_LIMIT:
            raise ValueError(f"qiov: clone of {f.niov} entries (its C VLA would overflow the stack)")
        if view is None:
            view = memoryview(bytearray(f.size))
        elif len(view) < f.size:
            raise ValueError(f"buffer: {len(view)} bytes, but the vector holds {f.size}")
        q = QIOV._blank(None, self)
        with self._trust:
            self.lib.qemu_iovec_init(self.mem, q.addr, f.niov)
        addr = q._map(view)
        with self._trust:
            self.lib.qemu_iovec_clone(self.mem, q.addr, self.addr, addr)
        return q

    # -- bytes --------------------------------------------------------------------
    def is_zero(self, offset: int = 0, n: int | None = None) -> bool:
        self._usable()
        offset = _index("offset", offset)
        n = _rest(self.size, offset, _optional("n", n))
        with self._trust:
            return self.lib.qemu_iovec_is_zero(self.mem, self.addr, offset, n)

    def compare(self, other: QIOV[M]) -> int | None:
        """The offset of the first differing byte, or None (``qemu_iovec_compare``: both must
        have the same entry lengths)."""
        self._usable()
        other = self._other(other)
        if [n for _, n in self.entries()] != [n for _, n in other.entries()]:
            raise ValueError(
                "other: its entries differ in length from this vector's (qemu_iovec_compare asserts)"
            )
        with self._trust:
            ret = self.lib.qemu_iovec_compare(self.mem, self.addr, other.addr)
        return None if ret == -1 else ret

    def to_bytes(self, offset: int = 0, n: int | None = None) -> bytes:
        """``n`` bytes from ``offset`` (default: to the end), through ``qemu_iovec_to_buf``."""
        self._usable()
        offset = _index("offset", offset)
        n = _rest(self.size, offset, _optional("n", n))
        mem, lib, qiov = self.mem, self.lib, self.addr
        return _filled(mem, n, lambda addr: lib.qemu_iovec_to_buf(mem, qiov, offset, addr, n), self._trust)

    def write(self, data: Buffer, offset: int = 0) -> int:
        self._usable()
        view = _bytes_view(data, "data", writable=False)
        offset = _index("offset", offset)
        _offset(self.size, offset)
        mem = self.mem
        addr = mem.map(view, readonly=True)
        try:
            with self._trust:
                return self.lib.qemu_iovec_from_buf(mem, self.addr, offset, addr, len(view))
        finally:
            mem.unmap(addr)

    def fill(self, byte: int, offset: int = 0, n: int | None = None) -> int:
        self._usable()
        byte = _byte("byte", byte)
        offset = _index("offset", offset)
        n = _rest(self.size, offset, _optional("n", n))
        with self._trust:
            return self.lib.qemu_iovec_memset(self.mem, self.addr, offset, byte, n)

    # -- the end ------------------------------------------------------------------
    def _free(self) -> None:
        if not _closed(self.mem):
            with self._trust:
                self.lib.qemu_iovec_destroy(self.mem, self.addr)  # frees an owned array
        super()._free()

    def destroy(self) -> None:
        """Destroy what depends on this vector, then it (``qemu_iovec_destroy``): its array,
        struct and mapped buffers are freed.  Again: nothing."""
        self._end(self._ended)

    close = destroy

    def __enter__(self) -> QIOV[M]:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.destroy()
