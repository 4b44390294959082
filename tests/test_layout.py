"""The shape of the code: which package may import which."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_reference_c_does_not_load_the_port() -> None:
    """The reference and the port share only the spec (``iovspec``): importing the compiled
    original must not import any module of the port."""
    probe = "import sys, reference_c; print(sorted(m for m in sys.modules if m.split('.')[0] == 'pyimpl'))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]", out.stdout
