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
memoryviews of the entries, ready for ``os.writev`` or ``socket.sendmsg``.  Mappings,
arrays and structs live in the memory until ``close()`` (or, for the port's own memory
made when none is given, until the vector goes away).
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, overload

from . import iov as _port
from .memory import Memory
from .structs import IOVEC_SIZE, QIOV_SIZE, UNDO_SIZE, MemoryLike, QiovFields, read_iovecs, read_qiov

if TYPE_CHECKING:
    from typing_extensions import Buffer

__all__ = ["QIOV", "IOVector", "Library"]

M = TypeVar("M", bound=MemoryLike)
C = TypeVar("C", bound=MemoryLike, contravariant=True)  # a library is generic in its memory


class _Socket(Protocol):
    def fileno(self) -> int: ...


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


def _bytes_view(buffer: Buffer, *, writable: bool) -> memoryview:
    """``buffer`` as a flat view of bytes (numpy arrays and other formats included)."""
    try:
        view = memoryview(buffer)
    except TypeError:
        raise TypeError(f"buffer: expected a buffer, got {type(buffer).__name__}") from None
    if writable and view.readonly:
        raise TypeError(f"buffer: {type(buffer).__name__} is read-only; a vector maps writable buffers")
    if not view.c_contiguous:
        raise ValueError("buffer: must be C-contiguous")
    return view if view.format == "B" and view.ndim == 1 else view.cast("B")


class _Maps:
    """The Python buffers a family of vectors mapped into one memory, by address."""

    def __init__(self, mem: MemoryLike) -> None:
        self.mem = mem
        self.starts: list[int] = []
        self.views: list[memoryview] = []
        self.owned: list[int] = []  # arrays and structs this family made
        self.linked: list[_Maps] = []  # other families whose entries this one took (concat)

    def map(self, buffer: Buffer) -> tuple[int, int]:
        view = _bytes_view(buffer, writable=True)
        addr = self.mem.map(view)
        i = bisect.bisect(self.starts, addr)
        self.starts.insert(i, addr)
        self.views.insert(i, view)
        return addr, len(view)

    def make(self, size: int) -> int:
        addr = self.mem.buffer(size)
        self.owned.append(addr)
        return addr

    def view(self, addr: int, n: int) -> memoryview:
        """The bytes [addr, addr+n) of one mapped buffer, zero-copy."""
        if n == 0:
            return memoryview(bytearray())
        for maps in (self, *self.linked):
            i = bisect.bisect(maps.starts, addr) - 1
            if i >= 0:
                off = addr - maps.starts[i]
                view = maps.views[i]
                if off + n <= len(view):
                    return view[off : off + n]
        raise ValueError(f"entry: {n} bytes at {addr:#x} are not inside one buffer of this vector")

    def close(self) -> None:
        for addr in [*self.starts, *self.owned]:
            self.mem.unmap(addr)
        self.starts.clear()
        self.views.clear()
        self.owned.clear()
        self.linked.clear()


class _Lent:
    """A Python buffer lent to the memory for one call (mapped, then unmapped)."""

    def __init__(self, mem: MemoryLike, data: Buffer, *, writable: bool) -> None:
        view = _bytes_view(data, writable=False)
        if view.readonly:
            if writable:
                raise TypeError("buf: read-only; pass a bytearray or a writable memoryview")
            view = memoryview(bytearray(view))  # the C code takes a const void *, a copy will do
        self.mem, self.view = mem, view
        self.addr = mem.map(view)

    def __enter__(self) -> _Lent:
        return self

    def __exit__(self, *exc: object) -> None:
        self.mem.unmap(self.addr)


