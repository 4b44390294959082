"""What a C source of util/iov.c defines, read with a real C parser.

``read_source(path)`` preprocesses the source with ``gcc -E`` and our shim
headers under ``-DIOVCONF_PARSE -nostdinc`` (so the shims include
``include/iovconf-parse.h`` instead of any system header, and the GNU C of
the build is left out: MIN/MAX are plain ternaries, g_autofree is empty) and
parses the result with pycparser.  Under that define ``assert(e)`` expands to
``((e) ? (void)0 : iovconf_assert_site(#e, __LINE__))``: the call gives each
site's expression as the preprocessor stringifies it and its line, and the
expression itself stays in the tree, so the calls it makes count too.  Line
numbers come from the preprocessor's line markers, so they are those of the
original files.  The normal build never defines IOVCONF_PARSE.

Listed: every function defined in the source (public and static) and every
function defined in one of our shim headers (the static inlines of
``qemu/iov.h``); the asserts are those of the source itself.

Each definition also gets a fingerprint (``SourceInfo.fingerprints``): a hash of
pycparser's regenerated text of it, so comments, whitespace, line moves and the
spelling of an assert's stringified expression leave it unchanged, together
with the text of every top-level declaration of the source it names (a typedef,
a struct, a variable).  Two sources whose definitions of a function have the same
fingerprint compile it to the same code (``harness diff --only changed``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pycparser import c_ast, c_generator, c_parser  # type: ignore[import-untyped]

HERE = Path(__file__).resolve().parent
INCLUDE = HERE / "include"
#: the include directories of the build (reference_c/build.py: "include", ".")
INCLUDE_DIRS = (INCLUDE, HERE)
#: origin of everything defined in the source file itself, whatever its name
SOURCE_ORIGIN = "iov.c"
#: the function the parse-mode assert() calls (include/iovconf-parse.h)
ASSERT_SITE = "iovconf_assert_site"
#: the preprocessor (the project needs gcc anyway)
CPP = "gcc"
#: the dialect and defines of the build, the parse mode; no system header, no predefined macro
PARSE_FLAGS = ("-std=gnu11", "-undef", "-nostdinc", "-D_GNU_SOURCE", "-DCONFIG_POSIX", "-DIOVCONF_PARSE")
_TIMEOUT = 60


class CSourceError(Exception):
    """The source could not be preprocessed or parsed; ``output`` says why."""

    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(f"{message}\n{output}" if output else message)
        self.output = output


@dataclass(frozen=True)
class Param:
    """One parameter of a definition."""

    ctype: str  # the type as C text, e.g. "const struct iovec *"
    name: str

    def declaration(self) -> str:
        """E.g. ``const struct iovec *iov``, ``size_t bytes``."""
        sep = "" if self.ctype.endswith("*") or not self.name else " "
        return f"{self.ctype}{sep}{self.name}"


@dataclass(frozen=True)
class CFunc:
    """One function definition."""

    name: str
    line: int  # the line of the name in the definition
    static: bool
    inline: bool
    origin: str  # "iov.c", or the shim header it is defined in, e.g. "qemu/iov.h"
    ret: str
    params: tuple[Param, ...]

    def prototype(self) -> str:
        """E.g. ``size_t iov_size(const struct iovec *iov, const unsigned int iov_cnt)``."""
        sep = "" if self.ret.endswith("*") else " "
        params = ", ".join(p.declaration() for p in self.params) or "void"
        return f"{self.ret}{sep}{self.name}({params})"


@dataclass(frozen=True)
class AssertSite:
    """One ``assert(expr)`` of the source."""

    func: str
    expr: str  # as the preprocessor stringifies it (#e)
    line: int
    ordinal: int  # among the asserts of func with this expr, in line order, from 0


@dataclass(frozen=True)
class SourceInfo:
    """What :func:`read_source` read from one C source."""

    path: Path
    sha256: str  # of the source file
    functions: dict[str, CFunc]  # the source's functions in line order, then the headers'
    asserts: tuple[AssertSite, ...]  # in line order
    #: function -> the functions of this translation unit it calls directly, or
    #: whose address it passes on (the qsort comparators of qemu_iovec_clone)
    calls: dict[str, frozenset[str]]
    #: function -> the sha256 of its code (see the module docstring): equal when only
    #: comments, whitespace, line positions or assert spelling differ
    fingerprints: dict[str, str] = dataclasses.field(default_factory=dict)

    def callers(self, name: str) -> frozenset[str]:
        """Every function that reaches ``name`` through ``calls``, transitively."""
        if name not in self.functions:
            raise KeyError(f"{name} is not defined in {self.path}")
        found: set[str] = set()
        todo = [name]
        while todo:
            callee = todo.pop()
            for caller, callees in self.calls.items():
                if callee in callees and caller not in found:
                    found.add(caller)
                    todo.append(caller)
        return frozenset(found)


# -- preprocessing and parsing ------------------------------------------------


def _shim_files() -> list[Path]:
    """The headers the preprocessor can read from our include directories."""
    return sorted([*INCLUDE.rglob("*.h"), *HERE.glob("*.h")])


def _cache_key(source: bytes) -> str:
    h = hashlib.sha256()
    for label, data in [
        ("source", source),
        ("flags", "\0".join([CPP, *PARSE_FLAGS]).encode()),
        *((f"shim {p.relative_to(HERE).as_posix()}", p.read_bytes()) for p in _shim_files()),
    ]:
        h.update(f"{label}:{len(data)}:".encode())
        h.update(data)
    return h.hexdigest()


def preprocess(path: Path) -> str:
    """The parse-mode preprocessed text of ``path``; its line markers name the
    source by its file name and the shim headers by absolute path."""
    includes = [f"-I{d}" for d in INCLUDE_DIRS]
    try:
        proc = subprocess.run(
            [CPP, "-E", *PARSE_FLAGS, *includes, path.name],
            cwd=path.parent,
            capture_output=True,
            text=True,
            errors="replace",
            check=False,
            timeout=_TIMEOUT,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise CSourceError(f"cannot preprocess {path}: {e}") from e
    if proc.returncode != 0:
        raise CSourceError(f"preprocessing {path} failed", proc.stderr)
    return proc.stdout


def _origin(coord_file: str, source_name: str) -> str | None:
    """``"iov.c"`` for the source, the header's path under include/ for a shim,
    None for anything else."""
    if coord_file == source_name:
        return SOURCE_ORIGIN
    p = Path(coord_file)
    if p.is_absolute() and p.is_relative_to(INCLUDE):
        return p.relative_to(INCLUDE).as_posix()
    return None


def _walk(node: Any) -> Iterator[Any]:
    """``node`` and everything below it, in source order."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed([child for _, child in n.children()]))


