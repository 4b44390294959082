"""The C functions the port stands for: one row each, in ``iov.c`` order.

Every other description of a C function derives from this table: the port's
argument checks (``pyimpl._cfunc``), the facade of ``reference_c`` and the stubs
of its build, ``harness list``, the campaigns and the mutation gate.  A row holds
what cannot be read off the C text: its prototype is copied from the source the
row names (a test checks every row against pycparser's reading of that source),
and the facts about behaviour (sets errno, out parameters, unreachable asserts)
are stated here once.

Sources: ``iov.c`` is the project's original (QEMU v6.2); ``qemu/iov.h`` is our
shim header (its static inlines); a release tag names the first upstream
revision that has the function (the port covers those too).
"""

from __future__ import annotations

import builtins
import functools
import re
from dataclasses import dataclass
from typing import Literal

Kind = Literal["public", "static", "inline"]

#: how a C value crosses to and from Python, by C type (qualifiers dropped)
SCALAR_KINDS = {
    "size_t": "size_t",
    "ssize_t": "ssize_t",
    "int": "int",
    "unsigned": "unsigned",
    "unsigned int": "unsigned",
    "bool": "bool",
    "_Bool": "bool",
    "void": "void",
}


def value_kind(ctype: str) -> str:
    """``ptr``, ``str`` (const char *), ``stream`` (FILE *) or a scalar kind of :data:`SCALAR_KINDS`."""
    base = " ".join(w for w in ctype.replace("*", " * ").split() if w not in ("const", "volatile"))
    if base == "FILE *":
        return "stream"
    if base == "char *":
        return "str"
    if "*" in base:
        return "ptr"
    try:
        return SCALAR_KINDS[base]
    except KeyError:
        raise ValueError(f"ctype: no value kind for {ctype!r}") from None


def python_name(c_name: str) -> str:
    """The Python parameter name of a C parameter (``bytes`` -> ``bytes_``, ``len`` -> ``len_``)."""
    return f"{c_name}_" if hasattr(builtins, c_name) else c_name


@dataclass(frozen=True)
class CParam:
    """One parameter: its C type as declared and its name."""

    ctype: str
    name: str

    @property
    def kind(self) -> str:
        return value_kind(self.ctype)

    @property
    def py_name(self) -> str:
        return python_name(self.name)


_PROTOTYPE = re.compile(r"^(?P<ret>.+?)\b(?P<name>\w+)\((?P<params>.*)\)$")
_PARAM = re.compile(r"^(?P<ctype>.+?)(?P<name>\w+)$")


def parse_prototype(prototype: str) -> tuple[str, str, tuple[CParam, ...]]:
    """(return type, name, parameters) of ``RET NAME(TYPE NAME, ...)``."""
    m = _PROTOTYPE.match(" ".join(prototype.split()))
    if m is None:
        raise ValueError(f"prototype: cannot read {prototype!r}")
    params = []
    text = m["params"].strip()
    for part in [] if text in ("", "void") else text.split(","):
        pm = _PARAM.match(part.strip())
        if pm is None:
            raise ValueError(f"prototype: cannot read parameter {part!r} of {prototype!r}")
        params.append(CParam(pm["ctype"].strip(), pm["name"]))
    return m["ret"].strip(), m["name"], tuple(params)


def normalise(prototype: str) -> str:
    """A prototype with one space between words and none inside ``*``/``(``: comparable text."""
    ret, name, params = parse_prototype(prototype)
    star = "" if ret.endswith("*") else " "
    args = ", ".join(f"{p.ctype}{'' if p.ctype.endswith('*') else ' '}{p.name}" for p in params)
    return f"{ret}{star}{name}({args or 'void'})"


#: the spellings of one C type that a source may use for another (LP64): their canonical words
_SAME_TYPE = {
    ("unsigned",): "unsigned int",
    ("int", "unsigned"): "unsigned int",
    ("size_t",): "unsigned long",
    ("gsize",): "unsigned long",
    ("long", "unsigned"): "unsigned long",
    ("int", "long", "unsigned"): "unsigned long",
    ("ssize_t",): "long",
    ("ptrdiff_t",): "long",
    ("long",): "long",
    ("int", "long"): "long",
    ("long", "signed"): "long",
    ("int", "long", "signed"): "long",
    ("signed",): "int",
    ("int", "signed"): "int",
    ("int",): "int",
    ("bool",): "_Bool",
    ("_Bool",): "_Bool",
    ("QEMUIOVector",): "struct QEMUIOVector",
    ("gpointer",): "void *",
}
_QUALIFIERS = frozenset(("const", "volatile", "restrict", "__restrict", "__restrict__"))


