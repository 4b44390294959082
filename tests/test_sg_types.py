"""Types that work where users are (issue 16, part 4).

A user's script outside the repository, with only the README's install (``ci/setup.sh``:
an editable install), type-checks under ``mypy --strict`` with no ``MYPYPATH`` and no config:
the packages are found, ``reference_c``'s exports are read statically and no ``sg`` method
hands the script an ``Any`` (``--disallow-any-expr``); passing one side's memory where the
other's belongs is still an error.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is a dev extra")

USER_SCRIPT = """
    import socket
    from typing import assert_type

    import pyimpl
    import reference_c
    from pyimpl import sg
    from reference_c import CMemory, iov_size, memory


    def on_the_port() -> bytes:
        v = sg.IOVector([bytearray(b"hello"), bytearray(b"world")])
        assert_type(v, sg.IOVector[pyimpl.Memory])
        assert_type(v.write(b"xy", 1), int)
        assert_type(v.readinto(bytearray(4), 2), int)
        assert_type(v.fill(0, 1, 2), int)
        assert_type(len(v), int)
        with v.discarded(front=1, back=1) as mid:
            assert_type(mid, sg.IOVector[pyimpl.Memory])
        assert_type(v.copy(1), sg.IOVector[pyimpl.Memory])
        assert_type(v.buffers(), list[memoryview])
        assert_type(v.entries(), list[tuple[int, int]])
        a, b = socket.socketpair()
        assert_type(v.send(a), int)
        assert_type(v.recv_into(b, 0, 3), int)
        assert_type(v.sendall(a), None)
        assert_type(v.writev(1, 0, 0), int)
        q = sg.QIOV([bytearray(4)], alloc_hint=2, mem=pyimpl.Memory())
        assert_type(q.slice(0, 2), sg.QIOV[pyimpl.Memory])
        assert_type(q.clone(), sg.QIOV[pyimpl.Memory])
        assert_type(q.is_zero(), bool)
        assert_type(q.compare(q.clone()), int | None)
        assert_type(q.vector(), sg.IOVector[pyimpl.Memory])
        assert_type(q.niov + q.nalloc + q.size, int)
        q.concat(q.slice(0, 1))
        return v.read() + q.to_bytes(1, 2)


    def on_the_c_code(cmem: CMemory) -> bytes:
        v = sg.IOVector([bytearray(b"hello")], lib=reference_c, mem=cmem)
        assert_type(v, sg.IOVector[CMemory])
        q = sg.QIOV([bytearray(4)], lib=reference_c, mem=cmem)
        assert_type(q.slice(0, 2), sg.QIOV[CMemory])
        return v.read(1, 2) + q.to_bytes()


    def raw(cmem: CMemory) -> int:
        return iov_size(cmem, 0, 0) + pyimpl.iov_size(pyimpl.Memory(), 0, 0)


    with memory() as cm:
        on_the_c_code(cm)
        raw(cm)
    on_the_port()
"""

MISUSE = """
    import pyimpl
    import reference_c
    from pyimpl import sg

    cm = reference_c.memory()
    pyimpl.iov_size(cm, 0, 0)  # E: the C side's memory to the port
    reference_c.iov_size(pyimpl.Memory(), 0, 0)  # E: the port's memory to the C side
    sg.IOVector([bytearray(1)], lib=reference_c, mem=pyimpl.Memory())  # E: a memory of the other side
    sg.IOVector([bytearray(1)], mem=cm)  # E: the port's default library with the C side's memory
"""


def _mypy(tmp_path: Path, name: str, text: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    """mypy --strict on a script in ``tmp_path``, run there (outside the repository) with the
    environment's mypy, no MYPYPATH and no config file."""
    script = tmp_path / name
    script.write_text(textwrap.dedent(text))
    env = {k: v for k, v in os.environ.items() if k not in ("MYPYPATH", "PYTHONPATH")}
    mypy = Path(sys.executable).parent / "mypy"
    out = subprocess.run(
        [str(mypy), "--strict", "--disallow-any-expr", "--cache-dir", str(tmp_path / "cache"), script.name],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return out, script


def test_a_users_script_outside_the_repository_type_checks(tmp_path: Path) -> None:
    out, _ = _mypy(tmp_path, "user.py", USER_SCRIPT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Success: no issues found" in out.stdout


def test_the_other_sides_memory_is_still_a_type_error(tmp_path: Path) -> None:
    out, script = _mypy(tmp_path, "misuse.py", MISUSE)
    errors = [line for line in out.stdout.splitlines() if ": error:" in line]
    expected = [n for n, line in enumerate(script.read_text().splitlines(), 1) if "# E" in line]
    assert sorted({int(line.split(":")[1]) for line in errors}) == expected, out.stdout
    assert not any("Cannot find implementation" in line or "import-not-found" in line for line in errors)
