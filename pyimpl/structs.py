"""Byte layouts of the C structs on x86-64 (LP64), shared by every world.

The port keeps structs in memory exactly as C does, so a pointer to an iovec,
a ``QEMUIOVector`` or an ``IOVDiscardUndo`` is just an address.  These helpers
read and write them through any object with the :class:`MemoryLike` loads and
stores, which lets the harness decode both worlds with the same code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

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


class MemoryLike(Protocol):
    """Loads and stores at integer addresses (pyimpl.Memory, reference_c.CMemory)."""

    def read(self, addr: int, n: int) -> bytes: ...
    def write(self, addr: int, data: bytes) -> None: ...
    def u64(self, addr: int) -> int: ...
    def set_u64(self, addr: int, value: int) -> None: ...
    def i32(self, addr: int) -> int: ...
    def set_i32(self, addr: int, value: int) -> None: ...
    def u32(self, addr: int) -> int: ...
    def set_u32(self, addr: int, value: int) -> None: ...


def write_iovecs(mem: MemoryLike, addr: int, entries: list[tuple[int, int]]) -> None:
    """Store ``(iov_base, iov_len)`` pairs as a ``struct iovec`` array at ``addr``."""
    for i, (base, length) in enumerate(entries):
        mem.set_u64(addr + i * IOVEC_SIZE + IOV_BASE, base)
        mem.set_u64(addr + i * IOVEC_SIZE + IOV_LEN, length)


def read_iovecs(mem: MemoryLike, addr: int, n: int) -> list[tuple[int, int]]:
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


def read_qiov(mem: MemoryLike, addr: int) -> QiovFields:
    """Load the ``QEMUIOVector`` at ``addr``."""
    return QiovFields(
        iov=mem.u64(addr + QIOV_IOV),
        niov=mem.i32(addr + QIOV_NIOV),
        nalloc=mem.i32(addr + QIOV_NALLOC),
        local_base=mem.u64(addr + QIOV_LOCAL_IOV + IOV_BASE),
        size=mem.u64(addr + QIOV_SIZE_FIELD),
    )


def write_qiov(mem: MemoryLike, addr: int, f: QiovFields) -> None:
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


def read_undo(mem: MemoryLike, addr: int) -> UndoFields:
    """Load the ``IOVDiscardUndo`` at ``addr``."""
    return UndoFields(
        mem.u64(addr + UNDO_MODIFIED),
        mem.u64(addr + UNDO_ORIG + IOV_BASE),
        mem.u64(addr + UNDO_ORIG + IOV_LEN),
    )