def canonical_type(ctype: str) -> str:
    """``ctype`` as the type it is, whatever its spelling: qualifiers dropped (they do not
    change what crosses the call), integer types and our typedefs by one name each."""
    words = [w for w in ctype.replace("*", " * ").split() if w not in _QUALIFIERS]
    stars = words.count("*")
    base = tuple(sorted(w for w in words if w != "*"))
    name = _SAME_TYPE.get(base, " ".join(w for w in words if w != "*"))
    return f"{name} {'*' * stars}".strip()


def compatible(prototype: str, other: str) -> bool:
    """Whether two prototypes of one function take and return the same values at the call:
    the same number of parameters of the same types, whatever their names, qualifiers
    (``const`` added to a pointer or its pointee) or spelling (``unsigned`` for ``unsigned
    int``, ``size_t`` for ``unsigned long``)."""
    ret, name, params = parse_prototype(prototype)
    ret2, name2, params2 = parse_prototype(other)
    types = [canonical_type(p.ctype) for p in params]
    return (
        name == name2
        and canonical_type(ret) == canonical_type(ret2)
        and types == [canonical_type(q.ctype) for q in params2]
    )


@dataclass(frozen=True)
class CFunction:
    """One C function: where it is, its prototype, and what the port must know of it."""

    name: str
    kind: Kind
    line: int
    prototype: str
    source: str = "iov.c"
    #: the function sets errno (the socket functions): a case calling it observes errno
    sets_errno: bool = False
    #: pointer parameters that point at a caller's local: the facade returns their values
    outs: tuple[str, ...] = ()
    #: (expression, reason) of each assert no memory-safe input can make fail
    unreachable: tuple[tuple[str, str], ...] = ()
    #: a function tested only through the named caller
    via: str | None = None

    def __post_init__(self) -> None:
        _, name, params = parse_prototype(self.prototype)
        if name != self.name:
            raise ValueError(f"prototype: names {name!r}, the row {self.name!r}")
        missing = set(self.outs) - {p.name for p in params}
        if missing:
            raise ValueError(f"outs: {self.name} has no parameter {sorted(missing)}")

    @functools.cached_property
    def ret(self) -> str:
        return parse_prototype(self.prototype)[0]

    @functools.cached_property
    def params(self) -> tuple[CParam, ...]:
        return parse_prototype(self.prototype)[2]

    @functools.cached_property
    def inputs(self) -> tuple[CParam, ...]:
        """The parameters a caller passes (the out parameters are made by the facade)."""
        return tuple(p for p in self.params if p.name not in self.outs)

    @functools.cached_property
    def ret_kind(self) -> str:
        return value_kind(self.ret)

    @functools.cached_property
    def out_kinds(self) -> tuple[str, ...]:
        """The value kinds of the out parameters' pointees, in order."""
        by_name = {p.name: p for p in self.params}
        return tuple(value_kind(by_name[n].ctype.rstrip().removesuffix("*").strip()) for n in self.outs)

    @property
    def pointer_return(self) -> bool:
        return self.ret_kind == "ptr"

    @property
    def static(self) -> bool:
        return self.kind != "public"

    @property
    def header(self) -> bool:
        return self.kind == "inline"

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"


def _row(name: str, kind: Kind, line: int, prototype: str, **facts: object) -> CFunction:
    return CFunction(name, kind, line, prototype, **facts)  # type: ignore[arg-type]


_SOCKET_UNREACHABLE = (
    ("iov[niov].iov_len > tail", "the loop before it stops only at an entry longer than tail"),
    ("errno != EINTR", "do_send_recv retries EINTR itself, so ret < 0 never carries it"),
)

