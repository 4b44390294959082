"""A standalone, self-checking C program that rebuilds a case and runs the reference alone.

The program includes the chosen ``iov.c`` with our shims, compiled in the abort flavour
(the C library's ``assert``), so it runs under gdb, valgrind or the sanitizers.  It
carries what the port says the case does: each call's return value (and C out
values), the assert or GLib error that ends the calls, and the final bytes of every
data region and guard, every iovec, QEMUIOVector and undo field, the heap counters,
errno and text written.  It compares as it goes and exits

- 0 when C now does what the port says, 1 when it does not (each difference printed),
- 3 when it cannot tell: the port calls the case undefined behaviour (build with
  ``-fsanitize=address,undefined`` to see C's side of it), or it uses sockets (not
  rebuilt here: replay the ``.py`` reproducer for those),
- killed by a signal when C crashes.

Its guard bytes are poisoned for ASan when it is built with ``-fsanitize=address``.

:func:`c_program` keeps it under PROGRAM_LIMIT bytes: long bytes are written and
checked compactly (``harness.model.compact``), and a value still too long to spell out is
checked by block CRCs, named in the program's header and its notes.

:func:`write_c_support` copies the files it needs (the C source as ``iov.c``, ``shim.h``,
``include/``, ``shim/``) into a sibling directory named by their hash, so a reproducer and
that directory work wherever they are copied together; the build line in the program's
header uses paths relative to its own directory.  The arena has the layout of the
harness's (offsets, guard bytes).
"""

from __future__ import annotations

import functools
import hashlib
import shutil
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.model.case import GUARD_BYTE, Case, Sock, Stream
from harness.model.compact import BLOCK, C_HELPERS, block_crcs, c_string, progressions, statements_within
from harness.model.outcome import AssertFailed, GLibFatal, Result, Returned, TimedOut, Undefined
from harness.model.regions import c_pointer, c_u64
from iovspec.ctable import BY_NAME
from iovspec.structs import IOVEC_SIZE
from reference_c.build import SHIM_FILES

REFERENCE_DIR = Path(__file__).resolve().parents[2] / "reference_c"

#: the shim files a reproducer compiles with, relative to reference_c/: the build's own, but
#: the batch runner, which calls the dispatch table only the cffi build generates
SUPPORT_FILES = tuple(f for f in SHIM_FILES if f != "shim/batch.c")

#: exit statuses of a reproducer
AGREE, DIFFER, UNDECIDED = 0, 1, 3

#: the most a reproducer program may take (bytes): checks of long values give way to CRCs to stay under
PROGRAM_LIMIT = 100_000
#: what each long value's checks may take, tried in turn until the program fits (a value whose
#: rebuilt bytes or text would take more is checked by the CRC-32 of its blocks instead)
VALUE_BUDGETS = (16_000, 4_000, 1_000, 0)
#: values this short are always spelt out
SHORT_VALUE = 64
#: arena bytes the program prints at its end
DUMP_BYTES = 4096


def _source(c_source: str | None) -> Path:
    return Path(c_source) if c_source else REFERENCE_DIR / "iov.c"


def support_name(c_source: str | None) -> str:
    """The directory name of the support files for ``c_source`` (a hash of their contents)."""
    h = hashlib.sha256(_source(c_source).read_bytes())
    for rel in SUPPORT_FILES:
        h.update(rel.encode() + b"\0" + (REFERENCE_DIR / rel).read_bytes())
    return f"iovconf-c-{h.hexdigest()[:12]}"


def write_c_support(directory: Path, c_source: str | None) -> Path:
    """Copy the C source (as ``iov.c``) and the shims into ``directory/<support_name>``."""
    target = directory / support_name(c_source)
    if not (target / "iov.c").is_file():
        tmp = directory / f".{target.name}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        for rel in SUPPORT_FILES:
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(REFERENCE_DIR / rel, tmp / rel)
        shutil.copyfile(_source(c_source), tmp / "iov.c")
        try:
            tmp.rename(target)
        except OSError:  # another writer got there first: its copy is the same
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def build_command(name: str, support: str, extra: str = "") -> str:
    """The shell command that builds and runs reproducer ``name`` from its own directory."""
    exe = Path(name).stem
    flags = f"-g -O0 {extra + ' ' if extra else ''}-D_GNU_SOURCE -DCONFIG_POSIX -DIOVCONF_ABORT_MODE"
    shims = " ".join(f"{support}/{rel}" for rel in SUPPORT_FILES if rel.endswith(".c"))
    return f"gcc {flags} -I {support}/include -I {support} {name} {shims} -o {exe} && ./{exe}"


