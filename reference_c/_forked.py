"""The abort flavour: each call runs first in a forked child, then is replayed.

In the abort flavour a failing C ``assert`` calls the C library's
``__assert_fail`` and a fatal GLib error or a bad free aborts, so a failing
call kills its process.  Each call therefore runs first in a forked child with
its stderr in a file, recording the results of its socket I/O.  The parent
then replays the call in-process with that record instead of doing the I/O
again, and with ``assert`` and GLib's errors trapping where they would abort
(shim/osdep.c), so every side effect up to the failure is reproduced exactly: the C
code is deterministic and the child started from the parent's memory.

If the child died of SIGABRT, the exception comes from its message
(``iov.c:LINE: FUNC: Assertion `EXPR' failed.``, ``GLib-ERROR **: MESSAGE``
or the allocator's complaint), and it must agree with what the replay
trapped; any disagreement is raised as :class:`AbortModeMismatch`.
"""

from __future__ import annotations

import faulthandler
import os
import re
import signal
import struct
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from iovspec.errors import CAssertionError, GLibFatalError

from .errors import CCrash

if TYPE_CHECKING:
    from .reference import Reference, _Callable

_HEADER = struct.Struct("=iQ")  # status (-1: aborted), length of the I/O log
_ASSERT_MESSAGE = re.compile(
    r"(?P<file>[^\s:]+):(?P<line>\d+): (?P<func>\w+): Assertion `(?P<expr>.*)' failed\."
)
_GLIB_MESSAGE = re.compile(r"GLib-ERROR \*\*: (?P<message>.*)")


class AbortModeMismatch(RuntimeError):
    """The forked child and the in-process replay of one call disagreed."""


@dataclass(frozen=True)
class ChildRun:
    """How the child's call ended, and its socket I/O record."""

    signum: int  # 0 if the child's call returned
    status: int  # the wrapper's status when it returned, else -1
    stderr: str
    io_log: bytes

    def error(self) -> Exception:
        """What the trap flavour raises for what killed the child."""
        if self.signum == signal.SIGABRT:
            m = _ASSERT_MESSAGE.search(self.stderr)
            if m:
                return CAssertionError(m["expr"], m["func"], int(m["line"]), os.path.basename(m["file"]))
            m = _GLIB_MESSAGE.search(self.stderr)
            if m:
                return GLibFatalError(m["message"].strip())
        lines = self.stderr.strip().splitlines()
        return CCrash(self.signum, lines[-1] if lines else "")


def run_in_child(ref: Reference, c: _Callable, cargs: list[Any]) -> ChildRun:
    """Make the call in a forked child and report how it ended."""
    with tempfile.TemporaryFile() as err:
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            code = 1
            try:
                os.close(read_fd)
                os.dup2(err.fileno(), 2)
                faulthandler.disable()  # an abort is expected; no Python traceback
                ref.lib.iovconf_child_begin(write_fd)  # its SIGABRT handler reports too
                ref.lib.iovconf_child_end(c.cfunc(*cargs, *c.outs))
                code = 0
            finally:
                os._exit(code)
        os.close(write_fd)
        with os.fdopen(read_fd, "rb") as f:
            data = f.read()
        _, wait_status = os.waitpid(pid, 0)
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    signum = os.WTERMSIG(wait_status) if os.WIFSIGNALED(wait_status) else 0
    if len(data) >= _HEADER.size:
        status, n = _HEADER.unpack_from(data)
        log = data[_HEADER.size : _HEADER.size + n]
    else:
        status, log = -1, b""
    if not signum and status < 0:
        raise AbortModeMismatch(f"the abort-mode child failed ({wait_status:#x}): {stderr}")
    return ChildRun(signum, status, stderr, log)


def replay(ref: Reference, c: _Callable, cargs: list[Any], child: ChildRun) -> int:
    """Run the call in-process with the child's I/O record; returns the wrapper status."""
    ref.lib.iovconf_replay_begin(child.io_log, len(child.io_log))
    try:
        status: int = c.cfunc(*cargs, *c.outs)
    finally:
        faithful = ref.lib.iovconf_replay_end()
    if not faithful:
        raise AbortModeMismatch(f"{c.fn.name}: the replay did other socket I/O than the child")
    return status


def check_agreement(name: str, child: ChildRun, status: int, replayed: Exception | None) -> None:
    """Raise AbortModeMismatch unless the replay ended as the child did."""
    if child.signum == 0:
        if status != child.status:
            raise AbortModeMismatch(f"{name}: child status {child.status}, replay status {status}")
        return
    expected = child.error()
    if replayed is None or type(replayed) is not type(expected) or str(replayed) != str(expected):
        raise AbortModeMismatch(f"{name}: the child died with {expected!r} but the replay gave {replayed!r}")
