"""Exceptions of the C reference beyond pyimpl's (which it raises too)."""

from __future__ import annotations

import signal


class BuildError(Exception):
    """The C source (with the shims and wrappers) did not compile or link.

    ``output`` holds the compiler's output.
    """

    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(f"{message}\n{output}" if output else message)
        self.output = output


class MissingFunction(NotImplementedError):
    """The C source in use does not define this function (``why`` says otherwise, e.g. that it
    defines it with another prototype than the port's)."""

    def __init__(self, name: str, why: str = "") -> None:
        super().__init__(f"{name}: {why}" if why else f"{name} is not defined by the C source in use")
        self.name = name
        self.why = why


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class CCrash(Exception):
    """The C code died of a signal (SIGSEGV, SIGBUS, SIGFPE, SIGILL), or the
    allocator caught a bad pointer where the C library would abort (SIGABRT)."""

    def __init__(self, signum: int, detail: str = "") -> None:
        name = _signal_name(signum)
        super().__init__(f"C code crashed with {name}" + (f": {detail}" if detail else ""))
        self.signum = signum
        self.signame = name
        self.detail = detail


class CTimeout(Exception):
    """The C code used more CPU time than allowed (likely an endless loop)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"C code used more than {seconds:g} s of CPU time")
        self.seconds = seconds
