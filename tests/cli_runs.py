"""``python -m harness`` as a user runs it, in a process of its own, for the CLI tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def harness(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 900, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the harness on ``args`` in ``cwd``, without an example database, with ``env`` added
    (and ``stdin`` as its standard input)."""
    env = dict(os.environ, IOVCONF_NO_DB="1", PYTHONPATH=str(ROOT), **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=stdin,
    )
