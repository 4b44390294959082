"""The objects a case lays out in memory, one class per region kind.

A :class:`Region` is plain data (name, kind, size, initial contents).  Its
:class:`RegionKind` knows everything else about that kind of object: how its
contents are written into a world's memory, how it is observed after the calls
(as :class:`~harness.model.outcome.Observed` facts, pointers normalised by the world),
how it is initialised in a standalone C program, how it is described in a
report, and how its contents travel in JSON.  Adding a kind of object means
adding one class here.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from iovspec.structs import (
    IOVEC_SIZE,
    QIOV_LOCAL_IOV,
    QIOV_SIZE,
    UNDO_SIZE,
    MemoryLike,
    QiovFields,
    read_iovecs,
    read_qiov,
    read_undo,
    write_iovecs,
    write_qiov,
)

from .compact import progressions, statements
from .outcome import Observed


@dataclass(frozen=True)
class Ref:
    """The address ``offset`` bytes into region ``region``."""

    region: str
    offset: int = 0

    def __add__(self, n: int) -> Ref:
        return Ref(self.region, self.offset + n)

    def __repr__(self) -> str:
        return f"&{self.region}" + (f"+{self.offset}" if self.offset else "")


#: a pointer in a case: a Ref, or a literal address (NULL is 0)
Arg = int | Ref


@dataclass(frozen=True)
class QiovInit:
    """Raw field values for a QEMUIOVector region (written directly, not via the API)."""

    iov: Arg
    niov: int
    nalloc: int
    local_base: Arg
    size: int


@dataclass(frozen=True)
class Region:
    """One object in the arena; what ``init`` holds depends on ``kind`` (see :data:`KINDS`)."""

    name: str
    kind: str
    size: int
    init: Any = None

    @property
    def spec(self) -> RegionKind:
        return KINDS[self.kind]


class Place(Protocol):
    """What a region kind needs of a world while laying out or observing a case."""

    mem: MemoryLike

    def addr(self, arg: Any) -> Any: ...
    def norm(self, ptr: int) -> Any: ...


def _enc(value: Any) -> Any:
    """A pointer argument (or a plain value) as JSON."""
    if isinstance(value, Ref):
        return {"ref": value.region, "off": value.offset}
    return value


def _dec(value: Any) -> Any:
    if isinstance(value, dict) and "ref" in value:
        return Ref(value["ref"], value["off"])
    return value


def c_pointer(arg: Any) -> str:
    """A pointer argument as a C expression of the reproducer (regions live in array ``A``)."""
    if isinstance(arg, Ref):
        return f"(void *)(A + OFF_{arg.region} + {arg.offset})"
    return f"(void *)(uintptr_t){arg:#x}" if arg else "NULL"


def c_u64(value: int) -> str:
    """An integer as C's unsigned long long (negative ones modulo 2**64)."""
    return f"{value & ((1 << 64) - 1):#x}ULL"


#: entries in a row that step evenly and that a reproducer initialises with a loop, not one by one
LOOP_AT_LEAST = 4


def _short(data: bytes) -> str:
    return data.hex() if len(data) <= 32 else data[:32].hex() + f"...({len(data)} bytes)"


class RegionKind:
    """How one kind of object is laid out, observed, written in C, described and serialised."""

    name: ClassVar[str]

    def lay_out(self, place: Place, region: Region, at: int) -> None:
        """Write the initial contents (the arena starts zeroed, guards filled)."""

    def observe(self, place: Place, region: Region, at: int, snapshot: bytes) -> list[Observed]:
        """What the region holds after the calls; ``snapshot`` is its bytes."""
        raise NotImplementedError

    def c_init(self, region: Region, at: str) -> list[str]:
        """C statements that give the region its initial contents (``at`` is its address)."""
        return []

    def describe(self, region: Region) -> str:
        return repr(region.init)

    def to_json(self, init: Any) -> Any:
        return _enc(init)

    def from_json(self, raw: Any) -> Any:
        return _dec(raw)


