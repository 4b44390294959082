"""Hooks the port offers to observers (the harness counts which asserts cases reach).

An observer sees every evaluation of a ported C ``assert``: the function, the
expression, its line in ``iov.c`` and whether it held.  The hook is a context
variable, so observers in different threads or tasks do not see each other's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

#: called as hook(func, expr, line, held) for each assert the port evaluates
AssertHook = Callable[[str, str, int, bool], None]

_ASSERT_HOOK: ContextVar[AssertHook | None] = ContextVar("pyimpl_assert_hook", default=None)


@contextmanager
def observing_asserts(hook: AssertHook) -> Iterator[None]:
    """Call ``hook`` for every assert the port evaluates while the block runs."""
    token = _ASSERT_HOOK.set(hook)
    try:
        yield
    finally:
        _ASSERT_HOOK.reset(token)


def assert_hook() -> AssertHook | None:
    """The hook in effect, if any (read by the port at each assert)."""
    return _ASSERT_HOOK.get()