class IOVector(Generic[M]):
    """A ``struct iovec`` array over Python buffers, one entry per buffer.

    ``len()`` is the total byte count (``iov_size``); offsets and counts are in bytes from
    the start of the vector, as in C.
    """

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
        self.lib, self.mem = _library(lib, mem)
        self._maps = _Maps(self.mem)
        self._owner = True
        entries = [self._maps.map(b) for b in buffers]
        self.count = len(entries)
        self.array = self._maps.make(IOVEC_SIZE * max(self.count, 1))
        for i, (addr, n) in enumerate(entries):
            self.mem.set_u64(self.array + IOVEC_SIZE * i, addr)
            self.mem.set_u64(self.array + IOVEC_SIZE * i + 8, n)

    @classmethod
    def _over(cls, family: IOVector[M] | QIOV[M], array: int, count: int) -> IOVector[M]:
        """Another vector over ``count`` entries at ``array``, sharing ``family``'s buffers."""
        v = cls.__new__(cls)
        v.lib, v.mem, v._maps, v._owner = family.lib, family.mem, family._maps, False
        v.array, v.count = array, count
        return v

    def __len__(self) -> int:
        return self.lib.iov_size(self.mem, self.array, self.count)

    def __repr__(self) -> str:
        return f"<IOVector {self.count} entries, {len(self)} bytes>"

    def _rest(self, offset: int, n: int | None) -> int:
        return _rest(len(self), offset, n)

    def entries(self) -> list[tuple[int, int]]:
        """The ``(iov_base, iov_len)`` of each entry, as the array holds them now."""
        return read_iovecs(self.mem, self.array, self.count)

    def buffers(self) -> list[memoryview]:
        """Each entry's bytes as a memoryview (zero-copy), for ``os.writev``/``socket.sendmsg``."""
        return [self._maps.view(base, n) for base, n in self.entries()]

    def readinto(self, buf: Buffer, offset: int = 0) -> int:
        """Copy up to ``len(buf)`` bytes from ``offset`` into ``buf`` (``iov_to_buf``); the count."""
        _rest(len(self), offset, None)
        with _Lent(self.mem, buf, writable=True) as out:
            return self.lib.iov_to_buf(self.mem, self.array, self.count, offset, out.addr, len(out.view))

    def read(self, offset: int = 0, n: int | None = None) -> bytes:
        """``n`` bytes from ``offset`` (default: to the end), through ``iov_to_buf``."""
        out = bytearray(self._rest(offset, n))
        got = self.readinto(out, offset)
        return bytes(out[:got])

    def write(self, data: Buffer, offset: int = 0) -> int:
        """Copy ``data`` into the vector from ``offset`` (``iov_from_buf``); the count copied."""
        _rest(len(self), offset, None)
        with _Lent(self.mem, data, writable=False) as src:
            return self.lib.iov_from_buf(self.mem, self.array, self.count, offset, src.addr, len(src.view))

    def fill(self, byte: int, offset: int = 0, n: int | None = None) -> int:
        """Set ``n`` bytes from ``offset`` (default: to the end) to ``byte`` (``iov_memset``)."""
        return self.lib.iov_memset(self.mem, self.array, self.count, offset, byte, self._rest(offset, n))

    def copy(self, offset: int = 0, n: int | None = None) -> IOVector[M]:
        """A new vector over the same bytes [offset, offset+n) (``iov_copy``: no data copied)."""
        dst = self._maps.make(IOVEC_SIZE * max(self.count, 1))
        got = self.lib.iov_copy(
            self.mem, dst, self.count, self.array, self.count, offset, self._rest(offset, n)
        )
        return IOVector._over(self, dst, got)

    def send(self, sock: _Socket, offset: int = 0, n: int | None = None) -> int:
        """Send ``n`` bytes from ``offset`` (``iov_send``): the count sent; ``OSError`` on failure."""
        ret = self.lib.iov_send(
            self.mem, sock.fileno(), self.array, self.count, offset, self._rest(offset, n)
        )
        return self._transferred(ret)

    def recv_into(self, sock: _Socket, offset: int = 0, n: int | None = None) -> int:
        """Receive up to ``n`` bytes into the vector from ``offset`` (``iov_recv``)."""
        ret = self.lib.iov_recv(
            self.mem, sock.fileno(), self.array, self.count, offset, self._rest(offset, n)
        )
        return self._transferred(ret)

    def _transferred(self, ret: int) -> int:
        if ret < 0:
            err = self.mem.errno
            raise OSError(err, os.strerror(err))
        return ret

    @contextmanager
    def discarded(self, front: int = 0, back: int = 0) -> Iterator[IOVector[M]]:
        """The vector without its first ``front`` and last ``back`` bytes, for the block.

        ``iov_discard_front_undoable`` then ``iov_discard_back_undoable`` cut the entries in
        place (this vector sees the cuts too, as in C); on the way out, also on an
        exception, ``iov_discard_undo`` restores them in reverse order.
        """
        if front + back > len(self):
            raise ValueError(f"front + back: {front + back}, but the vector holds {len(self)} bytes")
        mem = self.mem
        scratch = mem.buffer(16 + 2 * UNDO_SIZE)  # struct iovec *iov; unsigned cnt; two undo records
        iov_var, cnt_var, undo_front, undo_back = scratch, scratch + 8, scratch + 16, scratch + 16 + UNDO_SIZE
        try:
            mem.set_u64(iov_var, self.array)
            mem.set_u32(cnt_var, self.count)
            self.lib.iov_discard_front_undoable(mem, iov_var, cnt_var, front, undo_front)
            try:
                middle = mem.u64(iov_var)
                self.lib.iov_discard_back_undoable(mem, middle, cnt_var, back, undo_back)
                try:
                    yield IOVector._over(self, middle, mem.u32(cnt_var))
                finally:
                    self.lib.iov_discard_undo(mem, undo_back)
            finally:
                self.lib.iov_discard_undo(mem, undo_front)
        finally:
            mem.unmap(scratch)

    def close(self) -> None:
        """Unmap the buffers and free the arrays this vector (and those made from it) use."""
        if self._owner:
            self._maps.close()

    def __enter__(self) -> IOVector[M]:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class QIOV(Generic[M]):
    """A ``QEMUIOVector`` in the memory; a context manager whose exit destroys it.

    Made with ``qemu_iovec_init``; ``add`` maps a buffer and appends it (``qemu_iovec_add``).
    """

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
        self.lib, self.mem = _library(lib, mem)
        self._maps = _Maps(self.mem)
        self._owner = True
        buffers = list(buffers)
        self.addr = self._maps.make(QIOV_SIZE)
        self.lib.qemu_iovec_init(self.mem, self.addr, max(alloc_hint, len(buffers)))
        self._live = True
        for b in buffers:
            self.add(b)

    @classmethod
    def _blank(cls, family: QIOV[M]) -> QIOV[M]:
        """Room for a vector another function initialises, sharing ``family``'s buffers."""
        q = cls.__new__(cls)
        q.lib, q.mem, q._maps, q._owner = family.lib, family.mem, family._maps, False
        q.addr = q._maps.make(QIOV_SIZE)
        q._live = True
        return q

    def _check(self, other: QIOV[M] | None = None) -> None:
        if not self._live:
            raise ValueError("qiov: destroyed")
        if other is not None:
            if not other._live:
                raise ValueError("other: destroyed")
            if other.mem is not self.mem:
                raise ValueError("other: lives in another memory")

    # -- what it holds -----------------------------------------------------------
    @property
    def fields(self) -> QiovFields:
        """The struct's fields, read now (a frozen copy: write through the methods)."""
        self._check()
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
        if not self._live:
            return "<QIOV destroyed>"
        f = self.fields
        return f"<QIOV niov={f.niov} nalloc={f.nalloc} size={f.size}>"

    def entries(self) -> list[tuple[int, int]]:
        f = self.fields
        return read_iovecs(self.mem, f.iov, max(f.niov, 0))

    def vector(self) -> IOVector[M]:
        """An :class:`IOVector` over this vector's entries (valid while they stay where they are)."""
        f = self.fields
        return IOVector._over(self, f.iov, max(f.niov, 0))

    def buffers(self) -> list[memoryview]:
        return self.vector().buffers()

    # -- building ---------------------------------------------------------------
    def add(self, buffer: Buffer) -> None:
        """Map ``buffer`` and append it as one entry (``qemu_iovec_add``)."""
        self._check()
        addr, n = self._maps.map(buffer)
        self.lib.qemu_iovec_add(self.mem, self.addr, addr, n)

    def concat(self, other: QIOV[M], offset: int = 0, n: int | None = None) -> None:
        """Append entries for ``n`` bytes of ``other`` from ``offset`` (``qemu_iovec_concat``)."""
        self._check(other)
        self.lib.qemu_iovec_concat(self.mem, self.addr, other.addr, offset, _rest(other.size, offset, n))
        if other._maps is not self._maps and other._maps not in self._maps.linked:
            self._maps.linked.append(other._maps)

    def slice(self, offset: int, n: int) -> QIOV[M]:
        """A new vector over [offset, offset+n) of this one (``qemu_iovec_init_slice``)."""
        self._check()
        q = QIOV._blank(self)
        self.lib.qemu_iovec_init_slice(self.mem, q.addr, self.addr, offset, n)
        return q

    def clone(self, buffer: Buffer | None = None) -> QIOV[M]:
        """A vector laid out like this one over ``buffer`` (default: a new one of ``size``
        bytes), overlaps kept (``qemu_iovec_clone``); no bytes are copied."""
        self._check()
        if self.niov <= 0:
            raise ValueError("qiov: clone of an empty vector (its C VLA would have length 0)")
        q = QIOV._blank(self)
        self.lib.qemu_iovec_init(self.mem, q.addr, self.niov)
        addr, _ = q._maps.map(bytearray(self.size) if buffer is None else buffer)
        self.lib.qemu_iovec_clone(self.mem, q.addr, self.addr, addr)
        return q

    # -- bytes --------------------------------------------------------------------
    def is_zero(self, offset: int = 0, n: int | None = None) -> bool:
        self._check()
        return self.lib.qemu_iovec_is_zero(self.mem, self.addr, offset, _rest(self.size, offset, n))

    def compare(self, other: QIOV[M]) -> int | None:
        """The offset of the first differing byte, or None (``qemu_iovec_compare``: both must
        have the same entry lengths, or its assert fails)."""
        self._check(other)
        ret = self.lib.qemu_iovec_compare(self.mem, self.addr, other.addr)
        return None if ret == -1 else ret

    def to_bytes(self, offset: int = 0, n: int | None = None) -> bytes:
        self._check()
        out = bytearray(_rest(self.size, offset, n))
        with _Lent(self.mem, out, writable=True) as lent:
            got = self.lib.qemu_iovec_to_buf(self.mem, self.addr, offset, lent.addr, len(out))
        return bytes(out[:got])

    def write(self, data: Buffer, offset: int = 0) -> int:
        self._check()
        _rest(self.size, offset, None)
        with _Lent(self.mem, data, writable=False) as src:
            return self.lib.qemu_iovec_from_buf(self.mem, self.addr, offset, src.addr, len(src.view))

    def fill(self, byte: int, offset: int = 0, n: int | None = None) -> int:
        self._check()
        return self.lib.qemu_iovec_memset(self.mem, self.addr, offset, byte, _rest(self.size, offset, n))

    # -- the end ------------------------------------------------------------------
    def destroy(self) -> None:
        """``qemu_iovec_destroy`` (frees an owned array); then the struct's memory goes too, and
        for the vector a family started, the buffers it mapped (destroy slices and clones first:
        they share them)."""
        if not self._live:
            return
        self._live = False
        if self.addr in self._maps.owned:  # its family is still open
            self.lib.qemu_iovec_destroy(self.mem, self.addr)
            self._maps.owned.remove(self.addr)
            self.mem.unmap(self.addr)
        if self._owner:
            self._maps.close()

    def __enter__(self) -> QIOV[M]:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.destroy()


def _rest(size: int, offset: int, n: int | None) -> int:
    """The bytes from ``offset`` to use: ``n``, or all of them; C asserts past the end, we raise."""
    if offset > size:
        raise ValueError(f"offset: {offset}, but the vector holds {size} bytes")
    rest = size - offset
    if n is None:
        return rest
    if n > rest:
        raise ValueError(f"n: {n}, but the vector holds {rest} bytes past offset {offset}")
    return n


def _library(lib: Any, mem: Any) -> tuple[Any, Any]:
    if lib is None:
        return _port, Memory() if mem is None else mem
    if mem is None:
        raise TypeError(
            f"mem: required with lib={getattr(lib, '__name__', lib)!r} (e.g. reference_c.memory())"
        )
    return lib, mem
