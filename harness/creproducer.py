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

:func:`write_c_support` copies the files it needs (the C source as ``iov.c``, ``shim.h``,
``include/``, ``shim/``) into a sibling directory named by their hash, so a reproducer and
that directory work wherever they are copied together; the build line in the program's
header uses paths relative to its own directory.  The arena has the layout of the
harness's (offsets, guard bytes).
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyimpl.structs import IOVEC_SIZE
from reference_c.build import SHIM_FILES

from .case import GUARD_BYTE, Case, Sock, Stream
from .outcome import AssertFailed, GLibFatal, Result, Returned, TimedOut, Undefined
from .regions import c_pointer

REFERENCE_DIR = Path(__file__).resolve().parent.parent / "reference_c"

#: the shim files a reproducer compiles with, relative to reference_c/: the build's own, but
#: the batch runner, which calls the dispatch table only the cffi build generates
SUPPORT_FILES = tuple(f for f in SHIM_FILES if f != "shim/batch.c")

#: exit statuses of a reproducer
AGREE, DIFFER, UNDECIDED = 0, 1, 3


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
    from .worlds import PyWorld, run_case

    try:
        outcome = run_case(PyWorld(), case)
    except Exception as exc:  # the port raised what C cannot: no expectation to check
        return Expected((), {}, f"{type(exc).__name__}: {exc}")
    return Expected(outcome.results, outcome.observed())


# -- C text helpers ------------------------------------------------------------------------------


def _cstr(text: str) -> str:
    out = []
    for ch in text.encode():
        if ch in (0x22, 0x5C):
            out.append("\\" + chr(ch))
        elif 0x20 <= ch < 0x7F and ch != 0x3F:  # '?' escaped: no trigraphs
            out.append(chr(ch))
        else:
            out.append(f"\\{ch:03o}")
    return '"' + "".join(out) + '"'


def _bytes_literal(data: bytes) -> str:
    return '"' + "".join(f"\\x{b:02x}" for b in data) + '"'


def _u64(value: int) -> str:
    return f"{value & ((1 << 64) - 1):#x}ULL"


def _value(ctype: str, arg: Any) -> str:
    if "*" in ctype:
        return f"({ctype}){c_pointer(arg)}"
    if ctype in ("bool", "_Bool"):
        return "true" if arg else "false"
    return f"({ctype}){arg}" + ("ULL" if isinstance(arg, int) and arg > 0x7FFFFFFF else "")


def _ptr_check(what: str, expr: str, norm: Any) -> str | None:
    """A check that pointer ``expr`` is what the port's normalised pointer ``norm`` names."""
    if norm == 0 or norm is None:
        return f"check_ptr({_cstr(what)}, (const void *)({expr}), P_NULL, 0, 0);"
    if isinstance(norm, tuple) and norm and norm[0] in ("arena", "wild"):
        return f"check_ptr({_cstr(what)}, (const void *)({expr}), P_ARENA, {int(norm[1])}LL, 0);"
    if isinstance(norm, tuple) and norm and norm[0] == "heap":
        block, offset = int(norm[1]), int(norm[2])
        return f"check_ptr({_cstr(what)}, (const void *)({expr}), P_HEAP, {block}LL, {offset}LL);"
    if isinstance(norm, tuple) and norm and norm[0] == "abs":
        return f"check_ptr({_cstr(what)}, (const void *)({expr}), P_ABS, (long long){_u64(norm[1])}, 0);"
    return None


def _int_check(what: str, expr: str, value: Any) -> str:
    if isinstance(value, bool):
        return f"check_u64({_cstr(what)}, ({expr}) != 0, {int(value)}ULL);"
    return f"check_u64({_cstr(what)}, (unsigned long long)({expr}), {_u64(int(value))});"


