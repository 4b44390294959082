"""A pure-Python port of QEMU's ``util/iov.c`` (scatter/gather iovec helpers).

Memory is modelled explicitly: a :class:`Memory` holds regions at integer
addresses, structs live in it with their x86-64 layout, and every function takes
that memory first, then the C arguments in C order::

    import pyimpl
    mem = pyimpl.Memory()
    data = mem.buffer(b"hello, world")
    iov = mem.buffer(32)
    pyimpl.write_iovecs(mem, iov, [(data, 5), (data + 7, 5)])
    out = mem.buffer(10)
    assert pyimpl.iov_to_buf(mem, iov, 2, 0, out, 10) == 10
    assert mem.read(out, 10) == b"helloworld"

A failing C ``assert`` raises :class:`CAssertionError`; undefined behaviour in C
raises :class:`UndefinedBehaviour`; a GLib abort raises :class:`GLibFatalError`.
"""

from iovspec import ctable, structs
from iovspec.ctable import TABLE, CFunction
from iovspec.errors import UB_KINDS, CAssertionError, GLibFatalError, UndefinedBehaviour
from iovspec.structs import *  # noqa: F403  (structs.__all__, shared with reference_c)
from iovspec.structs import HeapStats

from .hooks import observing_asserts
from .iov import (
    do_send_recv,
    iov_copy,
    iov_discard_back,
    iov_discard_back_undoable,
    iov_discard_front,
    iov_discard_front_undoable,
    iov_discard_undo,
    iov_from_buf,
    iov_from_buf_full,
    iov_hexdump,
    iov_memset,
    iov_recv,
    iov_send,
    iov_send_recv,
    iov_send_recv_with_flags,
    iov_size,
    iov_skip_offset,
    iov_to_buf,
    iov_to_buf_full,
    qemu_iovec_add,
    qemu_iovec_buf,
    qemu_iovec_clone,
    qemu_iovec_compare,
    qemu_iovec_concat,
    qemu_iovec_concat_iov,
    qemu_iovec_destroy,
    qemu_iovec_discard_back,
    qemu_iovec_from_buf,
    qemu_iovec_init,
    qemu_iovec_init_buf,
    qemu_iovec_init_extended,
    qemu_iovec_init_external,
    qemu_iovec_init_slice,
    qemu_iovec_is_zero,
    qemu_iovec_memset,
    qemu_iovec_reset,
    qemu_iovec_slice,
    qemu_iovec_subvec_niov,
    qemu_iovec_to_buf,
    qiov_slice,
    sortelem_cmp_src_base,
    sortelem_cmp_src_index,
)
from .memory import Memory

#: the public functions (iov.c and the header inlines), in table order
PUBLIC_FUNCTIONS = tuple(f.name for f in TABLE if f.kind != "static")

__all__ = [
    *structs.__all__,
    "PUBLIC_FUNCTIONS",
    "TABLE",
    "UB_KINDS",
    "CAssertionError",
    "CFunction",
    "GLibFatalError",
    "HeapStats",
    "Memory",
    "UndefinedBehaviour",
    "ctable",
    "observing_asserts",
    # the public C functions; the static helpers stay importable (the harness tests them)
    "iov_copy",
    "iov_discard_back",
    "iov_discard_back_undoable",
    "iov_discard_front",
    "iov_discard_front_undoable",
    "iov_discard_undo",
    "iov_from_buf",
    "iov_from_buf_full",
    "iov_hexdump",
    "iov_memset",
    "iov_recv",
    "iov_send",
    "iov_send_recv",
    "iov_send_recv_with_flags",
    "iov_size",
    "iov_to_buf",
    "iov_to_buf_full",
    "qemu_iovec_add",
    "qemu_iovec_buf",
    "qemu_iovec_clone",
    "qemu_iovec_compare",
    "qemu_iovec_concat",
    "qemu_iovec_concat_iov",
    "qemu_iovec_destroy",
    "qemu_iovec_discard_back",
    "qemu_iovec_from_buf",
    "qemu_iovec_init",
    "qemu_iovec_init_buf",
    "qemu_iovec_init_extended",
    "qemu_iovec_init_external",
    "qemu_iovec_init_slice",
    "qemu_iovec_is_zero",
    "qemu_iovec_memset",
    "qemu_iovec_reset",
    "qemu_iovec_slice",
    "qemu_iovec_subvec_niov",
    "qemu_iovec_to_buf",
]

#: the static helpers, importable but not part of the library's promises
_STATIC = (do_send_recv, iov_skip_offset, qiov_slice, sortelem_cmp_src_base, sortelem_cmp_src_index)


def _is_memory_like(mem: Memory) -> structs.MemoryLike:  # mypy checks Memory satisfies the protocol
    return mem