# -- what the port says -------------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    """The port's outcome of a case, as far as a C program can check it."""

    results: tuple[Result, ...]  # one per call made
    observed: dict[str, Any]  # observation label -> value
    error: str = ""  # why there is no expectation (the port itself failed)


def port_outcome(case: Case) -> Expected:
    from harness.worlds.world import PyWorld, run_case

    try:
        outcome = run_case(PyWorld(), case)
    except Exception as exc:  # the port raised what C cannot: no expectation to check
        return Expected((), {}, f"{type(exc).__name__}: {exc}")
    return Expected(outcome.results, outcome.observed())


# -- C text helpers ------------------------------------------------------------------------------


def _cstr(text: str) -> str:
    return c_string(text.encode())


def _value(ctype: str, arg: Any) -> str:
    if "*" in ctype:
        return f"({ctype}){c_pointer(arg)}"
    if ctype in ("bool", "_Bool"):
        return "true" if arg else "false"
    return f"({ctype}){arg}" + ("ULL" if isinstance(arg, int) and arg > 0x7FFFFFFF else "")


def _ptr_parts(norm: Any) -> tuple[str, int, int] | None:
    """(kind, a, b) of ``check_ptr`` for the port's normalised pointer ``norm``; None if not checkable."""
    if norm == 0 or norm is None:
        return ("P_NULL", 0, 0)
    if isinstance(norm, tuple) and norm and norm[0] in ("arena", "wild"):
        return ("P_ARENA", int(norm[1]), 0)
    if isinstance(norm, tuple) and norm and norm[0] == "heap":
        return ("P_HEAP", int(norm[1]), int(norm[2]))
    if isinstance(norm, tuple) and norm and norm[0] == "abs":
        return ("P_ABS", int(norm[1]), 0)
    return None


def _ll(value: int) -> str:
    """An integer as C's long long (values past it modulo 2**64, as check_ptr compares them)."""
    return f"{value}LL" if 0 <= value < 1 << 31 else f"(long long){c_u64(value)}"


def _ptr_check(what: str, expr: str, norm: Any) -> str | None:
    """A check that pointer ``expr`` is what the port's normalised pointer ``norm`` names."""
    parts = _ptr_parts(norm)
    if parts is None:
        return None
    kind, a, b = parts
    return f"check_ptr({_cstr(what)}, (const void *)({expr}), {kind}, {_ll(a)}, {_ll(b)});"


def _entries_checks(name: str, array: str, entries: list[Any]) -> list[str]:
    """Checks of the iovec entries ``name[0..]`` at ``array`` against the port's (base, len)
    values: one ``check_iovecs`` call per run of entries that step evenly."""
    items: list[tuple[object, tuple[int, ...]]] = []
    for value in entries:
        base, n = value
        parts = _ptr_parts(base)
        if parts is None:
            items.append((("?", base), (0, 0, 0)))
        else:
            items.append((parts[0], (parts[1], parts[2], int(n))))
    lines: list[str] = []
    for run in progressions(items):
        if isinstance(run.key, tuple):  # a pointer this program cannot name: say so, entry by entry
            lines += [
                f"/* {name}[{i}].iov_base: {entries[i][0]!r}, not checkable here */"
                for i in range(run.start, run.start + run.count)
            ]
            lines += [
                _int_check(f"{name}[{i}].iov_len", f"({array})[{i}].iov_len", entries[i][1])
                for i in range(run.start, run.start + run.count)
            ]
            continue
        (a, b, n), (da, db, dn) = run.first, run.step
        lines.append(
            f"check_iovecs({_cstr(name)}, {array}, {run.start}, {run.count}, {run.key}, "
            f"{_ll(a)}, {_ll(da)}, {_ll(b)}, {_ll(db)}, {c_u64(n)}, {c_u64(dn)});"
        )
    return lines