PRELUDE = r"""
#include <assert.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
#include <sanitizer/asan_interface.h>
#else
#define ASAN_POISON_MEMORY_REGION(addr, size) ((void)(addr), (void)(size))
#define ASAN_UNPOISON_MEMORY_REGION(addr, size) ((void)(addr), (void)(size))
#endif

/* A failed assert of iov.c comes here (the C library's message, then the checks). */
static void repro_assert_fail(const char *expr, const char *file, unsigned int line,
                              const char *func) __attribute__((noreturn));
#define __assert_fail repro_assert_fail
"""

HELPERS = r"""
#define UNUSED __attribute__((unused))
enum { P_NULL, P_ARENA, P_HEAP, P_ABS };
enum { END_RETURNED, END_ASSERT, END_ABORT };

static volatile int call_no;       /* the call being made, from 1 */
static volatile int differences;
static volatile int last_errno;
static const char *volatile failed_expr, *volatile failed_func;
static sigjmp_buf repro_jmp;

static UNUSED int same_expr(const char *a, const char *b);

static void differ(const char *what, const char *fmt, ...)
{
    va_list ap;

    printf("  DIFFERENT %s: ", what);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    differences++;
}

static UNUSED void check_u64(const char *what, unsigned long long got, unsigned long long want)
{
    if (got != want) {
        differ(what, "C %llu (%#llx), the port %llu (%#llx)", got, got, want, want);
    }
}

static UNUSED void check_ptr(const char *what, const void *p, int kind, long long a, long long b)
{
    uintptr_t u = (uintptr_t)p;
    long long off = (long long)(intptr_t)(u - (uintptr_t)A);
    uint64_t serial = 0;
    size_t offset = 0;

    switch (kind) {
    case P_NULL:
        if (p != NULL) {
            differ(what, "C %p, the port NULL", p);
        }
        break;
    case P_ARENA:
        if (off != a) {
            differ(what, "C A%+lld, the port A%+lld", off, a);
        }
        break;
    case P_HEAP:
        if (iovconf_heap_find(u, &serial, &offset)) {
            if ((long long)serial != a || (long long)offset != b) {
                differ(what, "C heap block %llu + %zu, the port heap block %lld + %lld",
                       (unsigned long long)serial, offset, a, b);
            }
        } else if (iovconf_heap_find(u - 1, &serial, &offset)) {
            if ((long long)serial != a || (long long)offset + 1 != b) {
                differ(what, "C heap block %llu + %zu, the port heap block %lld + %lld",
                       (unsigned long long)serial, offset + 1, a, b);
            }
        } else {
            differ(what, "C %p (no live heap block), the port heap block %lld + %lld", p, a, b);
        }
        break;
    default:
        if ((long long)u != a) {
            differ(what, "C %#llx, the port %#llx", (unsigned long long)u, (unsigned long long)a);
        }
    }
}

static UNUSED void check_bytes(const char *what, size_t at, const char *want, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (A[at + i] != (unsigned char)want[i]) {
            differ(what, "byte %zu: C %02x, the port %02x (and %zu bytes after it unchecked)",
                   i, A[at + i], (unsigned char)want[i], n - i - 1);
            return;
        }
    }
}

static UNUSED void check_text(const char *what, const char *got, size_t len,
                                                const char *want, size_t n)
{
    if (len != n || memcmp(got, want, n) != 0) {
        differ(what, "C wrote %zu bytes, the port %zu; C's text:\n%.*s", len, n, (int)len, got);
    }
}

static void dump_arena(void)
{
    for (size_t i = 0; i < sizeof(A); i += 16) {
        printf("%06zx:", i);
        for (size_t j = i; j < i + 16 && j < sizeof(A); j++) {
            printf(" %02x", A[j]);
        }
        printf("\n");
    }
}
"""


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