_GEN = c_generator.CGenerator()


def _ctype(type_node: Any) -> str:
    """The C text of a declarator's type, without its name."""
    return str(_GEN.visit(type_node))


def _params(funcdecl: Any) -> tuple[Param, ...]:
    params: list[Param] = []
    for p in funcdecl.args.params if funcdecl.args is not None else []:
        if isinstance(p, c_ast.Typename) and _ctype(p.type) == "void":  # f(void)
            continue
        if isinstance(p, c_ast.EllipsisParam):
            params.append(Param("...", ""))
            continue
        params.append(Param(_ctype(p.type), str(p.name)))
    return tuple(params)


def _cfunc(fd: Any, origin: str) -> CFunc:
    decl = fd.decl
    return CFunc(
        name=str(decl.name),
        line=int(decl.coord.line),
        static="static" in decl.storage,
        inline="inline" in decl.funcspec,
        origin=origin,
        ret=_ctype(decl.type.type),
        params=_params(decl.type),
    )


_ESCAPE = re.compile(r"\\(.)", re.S)


def _string_value(literal: str) -> str:
    """The text of a string literal made by ``#e``: stringizing escapes only
    ``"`` and ``\\``, so every backslash escapes the character after it."""
    return _ESCAPE.sub(r"\1", literal[1:-1])


def _assert_calls(body: Any) -> Iterator[tuple[str, int]]:
    for n in _walk(body):
        if isinstance(n, c_ast.FuncCall) and isinstance(n.name, c_ast.ID) and n.name.name == ASSERT_SITE:
            expr, line = n.args.exprs
            yield _string_value(str(expr.value)), int(str(line.value))


def _references(fd: Any, names: set[str]) -> frozenset[str]:
    """Functions of ``names`` that the body of ``fd`` names (calls or passes on),
    minus names it declares itself (a parameter or local shadows a function)."""
    scopes = [fd.body] if fd.decl.type.args is None else [fd.decl.type.args, fd.body]
    declared = {str(n.name) for scope in scopes for n in _walk(scope) if isinstance(n, c_ast.Decl)}
    used = {str(n.name) for n in _walk(fd.body) if isinstance(n, c_ast.ID)}
    return frozenset((used & names) - declared)


class _CodeText(c_generator.CGenerator):  # type: ignore[misc]
    """C text with the parse-mode assert's arguments (the stringified expression and the
    line: spelling and position, not code) left out; the asserted expression stays."""

    def visit_FuncCall(self, n: Any) -> str:
        if isinstance(n.name, c_ast.ID) and n.name.name == ASSERT_SITE:
            return f"{ASSERT_SITE}()"
        return str(super().visit_FuncCall(n))