class DataKind(RegionKind):
    """A caller buffer: ``init`` is its bytes."""

    name = "data"

    def lay_out(self, place: Place, region: Region, at: int) -> None:
        place.mem.write(at, region.init)

    def observe(self, place: Place, region: Region, at: int, snapshot: bytes) -> list[Observed]:
        return [Observed(f"bytes of {region.name}", snapshot, "bytes", region.name)]

    def c_init(self, region: Region, at: str) -> list[str]:
        return statements(at, region.init)

    def describe(self, region: Region) -> str:
        return _short(region.init)

    def to_json(self, init: Any) -> Any:
        return {"b64": base64.b64encode(init).decode()}

    def from_json(self, raw: Any) -> Any:
        return base64.b64decode(raw["b64"])


class IovsKind(RegionKind):
    """A ``struct iovec`` array: ``init`` is a tuple of (base, len)."""

    name = "iovs"

    def lay_out(self, place: Place, region: Region, at: int) -> None:
        write_iovecs(place.mem, at, [(place.addr(b), n) for b, n in region.init])

    def observe(self, place: Place, region: Region, at: int, snapshot: bytes) -> list[Observed]:
        entries = read_iovecs(place.mem, at, region.size // IOVEC_SIZE)
        return [Observed(f"{region.name}[{i}]", (place.norm(b), n)) for i, (b, n) in enumerate(entries)]

    def c_init(self, region: Region, at: str) -> list[str]:
        # keyed by the region a base points into ("" for a literal address)
        items = [(b.region, (b.offset, n)) if isinstance(b, Ref) else ("", (b, n)) for b, n in region.init]
        lines: list[str] = []
        for run in progressions(items):
            if run.count < LOOP_AT_LEAST:
                lines += [
                    f"((struct iovec *){at})[{i}] = (struct iovec){{ {c_pointer(b)}, {n}ULL }};"
                    for i, (b, n) in enumerate(region.init[run.start : run.start + run.count], run.start)
                ]
                continue
            (b0, n0), (db, dn) = run.first, run.step
            if run.key:
                base = f"(void *)(A + OFF_{run.key} + {b0} + (long long)i * {db})"
            else:
                base = f"(void *)(uintptr_t)({c_u64(b0)} + (unsigned long long)i * {c_u64(db)})"
            lines.append(
                f"for (size_t i = 0; i < {run.count}; i++) ((struct iovec *){at})[{run.start} + i] = "
                f"(struct iovec){{ {base}, (size_t)({c_u64(n0)} + (unsigned long long)i * {c_u64(dn)}) }};"
            )
        return lines

    def describe(self, region: Region) -> str:
        init = region.init
        return f"{init[:8]!r}... ({len(init)} entries)" if len(init) > 8 else repr(init)

    def to_json(self, init: Any) -> Any:
        return [[_enc(b), n] for b, n in init]

    def from_json(self, raw: Any) -> Any:
        return tuple((_dec(b), n) for b, n in raw)


class QiovKind(RegionKind):
    """A ``QEMUIOVector``: ``init`` is a :class:`QiovInit` or None (zeroed)."""

    name = "qiov"

    def lay_out(self, place: Place, region: Region, at: int) -> None:
        q = region.init
        if isinstance(q, QiovInit):
            fields = QiovFields(place.addr(q.iov), q.niov, q.nalloc, place.addr(q.local_base), q.size)
            write_qiov(place.mem, at, fields)

    def observe(self, place: Place, region: Region, at: int, snapshot: bytes) -> list[Observed]:
        name = region.name
        q = read_qiov(place.mem, at)
        iov = "&local_iov" if q.iov == at + QIOV_LOCAL_IOV else place.norm(q.iov)
        obs = [
            Observed(f"{name}.iov", iov),
            Observed(f"{name}.niov", q.niov),
            Observed(f"{name}.nalloc", q.nalloc),
            Observed(f"{name}.local_iov.iov_base", place.norm(q.local_base)),
            Observed(f"{name}.size", q.size),
        ]
        # an owned array lives on the heap, outside the arena: observe its entries too
        if isinstance(iov, tuple) and iov[0] == "heap" and 0 < q.niov <= max(q.nalloc, 0):
            for i, (b, n) in enumerate(read_iovecs(place.mem, q.iov, min(q.niov, 4096))):
                obs.append(Observed(f"{name}.iov[{i}]", (place.norm(b), n)))
        return obs

    def c_init(self, region: Region, at: str) -> list[str]:
        q = region.init
        if not isinstance(q, QiovInit):
            return []
        v = f"((QEMUIOVector *){at})"
        return [
            f"{v}->iov = (struct iovec *){c_pointer(q.iov)};",
            f"{v}->niov = {q.niov};",
            f"{v}->nalloc = {q.nalloc};",
            f"{v}->local_iov.iov_base = {c_pointer(q.local_base)};",
            f"{v}->size = {q.size}ULL;",
        ]

    def to_json(self, init: Any) -> Any:
        if not isinstance(init, QiovInit):
            return None
        return {"qiov": [_enc(init.iov), init.niov, init.nalloc, _enc(init.local_base), init.size]}

    def from_json(self, raw: Any) -> Any:
        if raw is None:
            return None
        iov, niov, nalloc, local, size = raw["qiov"]
        return QiovInit(_dec(iov), niov, nalloc, _dec(local), size)


_DATA = DataKind()


class UndoKind(RegionKind):
    """An ``IOVDiscardUndo``: ``init`` is its raw bytes (stale contents) or None (zeroed)."""

    name = "undo"

    def lay_out(self, place: Place, region: Region, at: int) -> None:
        if isinstance(region.init, bytes):
            place.mem.write(at, region.init)

    def observe(self, place: Place, region: Region, at: int, snapshot: bytes) -> list[Observed]:
        u = read_undo(place.mem, at)
        return [
            Observed(f"{region.name}.modified_iov", place.norm(u.modified_iov)),
            Observed(f"{region.name}.orig", (place.norm(u.orig_base), u.orig_len)),
        ]

    def c_init(self, region: Region, at: str) -> list[str]:
        return _DATA.c_init(region, at) if isinstance(region.init, bytes) else []

    def describe(self, region: Region) -> str:
        return _short(region.init) if isinstance(region.init, bytes) else "zeroed"

    def to_json(self, init: Any) -> Any:
        return _DATA.to_json(init) if isinstance(init, bytes) else None

    def from_json(self, raw: Any) -> Any:
        return _DATA.from_json(raw) if raw is not None else None


class PtrKind(RegionKind):
    """A ``struct iovec *`` variable (the discard functions take its address): ``init`` is a pointer."""

    name = "ptr"

    def lay_out(self, place: Place, region: Region, at: int) -> None:
        place.mem.set_u64(at, place.addr(region.init))

    def observe(self, place: Place, region: Region, at: int, snapshot: bytes) -> list[Observed]:
        return [Observed(f"*{region.name}", place.norm(place.mem.u64(at)))]

    def c_init(self, region: Region, at: str) -> list[str]:
        return [f"*(void **){at} = {c_pointer(region.init)};"]


class UintKind(RegionKind):
    """An ``unsigned int`` variable (a count passed by address): ``init`` is its value."""

    name = "uint"

    def lay_out(self, place: Place, region: Region, at: int) -> None:
        place.mem.set_u32(at, region.init)

    def observe(self, place: Place, region: Region, at: int, snapshot: bytes) -> list[Observed]:
        return [Observed(f"*{region.name}", place.mem.u32(at))]

    def c_init(self, region: Region, at: str) -> list[str]:
        return [f"*(unsigned *){at} = {region.init}u;"]


#: every region kind by name
KINDS: dict[str, RegionKind] = {
    k.name: k for k in (_DATA, IovsKind(), QiovKind(), UndoKind(), PtrKind(), UintKind())
}

#: sizes of the fixed-size kinds
FIXED_SIZES: dict[str, int] = {"qiov": QIOV_SIZE, "undo": UNDO_SIZE, "ptr": 8, "uint": 4}
