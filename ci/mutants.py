#!/usr/bin/env python3
"""Kept for old command lines: the mutation check is now ``python -m harness mutate``.

python ci/mutants.py [--target c|port] [ARGS...]   =   python -m harness mutate --side c|py [ARGS...]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.cli import main


def translate(argv: list[str]) -> list[str]:
    out, it = ["mutate"], iter(argv)
    for arg in it:
        if arg == "--target":
            side = next(it, "c")
            out += ["--side", "py" if side == "port" else side]
        elif arg.startswith("--target="):
            side = arg.split("=", 1)[1]
            out += ["--side", "py" if side == "port" else side]
        else:
            out.append(arg)
    return out


if __name__ == "__main__":
    raise SystemExit(main(translate(sys.argv[1:])))