def _int_check(what: str, expr: str, value: Any) -> str:
    if isinstance(value, bool):
        return f"check_u64({_cstr(what)}, ({expr}) != 0, {int(value)}ULL);"
    return f"check_u64({_cstr(what)}, (unsigned long long)({expr}), {c_u64(int(value))});"


#: the program's text around what each case fills in (string.Template: ``${name}``), and the
#: fixed parts it includes: what comes before iov.c (prelude.h), the check helpers (helpers.c)
TEMPLATES = Path(__file__).resolve().parent / "templates"


@functools.cache
def _template(name: str) -> str:
    return (TEMPLATES / name).read_text()


def _call_lines(k: int, call: Any, fn: Any, streams: dict[str, str]) -> tuple[list[str], str]:
    """(declarations, the call statement) for call ``k``; its result goes to ``ret<k>``."""
    args = iter(call.args)
    cargs: list[str] = []
    decls: list[str] = []
    for p in fn.params:
        if p.name in fn.outs:
            local = f"out{k}_{p.name}"
            decls.append(f"{p.ctype.rstrip().removesuffix('*').strip()} {local} = 0;")
            cargs.append(f"&{local}")
            continue
        arg = next(args)
        if isinstance(arg, Stream):
            cargs.append(streams[arg.name])
        elif isinstance(arg, Sock):
            cargs.append("-1 /* a socket: not rebuilt here */")
        elif "char" in p.ctype and isinstance(arg, str):
            cargs.append(_cstr(arg))
        else:
            cargs.append(_value(p.ctype, arg))
    invoke = f"{call.func}({', '.join(cargs)})"
    if fn.ret == "void":
        return decls, f"{invoke};"
    decls.append(f"{fn.ret} ret{k};")
    return decls, f"ret{k} = {invoke};"


def _return_checks(k: int, fn: Any, value: Any) -> list[str]:
    """Checks of call ``k``'s return value (and out values) against the port's."""
    out_names = [f"out{k}_{p.name}" for p in fn.params if p.name in fn.outs]
    if out_names:
        ret, outs = (value[0], value[1:]) if isinstance(value, tuple) else (value, ())
    else:
        ret, outs = value, ()
    lines: list[str] = []
    if fn.ret != "void":
        if "*" in fn.ret:
            check = _ptr_check(f"return value of call {k}", f"ret{k}", ret)
            lines.append(check or f"/* return value of call {k}: {ret!r}, not checkable here */")
        elif isinstance(ret, int):
            lines.append(_int_check(f"return value of call {k}", f"ret{k}", ret))
    for name, v in zip(out_names, outs, strict=False):
        if isinstance(v, int):
            lines.append(_int_check(f"{name} of call {k}", name, v))
    return lines


@dataclass
class _Checks:
    """The final-state checks of a program, and what they had to leave to CRCs."""

    lines: list[str]
    notes: list[str]
    scratch: int  # bytes of the scratch array W that rebuilt values need


def _bytes_check(label: str, at: int, value: bytes, budget: int, checks: _Checks) -> None:
    """Check the bytes at ``A + at`` against ``value``: spelt out if short, else rebuilt in W by
    compact statements, else (past ``budget`` characters) by the CRC-32 of each BLOCK bytes."""
    out = checks.lines
    if len(value) <= SHORT_VALUE:
        out.append(f"check_bytes({_cstr(label)}, {at}, {c_string(value)}, {len(value)});")
        return
    rebuilt = statements_within("W", value, budget) if budget else None
    if rebuilt is not None:
        checks.scratch = max(checks.scratch, len(value))
        out += [f"/* {_comment(label)}: the port's {len(value)} bytes, rebuilt in W */", *rebuilt]
        out.append(f"check_bytes({_cstr(label)}, {at}, W, {len(value)});")
        return
    name = f"crc{len(checks.notes)}"
    out += _crc_table(name, value)
    out.append(f"check_blocks({_cstr(label)}, A + {at}, {len(value)}, {len(value)}, {name}, {BLOCK}, 0);")
    checks.notes.append(_crc_note(label, len(value)))


