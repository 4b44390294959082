"""The shape of the code: which package may import which."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from iovspec.ctable import TABLE

ROOT = Path(__file__).resolve().parent.parent


def test_import_reference_c_does_not_load_the_port() -> None:
    """The reference and the port share only the spec (``iovspec``): importing the compiled
    original must not import any module of the port."""
    probe = "import sys, reference_c; print(sorted(m for m in sys.modules if m.split('.')[0] == 'pyimpl'))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_the_port_reads_beside_iov_c() -> None:
    """pyimpl/iov.py holds one function per row of the table, in the table's order (iov.c's,
    then the header's inlines), each with a one-line docstring that opens with its C line; its
    other definitions are private helpers, and it takes the memory's shortcuts (live views of
    arrays, remembered regions) only through pyimpl.fastpaths."""
    text = (ROOT / "pyimpl" / "iov.py").read_text()
    tree = ast.parse(text)
    defined = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    ported = [node for node in defined if not node.name.startswith("_")]
    assert [node.name for node in ported] == [row.name for row in TABLE]
    for node, row in zip(ported, TABLE, strict=True):
        doc = ast.get_docstring(node) or ""
        file = "qemu/iov.h" if row.source == "qemu/iov.h" else "iov.c"
        assert "\n" not in doc and doc.startswith(f"{file}:{row.line} "), (row.name, doc)
    for shortcut in ("mem.iovecs(", "mem.pieces(", "mem._holding(", "mem._hit_"):
        assert shortcut not in text, shortcut
