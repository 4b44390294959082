"""A sanitizer server never outlives the process that started it, however that process ends
(a worker or mutant check killed by its watchdog cannot run the atexit hook that stops it)."""

from __future__ import annotations

import ctypes
import os
import sys

import pytest

from harness.oracle import _die_with

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")

PR_GET_PDEATHSIG = 2


def test_the_server_is_armed_to_die_with_its_parent() -> None:
    parent = os.getpid()
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # what Popen runs in the server's process before exec
        os.close(read)
        _die_with(parent)()
        sig = ctypes.c_int(0)
        ctypes.CDLL(None).prctl(PR_GET_PDEATHSIG, ctypes.byref(sig), 0, 0, 0)
        os.write(write, str(sig.value).encode())
        os._exit(0)
    os.close(write)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert os.read(read, 16) == b"9"  # SIGKILL when the parent goes
    os.close(read)