#: every function, in iov.c order (the functions later revisions add where they add them),
#: then the static inlines of qemu/iov.h
TABLE: tuple[CFunction, ...] = (
    _row(
        "iov_from_buf_full",
        "public",
        25,
        "size_t iov_from_buf_full(const struct iovec *iov, unsigned int iov_cnt, size_t offset, "
        "const void *buf, size_t bytes)",
    ),
    _row(
        "iov_to_buf_full",
        "public",
        44,
        "size_t iov_to_buf_full(const struct iovec *iov, const unsigned int iov_cnt, size_t offset, "
        "void *buf, size_t bytes)",
    ),
    _row(
        "iov_memset",
        "public",
        63,
        "size_t iov_memset(const struct iovec *iov, const unsigned int iov_cnt, size_t offset, int fillc, "
        "size_t bytes)",
    ),
    _row("iov_size", "public", 82, "size_t iov_size(const struct iovec *iov, const unsigned int iov_cnt)"),
    _row(
        "do_send_recv",
        "static",
        96,
        "ssize_t do_send_recv(int sockfd, struct iovec *iov, unsigned iov_cnt, bool do_send)",
        sets_errno=True,
    ),
    _row(
        "iov_send_recv",
        "public",
        139,
        "ssize_t iov_send_recv(int sockfd, const struct iovec *_iov, unsigned iov_cnt, size_t offset, "
        "size_t bytes, bool do_send)",
        sets_errno=True,
        unreachable=_SOCKET_UNREACHABLE,
    ),
    _row(
        "iov_send_recv_with_flags",
        "public",
        154,
        "ssize_t iov_send_recv_with_flags(int sockfd, int sockflags, const struct iovec *_iov, "
        "unsigned iov_cnt, size_t offset, size_t bytes, bool do_send)",
        source="v9.2.0",
        sets_errno=True,
        unreachable=_SOCKET_UNREACHABLE,
    ),
    _row(
        "iov_hexdump",
        "public",
        227,
        "void iov_hexdump(const struct iovec *iov, const unsigned int iov_cnt, FILE *fp, "
        "const char *prefix, size_t limit)",
    ),
    _row(
        "iov_copy",
        "public",
        244,
        "unsigned iov_copy(struct iovec *dst_iov, unsigned int dst_iov_cnt, const struct iovec *iov, "
        "unsigned int iov_cnt, size_t offset, size_t bytes)",
    ),
    _row("qemu_iovec_init", "public", 270, "void qemu_iovec_init(QEMUIOVector *qiov, int alloc_hint)"),
    _row(
        "qemu_iovec_init_external",
        "public",
        278,
        "void qemu_iovec_init_external(QEMUIOVector *qiov, struct iovec *iov, int niov)",
    ),
    _row("qemu_iovec_add", "public", 290, "void qemu_iovec_add(QEMUIOVector *qiov, void *base, size_t len)"),
    _row(
        "qemu_iovec_concat_iov",
        "public",
        314,
        "size_t qemu_iovec_concat_iov(QEMUIOVector *dst, struct iovec *src_iov, unsigned int src_cnt, "
        "size_t soffset, size_t sbytes)",
    ),
    _row(
        "qemu_iovec_concat",
        "public",
        350,
        "void qemu_iovec_concat(QEMUIOVector *dst, QEMUIOVector *src, size_t soffset, size_t sbytes)",
    ),
    _row(
        "iov_skip_offset",
        "static",
        363,
        "struct iovec *iov_skip_offset(struct iovec *iov, size_t offset, size_t *remaining_offset)",
        outs=("remaining_offset",),
    ),
    _row(
        "qiov_slice",
        "static",
        382,
        "struct iovec *qiov_slice(QEMUIOVector *qiov, size_t offset, size_t len, size_t *head, "
        "size_t *tail, int *niov)",
        outs=("head", "tail", "niov"),
        unreachable=(
            (
                "*tail < end_iov->iov_len",
                "iov_skip_offset only stops with a nonzero remainder inside an entry longer than it",
            ),
        ),
    ),
    _row(
        "qemu_iovec_slice",
        "public",
        387,
        "struct iovec *qemu_iovec_slice(QEMUIOVector *qiov, size_t offset, size_t len, size_t *head, "
        "size_t *tail, int *niov)",
        source="v8.1.0",
        outs=("head", "tail", "niov"),
        unreachable=(
            (
                "*tail < end_iov->iov_len",
                "iov_skip_offset only stops with a nonzero remainder inside an entry longer than it",
            ),
        ),
    ),
    _row(
        "qemu_iovec_subvec_niov",
        "public",
        404,
        "int qemu_iovec_subvec_niov(QEMUIOVector *qiov, size_t offset, size_t len)",
    ),
    _row(
        "qemu_iovec_init_extended",
        "public",
        418,
        "int qemu_iovec_init_extended(QEMUIOVector *qiov, void *head_buf, size_t head_len, "
        "QEMUIOVector *mid_qiov, size_t mid_offset, size_t mid_len, void *tail_buf, size_t tail_len)",
        unreachable=(
            ("!mid_niov == !mid_len", "qiov_slice returns at least one entry whenever mid_len > 0"),
        ),
    ),
    _row(
        "qemu_iovec_is_zero",
        "public",
        481,
        "bool qemu_iovec_is_zero(QEMUIOVector *qiov, size_t offset, size_t bytes)",
    ),
    _row(
        "qemu_iovec_init_slice",
        "public",
        506,
        "void qemu_iovec_init_slice(QEMUIOVector *qiov, QEMUIOVector *source, size_t offset, size_t len)",
        unreachable=(
            ("ret == 0", "the asserts on source->size and len already rule out both -EINVAL returns"),
        ),
    ),
    _row("qemu_iovec_destroy", "public", 519, "void qemu_iovec_destroy(QEMUIOVector *qiov)"),
    _row("qemu_iovec_reset", "public", 528, "void qemu_iovec_reset(QEMUIOVector *qiov)"),
    _row(
        "qemu_iovec_to_buf",
        "public",
        536,
        "size_t qemu_iovec_to_buf(QEMUIOVector *qiov, size_t offset, void *buf, size_t bytes)",
    ),
    _row(
        "qemu_iovec_from_buf",
        "public",
        542,
        "size_t qemu_iovec_from_buf(QEMUIOVector *qiov, size_t offset, const void *buf, size_t bytes)",
    ),
    _row(
        "qemu_iovec_memset",
        "public",
        548,
        "size_t qemu_iovec_memset(QEMUIOVector *qiov, size_t offset, int fillc, size_t bytes)",
    ),
    _row("qemu_iovec_compare", "public", 564, "ssize_t qemu_iovec_compare(QEMUIOVector *a, QEMUIOVector *b)"),
    _row(
        "sortelem_cmp_src_base",
        "static",
        595,
        "int sortelem_cmp_src_base(const void *a, const void *b)",
        via="qemu_iovec_clone",
    ),
    _row(
        "sortelem_cmp_src_index",
        "static",
        610,
        "int sortelem_cmp_src_index(const void *a, const void *b)",
        via="qemu_iovec_clone",
    ),
    _row(
        "qemu_iovec_clone",
        "public",
        624,
        "void qemu_iovec_clone(QEMUIOVector *dest, const QEMUIOVector *src, void *buf)",
    ),
    _row("iov_discard_undo", "public", 660, "void iov_discard_undo(IOVDiscardUndo *undo)"),
    _row(
        "iov_discard_front_undoable",
        "public",
        668,
        "size_t iov_discard_front_undoable(struct iovec **iov, unsigned int *iov_cnt, size_t bytes, "
        "IOVDiscardUndo *undo)",
    ),
    _row(
        "iov_discard_front",
        "public",
        702,
        "size_t iov_discard_front(struct iovec **iov, unsigned int *iov_cnt, size_t bytes)",
    ),
    _row(
        "iov_discard_back_undoable",
        "public",
        708,
        "size_t iov_discard_back_undoable(struct iovec *iov, unsigned int *iov_cnt, size_t bytes, "
        "IOVDiscardUndo *undo)",
    ),
    _row(
        "iov_discard_back",
        "public",
        747,
        "size_t iov_discard_back(struct iovec *iov, unsigned int *iov_cnt, size_t bytes)",
    ),
    _row(
        "qemu_iovec_discard_back",
        "public",
        753,
        "void qemu_iovec_discard_back(QEMUIOVector *qiov, size_t bytes)",
    ),
    # the static inlines of our qemu/iov.h
    _row(
        "iov_from_buf",
        "inline",
        108,
        "size_t iov_from_buf(const struct iovec *iov, unsigned int iov_cnt, size_t offset, const void *buf, "
        "size_t bytes)",
        source="qemu/iov.h",
    ),
    _row(
        "iov_to_buf",
        "inline",
        115,
        "size_t iov_to_buf(const struct iovec *iov, const unsigned int iov_cnt, size_t offset, void *buf, "
        "size_t bytes)",
        source="qemu/iov.h",
    ),
    _row(
        "iov_send",
        "inline",
        122,
        "ssize_t iov_send(int sockfd, const struct iovec *iov, unsigned iov_cnt, size_t offset, "
        "size_t bytes)",
        source="qemu/iov.h",
        sets_errno=True,
    ),
    _row(
        "iov_recv",
        "inline",
        129,
        "ssize_t iov_recv(int sockfd, const struct iovec *iov, unsigned iov_cnt, size_t offset, "
        "size_t bytes)",
        source="qemu/iov.h",
        sets_errno=True,
    ),
    _row(
        "qemu_iovec_init_buf",
        "inline",
        135,
        "void qemu_iovec_init_buf(QEMUIOVector *qiov, void *buf, size_t len)",
        source="qemu/iov.h",
    ),
    _row("qemu_iovec_buf", "inline", 149, "void *qemu_iovec_buf(QEMUIOVector *qiov)", source="qemu/iov.h"),
)

BY_NAME: dict[str, CFunction] = {f.name: f for f in TABLE}
#: the functions of the original iov.c (public and static), in file order
ORIGINAL: tuple[str, ...] = tuple(f.name for f in TABLE if f.source == "iov.c")
#: the static inlines of qemu/iov.h
INLINES: tuple[str, ...] = tuple(f.name for f in TABLE if f.kind == "inline")
#: functions a later upstream revision adds (the port has them too)
ADDED_UPSTREAM: tuple[str, ...] = tuple(f.name for f in TABLE if f.source not in ("iov.c", "qemu/iov.h"))