def _declared_names(ext: Any) -> set[str]:
    """The names a top-level declaration of the source defines: a variable or typedef
    name, a struct/union/enum tag with its body, an enumerator; none for a prototype."""
    if isinstance(ext, c_ast.Decl) and isinstance(ext.type, c_ast.FuncDecl):
        return set()
    names = {str(ext.name)} if getattr(ext, "name", None) else set()
    for n in _walk(ext):
        if isinstance(n, c_ast.Struct | c_ast.Union) and n.name and n.decls is not None:
            names.add(str(n.name))
        elif isinstance(n, c_ast.Enum) and n.values is not None:
            names |= {str(e.name) for e in n.values.enumerators}
            if n.name:
                names.add(str(n.name))
    return names


def _used_names(fd: Any) -> set[str]:
    """Every identifier, type name and tag a definition mentions."""
    used: set[str] = set()
    for n in _walk(fd):
        if isinstance(n, c_ast.ID):
            used.add(str(n.name))
        elif isinstance(n, c_ast.IdentifierType):
            used |= {str(name) for name in n.names}
        elif isinstance(n, c_ast.Struct | c_ast.Union | c_ast.Enum) and n.name:
            used.add(str(n.name))
    return used


def _fingerprints(tree: Any, defs: list[tuple[Any, CFunc]], source_name: str) -> dict[str, str]:
    """Each definition's fingerprint: its code text and that of the source's top-level
    declarations it names (a changed struct changes the functions that use it)."""
    gen = _CodeText()
    declared: dict[str, list[str]] = {}
    for ext in tree.ext:
        if not isinstance(ext, c_ast.FuncDef) and _origin(str(ext.coord.file), source_name) == SOURCE_ORIGIN:
            text = str(gen.visit(ext))
            for name in _declared_names(ext):
                declared.setdefault(name, []).append(text)
    out = {}
    for fd, f in defs:
        h = hashlib.sha256(str(gen.visit(fd)).encode())
        for name in sorted(_used_names(fd) & declared.keys()):
            for text in declared[name]:
                h.update(f"\0{name}\0{text}".encode())
        out[f.name] = h.hexdigest()
    return out


def _analyse(
    text: str, path: Path
) -> tuple[dict[str, CFunc], tuple[AssertSite, ...], dict[str, frozenset[str]], dict[str, str]]:
    try:
        tree = c_parser.CParser().parse(text, path.name)
    except c_parser.ParseError as e:
        raise CSourceError(f"pycparser cannot parse {path}: {e}") from e
    defs: list[tuple[Any, CFunc]] = []
    for ext in tree.ext:
        if isinstance(ext, c_ast.FuncDef):
            origin = _origin(str(ext.decl.coord.file), path.name)
            if origin is not None:
                defs.append((ext, _cfunc(ext, origin)))
    # the source's functions in line order, then the headers' (include order)
    defs.sort(key=lambda d: d[1].origin != SOURCE_ORIGIN)
    functions = {f.name: f for _, f in defs}
    names = set(functions)
    calls = {f.name: _references(fd, names) for fd, f in defs}

    sites: list[tuple[int, str, str]] = []
    for fd, f in defs:
        if f.origin == SOURCE_ORIGIN:
            sites += [(line, f.name, expr) for expr, line in _assert_calls(fd.body)]
    seen: dict[tuple[str, str], int] = {}
    asserts = []
    for line, func, expr in sorted(sites, key=lambda s: s[0]):  # stable: same line keeps source order
        ordinal = seen.get((func, expr), 0)
        seen[(func, expr)] = ordinal + 1
        asserts.append(AssertSite(func, expr, line, ordinal))
    return functions, tuple(asserts), calls, _fingerprints(tree, defs, path.name)


_CACHE: dict[str, SourceInfo] = {}


def read_source(path: str | os.PathLike[str]) -> SourceInfo:
    """Functions, assert sites and call graph of the C source at ``path``.

    Cached in this process by the sha256 of the source, the shim headers and
    the preprocessor flags; each call returns its own dicts.
    """
    p = Path(path).resolve()
    try:
        source = p.read_bytes()
    except OSError as e:
        raise CSourceError(f"cannot read C source {p}: {e}") from e
    key = _cache_key(source)
    info = _CACHE.get(key)
    if info is None:
        functions, asserts, calls, fingerprints = _analyse(preprocess(p), p)
        info = SourceInfo(p, hashlib.sha256(source).hexdigest(), functions, asserts, calls, fingerprints)
        _CACHE[key] = info
    return dataclasses.replace(
        info,
        path=p,
        functions=dict(info.functions),
        calls=dict(info.calls),
        fingerprints=dict(info.fingerprints),
    )
