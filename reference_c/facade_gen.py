"""Writes ``reference_c/_facade.py``: one typed Python function per row of the port's table.

Each function takes the memory first, then the C arguments in C order (the same
names as the port's, keywords allowed), and calls the built C function through
:func:`reference_c.reference.call` (which turns away another side's memory).  The
file is generated so that help(), keyword arguments and mypy see real signatures;
``__all__`` lists the public functions (the static helpers stay importable, as in
pyimpl); a test checks it is up to date::

    python -m reference_c.facade_gen        # rewrite reference_c/_facade.py
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

from iovspec.ctable import TABLE, CFunction

TARGET = Path(__file__).resolve().parent / "_facade.py"

_HEADER = '''"""The C functions behind the same API as pyimpl (written by reference_c/facade_gen.py).

Each takes a :class:`~reference_c.reference.CMemory` first, then the C arguments in C
order; pointers are int addresses (NULL is 0).  Functions with C out parameters
(the static helpers) return (return value, out values...).  ``__all__`` lists the
public functions; the static helpers are importable but not part of the API.
(No ``from __future__ import annotations``: help() shows the types, not strings.)
"""

from .reference import CMemory, TextSink, call, hexdump

__all__ = [
{names}
]
'''

#: Python annotation of each return kind
_RETURNS = {"void": "None", "bool": "bool", "ptr": "int"}


def _annotation(kind: str) -> str:
    return {"stream": "TextSink | None", "str": "str | None", "bool": "bool"}.get(kind, "int")


def _exploded(head: str, items: list[str], tail: str, indent: str) -> str:
    """``head(`` items one per line with trailing commas ``)tail``: the layout ruff format keeps."""
    inner = "".join(f"{indent}    {item},\n" for item in items)
    return f"{head}(\n{inner}{indent}){tail}"


def _function(f: CFunction) -> str:
    params = ["mem: CMemory", *(f"{p.py_name}: {_annotation(p.kind)}" for p in f.inputs)]
    args = [p.py_name for p in f.inputs]
    ret = _RETURNS.get(f.ret_kind, "int")
    if f.outs:
        ret = f"tuple[{', '.join(['int'] * (len(f.outs) + 1))}]"
    proto = textwrap.fill(f.prototype, 100, initial_indent="    ", subsequent_indent="        ")
    doc = f'    """{f.where} ({f.kind})::\n\n{proto}\n    """'
    called = _exploded("call", ["mem", f'"{f.name}"', *args], "", "        ")
    if f.name == "iov_hexdump":
        body = "    " + _exploded("hexdump", ["mem", *args], "", "    ")
    elif f.outs:
        quoted = f'"{f.name}"'
        body = f"    ret = {_exploded('call', ['mem', quoted, *args], '', '    ')}\n"
        body += "    return tuple(int(v) for v in ret)  # type: ignore[return-value]"
    elif ret == "None":
        body = "    " + _exploded("call", ["mem", f'"{f.name}"', *args], "", "    ")
    else:
        body = f"    return {ret}(\n        {called}\n    )"
    return f"{_exploded(f'def {f.name}', params, f' -> {ret}:', '')}\n{doc}\n{body}\n"


def render() -> str:
    names = "\n".join(f'    "{f.name}",' for f in TABLE if f.kind != "static")
    parts = [_HEADER.format(names=names)]
    parts += [_function(f) for f in TABLE]
    return "\n\n".join(parts)


def main() -> int:
    TARGET.write_text(render())
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
