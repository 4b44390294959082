"""The original iov.c and every shipped upstream revision compile, unedited, with our shims."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import reference_c as rc
from reference_c import revisions as rv

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT / "reference_c"
#: the defines of every build (reference_c/build.py), every warning of -Wall an error
FLAGS = ("-fsyntax-only", "-std=gnu11", "-Wall", "-Werror", "-Werror=implicit-function-declaration")
DEFINES = ("-D_GNU_SOURCE", "-DCONFIG_POSIX")


@pytest.mark.parametrize("rev", rv.REVISIONS, ids=lambda r: r.tag)
def test_compiles_with_the_shims(rev: rv.Revision) -> None:
    cmd = ["gcc", *FLAGS, *DEFINES, f"-I{REF / 'include'}", f"-I{REF}", str(rev.path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""


def test_g_autofree_frees_on_scope_exit() -> None:
    """v8.2+ qemu_iovec_clone keeps its sort array in a g_autofree pointer: the
    clone allocates it and frees it again before returning."""
    rev = rv.revision("v8.2.0")
    assert "g_autofree" in rev.path.read_text()
    with rc.load(rev.path).memory() as m:
        data = m.buffer(b"hello, world")
        src, dst, buf = m.buffer(40), m.buffer(40), m.buffer(10)
        rc.qemu_iovec_init(m, src, 2)
        rc.qemu_iovec_add(m, src, data + 7, 5)
        rc.qemu_iovec_add(m, src, data, 5)
        rc.qemu_iovec_init(m, dst, 2)
        before = m.heap_stats()
        rc.qemu_iovec_clone(m, dst, src, buf)
        after = m.heap_stats()
    assert (after.allocs - before.allocs, after.frees - before.frees) == (1, 1)
    assert after.live == before.live
