"""The two sides a ``pyimpl.sg`` test runs on, and running a scenario on one of them.

A scenario is a module-level function ``fn(state, side, *args)``: on ``pyimpl`` it runs here;
on ``reference_c`` it runs in a forked child (:mod:`isolated`), so a misuse that corrupts the
C heap fails the test instead of killing the worker.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from isolated import in_child

import pyimpl
import reference_c

SIDES = ("pyimpl", "reference_c")


def side_kwargs(side: str) -> dict[str, Any]:
    """What ``sg.IOVector``/``sg.QIOV`` take to run on ``side`` (a fresh memory)."""
    if side == "pyimpl":
        return {"mem": pyimpl.Memory()}
    return {"lib": reference_c, "mem": reference_c.memory()}


def on(side: str, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn({}, side, *args)``: here for the port, in a child process for the C side."""
    if side == "pyimpl":
        return fn({}, side, *args)
    return in_child(fn, side, *args)


def outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    """("ok", result) or (exception type name, message): what a call did, comparable across sides."""
    try:
        return "ok", call()
    except Exception as exc:
        return type(exc).__name__, str(exc)