def _text_check(label: str, stream: str, text: str, budget: int, checks: _Checks) -> None:
    """Check the text written to ``stream`` against ``text``: spelt out a line of C per line of
    text, or (past ``budget`` characters) by the CRC-32 of each BLOCK bytes."""
    want = text.encode()
    out = checks.lines
    out.append(f"fflush(stream_{stream});")
    literal = [c_string(line) for line in want.splitlines(keepends=True)] or ['""']
    if len(want) <= SHORT_VALUE or sum(len(x) + 12 for x in literal) <= budget:
        out.append(f"check_text({_cstr(label)}, text_{stream}, len_{stream},")
        out += [f"           {x}" for x in literal]
        out.append(f"           , {len(want)});")
        return
    name = f"crc{len(checks.notes)}"
    out += _crc_table(name, want)
    out.append(
        f"check_blocks({_cstr(label)}, (const unsigned char *)text_{stream}, len_{stream}, {len(want)}, "
        f"{name}, {BLOCK}, 1);"
    )
    checks.notes.append(_crc_note(label, len(want)))


def _crc_table(name: str, value: bytes) -> list[str]:
    crcs = [f"{c:#010x}u" for c in block_crcs(value)]
    rows = [", ".join(crcs[k : k + 8]) for k in range(0, len(crcs), 8)]
    return [f"static const uint32_t {name}[] = {{", *[f"    {r}," for r in rows], "};"]


def _crc_note(label: str, n: int) -> str:
    return (
        f"{label} ({n} bytes) is checked by the CRC-32 of each {BLOCK} bytes, not byte by byte: "
        f"too long to spell out in a program kept under {PROGRAM_LIMIT // 1000} KB"
    )


def _comment(text: str) -> str:
    """``text`` as it may stand inside a C comment."""
    return text.replace("*/", "* /").replace("/*", "/ *")


