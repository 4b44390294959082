"""Narrowing mutants: a ``size_t``, ``ssize_t`` or ``unsigned`` variable of iov.c declared ``int``.

The bug a width-blind harness misses: a patch that keeps a length in an ``int``.  This
module finds the candidates with a real C parser (``reference_c.csource``: the source
preprocessed with our shims, parsed by pycparser) and writes each mutant as a textual edit
of the source that keeps every name, every assert's text and every line where it was, so
the mutant differs from the source in that one width and in nothing the judge also sees:

- a local: its declaration names the type ``int`` (``unsigned int i, j;`` becomes
  ``unsigned int j; int i;``);
- a parameter: the prototype stays (a changed prototype is not judged), and the body runs
  in an inner block whose ``int NAME`` shadows the parameter, initialised from it:
  ``{ TYPE iovconf_wide_NAME = NAME; { int NAME = iovconf_wide_NAME; ... } }``.

A local whose address is passed on as a pointer to a wider type (``size_t head; f(&head)``)
is listed, not rewritten: declaring it ``int`` would make the callee store 8 bytes into 4,
a type confusion (an error in C23 compilers), not a narrowing of a value.

``ci/narrowing.py`` builds and judges every mutant; the tests use :func:`mutant`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pycparser import c_ast, c_parser  # type: ignore[import-untyped]

from reference_c.csource import preprocess

__all__ = ["NARROWABLE", "NarrowingError", "Variable", "mutant", "variables"]

#: the declared types a narrowing rewrites to ``int`` (qualifiers aside), with their widths
NARROWABLE: dict[str, int] = {"size_t": 8, "ssize_t": 8, "unsigned": 4, "unsigned int": 4}
#: the width of the type every narrowing declares
INT_WIDTH = 4


class NarrowingError(ValueError):
    """The source has no such variable, or its declaration is not one this module rewrites."""


@dataclass(frozen=True)
class Variable:
    """A parameter or local of a function of the source whose type is one of :data:`NARROWABLE`."""

    func: str
    name: str
    ctype: str  # as declared, qualifiers included, e.g. "const unsigned int"
    line: int  # the line of its declaration in the source
    param: bool
    #: its address is taken (``&name``) somewhere in the function
    address_taken: bool
    body_line: int  # the line of the function body's opening brace

    @property
    def base_type(self) -> str:
        return " ".join(w for w in self.ctype.split() if w not in ("const", "volatile"))

    @property
    def rewritable(self) -> bool:
        """False when ``int`` would change the width of an object the function passes by address."""
        return not self.address_taken or NARROWABLE[self.base_type] == INT_WIDTH

    @property
    def label(self) -> str:
        return f"{self.func}: {'parameter' if self.param else 'local'} {self.ctype} {self.name}"


def _type_name(node: Any) -> str | None:
    """``const unsigned int`` for a plain integer declarator, None for pointers, arrays, structs."""
    if not isinstance(node, c_ast.TypeDecl) or not isinstance(node.type, c_ast.IdentifierType):
        return None
    return " ".join([*node.quals, *node.type.names])


def _nodes(node: Any) -> Iterator[Any]:
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(child for _, child in n.children())


def variables(path: str | Path, funcs: frozenset[str] | None = None) -> list[Variable]:
    """Every narrowable parameter and local of the functions defined in the source at ``path``
    (those of ``funcs`` only, if given), in source order."""
    p = Path(path).resolve()
    tree = c_parser.CParser().parse(preprocess(p), p.name)
    found: list[tuple[tuple[int, int], Variable]] = []
    for ext in tree.ext:
        if not isinstance(ext, c_ast.FuncDef) or str(ext.decl.coord.file) != p.name:
            continue
        func = str(ext.decl.name)
        if funcs is not None and func not in funcs:
            continue
        addressed = {
            str(n.expr.name)
            for n in _nodes(ext.body)
            if isinstance(n, c_ast.UnaryOp) and n.op == "&" and isinstance(n.expr, c_ast.ID)
        }
        params = ext.decl.type.args.params if ext.decl.type.args is not None else []
        body = int(ext.body.coord.line)
        decls = [(d, True) for d in params if isinstance(d, c_ast.Decl)]
        decls += [(d, False) for d in _nodes(ext.body) if isinstance(d, c_ast.Decl)]
        for d, param in decls:
            ctype = _type_name(d.type)
            if ctype is None or " ".join(w for w in ctype.split() if w != "const") not in NARROWABLE:
                continue
            name = str(d.name)
            at = (int(d.coord.line), int(d.coord.column or 0))
            found.append((at, Variable(func, name, ctype, at[0], param, name in addressed, body)))
    return [v for _, v in sorted(found, key=lambda f: f[0])]


# -- the rewrite ------------------------------------------------------------------------------------
_CODE = re.compile(r"/\*.*?\*/|//[^\n]*|\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'|[{}]", re.S)


def _body_span(text: str, open_at: int) -> int:
    """The offset of the ``}`` that closes the ``{`` at ``open_at`` (comments and literals skipped)."""
    depth = 0
    for m in _CODE.finditer(text, open_at):
        tok = m.group()
        if tok == "{":
            depth += 1
        elif tok == "}":
            depth -= 1
            if depth == 0:
                return m.start()
    raise NarrowingError("unbalanced braces after the function's opening brace")


def _line_start(text: str, line: int) -> int:
    pos = 0
    for _ in range(line - 1):
        pos = text.index("\n", pos) + 1
    return pos


def _split_declarators(text: str) -> list[str]:
    """``a, b = f(x, y), c`` -> ``["a", "b = f(x, y)", "c"]`` (commas inside parentheses kept)."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(text[start:i].strip())
            start = i + 1
    out.append(text[start:].strip())
    return out


def _narrow_local(text: str, var: Variable) -> str:
    start = _line_start(text, var.line)
    end = text.index("\n", start)
    line = text[start:end]
    words = r"\s+".join(map(re.escape, var.ctype.split()))
    m = re.fullmatch(rf"(\s*)({words})\s+([^;]*);(\s*(?:/\*.*\*/|//.*)?)", line)
    if m is None:
        raise NarrowingError(f"line {var.line} is not a declaration this rewrite knows: {line.strip()!r}")
    indent, ctype, declarators, tail = m.groups()
    parts = _split_declarators(declarators)
    mine = [d for d in parts if re.match(rf"{re.escape(var.name)}\b", d)]
    if len(mine) != 1:
        raise NarrowingError(f"line {var.line} does not declare {var.name} once as a plain {var.ctype}")
    rest = [d for d in parts if d is not mine[0]]
    kept = f"{ctype} {', '.join(rest)}; " if rest else ""
    return f"{text[:start]}{indent}{kept}int {mine[0]};{tail}{text[end:]}"


def _narrow_param(text: str, var: Variable) -> str:
    open_at = text.index("{", _line_start(text, var.body_line))
    close_at = _body_span(text, open_at)
    wide = f"iovconf_wide_{var.name}"
    head = f"{{ {var.ctype} {wide} = {var.name}; {{ int {var.name} = {wide};"
    return f"{text[:open_at]}{head}{text[open_at + 1 : close_at]}}} }}{text[close_at + 1 :]}"


def mutant(text: str, var: Variable) -> str:
    """The source ``text`` with ``var`` declared ``int`` (same lines, names and assert texts)."""
    if not var.rewritable:
        raise NarrowingError(f"{var.label}: its address is passed on as a pointer to a wider type")
    return _narrow_param(text, var) if var.param else _narrow_local(text, var)
