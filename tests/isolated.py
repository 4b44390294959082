"""Running C-side code where its death is a test failure, not a dead worker.

A C heap corrupted by a misuse aborts the process a few calls later
(``malloc_consolidate(): unaligned fastbin chunk``), and a signal kills a pytest-xdist
worker with every test it had left.  :class:`Child` forks this process (the reference
already loaded) and runs functions in the child on request, one at a time, returning their
results or the exception they raised; the child's death is reported as :class:`ChildDied`
with its signal and the tail of what it wrote to stderr.
"""

from __future__ import annotations

import faulthandler
import os
import pickle
import signal
import tempfile
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection, Pipe
from typing import Any


class ChildDied(AssertionError):
    """The child process died (a C abort or crash): the test fails with what it said."""


class Child:
    """A forked child that calls ``fn(state, *args)`` for each :meth:`call`; ``state`` is a
    dict the child keeps across calls (its own objects, e.g. sg vectors over C memory)."""

    def __init__(self) -> None:
        self._err = tempfile.TemporaryFile()  # noqa: SIM115  (closed by close())
        parent, child = Pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the child: serves until the pipe closes, then leaves at once
            code = 0
            try:
                parent.close()
                os.dup2(self._err.fileno(), 2)
                faulthandler.enable()  # a crash prints the Python stack to our stderr file
                _serve(child)
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        child.close()
        self._conn: Connection | None = parent

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(state, *args)`` in the child: its result, or the exception it raised, raised here."""
        self.start(fn, *args)
        return self.result()

    def start(self, fn: Callable[..., Any], *args: Any) -> None:
        """Send the child ``fn(state, *args)`` to run while this process goes on; :meth:`result`
        waits for it."""
        conn = self._conn
        if conn is None:
            raise ChildDied("the child is gone")
        try:
            conn.send((fn, args))
        except OSError:
            raise self._death() from None

    def result(self) -> Any:
        """What the call :meth:`start` sent returned (or the exception it raised, raised here)."""
        conn = self._conn
        if conn is None:
            raise ChildDied("the child is gone")
        try:
            ok, value = conn.recv()
        except (EOFError, OSError):
            raise self._death() from None
        if not ok:
            raise value
        return value

    def _death(self) -> ChildDied:
        self._conn = None
        _, status = os.waitpid(self.pid, 0)
        self._err.seek(0)
        tail = self._err.read().decode(errors="replace")[-2000:]
        if os.WIFSIGNALED(status):
            how = f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
        else:
            how = f"exited with {os.WEXITSTATUS(status)}"
        return ChildDied(f"the C side's process {how}:\n{tail}")

    def close(self) -> None:
        """End the child (it leaves when its pipe closes) and reap it."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
            os.waitpid(self.pid, 0)
        self._err.close()

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _serve(conn: Connection) -> None:
    state: dict[str, Any] = {}
    while True:
        try:
            fn, args = conn.recv()
        except EOFError:
            return
        try:
            reply: tuple[bool, Any] = (True, fn(state, *args))
            pickle.dumps(reply)
        except Exception as exc:
            reply = (False, _portable(exc))
        conn.send(reply)


def _portable(exc: Exception) -> Exception:
    """``exc``, or a RuntimeError carrying its text when it does not survive pickling."""
    try:
        back = pickle.loads(pickle.dumps(exc))
    except Exception:
        text = "".join(traceback.format_exception(exc))
        return RuntimeError(f"{type(exc).__name__}: {exc}\n{text}")
    return back if isinstance(back, Exception) else RuntimeError(repr(exc))


def in_child(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn({}, *args)`` once, in a child of its own."""
    with Child() as child:
        return child.call(fn, *args)