def _observation_checks(case: Case, observed: dict[str, Any], offsets: dict[str, int]) -> list[str]:
    """Checks of the final state against the port's observations; unknown labels are listed."""
    lines: list[str] = []
    known: set[str] = set()

    def bytes_check(label: str, at: int) -> None:
        value = observed.get(label)
        if isinstance(value, bytes):
            known.add(label)
            lines.append(f"check_bytes({_cstr(label)}, {at}, {_bytes_literal(value)}, {len(value)});")

    def check(label: str, expr: str, kind: str) -> None:
        if label not in observed:
            return
        value = observed[label]
        known.add(label)
        if kind == "ptr":
            made = _ptr_check(label, expr, value)
            lines.append(made or f"/* {label}: {value!r}, not checkable here */")
        elif kind == "entry" and isinstance(value, tuple):
            base, n = value
            made = _ptr_check(f"{label}.iov_base", f"({expr}).iov_base", base)
            lines.append(made or f"/* {label}.iov_base: {base!r}, not checkable here */")
            lines.append(_int_check(f"{label}.iov_len", f"({expr}).iov_len", n))
        elif isinstance(value, int):
            lines.append(_int_check(label, expr, value))

    bytes_check("guard before the first region", 0)
    for r in case.regions:
        at = f"(A + OFF_{r.name})"
        if r.kind == "data":
            bytes_check(f"bytes of {r.name}", offsets[r.name])
        elif r.kind == "iovs":
            for i in range(r.size // IOVEC_SIZE):
                check(f"{r.name}[{i}]", f"((struct iovec *){at})[{i}]", "entry")
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
            i = 0
            while f"{r.name}.iov[{i}]" in observed:
                check(f"{r.name}.iov[{i}]", f"{q}->iov[{i}]", "entry")
                i += 1
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
            want = observed[label].encode()
            lines += [
                f"fflush(stream_{stream});",
                f"check_text({_cstr(label)}, text_{stream}, len_{stream}, {_cstr(observed[label])}, "
                f"{len(want)});",
            ]
    for label in observed:
        if label not in known:
            lines.append(f"/* not checked here: {label} */")
    return lines


def _source_prelude(c_source: str | None) -> list[str]:
    """What the build puts before ``#include "iov.c"`` for this source (see
    :func:`reference_c.build.source_prelude`)."""
    from reference_c import build

    return build.source_prelude(build.header_overrides(build.plan(_source(c_source), "abort").contents))


def c_reproducer(
    case: Case, c_source: str | None, title: str = "", name: str = "repro.c", support: str | None = None
) -> str:
    """The C program text for ``case``: ``name`` is its file name, ``support`` the directory of its
    support files beside it (see :func:`write_c_support`; default: their hashed name)."""
    from pyimpl.ctable import BY_NAME

    support = support or support_name(c_source)
    expected = port_outcome(case)
    offsets, parts, total = case.layout()
    uses_sockets = any(isinstance(a, Sock) for c in case.calls for a in c.args)
    streams = {a.name: f"stream_{a.name}" for c in case.calls for a in c.args if isinstance(a, Stream)}
    out = [
        f"/* iovconf C reproducer{': ' + title if title else ''}",
        f" * C source: {_source(c_source)}",
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
        PRELUDE.strip("\n"),
        *_source_prelude(c_source),
        '#include "iov.c"',
        '#include "shim.h"',
        "",
        f"static unsigned char A[{total}] __attribute__((aligned(16)));",
        *[f"#define OFF_{n} {off}" for n, off in offsets.items()],
        "",
    ]
    for s in streams.values():
        base = s.removeprefix("stream_")
        out += [f"static FILE *{s};", f"static char *text_{base};", f"static size_t len_{base};"]
    out.append(HELPERS.strip("\n"))
    results = expected.results
    n_made = len(results)
    last = results[-1] if results else None
    ends_early = isinstance(last, AssertFailed | GLibFatal)

    # -- how the calls ended, then the final state
    out += ["", "static void check_final(void)", "{"]
    if expected.error:
        out.append(f"    /* the port raised {expected.error}: nothing to check */")
    else:
        out += [f"    {line}" for line in _observation_checks(case, expected.observed, offsets)]
    out += ["}", ""]
    out += [
        "static void repro_end(int how) __attribute__((noreturn));",
        "static void repro_end(int how)",
        "{",
        "    int made = call_no;",
        "",
        "    ASAN_UNPOISON_MEMORY_REGION(A, sizeof(A));",
    ]
    if isinstance(last, AssertFailed):
        want = f"assert `{last.expr}` in {last.func}"
        out += [
            f"    if (how != END_ASSERT || made != {n_made}) {{",
            f'        differ("end", "C %s in call %d, the port failed {_cstr(want)[1:-1]} in call {n_made}",',
            '               how == END_ASSERT ? "failed an assert" : how == END_ABORT ? "aborted" : '
            '"returned", made);',
            f"    }} else if (strcmp(failed_func, {_cstr(last.func)}) != 0 || "
            f"!same_expr(failed_expr, {_cstr(last.expr)})) {{",
            f'        differ("end", "C failed assert `%s` in %s, the port {_cstr(want)[1:-1]}",',
            "               failed_expr, failed_func);",
            "    }",
        ]
    elif isinstance(last, GLibFatal):
        out += [
            f"    if (how != END_ABORT || made != {n_made} || iovconf_trap.message[0] == 0) {{",
            f'        differ("end", "C %s in call %d, the port had a fatal GLib error in call {n_made} '
            f'(%s)", how == END_RETURNED ? "returned" : how == END_ASSERT ? "failed an assert" : '
            f'"aborted", made, {_cstr(last.message)});',
            "    }",
        ]
    else:
        out += [
            "    if (how != END_RETURNED) {",
            '        differ("end", "C %s in call %d, the port returned from every call",',
            '               how == END_ASSERT ? "failed an assert" : "aborted", made);',
            "    }",
        ]
    out += [
        "    check_final();",
        '    printf("arena at the end:\\n");',
        "    dump_arena();",
    ]
    if uses_sockets:
        out += [
            '    printf("UNDECIDED: this case uses sockets, which this program does not rebuild; '
            'replay the .py reproducer\\n");',
            f"    exit({UNDECIDED});",
        ]
    elif expected.error:
        out += [
            f'    printf("UNDECIDED: the port raised {_cstr(expected.error)[1:-1]}\\n");',
            f"    exit({UNDECIDED});",
        ]
    out += [
        "    if (differences) {",
        '        printf("DIFFERENT: %d difference%s from the port\\n", differences,',
        '               differences == 1 ? "" : "s");',
        f"        exit({DIFFER});",
        "    }",
        '    printf("AGREE: C does what the port says\\n");',
        f"    exit({AGREE});",
        "}",
        "",
        "static int same_expr(const char *a, const char *b)",
        "{",
        "    /* the C library's text of an expression is the source's, maybe spaced otherwise */",
        "    for (;;) {",
        "        while (*a == ' ') a++;",
        "        while (*b == ' ') b++;",
        "        if (*a != *b) return 0;",
        "        if (!*a) return 1;",
        "        a++, b++;",
        "    }",
        "}",
        "",
        "static void repro_assert_fail(const char *expr, const char *file, unsigned int line,",
        "                              const char *func)",
        "{",
        '    fprintf(stderr, "%s:%u: %s: Assertion `%s\' failed.\\n", file, line, func, expr);',
        "    failed_expr = expr;",
        "    failed_func = func;",
        "    repro_end(END_ASSERT);",
        "}",
        "",
        "static void on_abort(int sig)",
        "{",
        "    (void)sig;",
        "    siglongjmp(repro_jmp, 1);",
        "}",
        "",
        "int main(void)",
        "{",
        "    setvbuf(stdout, NULL, _IONBF, 0);",
        "    signal(SIGABRT, on_abort);",
        "    if (sigsetjmp(repro_jmp, 1)) {",
        "        repro_end(END_ABORT);  /* a fatal GLib error (or another abort) */",
        "    }",
    ]
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
    out += ["    repro_end(END_RETURNED);", "}", ""]
    return "\n".join(out)
