"""The argument contract both sides keep: the buffers a memory maps, and how a wrong type is named.

``pyimpl.Memory.map`` and ``reference_c.CMemory.map`` take the same buffers and refuse the same
ones with the same error, and both sides name a wrong argument's type the same way
(``mem: expected pyimpl.Memory, got reference_c.CMemory``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing_extensions import Buffer


def writable_view(buffer: Buffer) -> memoryview:
    """``buffer`` as a memoryview a C function may write through; else a TypeError or
    ValueError naming the argument (what ``map`` takes, on both sides)."""
    try:
        view = memoryview(buffer)
    except TypeError:
        raise TypeError(f"buffer: expected a writable buffer, got {type(buffer).__name__}") from None
    if view.readonly:
        raise TypeError("buffer: must be writable (use a bytearray)")
    if not view.c_contiguous:
        raise ValueError("buffer: must be C-contiguous")
    return view


def readonly_view(buffer: Buffer) -> memoryview:
    """``buffer`` (writable or not) as a memoryview a C function may read through (``map``'s
    ``readonly=True``, on both sides)."""
    try:
        view = memoryview(buffer)
    except TypeError:
        raise TypeError(f"buffer: expected a buffer, got {type(buffer).__name__}") from None
    if not view.c_contiguous:
        raise ValueError("buffer: must be C-contiguous")
    return view


def type_name(value: object) -> str:
    """``package.Class`` of ``value``'s type (``reference_c.CMemory``; builtins plainly)."""
    cls = type(value)
    package = cls.__module__.split(".")[0]
    return cls.__qualname__ if package == "builtins" else f"{package}.{cls.__qualname__}"
