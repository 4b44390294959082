"""The compiled C original (QEMU util/iov.c) behind the same API as pyimpl.

``load()`` builds (or finds in the cache) a cffi extension of the chosen C
source with our shims, and returns a :class:`Reference`.  ``Reference.memory()``
gives a :class:`CMemory`: real process memory with the same loads, stores and
heap observers as :class:`pyimpl.memory.Memory`.  The module-level functions
(one per row of :mod:`iovspec.ctable`, see ``_facade.py``) take that memory first
and then the C arguments in C order; pointers are int addresses (NULL is 0) and
ints are converted to the C parameter types the way C converts them.

A failing C assert raises :class:`iovspec.errors.CAssertionError`, a fatal GLib
error :class:`iovspec.errors.GLibFatalError`, a fatal signal :class:`CCrash`,
an endless loop :class:`CTimeout` and a function the source lacks (or defines
with another prototype) :class:`MissingFunction`; the process survives all of
them (trap flavour).
"""

from __future__ import annotations

from iovspec import structs
from iovspec.errors import CAssertionError, GLibFatalError
from iovspec.structs import *  # noqa: F403  (structs.__all__, shared with pyimpl)
from iovspec.structs import HeapStats

from ._facade import *  # noqa: F403  (the public C functions, generated from the table)

# the static helpers: importable (the harness calls them), not part of the API
from ._facade import (  # noqa: F401
    do_send_recv,
    iov_skip_offset,
    qiov_slice,
    sortelem_cmp_src_base,
    sortelem_cmp_src_index,
)
from ._forked import AbortModeMismatch
from .errors import BuildError, CCrash, CTimeout, MissingFunction
from .reference import DEFAULT_SOURCE, DEFAULT_TIMEOUT, CMemory, Reference, load


def memory(c_source: str | None = None) -> CMemory:
    """A fresh memory of the C reference (``load(c_source).memory()``); close it when done."""
    return load(c_source).memory()


# A literal list, so type checkers read it (mypy takes a module for a protocol such as
# pyimpl.sg.Library only through a literal __all__); tests/test_library_api.py checks that it
# is this package's own names, iovspec.structs.__all__ and _facade.__all__ (the table's functions)
__all__ = [
    "DEFAULT_SOURCE",
    "DEFAULT_TIMEOUT",
    "AbortModeMismatch",
    "BuildError",
    "CAssertionError",
    "CCrash",
    "CMemory",
    "CTimeout",
    "GLibFatalError",
    "HeapStats",
    "MissingFunction",
    "Reference",
    "load",
    "memory",
    # iovspec.structs.__all__
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
    # _facade.__all__: the public C functions, in table order
    "iov_from_buf_full",
    "iov_to_buf_full",
    "iov_memset",
    "iov_size",
    "iov_send_recv",
    "iov_send_recv_with_flags",
    "iov_hexdump",
    "iov_copy",
    "qemu_iovec_init",
    "qemu_iovec_init_external",
    "qemu_iovec_add",
    "qemu_iovec_concat_iov",
    "qemu_iovec_concat",
    "qemu_iovec_slice",
    "qemu_iovec_subvec_niov",
    "qemu_iovec_init_extended",
    "qemu_iovec_is_zero",
    "qemu_iovec_init_slice",
    "qemu_iovec_destroy",
    "qemu_iovec_reset",
    "qemu_iovec_to_buf",
    "qemu_iovec_from_buf",
    "qemu_iovec_memset",
    "qemu_iovec_compare",
    "qemu_iovec_clone",
    "iov_discard_undo",
    "iov_discard_front_undoable",
    "iov_discard_front",
    "iov_discard_back_undoable",
    "iov_discard_back",
    "qemu_iovec_discard_back",
    "iov_from_buf",
    "iov_to_buf",
    "iov_send",
    "iov_recv",
    "qemu_iovec_init_buf",
    "qemu_iovec_buf",
]


def _is_memory_like(mem: CMemory) -> structs.MemoryLike:  # mypy checks CMemory satisfies the protocol
    return mem
