"""The C functions the reference exposes, as C prototypes.

Everything else is derived from this table: the C wrappers and the cffi cdef
(``build.py``), the weak stubs for functions a source lacks, and the argument
conversions of the Python facade (``__init__.py``).  ``OUT`` marks a pointer
parameter that is a C local of the caller in ``iov.c``; the facade allocates it
and returns its value after the return value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: origin "iov.c": public in iov.c; "static": a static helper in iov.c;
#: "inline": a static inline of our qemu/iov.h (needs: the iov.c functions it calls).
#: Indented lines continue the entry above.
_TABLE = """
iov.c   size_t iov_from_buf_full(const struct iovec *iov, unsigned int iov_cnt, size_t offset,
        const void *buf, size_t bytes)
iov.c   size_t iov_to_buf_full(const struct iovec *iov, const unsigned int iov_cnt, size_t offset,
        void *buf, size_t bytes)
iov.c   size_t iov_memset(const struct iovec *iov, const unsigned int iov_cnt, size_t offset,
        int fillc, size_t bytes)
iov.c   size_t iov_size(const struct iovec *iov, const unsigned int iov_cnt)
static  ssize_t do_send_recv(int sockfd, struct iovec *iov, unsigned iov_cnt, bool do_send)
iov.c   ssize_t iov_send_recv(int sockfd, const struct iovec *_iov, unsigned iov_cnt, size_t offset,
        size_t bytes, bool do_send)
iov.c   void iov_hexdump(const struct iovec *iov, const unsigned int iov_cnt, FILE *fp,
        const char *prefix, size_t limit)
iov.c   unsigned iov_copy(struct iovec *dst_iov, unsigned int dst_iov_cnt, const struct iovec *iov,
        unsigned int iov_cnt, size_t offset, size_t bytes)
iov.c   void qemu_iovec_init(QEMUIOVector *qiov, int alloc_hint)
iov.c   void qemu_iovec_init_external(QEMUIOVector *qiov, struct iovec *iov, int niov)
iov.c   void qemu_iovec_add(QEMUIOVector *qiov, void *base, size_t len)
iov.c   size_t qemu_iovec_concat_iov(QEMUIOVector *dst, struct iovec *src_iov, unsigned int src_cnt,
        size_t soffset, size_t sbytes)
iov.c   void qemu_iovec_concat(QEMUIOVector *dst, QEMUIOVector *src, size_t soffset, size_t sbytes)
static  struct iovec *iov_skip_offset(struct iovec *iov, size_t offset,
        OUT size_t *remaining_offset)
static  struct iovec *qiov_slice(QEMUIOVector *qiov, size_t offset, size_t len, OUT size_t *head,
        OUT size_t *tail, OUT int *niov)
iov.c   int qemu_iovec_subvec_niov(QEMUIOVector *qiov, size_t offset, size_t len)
iov.c   int qemu_iovec_init_extended(QEMUIOVector *qiov, void *head_buf, size_t head_len,
        QEMUIOVector *mid_qiov, size_t mid_offset, size_t mid_len, void *tail_buf, size_t tail_len)
iov.c   bool qemu_iovec_is_zero(QEMUIOVector *qiov, size_t offset, size_t bytes)
iov.c   void qemu_iovec_init_slice(QEMUIOVector *qiov, QEMUIOVector *source, size_t offset,
        size_t len)
iov.c   void qemu_iovec_destroy(QEMUIOVector *qiov)
iov.c   void qemu_iovec_reset(QEMUIOVector *qiov)
iov.c   size_t qemu_iovec_to_buf(QEMUIOVector *qiov, size_t offset, void *buf, size_t bytes)
iov.c   size_t qemu_iovec_from_buf(QEMUIOVector *qiov, size_t offset, const void *buf, size_t bytes)
iov.c   size_t qemu_iovec_memset(QEMUIOVector *qiov, size_t offset, int fillc, size_t bytes)
iov.c   ssize_t qemu_iovec_compare(QEMUIOVector *a, QEMUIOVector *b)
static  int sortelem_cmp_src_base(const void *a, const void *b)
static  int sortelem_cmp_src_index(const void *a, const void *b)
iov.c   void qemu_iovec_clone(QEMUIOVector *dest, const QEMUIOVector *src, void *buf)
iov.c   void iov_discard_undo(IOVDiscardUndo *undo)
iov.c   size_t iov_discard_front_undoable(struct iovec **iov, unsigned int *iov_cnt, size_t bytes,
        IOVDiscardUndo *undo)
iov.c   size_t iov_discard_front(struct iovec **iov, unsigned int *iov_cnt, size_t bytes)
iov.c   size_t iov_discard_back_undoable(struct iovec *iov, unsigned int *iov_cnt, size_t bytes,
        IOVDiscardUndo *undo)
iov.c   size_t iov_discard_back(struct iovec *iov, unsigned int *iov_cnt, size_t bytes)
iov.c   void qemu_iovec_discard_back(QEMUIOVector *qiov, size_t bytes)
inline  size_t iov_to_buf(const struct iovec *iov, const unsigned int iov_cnt, size_t offset,
        void *buf, size_t bytes)  needs iov_to_buf_full
inline  size_t iov_from_buf(const struct iovec *iov, unsigned int iov_cnt, size_t offset,
        const void *buf, size_t bytes)  needs iov_from_buf_full
