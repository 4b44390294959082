"""Build the C reference: cffi API (out-of-line) mode, cached and locked.

One build = one directory in the cache holding a copy of the chosen C source
(as ``iov.c``), the shim files, the generated wrapper translation unit (which
``#include "iov.c"`` so the static helpers are callable), the weak stubs, the
build log and the extension module.  The directory name carries the flavour
and the cache key; the key is the sha256 of everything that goes into the
build (C source bytes, every shim file, the generated texts, the compiler
flags, the flavour, the Python ABI tag, the cffi version, the compiler with
its version: ``gcc --version``'s first line, so a compiler upgrade rebuilds
instead of loading objects the new compiler never made, and the environment
variables the compile reads: :data:`BUILD_ENVIRONMENT`, so a build made with
``CFLAGS=-fsanitize=...`` is never served to a plain run, nor the reverse).

The cache lives in ``$IOVCONF_CACHE_DIR`` or ``~/.cache/iovconf``.  A build runs
in a temporary sibling directory under a file lock and is renamed into place,
so parallel pytest-xdist workers and concurrent sessions build once and never
see half a build.  The compiler runs in a child process, so its output is
captured for :class:`BuildError` and cffi's ``chdir`` stays out of this process.

Old builds are evicted after each new build, under a lock of the whole cache
(:func:`evict`): of each flavour the newest ``$IOVCONF_CACHE_KEEP`` (default 16)
stay, and so does anything used in the last ten minutes; any build unused for
``$IOVCONF_CACHE_MAX_AGE_DAYS`` (default 30) goes.  Finding a build in the cache
counts as using it (its manifest's mtime is the time of last use).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import cffi  # type: ignore[import-untyped]
from filelock import FileLock

from iovspec.ctable import BY_NAME, INLINES, TABLE, CParam, compatible, normalise, parse_prototype, value_kind

from .csource import CPP, CSourceError, SourceInfo, read_source
from .errors import BuildError

HERE = Path(__file__).resolve().parent
#: the original QEMU util/iov.c
DEFAULT_SOURCE = HERE / "iov.c"
#: our files that go into every build, relative to reference_c/
#: the shim translation units, one per header they stand in for
SHIM_SOURCES = (
    "shim/osdep.c",
    "shim/glib.c",
    "shim/cutils.c",
    "shim/sockets.c",
    "shim/facade.c",
    "shim/batch.c",
)
SHIM_FILES = (
    *SHIM_SOURCES,
    "shim.h",
    "include/glib.h",
    "include/qemu-common.h",
    "include/qemu/cutils.h",
    "include/qemu/iov.h",
    "include/qemu/osdep.h",
    "include/qemu/sockets.h",
)
FLAVOURS = ("trap", "abort", "sanitize", "coverage", "fuzz")

#: always, after the flavour's flags; -UNDEBUG last of all, because Python's
#: own CFLAGS carry -DNDEBUG and come first (cffi appends extra_compile_args)
_ALWAYS = ("-D_GNU_SOURCE", "-DCONFIG_POSIX", "-fvisibility=hidden")
_FLAVOUR_FLAGS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # flavour: (compile flags, link flags); QEMU itself builds with -fwrapv
    "trap": (("-O1", "-g", "-fwrapv"), ()),
    "abort": (("-O1", "-g", "-fwrapv", "-DIOVCONF_ABORT_MODE"), ()),
    "sanitize": (
        (
            "-O1",
            "-g",
            "-fsanitize=address,undefined",
            "-DIOVCONF_SANITIZE",
            "-fno-wrapv",
            "-fno-omit-frame-pointer",
        ),
        ("-fsanitize=address,undefined",),
    ),
    "coverage": (("-O0", "-g", "-fwrapv", "--coverage", "-DIOVCONF_COVERAGE"), ("--coverage",)),
    # clang's libFuzzer counters and comparison hooks on C's branches (harness fuzz builds it
    # with CC=clang; libFuzzer itself is loaded by atheris before the module)
    "fuzz": (("-O1", "-g", "-fwrapv", "-fsanitize=fuzzer-no-link"), ("-fsanitize=fuzzer-no-link",)),
}


def _shim_cdef() -> str:
    """What Python needs of shim.h, taken from shim.h itself: its structs and the
    declarations after the "For Python" marker (comments dropped for cffi)."""
    text = (HERE / "shim.h").read_text()
    structs = re.findall(r"^struct iovconf_\w+ \{.*?^\};", text, re.S | re.M)
    for_python = text.split("/* For Python", 1)[1].split("*/", 1)[1].rsplit("#endif", 1)[0]
    return re.sub(r"/\*.*?\*/", "", "\n".join([*structs, for_python]), flags=re.S)


def compile_flags(flavour: str) -> list[str]:
    """The extra compile flags of ``flavour`` (they follow Python's CFLAGS)."""
    return [*_FLAVOUR_FLAGS[flavour][0], *_ALWAYS, "-UNDEBUG"]


def link_flags(flavour: str) -> list[str]:
    return list(_FLAVOUR_FLAGS[flavour][1])


# -- generated code ---------------------------------------------------------

#: the C type of each value kind in the wrappers (pointers travel as uintptr_t)
WRAPPER_CTYPE = {
    "ptr": "uintptr_t",
    "str": "uintptr_t",
    "stream": "uintptr_t",
    "size_t": "size_t",
    "ssize_t": "ssize_t",
    "int": "int",
    "unsigned": "unsigned int",
    "bool": "_Bool",
}


@dataclass(frozen=True)
class Entry:
    """A function of the source being built that Python can call, with its prototype from the
    source itself; ``outs`` are pointer parameters to a caller's local (the wrapper makes them)."""

    name: str
    ret: str
    params: tuple[CParam, ...]
    outs: tuple[str, ...] = ()
    origin: str = "iov.c"

    @property
    def prototype(self) -> str:
        star = "" if self.ret.endswith("*") else " "
        args = ", ".join(f"{p.ctype}{'' if p.ctype.endswith('*') else ' '}{p.name}" for p in self.params)
        return f"{self.ret}{star}{self.name}({args or 'void'})"

    @property
    def ret_kind(self) -> str:
        return value_kind(self.ret)

    @property
    def inputs(self) -> tuple[CParam, ...]:
        return tuple(p for p in self.params if p.name not in self.outs)

    def pointee(self, p: CParam) -> str:
        return p.ctype.rstrip().removesuffix("*").strip()


def _wrapper_params(e: Entry) -> list[str]:
    params = []
    for p in e.params:
        if p.name in e.outs:
            params.append(f"{WRAPPER_CTYPE[value_kind(e.pointee(p))]} *{p.name}")
        else:
            params.append(f"{WRAPPER_CTYPE[p.kind]} {p.name}")
    if e.ret_kind != "void":
        params.append(f"{WRAPPER_CTYPE[e.ret_kind]} *iovconf_out")
    return params


def wrapper_name(name: str) -> str:
    return f"iovconf_{name}"


def _wrapper(e: Entry) -> str:
    """``int iovconf_NAME(args..., RET *out)``: sigsetjmp, call, store, status."""
    args = ", ".join(
        p.name if p.name in e.outs or p.kind not in ("ptr", "str", "stream") else f"({p.ctype}){p.name}"
        for p in e.params
    )
    call = f"{e.name}({args})"
    if e.ret_kind == "void":
        decl, invoke, store = "", f"    {call};", ""
    else:
        rtype = WRAPPER_CTYPE[e.ret_kind]
        decl = f"    {rtype} iovconf_ret;\n"
        invoke = f"    iovconf_ret = ({rtype}){call};"
        store = "    *iovconf_out = iovconf_ret;\n"
    return (
        f"int {wrapper_name(e.name)}({', '.join(_wrapper_params(e))})\n"
        "{\n"
        f"{decl}"
        "    if (sigsetjmp(iovconf_jmp, 0)) {\n"
        "        return iovconf_trapped();\n"
        "    }\n"
        "    iovconf_enter(1);\n"
        f"{invoke}\n"
        "    iovconf_leave(1);\n"
        f"{store}"
        "    return IOVCONF_OK;\n"
        "}\n"
    )


def _dispatch(entries: tuple[Entry, ...]) -> str:
    """``iovconf_dispatch(fn, a, o)``: call entry ``fn`` with the arguments ``a``; its out
    values, then its return value, go to ``o`` (the batch runner's way in, shim/batch.c)."""
    cases = []
    for k, e in enumerate(entries):
        outs = [p for p in e.params if p.name in e.outs]
        decls = [f"{WRAPPER_CTYPE[value_kind(e.pointee(p))]} out{j} = 0;" for j, p in enumerate(outs)]
        args, inputs = [], iter(range(len(e.inputs)))
        for p in e.params:
            if p.name in e.outs:
                args.append(f"&out{outs.index(p)}")
            else:
                args.append(f"({WRAPPER_CTYPE[p.kind]})a[{next(inputs)}]")
        stores = [f"o[{j}] = (uint64_t)out{j};" for j in range(len(outs))]
        if e.ret_kind != "void":
            decls.append(f"{WRAPPER_CTYPE[e.ret_kind]} ret = 0;")
            args.append("&ret")
            stores.append(f"o[{len(outs)}] = (uint64_t)ret;")
        body = " ".join([*decls, f"s = {wrapper_name(e.name)}({', '.join(args)});", *stores])
        cases.append(f"    case {k}: {{ {body} return s; }}")
    return "\n".join(
        [
            "int iovconf_dispatch(uint32_t fn, const uint64_t *a, uint64_t *o)",
            "{",
            "    int s;",
            "    (void)a;",
            "    (void)o;",
            "    switch (fn) {",
            *cases,
            "    }",
            "    (void)s;",
            "    return -1;",
            "}",
            "",
        ]
    )


def header_overrides(found: Contents) -> dict[str, str]:
    """The public functions the source defines with another prototype than our ``qemu/iov.h``
    declares (the original's), compatible or not: name -> the source's prototype."""
    spelt = {**found.respelt, **found.changed}
    return {name: proto for name, proto in spelt.items() if BY_NAME[name].kind == "public"}


def source_prelude(overrides: dict[str, str]) -> list[str]:
    """The lines before ``#include "iov.c"``: a patch that changes a public prototype changes
    QEMU's header too, but ours keeps the original's, so its declarations of those functions
    are renamed out of the way and the source's own are declared instead.  Where the source's
    prototype takes and returns the same values (``const`` added, say), the header's inlines
    still call the function the original's way: the renamed name forwards to it."""
    if not overrides:
        return []
    lines = ["/* qemu/iov.h declares these as the original iov.c has them; this source does not */"]
    lines += [f"#define {name} iovconf_header_{name}" for name in overrides]
    lines.append('#include "qemu/iov.h"')
    lines += [f"#undef {name}" for name in overrides]
    lines += [f"{proto};" for proto in overrides.values()]
    for name, proto in overrides.items():
        row = BY_NAME[name]
        if compatible(row.prototype, proto):
            ret, _, params = parse_prototype(row.prototype)
            call = f"{name}({', '.join(p.name for p in params)})"
            body = f"{call};" if ret == "void" else f"return {call};"
            # the name is a whole word before its "(": "struct iovec *qemu_iovec_slice(" has no space
            forwarder, renamed = re.subn(rf"\b{name}\s*\(", f"iovconf_header_{name}(", row.prototype, count=1)
            if not renamed:
                raise ValueError(f"{name}: the table's prototype does not name it: {row.prototype!r}")
            lines.append(f"{forwarder}\n{{\n    {body}\n}}")
    return lines


def module_source(entries: tuple[Entry, ...], overrides: dict[str, str] | None = None) -> str:
    """The wrapper translation unit (cffi's set_source text)."""
    parts = [
        "/* Generated by reference_c/build.py: wrappers around the C code under test. */",
        *source_prelude(overrides or {}),
        '#include "iov.c"',
        '#include "shim.h"',
        "",
    ]
    parts += [_wrapper(e) for e in entries]
    parts.append(_dispatch(entries))
    parts += [
        "/* cffi's generated code below keeps the C library's assert */",
        "#undef assert",
        "#include <assert.h>",
        "",
    ]
    return "\n".join(parts)


def stubs_source(missing: frozenset[str]) -> str:
    """Weak definitions of the public functions the source lacks (prototypes of qemu/iov.h).

    A source that lacks one still links; calling it (directly, or from another function
    of that source) traps with status MISSING.
    """
    parts = [
        "/* Generated by reference_c/build.py: stand-ins for missing functions. */",
        '#include "qemu/iov.h"',
        '#include "shim.h"',
        "",
    ]
    for f in TABLE:
        if f.kind == "public" and f.name in missing:
            parts.append(f'__attribute__((weak)) {f.prototype}\n{{\n    iovconf_missing("{f.name}");\n}}\n')
    return "\n".join(parts)


def cdef_text(entries: tuple[Entry, ...]) -> str:
    lines = [_shim_cdef()]
    lines += [f"int {wrapper_name(e.name)}({', '.join(_wrapper_params(e))});" for e in entries]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Contents:
    """What a source offers compared with the port's table."""

    entries: tuple[Entry, ...]  # every function Python can call, by the source's own prototype
    missing: frozenset[str]  # in the table, not defined (an inline whose callee is missing, too)
    changed: dict[str, str]  # in the table, defined with another prototype: name -> the source's
    added: frozenset[str]  # defined, not in the table
    #: every function the source has (not the missing inlines), callable or not: name -> prototype
    prototypes: dict[str, str] = field(default_factory=dict)
    #: in the table, defined with a prototype spelt otherwise that takes and returns the same
    #: values (a parameter renamed, ``const`` added, ``unsigned`` for ``unsigned int``): name ->
    #: the source's; called and judged as the table's
    respelt: dict[str, str] = field(default_factory=dict)


def _callable(e: Entry) -> bool:
    """Whether the facade can pass every argument and the result (a type it has no value kind
    for, e.g. ``uint64_t`` in a function a patch adds, makes the function uncallable, not the
    build fail)."""
    for ctype in (e.ret, *(p.ctype for p in e.params)):
        try:
            value_kind(ctype)
        except ValueError:
            return False
    return True


def contents(info: SourceInfo) -> Contents:
    """Compare the functions ``info`` defines with the table (by normalised prototype)."""
    entries: list[Entry] = []
    changed: dict[str, str] = {}
    respelt: dict[str, str] = {}
    for f in info.functions.values():
        row = BY_NAME.get(f.name)
        params = tuple(CParam(p.ctype, p.name) for p in f.params)
        e = Entry(f.name, f.ret, params, origin=f.origin)
        if row is not None and compatible(row.prototype, e.prototype):
            if normalise(row.prototype) != normalise(e.prototype):
                respelt[f.name] = e.prototype
            # the out parameters by place: a source may name them otherwise
            outs = tuple(p.name for p, q in zip(params, row.params, strict=True) if q.name in row.outs)
            e = Entry(f.name, f.ret, params, outs, f.origin)
        elif row is not None:
            changed[f.name] = e.prototype
        entries.append(e)
    defined = {e.name for e in entries}
    missing = {f.name for f in TABLE if f.name not in defined and f.kind != "inline"}
    # an inline of our header is missing when a function it calls (in the original) is, or
    # is defined with another prototype (the inline's call to it is the original's)
    reshaped = {name for name in changed if BY_NAME[name].kind == "public"}
    original = _original_info()
    for name in INLINES:
        callees = original.calls.get(name, frozenset())
        if callees & (missing | reshaped):
            missing.add(name)
        for callee in sorted(callees & reshaped):
            users = sorted(f for f, called in info.calls.items() if name in called and f != name)
            if users:  # the source calls the inline, which calls its callee the original's way
                raise BuildError(
                    f"{callee}: {info.path.name} defines it as {changed[callee]}, but qemu/iov.h's "
                    f"inline {name} (called by {', '.join(users)}) calls it as the original declares "
                    f"it ({BY_NAME[callee].prototype}); our header shim cannot follow that change"
                )
    callable_ = tuple(e for e in entries if e.name not in missing and _callable(e))
    added = frozenset(defined - set(BY_NAME))
    prototypes = {e.name: e.prototype for e in entries if e.name not in missing}
    return Contents(callable_, frozenset(missing), changed, added, prototypes, respelt)


def _original_info() -> SourceInfo:
    return read_source(DEFAULT_SOURCE)


def _source_info(path: Path) -> SourceInfo:
    """What the source defines; a source our parser cannot read gets the compiler's own verdict."""
    try:
        return read_source(path)
    except CSourceError as e:
        with tempfile.TemporaryDirectory() as tmp:  # as iov.c, the name it has in every build
            shutil.copyfile(path, Path(tmp) / "iov.c")
            check = subprocess.run(
                [CPP, "-fsyntax-only", *compile_flags("trap"), f"-I{HERE / 'include'}", f"-I{HERE}", "iov.c"],
                cwd=tmp,
                capture_output=True,
                text=True,
                check=False,
            )
        if check.returncode != 0:
            raise BuildError(f"building {path} failed", check.stderr) from e
        raise BuildError(f"cannot read the functions of {path}", e.output) from e


# -- planning and caching -----------------------------------------------------

#: The environment variables that change the binary a build makes, each keyed when set (set and
#: empty is not unset to setuptools).  setuptools' ``customize_compiler`` (cffi compiles through
#: it) puts ``CC``, ``CFLAGS`` and ``CPPFLAGS`` on every compile and link line, and ``LDSHARED``
#: (the link command, else Python's with ``$CC`` in place of its compiler) and ``LDFLAGS`` on the
#: link line; the ``CPP``, ``CXX``, ``AR``, ``ARFLAGS`` and ``RANLIB`` it also reads name tools
#: this build never runs (no preprocessing step, no C++, no static library).  The rest are the
#: compiler's own: gcc and clang search ``CPATH`` and ``C_INCLUDE_PATH`` for headers and
#: ``LIBRARY_PATH`` for libraries, and gcc finds its parts through ``GCC_EXEC_PREFIX`` and
#: ``COMPILER_PATH``.
BUILD_ENVIRONMENT = (
    "CC",
    "CFLAGS",
    "CPPFLAGS",
    "LDSHARED",
    "LDFLAGS",
    "CPATH",
    "C_INCLUDE_PATH",
    "LIBRARY_PATH",
    "GCC_EXEC_PREFIX",
    "COMPILER_PATH",
)


def build_environment() -> dict[str, str]:
    """The variables of :data:`BUILD_ENVIRONMENT` set in this process's environment."""
    return {name: os.environ[name] for name in BUILD_ENVIRONMENT if name in os.environ}


def compiler_command() -> str:
    """The C compiler cffi's build runs: ``$CC`` as setuptools honours it, else Python's own."""
    return os.environ.get("CC") or str(sysconfig.get_config_var("CC") or "cc")


_COMPILER_VERSIONS: dict[str, str] = {}


def compiler_version(cc: str | None = None) -> str:
    """The first line ``CC --version`` prints (e.g. ``gcc (Debian 12.2.0-14) 12.2.0``), once per
    process and compiler command; ``unknown (...)`` when it cannot run (the build itself will then
    say why).  The whole command is asked, not its first word: for ``ccache gcc`` that is gcc's
    version (ccache passes ``--version`` through), which ``ccache --version`` is not."""
    cc = cc or compiler_command()
    found = _COMPILER_VERSIONS.get(cc)
    if found is None:
        try:
            argv = shlex.split(cc)
            out = subprocess.run(
                [*argv, "--version"], capture_output=True, text=True, timeout=60, check=False
            )
            found = (out.stdout.strip().splitlines() or [f"unknown (exit {out.returncode})"])[0]
        except (OSError, subprocess.SubprocessError, ValueError) as e:  # ValueError: bad quoting
            found = f"unknown ({type(e).__name__})"
        _COMPILER_VERSIONS[cc] = found
    return found


def cache_root() -> Path:
    env = os.environ.get("IOVCONF_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "iovconf"


def abi_tag() -> str:
    return f"{sys.implementation.cache_tag}{sysconfig.get_config_var('EXT_SUFFIX')}"


@dataclass(frozen=True)
class Plan:
    """Everything one build needs, and its cache key."""

    source_path: Path
    source_bytes: bytes = field(repr=False)
    flavour: str
    contents: Contents = field(repr=False)
    cdef: str = field(repr=False)
    module_source: str = field(repr=False)
    stubs_source: str = field(repr=False)
    cflags: tuple[str, ...]
    ldflags: tuple[str, ...]
    key: str
    #: the variables of :data:`BUILD_ENVIRONMENT` set when it was planned (part of the key)
    environment: tuple[tuple[str, str], ...] = ()

    @property
    def source_sha256(self) -> str:
        return hashlib.sha256(self.source_bytes).hexdigest()

    @property
    def module_name(self) -> str:
        return f"_iovconf_{self.flavour}_{self.key[:24]}"

    @property
    def directory(self) -> Path:
        return cache_root() / f"{self.flavour}-{self.key[:24]}"

    @property
    def so_path(self) -> Path:
        return self.directory / f"{self.module_name}{sysconfig.get_config_var('EXT_SUFFIX')}"


def plan(source_path: str | os.PathLike[str], flavour: str = "trap") -> Plan:
    """Read the source, detect what it defines, generate code, compute the key."""
    if flavour not in _FLAVOUR_FLAGS:
        raise ValueError(f"flavour: expected one of {', '.join(FLAVOURS)}, got {flavour!r}")
    path = Path(source_path).resolve()
    try:
        source = path.read_bytes()
    except OSError as e:
        raise BuildError(f"cannot read C source {path}: {e}") from e
    found = contents(_source_info(path))
    cdef = cdef_text(found.entries)
    msource = module_source(found.entries, header_overrides(found))
    stubs = stubs_source(found.missing)
    cflags = tuple(compile_flags(flavour))
    ldflags = tuple(link_flags(flavour))

    h = hashlib.sha256()

    def feed(label: str, data: bytes) -> None:
        h.update(f"{label}:{len(data)}:".encode())
        h.update(data)

    feed("iovconf-build", b"1")
    feed("source", source)
    for rel in SHIM_FILES:
        feed(f"shim {rel}", (HERE / rel).read_bytes())
    feed("cdef", cdef.encode())
    feed("module", msource.encode())
    feed("stubs", stubs.encode())
    feed("flags", json.dumps([cflags, ldflags]).encode())
    feed("flavour", flavour.encode())
    feed("abi", abi_tag().encode())
    feed("cffi", cffi.__version__.encode())
    feed("cc", compiler_command().encode())
    feed("cc --version", compiler_version().encode())
    environment = tuple(sorted(build_environment().items()))
    feed("environment", json.dumps(environment).encode())
    return Plan(
        path,
        source,
        flavour,
        found,
        cdef,
        msource,
        stubs,
        cflags,
        ldflags,
        h.hexdigest(),
        environment,
    )


@dataclass(frozen=True)
class Built:
    """A build in the cache."""

    plan: Plan
    so_path: Path
    built_now: bool  # this call compiled it (False: found in the cache)
    seconds: float  # compile time when built_now, else 0


_MANIFEST = "manifest.json"
_COMPILE_TIMEOUT = 600


def _compile_into(p: Plan, tmp: Path) -> str:
    """Lay out the build directory and run the compiler; returns its output."""
    (tmp / "iov.c").write_bytes(p.source_bytes)
    for rel in SHIM_FILES:
        dst = tmp / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(HERE / rel, dst)
    (tmp / "stubs.c").write_text(p.stubs_source, encoding="utf-8")
    cflags = list(p.cflags)
    if p.flavour == "coverage":
        # gcov data goes next to the objects' final place, not the temp dir
        cflags += [f"-fprofile-dir={p.directory}", f"-fprofile-prefix-path={tmp}/."]
    spec = {
        "module": p.module_name,
        "cdef": p.cdef,
        "source": p.module_source,
        "sources": [*SHIM_SOURCES, "stubs.c"],
        "include_dirs": ["include", "."],
        "cflags": cflags,
        "ldflags": list(p.ldflags),
        "tmpdir": str(tmp),
        "verify": p.flavour in ("trap", "abort"),
    }
    (tmp / "spec.json").write_text(json.dumps(spec, indent=1), encoding="utf-8")
    try:
        proc = subprocess.run(
            [sys.executable, str(HERE / "_compile.py"), str(tmp / "spec.json")],
            cwd=tmp,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            check=False,
            timeout=_COMPILE_TIMEOUT,
        )
    except subprocess.TimeoutExpired as e:
        output = e.output if isinstance(e.output, str) else ""
        raise BuildError(f"building {p.source_path} took over {_COMPILE_TIMEOUT} s", output) from e
    (tmp / "build.log").write_text(proc.stdout, encoding="utf-8")
    if proc.returncode != 0 or not (tmp / p.so_path.name).exists():
        raise BuildError(f"building {p.source_path} (flavour {p.flavour}) failed", proc.stdout)
    return proc.stdout


def build(source_path: str | os.PathLike[str] | None = None, flavour: str = "trap") -> Built:
    """Build (or find in the cache) the extension for ``source_path`` and ``flavour``."""
    p = plan(source_path if source_path is not None else DEFAULT_SOURCE, flavour)
    final = p.directory
    if _touch(final / _MANIFEST):
        return Built(p, p.so_path, False, 0.0)
    root = final.parent
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root / f"{final.name}.lock")):
        if (final / _MANIFEST).exists():  # another process built it meanwhile
            return Built(p, p.so_path, False, 0.0)
        tmp = Path(tempfile.mkdtemp(prefix=f"{final.name}.tmp-", dir=root))
        try:
            start = time.monotonic()
            _compile_into(p, tmp)
            seconds = time.monotonic() - start
            manifest = {
                "source_path": str(p.source_path),
                "source_sha256": p.source_sha256,
                "flavour": p.flavour,
                "key": p.key,
                "module": p.module_name,
                "callable": [e.name for e in p.contents.entries],
                "missing": sorted(p.contents.missing),
                "changed": p.contents.changed,
                "respelt": p.contents.respelt,
                "added": sorted(p.contents.added),
                "cflags": list(p.cflags),
                "ldflags": list(p.ldflags),
                "abi": abi_tag(),
                "compiler": compiler_command(),
                "compiler_version": compiler_version(),
                "environment": dict(p.environment),
                "seconds": round(seconds, 3),
            }
            (tmp / _MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
            if final.exists():  # a leftover without a manifest: never complete
                shutil.rmtree(final)
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    evict(root)
    return Built(p, p.so_path, True, seconds)


def _touch(manifest: Path) -> bool:
    """Mark a build as used now; False if it is not in the cache (no manifest)."""
    try:
        os.utime(manifest)
    except FileNotFoundError:
        return False
    except OSError:  # a read-only cache still serves its builds
        return manifest.exists()
    return True


#: a build used this recently is never evicted (another process may be about to load it)
EVICT_GRACE = 600.0
#: a temporary build directory this old was left by a build that died
STALE_TMP = 3600.0
_ENTRY = re.compile(r"^(?P<flavour>[a-z]+)-(?P<key>[0-9a-f]{24})$")


def _env_number(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def evict(root: Path | None = None, keep: int | None = None, max_age_days: float | None = None) -> list[Path]:
    """Remove old builds from the cache; returns the directories removed.

    Per flavour the ``keep`` most recently used builds stay (``$IOVCONF_CACHE_KEEP``, 16);
    older ones go, and so does any build unused for ``max_age_days``
    (``$IOVCONF_CACHE_MAX_AGE_DAYS``, 30), but never one used in the last
    :data:`EVICT_GRACE` seconds.  A build is removed only while its own build lock is
    free (so never while it is being built).  Temporary directories of builds that died,
    and lock files of builds no longer there, are cleared after a while too.
    """
    root = cache_root() if root is None else root
    keep = int(_env_number("IOVCONF_CACHE_KEEP", 16)) if keep is None else keep
    if max_age_days is None:
        max_age_days = _env_number("IOVCONF_CACHE_MAX_AGE_DAYS", 30)
    now = time.time()
    removed: list[Path] = []
    try:
        with FileLock(str(root / "evict.lock"), timeout=0):
            entries: dict[str, list[tuple[float, Path]]] = {}
            for child in root.iterdir():
                m = _ENTRY.match(child.name)
                if m and child.is_dir():
                    try:
                        used = (child / _MANIFEST).stat().st_mtime
                    except FileNotFoundError:
                        continue  # incomplete: the next build of that key replaces it
                    entries.setdefault(m.group("flavour"), []).append((used, child))
                elif ".tmp-" in child.name and child.is_dir() and now - child.stat().st_mtime > STALE_TMP:
                    shutil.rmtree(child, ignore_errors=True)
            for builds in entries.values():
                builds.sort(reverse=True)
                for rank, (used, directory) in enumerate(builds):
                    age = now - used
                    if age < EVICT_GRACE or (rank < keep and age < max_age_days * 86400):
                        continue
                    if _remove_build(directory):
                        removed.append(directory)
            for lock in root.glob("*.lock"):
                orphan = lock.name != "evict.lock" and not lock.with_suffix("").exists()
                if orphan and now - lock.stat().st_mtime > 86400:
                    _remove_build(lock.with_suffix(""))
    except (TimeoutError, OSError):  # another process is evicting (or the cache is read-only)
        pass
    return removed


def _remove_build(directory: Path) -> bool:
    """Remove one build (and its lock file) while holding its build lock; False if it is busy."""
    lock_path = directory.parent / f"{directory.name}.lock"
    lock = FileLock(str(lock_path), timeout=0)
    try:
        with lock:
            shutil.rmtree(directory, ignore_errors=True)
            lock_path.unlink(missing_ok=True)
    except TimeoutError:
        return False
    return True


_MODULES: dict[str, ModuleType] = {}


def load_module(built: Built) -> ModuleType:
    """Import the built extension from its path (once per process)."""
    name = built.plan.module_name
    module = _MODULES.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, built.so_path)
        if spec is None or spec.loader is None:
            raise BuildError(f"cannot load {built.so_path}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _MODULES[name] = module
    return module
