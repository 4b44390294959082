"""Byte layouts of the C structs on x86-64 (LP64), shared by every world, and what a memory offers.

The port keeps structs in memory exactly as C does, so a pointer to an iovec,
a ``QEMUIOVector`` or an ``IOVDiscardUndo`` is just an address.  These helpers
read and write them through any object with the :class:`LoadStore` loads and
stores, which lets the harness decode both worlds with the same code.
:class:`MemoryLike` is what both memories (:class:`pyimpl.Memory` and
``reference_c.CMemory``) offer a library user, so code written for either side
type-checks against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from typing_extensions import Buffer

#: the struct layouts and helpers that pyimpl and reference_c both export
__all__ = [
    "IOVEC_SIZE",
    "QIOV_SIZE",
    "UNDO_SIZE",
    "LoadStore",
    "MemoryLike",
    "QiovFields",
    "UndoFields",
    "read_iovecs",
    "read_qiov",
    "read_undo",
    "write_iovecs",
    "write_qiov",
    "write_undo",
]

IOVEC_SIZE = 16
IOV_BASE = 0
IOV_LEN = 8

# QEMUIOVector: { iov; niov; union { { nalloc; local_iov }; { __pad[12]; size } } }
QIOV_SIZE = 40
QIOV_IOV = 0
QIOV_NIOV = 8
QIOV_NALLOC = 16
QIOV_LOCAL_IOV = 24
QIOV_SIZE_FIELD = 32  # the same bytes as local_iov.iov_len
#: byte ranges of a QEMUIOVector that are padding (unspecified in C)
QIOV_PADDING = ((12, 16), (20, 24))

# IOVDiscardUndo: { struct iovec *modified_iov; struct iovec orig; }
UNDO_SIZE = 24
UNDO_MODIFIED = 0
UNDO_ORIG = 8

# IOVectorSortElem (qemu_iovec_clone): { int src_index; struct iovec *src_iov; void *dest_base; }
SORTELEM_SIZE = 24
SORTELEM_INDEX = 0
SORTELEM_SRC_IOV = 8
SORTELEM_DEST_BASE = 16

IOV_MAX = 1024
EINVAL = 22


@dataclass(frozen=True)
class HeapStats:
    """What the code under test did with the GLib heap."""

    allocs: int
    reallocs: int
    frees: int
    live: int


class LoadStore(Protocol):
    """Loads and stores at integer addresses (pyimpl.Memory, reference_c.CMemory)."""

    def read(self, addr: int, n: int) -> bytes: ...
    def write(self, addr: int, data: bytes | bytearray | memoryview) -> None: ...
    def u64(self, addr: int) -> int: ...
    def set_u64(self, addr: int, value: int) -> None: ...
    def i32(self, addr: int) -> int: ...
    def set_i32(self, addr: int, value: int) -> None: ...
    def u32(self, addr: int) -> int: ...
    def set_u32(self, addr: int, value: int) -> None: ...


class MemoryLike(LoadStore, Protocol):
    """A memory a library user works in: ``pyimpl.Memory`` and ``reference_c.CMemory`` both are.

    Regions (``buffer`` copies bytes into a new one, ``map`` lends a writable Python
    buffer zero-copy, or with ``readonly=True`` any buffer for the C code to read, ``unmap``
    gives one back), loads and stores, the GLib heap's
    counters and blocks, and the ``errno`` the socket functions set.
    """

    errno: int

    def buffer(self, data: bytes | int) -> int: ...
    def map(self, buffer: Buffer, *, readonly: bool = False) -> int: ...
    def unmap(self, addr: int) -> None: ...
    def heap_stats(self) -> HeapStats: ...
    def heap_block(self, addr: int) -> tuple[int, int] | None: ...


def write_iovecs(mem: LoadStore, addr: int, entries: list[tuple[int, int]]) -> None:
    """Store ``(iov_base, iov_len)`` pairs as a ``struct iovec`` array at ``addr``."""
    for i, (base, length) in enumerate(entries):
        mem.set_u64(addr + i * IOVEC_SIZE + IOV_BASE, base)
        mem.set_u64(addr + i * IOVEC_SIZE + IOV_LEN, length)


def read_iovecs(mem: LoadStore, addr: int, n: int) -> list[tuple[int, int]]:
    """Load ``n`` ``struct iovec`` entries at ``addr`` as ``(iov_base, iov_len)``."""
    return [
        (mem.u64(addr + i * IOVEC_SIZE + IOV_BASE), mem.u64(addr + i * IOVEC_SIZE + IOV_LEN))
        for i in range(n)
    ]


@dataclass(frozen=True)
class QiovFields:
    """The fields of a ``QEMUIOVector`` (``size`` is ``local_iov.iov_len``)."""

    iov: int
    niov: int
    nalloc: int
    local_base: int
    size: int


def read_qiov(mem: LoadStore, addr: int) -> QiovFields:
    """Load the ``QEMUIOVector`` at ``addr``."""
    return QiovFields(
        iov=mem.u64(addr + QIOV_IOV),
        niov=mem.i32(addr + QIOV_NIOV),
        nalloc=mem.i32(addr + QIOV_NALLOC),
        local_base=mem.u64(addr + QIOV_LOCAL_IOV + IOV_BASE),
        size=mem.u64(addr + QIOV_SIZE_FIELD),
    )


def write_qiov(mem: LoadStore, addr: int, f: QiovFields) -> None:
    """Store every field of a ``QEMUIOVector`` at ``addr`` (padding left as it is)."""
    mem.set_u64(addr + QIOV_IOV, f.iov)
    mem.set_i32(addr + QIOV_NIOV, f.niov)
    mem.set_i32(addr + QIOV_NALLOC, f.nalloc)
    mem.set_u64(addr + QIOV_LOCAL_IOV + IOV_BASE, f.local_base)
    mem.set_u64(addr + QIOV_SIZE_FIELD, f.size)


@dataclass(frozen=True)
class UndoFields:
    """The fields of an ``IOVDiscardUndo``."""

    modified_iov: int
    orig_base: int
    orig_len: int


def read_undo(mem: LoadStore, addr: int) -> UndoFields:
    """Load the ``IOVDiscardUndo`` at ``addr``."""
    return UndoFields(
        mem.u64(addr + UNDO_MODIFIED),
        mem.u64(addr + UNDO_ORIG + IOV_BASE),
        mem.u64(addr + UNDO_ORIG + IOV_LEN),
    )


def write_undo(mem: LoadStore, addr: int, f: UndoFields) -> None:
    """Store every field of an ``IOVDiscardUndo`` at ``addr``."""
    mem.set_u64(addr + UNDO_MODIFIED, f.modified_iov)
    mem.set_u64(addr + UNDO_ORIG + IOV_BASE, f.orig_base)
    mem.set_u64(addr + UNDO_ORIG + IOV_LEN, f.orig_len)
