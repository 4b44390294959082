"""Compile one cffi extension; run as a script in a child process by build.py.

Usage: python _compile.py SPEC.json

SPEC holds module, cdef, source, sources, include_dirs, cflags, ldflags,
tmpdir and verify.  The compiler's output goes to this process's stdout and
stderr, which build.py captures.  With verify, the built library is loaded
once (RTLD_NOW) so an undefined symbol is a build error, not a load error
later.  Kept free of package imports so it runs as a plain script.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys

import cffi  # type: ignore[import-untyped]


def main(argv: list[str]) -> int:
    with open(argv[1], encoding="utf-8") as f:
        spec = json.load(f)
    ffi = cffi.FFI()
    ffi.cdef(spec["cdef"])
    ffi.set_source(
        spec["module"],
        spec["source"],
        sources=spec["sources"],
        include_dirs=spec["include_dirs"],
        extra_compile_args=spec["cflags"],
        extra_link_args=spec["ldflags"],
    )
    path = ffi.compile(tmpdir=spec["tmpdir"], verbose=True)
    if spec["verify"]:
        ctypes.CDLL(path, mode=os.RTLD_NOW | os.RTLD_LOCAL)
    print("IOVCONF-BUILT " + os.path.basename(path))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
