"""Argument checking for the port's functions, driven by their C types.

A caller who passes a wrong type or a value no C argument of that type can hold
gets a ``TypeError``/``ValueError`` naming the argument, before the function
touches memory, on every memory.  On a strict memory, a public function's call
is also checked against what it will touch (:mod:`pyimpl.checks`) first.  The C
types come from the function's row in :mod:`iovspec.ctable`.  Calls the port
makes of its own functions (``mem.depth`` > 0) skip all of it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar, cast

from iovspec.arguments import type_name
from iovspec.cint import INT_MAX, INT_MIN, SIZE_MAX, UINT_MAX
from iovspec.ctable import BY_NAME

from .checks import CHECKS
from .memory import Memory

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


#: the checking wrapper of a port function, as source: Python binds the arguments (by position or
#: keyword, under the C parameters' names) and each is tested inline against its C type's range
_WRAPPER = """
def {name}(mem, {params}):
    if isinstance(mem, Memory) and mem.depth:  # the port calling itself: unchecked
        return func(mem, {params})
    if not isinstance(mem, Memory):
        raise TypeError(f"mem: expected pyimpl.Memory, got {{type_name(mem)}}")
{checks}
    if touches is not None and mem.strict:
        touches(mem, {params})
    mem.depth += 1
    try:
        return func(mem, {params})
    finally:
        mem.depth -= 1
"""


def _inline_check(name: str, kind: str) -> str:
    """The test of one argument: an int in range passes at once; anything else goes to _check."""
    if kind in _RANGES:
        lo, hi = _RANGES[kind]
        test = f"type({name}) is not int or not {lo} <= {name} <= {hi}"
        return f"    if {test}:\n        _check({name!r}, {kind!r}, {name})"
    return f"    _check({name!r}, {kind!r}, {name})"


def cfunction(func: F) -> F:
    """Declare ``func`` the port of the C function of the same name in :data:`iovspec.ctable.TABLE`.

    Its parameters must be the row's C parameters (Python names, out parameters left out);
    calls, positional or by keyword, are checked against the row's C types first, and on a
    strict memory against what they touch (:mod:`pyimpl.checks`).  The wrapper is written
    for each function (about half a microsecond a call); nested calls skip it all.
    """
    row = BY_NAME.get(func.__name__)
    if row is None:
        raise TypeError(f"{func.__name__}: no row in iovspec.ctable.TABLE")
    spec = tuple((p.py_name, p.kind) for p in row.inputs)
    names = [p for p in inspect.signature(func).parameters][1:]
    if [n for n, _ in spec] != names:
        raise TypeError(f"{func.__name__}: the table says {[n for n, _ in spec]} but it takes {names}")
    source = _WRAPPER.format(
        name=func.__name__,
        params=", ".join(names),
        checks="\n".join(_inline_check(n, kind) for n, kind in spec),
    )
    scope: dict[str, Any] = {
        "func": func,
        "touches": CHECKS.get(func.__name__),  # strict memories: what the call touches
        "Memory": Memory,
        "type_name": type_name,
        "_check": _check,
    }
    exec(compile(source, f"<cfunction {func.__name__}>", "exec"), scope)
    checked: Any = functools.update_wrapper(scope[func.__name__], func)
    # help() and inspect show the port's own signature, its annotations as types
    checked.__signature__ = inspect.signature(func, eval_str=True)
    return cast(F, checked)
