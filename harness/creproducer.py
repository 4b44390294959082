"""A standalone C program that rebuilds a case and calls the reference alone.

It includes the chosen ``iov.c`` with our shims, compiled in the abort flavour
(the real glibc ``assert``), so it can run under gdb, valgrind or ASan::

    gcc -g -O0 -D_GNU_SOURCE -DCONFIG_POSIX -DIOVCONF_ABORT_MODE \\
        -I reference_c/include -I DIR_OF_IOV_C repro.c reference_c/shim/*.c -o repro

The arena has the same layout (offsets, guard bytes) as in the harness.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pyimpl.structs import IOVEC_SIZE

from .case import GUARD_BYTE, Case
from .regions import c_pointer

REFERENCE_DIR = Path(__file__).resolve().parent.parent / "reference_c"


def _value(ctype: str, arg: Any) -> str:
    if "*" in ctype:
        return f"({ctype}){c_pointer(arg)}"
    if ctype in ("bool", "_Bool"):
        return "true" if arg else "false"
    return f"({ctype}){arg}" + ("ULL" if isinstance(arg, int) and arg > 0x7FFFFFFF else "")


def c_reproducer(case: Case, c_source: str | None, title: str = "") -> str:
    """The C program text for ``case``."""
    from pyimpl.ctable import BY_NAME

    source = Path(c_source) if c_source else REFERENCE_DIR / "iov.c"
    offsets, parts, total = case.layout()
    out = [
        f"/* iovconf C reproducer{': ' + title if title else ''}",
        " * Build and run (add -fsanitize=address,undefined, or run under gdb/valgrind):",
        " *   gcc -g -O0 -D_GNU_SOURCE -DCONFIG_POSIX -DIOVCONF_ABORT_MODE \\",
        f" *       -I {REFERENCE_DIR}/include -I {REFERENCE_DIR} -I {source.parent} \\",
        f" *       repro.c {REFERENCE_DIR}/shim/*.c -o repro && ./repro",
        " */",
        f'#include "{source.name}"',
        '#include "shim.h"',
        "#include <inttypes.h>",
        "",
        f"static unsigned char A[{total}] __attribute__((aligned(16)));",
    ]
    out += [f"#define OFF_{name} {off}" for name, off in offsets.items()]
    out += ["", "int main(void)", "{", "    setvbuf(stdout, NULL, _IONBF, 0);"]
    pos = 0
    for size, guard in parts:
        if guard:
            out.append(f"    memset(A + {pos}, {GUARD_BYTE:#x}, {size});")
        pos += size
    for r in case.regions:
        out += [f"    {line}" for line in r.spec.c_init(r, f"(A + OFF_{r.name})")]
    for k, call in enumerate(case.calls, start=1):
        fn = BY_NAME.get(call.func)
        if fn is None:
            out.append(f"    /* call {k}: {call!r} has no C counterpart */")
            continue
        args = iter(call.args)
        cargs, locals_ = [], []
        for p in fn.params:
            if p.name in fn.outs:
                local = f"out{k}_{p.name}"
                locals_.append((p.ctype.rstrip().removesuffix("*").strip(), local))
                cargs.append(f"&{local}")
            elif p.ctype.startswith("FILE"):
                next(args)
                cargs.append("stdout")
            elif "char" in p.ctype:
                cargs.append(f'"{next(args)}"')
            else:
                cargs.append(_value(p.ctype, next(args)))
        out.append(f'    printf("call {k}: {call.func}\\n");')
        out.append("    {")
        out += [f"        {t} {name} = 0;" for t, name in locals_]
        invoke = f"{call.func}({', '.join(cargs)})"
        if fn.ret == "void":
            out.append(f"        {invoke};")
        elif "*" in fn.ret:
            out.append(
                f'        printf("  -> A%+" PRIdPTR "\\n", (intptr_t)((uintptr_t){invoke} - (uintptr_t)A));'
            )
        else:
            out.append(f'        printf("  -> %lld\\n", (long long){invoke});')
        for _, name in locals_:
            out.append(f'        printf("  {name} = %lld\\n", (long long){name});')
        out.append("    }")
    out += [
        f"    for (size_t i = 0; i < sizeof(A); i += {IOVEC_SIZE}) {{",
        '        printf("%06zx:", i);',
        f'        for (size_t j = i; j < i + {IOVEC_SIZE} && j < sizeof(A); j++) printf(" %02x", A[j]);',
        '        printf("\\n");',
        "    }",
        "    return 0;",
        "}",
        "",
    ]
    return "\n".join(out)
