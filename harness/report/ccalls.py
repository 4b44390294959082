"""A case as the few lines of C a reviewer reads: its regions as declarations, its calls as calls.

``struct iovec iov1[2] = {{buf0, 3}, {NULL, 0}}; iov_copy(iov2, 2, iov1, 2, 0, 5);`` says
what a case does in the language of the patch under review.  It is a reading aid, not a
program: long byte contents and long iovec arrays are cut (a comment says so) and the
arena, guards and checks are left out.  The standalone program that rebuilds the case
exactly is the ``.c`` reproducer (``harness.report.creproducer``).
"""

from __future__ import annotations

from typing import Any

from harness.model.case import Case, Sock, Stream
from harness.model.regions import QiovInit, Ref, Region
from iovspec.cint import SIZE_MAX
from iovspec.ctable import BY_NAME
from iovspec.structs import IOVEC_SIZE, QIOV_LOCAL_IOV

#: data regions up to this size are shown whole; longer ones by their first bytes
SHOWN_BYTES = 24
#: iovec entries shown of a longer array
SHOWN_ENTRIES = 6


def c_lines(case: Case) -> list[str]:
    """The case as C: one declaration per region, one line per call."""
    kinds = {r.name: r.kind for r in case.regions}
    lines = [_declaration(r, kinds) for r in case.regions]
    seen_outs: set[str] = set()
    for call in case.calls:
        outs, text = _call(call.func, call.args, kinds, seen_outs)
        lines += [" ".join(outs), text] if outs else [text]
    return lines


def c_int(value: int) -> str:
    """An integer argument as a reader wants it: small ones in decimal, ones near 2**64 from SIZE_MAX."""
    if -(1 << 31) <= value < (1 << 32):
        return str(value)
    if 0 <= SIZE_MAX - value < (1 << 16):
        return "SIZE_MAX" if value == SIZE_MAX else f"SIZE_MAX - {SIZE_MAX - value}"
    return f"{value:#x}" if value >= 0 else str(value)


def c_string(data: bytes) -> str:
    """A C string literal of ``data``: printable ASCII as is, anything else as a 3-digit octal escape
    (never ambiguous with the character after it), ``?`` escaped against trigraphs."""
    out = []
    for b in data:
        if b in (0x22, 0x5C, 0x3F):
            out.append("\\" + chr(b))
        elif 0x20 <= b < 0x7F:
            out.append(chr(b))
        else:
            out.append(f"\\{b:03o}")
    return '"' + "".join(out) + '"'


def c_pointer(arg: Any, kinds: dict[str, str]) -> str:
    """A pointer argument as C: an array by its name, any other object by its address."""
    if not isinstance(arg, Ref):
        return "NULL" if arg == 0 else f"(void *){arg & SIZE_MAX:#x}"
    name, off, kind = arg.region, arg.offset, kinds.get(arg.region)
    if kind == "data":
        return name if off == 0 else f"{name} + {off}"
    if kind == "iovs":
        if off % IOVEC_SIZE == 0:
            return name if off == 0 else f"&{name}[{off // IOVEC_SIZE}]"
        return f"(char *){name} + {off}"
    if kind == "qiov" and off == QIOV_LOCAL_IOV:
        return f"&{name}.local_iov"
    return f"&{name}" if off == 0 else f"(char *)&{name} + {off}"


def _data(region: Region) -> str:
    data: bytes = region.init or b""
    n = len(data)
    head = f"uint8_t {region.name}[{n}]"
    if n == 0:
        return f"{head};"
    if data.count(0) == n:
        return f"{head} = {{0}};"
    if n <= SHOWN_BYTES:
        return f"{head} = {c_string(data)};"
    if data.count(data[0]) == n:  # GNU C's range designator
        return f"{head} = {{[0 ... {n - 1}] = {data[0]:#04x}}};"
    return f"{head} = {c_string(data[:16])}; /* the first 16 of {n} bytes */"


def _declaration(region: Region, kinds: dict[str, str]) -> str:
    name, init = region.name, region.init
    if region.kind == "data":
        return _data(region)
    if region.kind == "iovs":
        entries = [f"{{{c_pointer(b, kinds)}, {c_int(n)}}}" for b, n in init[:SHOWN_ENTRIES]]
        more = len(init) - SHOWN_ENTRIES
        rest = f", /* and {more} more */" if more > 0 else ""
        return f"struct iovec {name}[{len(init)}] = {{{', '.join(entries)}{rest}}};"
    if region.kind == "qiov":
        if not isinstance(init, QiovInit):
            return f"QEMUIOVector {name} = {{0}};"
        local = f"{{{c_pointer(init.local_base, kinds)}, {c_int(init.size)}}}"
        return (
            f"QEMUIOVector {name} = {{.iov = {c_pointer(init.iov, kinds)}, .niov = {init.niov}, "
            f".nalloc = {init.nalloc}, .local_iov = {local}}};"
        )
    if region.kind == "undo":
        return f"IOVDiscardUndo {name};"
    if region.kind == "ptr":
        return f"struct iovec *{name} = {c_pointer(init, kinds)};"
    if region.kind == "uint":
        return f"unsigned int {name} = {init};"
    return f"/* {region.kind} {name}, {region.size} bytes */"


def _argument(arg: Any, ctype: str, kinds: dict[str, str]) -> str:
    if isinstance(arg, Sock | Stream):
        return arg.name
    if isinstance(arg, str):
        return c_string(arg.encode())
    if isinstance(arg, bytes):
        return c_string(arg)
    if isinstance(arg, Ref) or "*" in ctype:
        return c_pointer(arg, kinds)
    if isinstance(arg, bool):
        return "true" if arg else "false"
    return c_int(arg) if isinstance(arg, int) else repr(arg)


def _call(func: str, args: tuple[Any, ...], kinds: dict[str, str], seen: set[str]) -> tuple[list[str], str]:
    """(declarations of its out variables, the call) of one call."""
    fn = BY_NAME.get(func)
    if fn is None:  # no row: the arguments as they are
        return [], f"{func}({', '.join(_argument(a, '', kinds) for a in args)});"
    given = iter(args)
    decls, cargs = [], []
    for p in fn.params:
        if p.name in fn.outs:
            local = p.name if p.name not in seen else f"{p.name}{len(seen)}"
            seen.add(local)
            decls.append(f"{p.ctype.rstrip().removesuffix('*').strip()} {local};")
            cargs.append(f"&{local}")
        else:
            cargs.append(_argument(next(given, 0), p.ctype, kinds))
    return decls, f"{func}({', '.join(cargs)});"
