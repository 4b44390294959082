"""The C integer types of LP64 (x86-64) as iov.c uses them: their limits and conversions.

Both sides convert a Python ``int`` the way C converts a value to the type: the port in its
arithmetic (``size_t(a + b)`` wraps as C's unsigned sum does), the facade of ``reference_c`` on
the way into cffi.
"""

from __future__ import annotations

SIZE_MAX = (1 << 64) - 1
INT_MAX = (1 << 31) - 1
INT_MIN = -(1 << 31)
UINT_MAX = (1 << 32) - 1


def size_t(value: int) -> int:
    """``value`` converted to ``size_t`` (modulo 2**64)."""
    return value & SIZE_MAX


def unsigned(value: int) -> int:
    """``value`` converted to ``unsigned int`` (modulo 2**32)."""
    return value & UINT_MAX


def ssize_t(value: int) -> int:
    """``value`` converted to ``ssize_t`` (two's complement, 64 bits)."""
    value &= SIZE_MAX
    return value - (1 << 64) if value >> 63 else value


def int_(value: int) -> int:
    """``value`` converted to ``int`` (two's complement, 32 bits, as GCC does)."""
    value &= UINT_MAX
    return value - (1 << 32) if value >> 31 else value