inline  void qemu_iovec_init_buf(QEMUIOVector *qiov, void *buf, size_t len)
inline  void *qemu_iovec_buf(QEMUIOVector *qiov)
inline  ssize_t iov_send(int sockfd, const struct iovec *iov, unsigned iov_cnt, size_t offset,
        size_t bytes)  needs iov_send_recv
inline  ssize_t iov_recv(int sockfd, const struct iovec *iov, unsigned iov_cnt, size_t offset,
        size_t bytes)  needs iov_send_recv
"""

#: value kinds: how a C value crosses to and from Python
_SCALARS = {
    "size_t": "size_t",
    "ssize_t": "ssize_t",
    "int": "int",
    "unsigned": "unsigned",
    "unsigned int": "unsigned",
    "bool": "bool",
    "void": "void",
}
#: the C type of each kind in the wrappers (pointers travel as uintptr_t)
WRAPPER_CTYPE = {
    "ptr": "uintptr_t",
    "size_t": "size_t",
    "ssize_t": "ssize_t",
    "int": "int",
    "unsigned": "unsigned int",
    "bool": "_Bool",
}


def _kind(ctype: str) -> str:
    if "*" in ctype:
        return "ptr"
    base = " ".join(w for w in ctype.split() if w != "const")
    return _SCALARS[base]


@dataclass(frozen=True)
class Param:
    """One parameter: its C type as declared, its name, whether it is an OUT local."""

    ctype: str
    name: str
    out: bool = False

    @property
    def kind(self) -> str:
        """For OUT parameters the kind of the pointee."""
        return _kind(self.pointee) if self.out else _kind(self.ctype)

    @property
    def pointee(self) -> str:
        assert self.out
        return self.ctype.rstrip().removesuffix("*").strip()

    def declaration(self) -> str:
        sep = "" if self.ctype.endswith("*") else " "
        return f"{self.ctype}{sep}{self.name}"


@dataclass(frozen=True)
class Function:
    """One C function the facade can call."""

    name: str
    ret: str
    params: tuple[Param, ...]
    origin: str  # "iov.c", "static" or "inline"
    needs: tuple[str, ...] = ()

    @property
    def ret_kind(self) -> str:
        return _kind(self.ret)

    @property
    def inputs(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if not p.out)

    @property
    def outs(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.out)

    def prototype(self) -> str:
        """The exact C prototype (OUT markers dropped)."""
        sep = "" if self.ret.endswith("*") else " "
        params = ", ".join(p.declaration() for p in self.params) or "void"
        return f"{self.ret}{sep}{self.name}({params})"


_LINE = re.compile(r"^(\S+)\s+(.+?)\b(\w+)\((.*)\)(?:\s+needs\s+(.+))?$")
_PARAM = re.compile(r"^(OUT\s+)?(.+?)(\w+)$")


def _entries() -> list[str]:
    """Table entries: a line starting at column 0 plus its indented continuations."""
    entries: list[str] = []
    for line in _TABLE.strip().splitlines():
        if line[:1].isspace():
            entries[-1] += " " + line.strip()
        else:
            entries.append(line)
    return entries


def _parse() -> tuple[Function, ...]:
    functions = []
    for line in _entries():
        m = _LINE.match(line.strip())
        if m is None:
            raise ValueError(f"bad signature line: {line!r}")
        origin, ret, name, params_text, needs = m.groups()
        params = []
        for text in params_text.split(","):
            pm = _PARAM.match(text.strip())
            if pm is None:
                raise ValueError(f"bad parameter {text!r} in {name}")
            params.append(Param(pm.group(2).strip(), pm.group(3), out=bool(pm.group(1))))
        functions.append(Function(name, ret.strip(), tuple(params), origin, tuple((needs or "").split())))
    return tuple(functions)


FUNCTIONS: tuple[Function, ...] = _parse()
BY_NAME: dict[str, Function] = {f.name: f for f in FUNCTIONS}

#: the functions defined in iov.c, in iov.c order (public and static)
C_FUNCTIONS: tuple[str, ...] = tuple(f.name for f in FUNCTIONS if f.origin != "inline")
#: the inlines of qemu/iov.h
HEADER_INLINES: tuple[str, ...] = tuple(f.name for f in FUNCTIONS if f.origin == "inline")
#: everything the facade exposes: iov.c order, then the header inlines
NAMES: tuple[str, ...] = C_FUNCTIONS + HEADER_INLINES


def _strip_comments_and_strings(text: str) -> str:
    pattern = re.compile(r"/\*.*?\*/|//[^\n]*|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'", re.DOTALL)

    def blank(m: re.Match[str]) -> str:
        s = m.group(0)
        if s.startswith("/"):
            return "\n" * s.count("\n") or " "
        return '""' if s.startswith('"') else "' '"

    return pattern.sub(blank, text)


def defined_functions(source: str) -> frozenset[str]:
    """The names of C_FUNCTIONS that ``source`` defines.

    A definition is the name at the start of a line or after its return type
    there, then a parameter list, then a body (``{``), comments ignored.
    """
    text = _strip_comments_and_strings(source)
    found = set()
    for name in C_FUNCTIONS:
        definition = re.compile(rf"^(?:[A-Za-z_][\w \t*]*?[\s*])?{name}\s*\([^;{{}}]*\)\s*\{{", re.MULTILINE)
        if definition.search(text):
            found.add(name)
    return frozenset(found)


def available_functions(defined: frozenset[str]) -> frozenset[str]:
    """What the facade can call given what the source defines."""
    return frozenset(
        f.name for f in FUNCTIONS if (f.name in defined) or (f.origin == "inline" and set(f.needs) <= defined)
    )
