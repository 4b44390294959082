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

from iovspec.structs import IOVEC_SIZE

from .regions import FIXED_SIZES, KINDS, Arg, QiovInit, Ref, Region

__all__ = [
    "ALIGN",
    "GUARD",
    "GUARD_BYTE",
    "Arg",
    "Builder",
    "Call",
    "Case",
    "Peer",
    "QiovInit",
    "Ref",
    "Region",
    "Sock",
    "Stream",
    "case_from_json",
    "case_to_json",
]

#: bytes between regions (and before the first / after the last), filled with GUARD_BYTE
GUARD = 16
GUARD_BYTE = 0xA5
ALIGN = 16


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

    Before the calls (see ``harness.worlds.sockets``): a ``socketpair(AF_UNIX, SOCK_STREAM)`` is
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
        lines = [f"  {r.kind:5} {r.name:8} size {r.size:<6} {r.spec.describe(r)}" for r in self.regions]
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
    """A call argument (or peer chunk) as JSON."""
    if isinstance(value, Ref):
        return {"ref": value.region, "off": value.offset}
    if isinstance(value, bytes):
        return {"b64": base64.b64encode(value).decode()}
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
        "regions": [[r.name, r.kind, r.size, r.spec.to_json(r.init)] for r in case.regions],
        "calls": [[c.func, _enc(c.args)] for c in case.calls],
    }
    if case.peers:
        raw["peers"] = [_peer_to_json(p) for p in case.peers]
    return json.dumps(raw, indent=1)


def case_from_json(text: str) -> Case:
    raw = json.loads(text)
    regions = tuple(Region(n, k, s, KINDS[k].from_json(i)) for n, k, s, i in raw["regions"])
    calls = tuple(Call(f, tuple(_dec(a))) for f, a in raw["calls"])
    peers = tuple(_peer_from_json(p) for p in raw.get("peers", ()))
    return Case(regions, calls, raw.get("label", ""), peers)


class Builder:
    """Collects regions and calls while a case is drawn or enumerated, then makes the :class:`Case`."""

    def __init__(self) -> None:
        self.regions: list[Region] = []
        self.calls: list[Call] = []
        self.peers: list[Peer] = []

    def _add(self, prefix: str, kind: str, size: int, init: Any) -> Ref:
        name = f"{prefix}{len(self.regions)}"
        self.regions.append(Region(name, kind, size, init))
        return Ref(name)

    def data(self, content: bytes) -> Ref:
        return self._add("buf", "data", len(content), bytes(content))

    def iovs(self, entries: list[tuple[Arg, int]]) -> Ref:
        return self._add("iov", "iovs", IOVEC_SIZE * len(entries), tuple(entries))

    def qiov(self, init: QiovInit | None = None) -> Ref:
        return self._add("q", "qiov", FIXED_SIZES["qiov"], init)

    def set_qiov(self, q: Ref, init: QiovInit) -> None:
        """Give the QEMUIOVector ``q`` (already added) its fields, e.g. pointing into itself."""
        k = next(i for i, r in enumerate(self.regions) if r.name == q.region)
        self.regions[k] = Region(q.region, "qiov", FIXED_SIZES["qiov"], init)

    def undo(self) -> Ref:
        # stale contents, so a call that must clear modified_iov is seen doing it
        return self._add("undo", "undo", FIXED_SIZES["undo"], bytes([0x5A]) * FIXED_SIZES["undo"])

    def ptr(self, value: Arg) -> Ref:
        return self._add("p", "ptr", FIXED_SIZES["ptr"], value)

    def uint(self, value: int) -> Ref:
        return self._add("n", "uint", FIXED_SIZES["uint"], value)

    def sock(self, peer: Peer) -> Sock:
        self.peers.append(peer)
        return Sock(peer.name)

    def call(self, func: str, *args: Any) -> None:
        self.calls.append(Call(func, tuple(args)))

    def case(self, label: str = "") -> Case:
        return Case(tuple(self.regions), tuple(self.calls), label, tuple(self.peers))