def _observation_checks(
    case: Case, observed: dict[str, Any], offsets: dict[str, int], budget: int
) -> _Checks:
    """Checks of the final state against the port's observations; unknown labels are listed.
    A long value's checks take at most ``budget`` characters (else it is checked by CRCs)."""
    checks = _Checks([], [], 0)
    lines = checks.lines
    known: set[str] = set()

    def bytes_check(label: str, at: int) -> None:
        value = observed.get(label)
        if isinstance(value, bytes):
            known.add(label)
            _bytes_check(label, at, value, budget, checks)

    def check(label: str, expr: str, kind: str) -> None:
        if label not in observed:
            return
        value = observed[label]
        known.add(label)
        if kind == "ptr":
            made = _ptr_check(label, expr, value)
            lines.append(made or f"/* {_comment(label)}: {_comment(repr(value))}, not checkable here */")
        elif kind == "entry" and isinstance(value, tuple):
            base, n = value
            made = _ptr_check(f"{label}.iov_base", f"({expr}).iov_base", base)
            lines.append(
                made or f"/* {_comment(label)}.iov_base: {_comment(repr(base))}, not checkable here */"
            )
            lines.append(_int_check(f"{label}.iov_len", f"({expr}).iov_len", n))
        elif isinstance(value, int):
            lines.append(_int_check(label, expr, value))

    def entries(name: str, array: str, count: int | None) -> None:
        """``name[0..]`` (``count`` of them, or as many as the port observed)."""
        found: list[Any] = []
        while (count is None or len(found) < count) and f"{name}[{len(found)}]" in observed:
            found.append(observed[f"{name}[{len(found)}]"])
        known.update(f"{name}[{i}]" for i in range(len(found)))
        lines.extend(_entries_checks(name, array, found))

    bytes_check("guard before the first region", 0)
    for r in case.regions:
        at = f"(A + OFF_{r.name})"
        if r.kind == "data":
            bytes_check(f"bytes of {r.name}", offsets[r.name])
        elif r.kind == "iovs":
            entries(r.name, f"(const struct iovec *){at}", r.size // IOVEC_SIZE)
        elif r.kind == "qiov":
            q = f"((QEMUIOVector *){at})"
            if observed.get(f"{r.name}.iov") == "&local_iov":
                known.add(f"{r.name}.iov")
                lines.append(
                    f"check_ptr({_cstr(r.name + '.iov')}, {q}->iov, P_ARENA, "
                    f"OFF_{r.name} + (long long)offsetof(QEMUIOVector, local_iov), 0);"
                )
            else:
                check(f"{r.name}.iov", f"{q}->iov", "ptr")
            check(f"{r.name}.niov", f"{q}->niov", "int")
            check(f"{r.name}.nalloc", f"{q}->nalloc", "int")
            check(f"{r.name}.local_iov.iov_base", f"{q}->local_iov.iov_base", "ptr")
            check(f"{r.name}.size", f"{q}->size", "int")
            entries(f"{r.name}.iov", f"{q}->iov", None)
        elif r.kind == "undo":
            u = f"((IOVDiscardUndo *){at})"
            check(f"{r.name}.modified_iov", f"{u}->modified_iov", "ptr")
            check(f"{r.name}.orig", f"{u}->orig", "entry")
        elif r.kind == "ptr":
            check(f"*{r.name}", f"*(void **){at}", "ptr")
        elif r.kind == "uint":
            check(f"*{r.name}", f"*(unsigned *){at}", "int")
        bytes_check(f"guard after {r.name}", offsets[r.name] + r.size)
    heap = observed.get("heap (allocs, reallocs, frees, live)")
    if isinstance(heap, tuple):
        known.add("heap (allocs, reallocs, frees, live)")
        allocs, reallocs, frees, live = heap
        lines += [
            "{",
            "    struct iovconf_heap_stats s;",
            "    iovconf_heap_get_stats(&s);",
            f"    {_int_check('heap allocations', 's.allocs', allocs)}",
            f"    {_int_check('heap reallocations', 's.reallocs', reallocs)}",
            f"    {_int_check('heap frees', 's.frees', frees)}",
            f"    {_int_check('live heap blocks', 'iovconf_heap_live_since(0)', live)}",
            "}",
        ]
    if "errno" in observed:
        known.add("errno")
        lines.append(_int_check("errno after the last call", "last_errno", observed["errno"]))
    for stream in {a.name for c in case.calls for a in c.args if isinstance(a, Stream)}:
        label = f"text of {stream}"
        if isinstance(observed.get(label), str):
            known.add(label)
            _text_check(label, stream, observed[label], budget, checks)
    for label in observed:
        if label not in known:
            lines.append(f"/* not checked here: {_comment(label)} */")
    return checks


def _source_prelude(c_source: str | None) -> list[str]:
    """What the build puts before ``#include "iov.c"`` for this source (see
    :func:`reference_c.build.source_prelude`)."""
    from reference_c import build

    return build.source_prelude(build.header_overrides(build.plan(_source(c_source), "abort").contents))


@dataclass(frozen=True)
class CProgram:
    """A reproducer's text, and what it could not check byte by byte (or fit), in sentences."""

    text: str
    notes: tuple[str, ...] = ()


def c_program(
    case: Case,
    c_source: str | None,
    title: str = "",
    name: str = "repro.c",
    support: str | None = None,
    fields: Sequence[str] = (),
) -> CProgram:
    """The C program for ``case``: ``name`` is its file name, ``support`` the directory of its
    support files beside it (see :func:`write_c_support`; default: their hashed name),
    ``title`` and ``fields`` (every differing field) go in its header.  It is kept under
    PROGRAM_LIMIT bytes: long values are written compactly, and checked by CRCs when even that
    is too long (each one named in its notes); only initial contents too large to carry
    leave it longer, and a note says so."""
    support = support or support_name(c_source)
    expected = port_outcome(case)
    offsets = case.layout()[0]
    source_prelude = _source_prelude(c_source)  # the same for every budget: planned once
    for budget in VALUE_BUDGETS:
        checks = (
            _Checks([], [], 0)
            if expected.error
            else _observation_checks(case, expected.observed, offsets, budget)
        )
        body = _body(case, source_prelude, expected, checks)
        notes = list(checks.notes)
        text = _header(c_source, title, name, support, fields, notes) + body
        if len(text.encode()) <= PROGRAM_LIMIT:
            break
    else:
        notes.append(
            f"this program takes {len(text.encode()) // 1000} KB, past the {PROGRAM_LIMIT // 1000} KB "
            "reproducers are kept under: the case's initial contents do not compress"
        )
        text = _header(c_source, title, name, support, fields, notes) + body
    return CProgram(text, tuple(notes))


def _header(
    c_source: str | None, title: str, name: str, support: str, fields: Sequence[str], notes: Sequence[str]
) -> str:
    """The program's opening comment: what it reproduces, how to build it, what it left out."""
    first, *more = _comment(title[:2000]).splitlines() or [""]
    out = [
        f"/* iovconf C reproducer{': ' + first if first else ''}",
        *[f" *   {line}" for line in more],
        f" * C source: {_source(c_source)}",
    ]
    if fields:
        out += [" *", " * Every field that differed:"]
        for sentence in fields:
            lines = _comment(sentence).splitlines()
            out += [f" *   - {lines[0]}", *[f" *     {line}" for line in lines[1:]]]
    for note in notes:
        out += [" *", f" * NOTE: {_comment(note)}"]
    out += [
        " *",
        " * Build and run it from the directory holding this file and its support files (the C",
        f" * source as iov.c and our shims, in {support}/):",
        f" *   {build_command(name, support)}",
        " * For ASan and UBSan (its guard bytes are poisoned), add -fsanitize=address,undefined:",
        f" *   {build_command(name, support, '-fsanitize=address,undefined')}",
        " * gdb: break repro_assert_fail stops at a failing assert.",
        " *",
        " * It checks C against what the port says this case does. Exit status: 0 C does that now;",
        " * 1 C differs (each difference printed); 3 cannot tell (undefined behaviour, or sockets);",
        " * killed by a signal: C crashed.",
        " */",
        "",
    ]
    return "\n".join(out)


def _lines(lines: Iterable[str], indent: str = "") -> str:
    """``lines`` for a ``${name}`` that starts a line of the template: each with its newline."""
    return "".join(f"{indent}{line}\n" for line in lines)


def _body(case: Case, source_prelude: list[str], expected: Expected, checks: _Checks) -> str:
    """Everything after the header: the arena, the checks, the calls (templates/program.c)."""
    offsets, parts, total = case.layout()
    uses_sockets = any(isinstance(a, Sock) for c in case.calls for a in c.args)
    streams = {a.name: f"stream_{a.name}" for c in case.calls for a in c.args if isinstance(a, Stream)}
    results = expected.results
    stream_lines = []
    for s in streams.values():
        base = s.removeprefix("stream_")
        stream_lines += [f"static FILE *{s};", f"static char *text_{base};", f"static size_t len_{base};"]
    final = [f"/* the port raised {expected.error}: nothing to check */"] if expected.error else checks.lines
    undecided = []
    if uses_sockets:
        undecided = [
            'printf("UNDECIDED: this case uses sockets, which this program does not rebuild; '
            'replay the .py reproducer\\n");',
            f"exit({UNDECIDED});",
        ]
    elif expected.error:
        undecided = [
            f'printf("UNDECIDED: the port raised {_cstr(expected.error)[1:-1]}\\n");',
            f"exit({UNDECIDED});",
        ]
    return string.Template(_template("program.c")).substitute(
        prelude=_template("prelude.h"),
        source_prelude=_lines(source_prelude),
        total=total,
        offsets=_lines(f"#define OFF_{n} {off}" for n, off in offsets.items()),
        scratch=max(checks.scratch, 1),
        dump_bytes=DUMP_BYTES,
        streams=_lines(stream_lines),
        compact_helpers=C_HELPERS.strip("\n") + "\n",
        helpers=_template("helpers.c"),
        final_checks=_lines(final, "    "),
        how_it_ended=_lines(_how_it_ended(results), "    "),
        undecided=_lines(undecided, "    "),
        differ=DIFFER,
        agree=AGREE,
        calls=_lines(_calls(case, results, streams, parts)),
    )


def _how_it_ended(results: Sequence[Result]) -> list[str]:
    """``repro_end``'s check of how the calls ended (an assert, a GLib abort, or returning)."""
    n_made = len(results)
    last = results[-1] if results else None
    if isinstance(last, AssertFailed):
        want = f"assert `{last.expr}` in {last.func}"
        return [
            f"if (how != END_ASSERT || made != {n_made}) {{",
            f'    differ("end", "C %s in call %d, the port failed {_cstr(want)[1:-1]} in call {n_made}",',
            '           how == END_ASSERT ? "failed an assert" : how == END_ABORT ? "aborted" : '
            '"returned", made);',
            f"}} else if (strcmp(failed_func, {_cstr(last.func)}) != 0 || "
            f"!same_expr(failed_expr, {_cstr(last.expr)})) {{",
            f'    differ("end", "C failed assert `%s` in %s, the port {_cstr(want)[1:-1]}",',
            "           failed_expr, failed_func);",
            "}",
        ]
    if isinstance(last, GLibFatal):
        return [
            f"if (how != END_ABORT || made != {n_made} || iovconf_trap.message[0] == 0) {{",
            f'    differ("end", "C %s in call %d, the port had a fatal GLib error in call {n_made} '
            f'(%s)", how == END_RETURNED ? "returned" : how == END_ASSERT ? "failed an assert" : '
            f'"aborted", made, {_cstr(last.message)});',
            "}",
        ]
    return [
        "if (how != END_RETURNED) {",
        '    differ("end", "C %s in call %d, the port returned from every call",',
        '           how == END_ASSERT ? "failed an assert" : "aborted", made);',
        "}",
    ]


def _calls(
    case: Case, results: Sequence[Result], streams: dict[str, str], parts: Sequence[tuple[int, bool]]
) -> list[str]:
    """``main``'s statements after its abort handler: the arena laid out, then each call with
    its checks, up to the call where the port ended."""
    n_made = len(results)
    ends_early = bool(results) and isinstance(results[-1], AssertFailed | GLibFatal)
    out = []
    for s in streams.values():
        base = s.removeprefix("stream_")
        out.append(f"    {s} = open_memstream(&text_{base}, &len_{base});")
    pos = 0
    for size, guard in parts:
        if guard:
            out.append(f"    memset(A + {pos}, {GUARD_BYTE:#x}, {size});")
        pos += size
    for r in case.regions:
        out += [f"    {line}" for line in r.spec.c_init(r, f"(A + OFF_{r.name})")]
    pos = 0
    for size, guard in parts:
        if guard and size:
            out.append(f"    ASAN_POISON_MEMORY_REGION(A + {pos}, {size});")
        pos += size
    for k, call in enumerate(case.calls, start=1):
        fn = BY_NAME.get(call.func)
        result = results[k - 1] if k <= n_made else None
        if fn is None:
            out.append(f"    /* call {k}: {call!r} has no C counterpart */")
            continue
        decls, stmt = _call_lines(k, call, fn, streams)
        out.append(f'    printf("call {k}: {call.func}\\n");')
        if isinstance(result, Undefined):
            out.append(
                f'    printf("  the port says this call is undefined behaviour ({result.kind}); C runs it '
                f'(build with -fsanitize=address,undefined to see it)\\n");'
            )
        out.append("    {")
        out += [f"        {d}" for d in decls]
        out += [
            "        call_no = " + str(k) + ";",
            "        errno = 0;",
            f"        {stmt}",
            "        last_errno = errno;",
        ]
        if fn.ret != "void":
            if "*" in fn.ret:
                out.append(
                    f'        printf("  -> A%+" PRIdPTR "\\n", (intptr_t)((uintptr_t)ret{k} - (uintptr_t)A));'
                )
            else:
                out.append(f'        printf("  -> %lld\\n", (long long)ret{k});')
        for p in fn.params:
            if p.name in fn.outs:
                out.append(f'        printf("  out{k}_{p.name} = %lld\\n", (long long)out{k}_{p.name});')
        if isinstance(result, Returned):
            out += [f"        {line}" for line in _return_checks(k, fn, result.value)]
        out.append("    }")
        if isinstance(result, Undefined):
            out += [
                f'    printf("UNDECIDED: C returned from call {k}, which the port calls undefined behaviour '
                f'({result.kind}: {_cstr(result.detail)[1:-1]})\\n");',
                f"    exit({UNDECIDED});",
            ]
            break
        if isinstance(result, TimedOut):
            out += [
                f'    printf("UNDECIDED: the port hung in call {k}; C returned\\n");',
                f"    exit({UNDECIDED});",
            ]
            break
        if k == n_made and ends_early:
            out.append("    repro_end(END_RETURNED);  /* C returned where the port did not */")
            break
    return out
