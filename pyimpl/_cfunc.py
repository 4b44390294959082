"""Argument checking for the port's public functions, driven by their C types.

A library user who passes a wrong type or a value no C argument of that type
can hold gets a ``TypeError``/``ValueError`` naming the argument, before the
function touches memory.  The declared C types also feed ``harness list``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from .memory import INT_MAX, INT_MIN, SIZE_MAX, UINT_MAX, Memory

F = TypeVar("F", bound=Callable[..., Any])

_RANGES = {
    "size_t": (0, SIZE_MAX),
    "pointer": (0, SIZE_MAX),
    "unsigned": (0, UINT_MAX),
    "int": (INT_MIN, INT_MAX),
}


@dataclass(frozen=True)
class CFunction:
    """What the port knows of one C function: where it is and its parameter types."""

    name: str
    line: int
    params: tuple[tuple[str, str], ...]
    static: bool
    header: bool


#: every ported function by C name, in iov.c order (header inlines last)
REGISTRY: dict[str, CFunction] = {}


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


def cfunction(line: int, *, static: bool = False, header: bool = False, **ctypes: str) -> Callable[[F], F]:
    """Declare a port of the C function at ``line`` with parameter C types ``ctypes``."""

    def wrap(func: F) -> F:
        names = [p for p in inspect.signature(func).parameters][1:]
        if list(ctypes) != names:
            raise TypeError(f"{func.__name__}: declared {list(ctypes)} but takes {names}")
        spec = tuple(ctypes.items())
        REGISTRY[func.__name__] = CFunction(func.__name__, line, spec, static, header)

        @functools.wraps(func)
        def checked(mem: Memory, *args: Any) -> Any:
            if not isinstance(mem, Memory):
                raise TypeError(f"mem: expected pyimpl.Memory, got {type(mem).__name__}")
            if len(args) != len(spec):
                raise TypeError(f"{func.__name__}() takes {len(spec)} C arguments, got {len(args)}")
            for (pname, ctype), value in zip(spec, args, strict=True):
                _check(pname, ctype, value)
            return func(mem, *args)

        return checked  # type: ignore[return-value]

    return wrap
