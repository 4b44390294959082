"""Exceptions that stand for what the C code does when it does not return normally."""

from __future__ import annotations


class CAssertionError(AssertionError):
    """A C ``assert()`` failed; raised at the same point as in ``iov.c``.

    ``expr`` is the asserted expression as written in C, ``func`` the C function
    and ``line`` the line in ``file`` (``iov.c`` for the file under test).
    Everything written before the assertion stays written, exactly as in C.
    """

    def __init__(self, expr: str, func: str, line: int, file: str = "iov.c") -> None:
        super().__init__(f"{file}:{line}: {func}: Assertion `{expr}' failed.")
        self.expr = expr
        self.func = func
        self.line = line
        self.file = file


class UndefinedBehaviour(Exception):
    """The C code would have undefined behaviour here, so no value is invented.

    ``kind`` is one of :data:`UB_KINDS`; ``detail`` says where.
    """

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind
        self.detail = detail


#: The kinds of undefined behaviour the port recognises.
UB_KINDS = (
    "out-of-bounds",  # a load or store outside any live object (e.g. past an iovec array)
    "use-after-free",  # an access to a heap block already freed
    "invalid-free",  # g_free/g_renew of something that is not a live heap block
    "null-pointer",  # memcpy/memset with a NULL pointer, or a NULL dereference
    "zero-length-vla",  # a variable-length array of size <= 0 (qemu_iovec_clone)
    "signed-overflow",  # int arithmetic leaving the int range
    "overlapping-memcpy",  # memcpy between overlapping areas
    "stack-overflow",  # a variable-length array larger than the stack
)


class GLibFatalError(Exception):
    """GLib aborted the process (e.g. ``g_new`` with a count whose byte size overflows)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
