"""A case: a memory layout and a list of calls, built identically in each world.

Everything is plain data (ints, bytes, tuples) so a case prints, serialises to
JSON for reproducers, and shrinks well under Hypothesis.  Pointers in a case are
:class:`Ref` values (a region name and an offset) or literal ints (NULL is 0);
each world resolves a Ref against the address its arena landed at.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

#: bytes between regions (and before the first / after the last), filled with GUARD_BYTE
GUARD = 16
GUARD_BYTE = 0xA5
ALIGN = 16

REGION_KINDS = ("data", "iovs", "qiov", "undo", "ptr", "uint")


@dataclass(frozen=True)
class Ref:
    """The address ``offset`` bytes into region ``region``."""

    region: str
    offset: int = 0

    def __add__(self, n: int) -> Ref:
        return Ref(self.region, self.offset + n)

    def __repr__(self) -> str:
        return f"&{self.region}" + (f"+{self.offset}" if self.offset else "")


Arg = int | Ref


@dataclass(frozen=True)
class Sock:
    """The file descriptor of the tested end of the socket pair made for ``Case.peers`` entry ``name``.

    Each run (each world) gets a fresh pair, so both sides see the same schedule.
    """

    name: str = "sock"

    def __repr__(self) -> str:
        return f"<sock {self.name}>"


@dataclass(frozen=True)
class Stream:
    """A fresh text stream (a ``FILE *`` on the C side); the text written to it is observed."""

    name: str = "out"

    def __repr__(self) -> str:
        return f"<stream {self.name}>"


@dataclass(frozen=True)
class Peer:
    """The socket a :class:`Sock` of the same name stands for, and its peer's script.

    Before the calls (see ``harness.sockets``): a ``socketpair(AF_UNIX, SOCK_STREAM)`` is
    made (``kind`` "pipe" makes a pipe instead, whose read end is then the "socket"), both
    ends non-blocking; the tested end gets ``SO_SNDBUF`` = ``sndbuf`` if nonzero and writes
    ``fill`` filler bytes (fewer if its buffer fills first); the peer writes each chunk
    ``(data, mark)`` with one ``sendmsg``, a marked chunk carrying a file descriptor (a
    ``recvmsg`` that consumes a marked chunk stops after it); then the peer shuts down
    writing (``shut_wr``) and/or reading (``shut_rd``).  After the calls both ends are
    drained and what crossed the socket is observed.
    """

    name: str = "sock"
    kind: str = "stream"
    sndbuf: int = 0
    fill: int = 0
    chunks: tuple[tuple[bytes, bool], ...] = ()
    shut_wr: bool = False
    shut_rd: bool = False


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
    """One object in the arena.

    ``init`` depends on ``kind``: data -> bytes; iovs -> tuple of (base, len);
    qiov -> QiovInit or None (zeroed); undo -> None; ptr -> an Arg; uint -> int.
    """

    name: str
    kind: str
    size: int
    init: Any = None


@dataclass(frozen=True)
class Call:
    """One call of a C function (by name) with C arguments."""

    func: str
    args: tuple[Any, ...]

    def __repr__(self) -> str:
        return f"{self.func}({', '.join(map(repr, self.args))})"


@dataclass(frozen=True)
class Case:
    """Regions to lay out, then calls to make in order; the last call is the one under test."""

    regions: tuple[Region, ...]
    calls: tuple[Call, ...]
    label: str = field(default="", compare=False)
    #: the sockets the calls' :class:`Sock` arguments stand for (a Sock with no entry gets ``Peer(name)``)
    peers: tuple[Peer, ...] = ()

    @property
    def func(self) -> str:
        return self.calls[-1].func if self.calls else ""

    def layout(self) -> tuple[dict[str, int], list[tuple[int, bool]], int]:
        """Offsets of each region in the arena, the (size, is_guard) layout, and its total size."""
        offsets: dict[str, int] = {}
        parts: list[tuple[int, bool]] = [(GUARD, True)]
        pos = GUARD
        for region in self.regions:
            offsets[region.name] = pos
            parts.append((region.size, False))
            pos += region.size
            pad = GUARD + (-(pos + GUARD) % ALIGN)
            parts.append((pad, True))
            pos += pad
        return offsets, parts, pos

    def describe(self) -> str:
        """A readable listing of the case."""
        lines = []
        for r in self.regions:
            init = r.init
            if isinstance(init, bytes):
                init = init.hex() if len(init) <= 32 else init[:32].hex() + f"...({len(init)} bytes)"
            elif isinstance(init, tuple) and len(init) > 8:
                init = f"{init[:8]!r}... ({len(init)} entries)"
            lines.append(f"  {r.kind:5} {r.name:8} size {r.size:<6} {init}")
        for p in self.peers:
            chunks = [
                (d.hex() if len(d) <= 16 else f"{d[:16].hex()}...({len(d)} bytes)", m) for d, m in p.chunks
            ]
            lines.append(
                f"  peer  {p.name:8} {p.kind} sndbuf {p.sndbuf} fill {p.fill} chunks {chunks}"
                f" shut_wr {p.shut_wr} shut_rd {p.shut_rd}"
            )
        lines += [f"  call  {c!r}" for c in self.calls]
        return "\n".join(lines)


# -- JSON -------------------------------------------------------------------------
def _enc(value: Any) -> Any:
    if isinstance(value, Ref):
        return {"ref": value.region, "off": value.offset}
    if isinstance(value, bytes):
        return {"b64": base64.b64encode(value).decode()}
    if isinstance(value, QiovInit):
        return {"qiov": [_enc(value.iov), value.niov, value.nalloc, _enc(value.local_base), value.size]}
    if isinstance(value, Sock):
        return {"sock": value.name}
    if isinstance(value, Stream):
        return {"stream": value.name}
    if isinstance(value, tuple | list):
        return [_enc(v) for v in value]
    return value


def _dec(value: Any) -> Any:
    if isinstance(value, dict):
        if "ref" in value:
            return Ref(value["ref"], value["off"])
        if "b64" in value:
            return base64.b64decode(value["b64"])
        if "qiov" in value:
            iov, niov, nalloc, local, size = value["qiov"]
            return QiovInit(_dec(iov), niov, nalloc, _dec(local), size)
        if "sock" in value:
            return Sock(value["sock"])
        if "stream" in value:
            return Stream(value["stream"])
    if isinstance(value, list):
        return tuple(_dec(v) for v in value)
    return value


def _peer_to_json(p: Peer) -> dict[str, Any]:
    return {
        "name": p.name,
        "kind": p.kind,
        "sndbuf": p.sndbuf,
        "fill": p.fill,
        "chunks": [[_enc(d), m] for d, m in p.chunks],
        "shut_wr": p.shut_wr,
        "shut_rd": p.shut_rd,
    }


def _peer_from_json(raw: dict[str, Any]) -> Peer:
    chunks = tuple((_dec(d), bool(m)) for d, m in raw.get("chunks", ()))
    return Peer(
        raw["name"],
        raw.get("kind", "stream"),
        raw.get("sndbuf", 0),
        raw.get("fill", 0),
        chunks,
        raw.get("shut_wr", False),
        raw.get("shut_rd", False),
    )


def case_to_json(case: Case) -> str:
    raw: dict[str, Any] = {
        "label": case.label,
        "regions": [[r.name, r.kind, r.size, _enc(r.init)] for r in case.regions],
        "calls": [[c.func, _enc(c.args)] for c in case.calls],
    }
    if case.peers:
        raw["peers"] = [_peer_to_json(p) for p in case.peers]
    return json.dumps(raw, indent=1)


def case_from_json(text: str) -> Case:
    raw = json.loads(text)
    regions = tuple(Region(n, k, s, _dec(i)) for n, k, s, i in raw["regions"])
    calls = tuple(Call(f, tuple(_dec(a))) for f, a in raw["calls"])
    peers = tuple(_peer_from_json(p) for p in raw.get("peers", ()))
    return Case(regions, calls, raw.get("label", ""), peers)
