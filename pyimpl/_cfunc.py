"""Argument checking for the port's public functions, driven by their C types.

A library user who passes a wrong type or a value no C argument of that type
can hold gets a ``TypeError``/``ValueError`` naming the argument, before the
function touches memory.  The C types come from the function's row in
:mod:`pyimpl.ctable`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from .ctable import BY_NAME
from .memory import INT_MAX, INT_MIN, SIZE_MAX, UINT_MAX, Memory

F = TypeVar("F", bound=Callable[..., Any])

_RANGES = {
    "size_t": (0, SIZE_MAX),
    "ptr": (0, SIZE_MAX),
    "unsigned": (0, UINT_MAX),
    "int": (INT_MIN, INT_MAX),
}


def _check(name: str, ctype: str, value: object) -> None:
    if ctype == "bool":
        if not isinstance(value, (bool, int)):
            raise TypeError(f"{name}: expected bool, got {type(value).__name__}")
        return
    if ctype == "str":
        if not isinstance(value, str):
            raise TypeError(f"{name}: expected str, got {type(value).__name__}")
        return
    if ctype == "stream":
        if not callable(getattr(value, "write", None)):
            raise TypeError(f"{name}: expected a text stream with .write()")
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name}: expected int ({ctype}), got {type(value).__name__}")
    lo, hi = _RANGES[ctype]
    if not lo <= value <= hi:
        raise ValueError(f"{name}: {value} does not fit C type {ctype} [{lo}, {hi}]")


#: pointer parameters the functions dereference (others are only stored or offset)
_DEREFERENCED = frozenset(
    {
        "iov",
        "_iov",
        "dst_iov",
        "src_iov",
        "qiov",
        "dst",
        "src",
        "source",
        "mid_qiov",
        "dest",
        "a",
        "b",
        "undo",
        "iov_cnt",
    }
)
#: (iovec array, entry count) parameter pairs
_ARRAYS = (
    ("iov", "iov_cnt"),
    ("_iov", "iov_cnt"),
    ("dst_iov", "dst_iov_cnt"),
    ("src_iov", "src_cnt"),
    ("iov", "niov"),
)


def _check_objects(mem: Memory, func: str, ctypes: dict[str, str], args: dict[str, Any]) -> None:
    """Strict memories: pointers must lead to objects, and counts must fit their arrays.

    C would read whatever lies there (undefined behaviour); a library user gets a
    ValueError naming the argument before anything is written.
    """
    for name, value in args.items():
        if name in _DEREFERENCED and ctypes[name] == "ptr" and value and mem.region_at(value) is None:
            raise ValueError(f"{name}: {value:#x} is not inside any region of this memory")
    for array_name, count_name in _ARRAYS:
        if array_name not in args or count_name not in args:
            continue
        array, count = args[array_name], args[count_name]
        if count_name == "iov_cnt" and "discard" in func:  # unsigned *iov_cnt (and iovec **iov)
            count = mem.u32(count)
            if "front" in func:
                array = mem.u64(array)
        if count <= 0:
            continue
        region = mem.region_at(array)
        room = 0 if region is None else (region.end - array) // 16
        if count > room:
            raise ValueError(f"{count_name}: {count} entries, but the array at {array_name} holds {room}")


def cfunction(func: F) -> F:
    """Declare ``func`` the port of the C function of the same name in :data:`pyimpl.ctable.TABLE`.

    Its parameters must be the row's C parameters (Python names, out parameters left out);
    calls, positional or by keyword, are checked against the row's C types first.
    """
    row = BY_NAME.get(func.__name__)
    if row is None:
        raise TypeError(f"{func.__name__}: no row in pyimpl.ctable.TABLE")
    spec = tuple((p.py_name, p.kind) for p in row.inputs)
    names = [p for p in inspect.signature(func).parameters][1:]
    if [n for n, _ in spec] != names:
        raise TypeError(f"{func.__name__}: the table says {[n for n, _ in spec]} but it takes {names}")
    ctypes = dict(spec)
    signature = inspect.signature(func)
    # the common case first: every argument an int in its C type's range
    ranges = tuple(_RANGES.get(kind, (0, -1)) for _, kind in spec)

    @functools.wraps(func)
    def checked(mem: Memory, *args: Any, **kwargs: Any) -> Any:
        if not kwargs and isinstance(mem, Memory) and mem.depth:  # the port calling itself: unchecked
            return func(mem, *args)
        if kwargs:
            try:
                bound = signature.bind(mem, *args, **kwargs)
            except TypeError as exc:
                raise TypeError(f"{func.__name__}(): {exc}") from None
            mem, *args = bound.args  # type: ignore[assignment]
        if not isinstance(mem, Memory):
            raise TypeError(f"mem: expected pyimpl.Memory, got {type(mem).__name__}")
        if len(args) != len(spec):
            raise TypeError(f"{func.__name__}() takes {len(spec)} C arguments, got {len(args)}")
        for (pname, ctype), (lo, hi), value in zip(spec, ranges, args, strict=True):
            if type(value) is not int or not lo <= value <= hi:
                _check(pname, ctype, value)
        if mem.strict and mem.depth == 0:
            _check_objects(mem, func.__name__, ctypes, dict(zip(ctypes, args, strict=True)))
        mem.depth += 1
        try:
            return func(mem, *args)
        finally:
            mem.depth -= 1

    return checked  # type: ignore[return-value]
