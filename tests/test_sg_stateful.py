"""pyimpl.sg lifecycles in any order, on the port and on the C code in lockstep (issue 16).

A Hypothesis state machine creates vectors (``IOVector``, ``QIOV``), makes objects from them
(``copy``, ``vector``, ``slice``, ``clone``, ``discarded`` blocks, entered and left in any
order), grows them (``add``, ``concat``), closes any of them at any time and reads, writes
and fills through any of them, with arguments that are often wrong (negative, past the end,
a short clone buffer, a closed object).  Each step runs on the port here and on
``reference_c`` in a forked child (``isolated.Child``: a C abort is a failed step, not a
dead worker), and asserts:

- both sides end the step the same way: the same value, or the same exception type with the
  same message, and that exception is a ``ValueError`` or ``TypeError`` (misuse), never an
  assertion, undefined behaviour or crash of the code underneath;
- no byte outside the buffers of the object the step used changes (none at all for a step
  that only reads, makes, ends or closes objects), on either side;
- every buffer holds the same bytes on both sides (a clone's own buffer aside: where its
  entries land in it depends on the order of the addresses, which differ between sides; it
  is compared through reads, and starts zeroed, so its contents agree through them).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    multiple,
    precondition,
    rule,
)
from isolated import Child
from sg_sides import outcome, side_kwargs

from pyimpl import sg

#: what a misuse may raise; anything else that escapes a step is a failure
MISUSE = ("ValueError", "TypeError")

Op = tuple[Any, ...]


def apply(state: dict[str, Any], side: str, op: Op) -> tuple[tuple[str, Any], dict[int, bytes]]:
    """Run one step on ``side`` (its objects in ``state``): what it did, and every buffer after it."""
    if not state:
        state.update(kw=side_kwargs(side), objs={}, bufs={}, blocks={})
    objs: dict[int, Any] = state["objs"]
    bufs: dict[int, bytearray] = state["bufs"]
    kw = state["kw"]
    kind, *args = op

    def run() -> Any:
        if kind == "buffer":
            bid, size = args
            bufs[bid] = bytearray((bid * 37 + i) % 251 + 1 for i in range(size))
            return None
        if kind == "iovector":
            oid, bids = args
            objs[oid] = sg.IOVector([bufs[b] for b in bids], **kw)
            return None
        if kind == "qiov":
            oid, bids, hint = args
            objs[oid] = sg.QIOV([bufs[b] for b in bids], alloc_hint=hint, **kw)
            return None
        if kind == "copy":
            new, oid, offset, n = args
            objs[new] = objs[oid].copy(offset, n)
            return None
        if kind == "vector":
            new, qid = args
            objs[new] = objs[qid].vector()
            return None
        if kind == "slice":
            new, qid, offset, n = args
            objs[new] = objs[qid].slice(offset, n)
            return None
        if kind == "clone":
            new, qid, bid, size = args
            buf = None if bid is None else bufs.setdefault(bid, bytearray(size))
            objs[new] = objs[qid].clone(buf)
            return None
        if kind == "add":
            qid, bid = args
            return objs[qid].add(bufs[bid])
        if kind == "concat":
            qid, other, offset, n = args
            return objs[qid].concat(objs[other], offset, n)
        if kind == "enter":
            cid, new, oid, front, back = args
            block = objs[oid].discarded(front, back)
            objs[new] = block.__enter__()
            state["blocks"][cid] = block
            return None
        if kind == "exit":
            (cid,) = args
            block = state["blocks"].pop(cid, None)
            return None if block is None else block.__exit__(None, None, None)
        if kind == "close":
            (oid,) = args
            return objs[oid].close()
        if kind == "read":
            oid, offset, n = args
            obj = objs[oid]
            return obj.read(offset, n) if isinstance(obj, sg.IOVector) else obj.to_bytes(offset, n)
        if kind == "readinto":
            vid, size, offset = args
            out = bytearray(size)
            return objs[vid].readinto(out, offset), bytes(out)
        if kind == "write":
            oid, data, offset = args
            return objs[oid].write(data, offset)
        if kind == "fill":
            oid, byte, offset, n = args
            return objs[oid].fill(byte, offset, n)
        if kind == "len":
            (oid,) = args
            return len(objs[oid])
        if kind == "is_zero":
            qid, offset, n = args
            return objs[qid].is_zero(offset, n)
        if kind == "compare":
            qid, other = args
            return objs[qid].compare(objs[other])
        if kind == "read_all":
            (oids,) = args
            return [outcome(partial(_read_whole, objs[oid])) for oid in oids]
        raise AssertionError(f"no step {kind}")

    done = outcome(run)
    return done, {b: bytes(v) for b, v in bufs.items()}


def _read_whole(obj: Any) -> bytes:
    return obj.read() if isinstance(obj, sg.IOVector) else obj.to_bytes()


OFFSET = st.integers(-1, 14)
COUNT = st.none() | st.integers(-1, 14)
BYTE = st.integers(-1, 256)
#: the steps that may change bytes, and of which object (the op's second item)
WRITES = ("write", "fill")


class Lifecycles(RuleBasedStateMachine):
    """The port here, the C code in a child, one step at a time (see the module docstring)."""

    vectors = Bundle("vectors")
    qiovs = Bundle("qiovs")
    blocks = Bundle("blocks")
    buffers = Bundle("buffers")

    def __init__(self) -> None:
        super().__init__()
        self.child: Child | None = None  # forked at the first step: examples Hypothesis drops cost none
        self.port: dict[str, Any] = {}
        self.snapshots: dict[str, dict[int, bytes]] = {}
        self.next_id = 0
        #: the buffers each object's entries may point into
        self.footprint: dict[int, set[int]] = {}
        #: clones' own buffers: laid out by address order, which differs between the sides
        self.scrambled: set[int] = set()

    def teardown(self) -> None:
        if self.child is not None:
            self.child.close()

    def _new(self) -> int:
        self.next_id += 1
        return self.next_id

    def step(self, op: Op, target: int | None = None) -> tuple[str, Any]:
        if self.child is None:
            self.child = Child()
        self.child.start(apply, "reference_c", op)  # the C side runs while the port does
        port, port_bufs = apply(self.port, "pyimpl", op)
        c, c_bufs = self.child.result()
        assert port == c, f"{op}: the port did {port}, the C code {c}"
        ends = port[1] if op[0] == "read_all" and port[0] == "ok" else [port]
        assert all(end[0] == "ok" or end[0] in MISUSE for end in ends), f"{op}: {port}"
        may_change = self.footprint.get(target, set()) if target is not None and op[0] in WRITES else set()
        for side, after in (("pyimpl", port_bufs), ("reference_c", c_bufs)):
            # each side against its own bytes before the step: a clone's own buffer is laid
            # out otherwise on each side, so the port's bytes are no reference for C's
            before = self.snapshots.get(side, {})
            changed = {b for b, data in after.items() if before.get(b, data) != data}
            assert changed <= may_change, f"{op} on {side} changed buffers {changed - may_change}"
        for b, data in port_bufs.items():
            if b not in self.scrambled:
                assert c_bufs[b] == data, f"{op}: buffer {b} differs: port {data!r}, C {c_bufs[b]!r}"
        self.snapshots = {"pyimpl": port_bufs, "reference_c": c_bufs}
        return port

    # -- making things ------------------------------------------------------------------------
    @initialize(target=buffers, sizes=st.lists(st.integers(0, 6), min_size=3, max_size=5))
    def make_buffers(self, sizes: list[int]) -> Any:
        made = []
        for size in sizes:
            bid = self._new()
            self.step(("buffer", bid, size))
            made.append(bid)
        return multiple(*made)

    @rule(target=vectors, bids=st.lists(buffers, min_size=0, max_size=4))
    def iovector(self, bids: list[int]) -> Any:
        return self._made(("iovector", self._new(), bids), set(bids))

    @rule(target=qiovs, bids=st.lists(buffers, min_size=0, max_size=4), hint=st.integers(-1, 3))
    def qiov(self, bids: list[int], hint: int) -> Any:
        return self._made(("qiov", self._new(), bids, hint), set(bids))

    def _made(self, op: Op, footprint: set[int]) -> Any:
        oid = op[1]
        done = self.step(op)
        if done[0] != "ok":
            return multiple()
        self.footprint[oid] = footprint
        return multiple(oid)

    @rule(target=vectors, v=vectors, offset=OFFSET, n=COUNT)
    def copy(self, v: int, offset: int, n: int | None) -> Any:
        return self._made(("copy", self._new(), v, offset, n), self.footprint[v])

    @rule(target=vectors, q=qiovs)
    def vector(self, q: int) -> Any:
        return self._made(("vector", self._new(), q), self.footprint[q])

    @rule(target=qiovs, q=qiovs, offset=OFFSET, n=st.integers(-1, 14))
    def slice(self, q: int, offset: int, n: int) -> Any:
        return self._made(("slice", self._new(), q, offset, n), self.footprint[q])

    @rule(target=qiovs, q=qiovs, size=st.none() | st.integers(0, 20))
    def clone(self, q: int, size: int | None) -> Any:
        """Into a zeroed buffer of its own (None: one the clone makes), short ones included."""
        bid = None if size is None else self._new()
        if bid is not None:
            self.scrambled.add(bid)
        return self._made(("clone", self._new(), q, bid, size), set() if bid is None else {bid})

    @rule(q=qiovs, bid=buffers)
    def add(self, q: int, bid: int) -> None:
        if self.step(("add", q, bid))[0] == "ok":
            self.footprint[q].add(bid)

    @rule(q=qiovs, other=qiovs, offset=OFFSET, n=COUNT)
    def concat(self, q: int, other: int, offset: int, n: int | None) -> None:
        if self.step(("concat", q, other, offset, n))[0] == "ok":
            self.footprint[q] |= self.footprint[other]

    # -- discarded() blocks, left in any order -----------------------------------------------------
    @rule(target=blocks, v=vectors, front=st.integers(-1, 8), back=st.integers(-1, 8))
    def enter(self, v: int, front: int, back: int) -> Any:
        cid, view = self._new(), self._new()
        if self.step(("enter", cid, view, v, front, back))[0] != "ok":
            return multiple()
        self.footprint[view] = self.footprint[v]
        return multiple((cid, view))

    @rule(block=consumes(blocks))
    def leave(self, block: tuple[int, int]) -> None:
        self.step(("exit", block[0]))

    @rule(block=blocks, offset=OFFSET, n=COUNT)
    def read_the_block(self, block: tuple[int, int], offset: int, n: int | None) -> None:
        self.step(("read", block[1], offset, n))

    @rule(block=blocks, data=st.binary(max_size=8), offset=OFFSET)
    def write_the_block(self, block: tuple[int, int], data: bytes, offset: int) -> None:
        self.step(("write", block[1], data, offset), target=block[1])

    # -- ending things ------------------------------------------------------------------------
    @rule(v=vectors)
    def close_vector(self, v: int) -> None:
        self.step(("close", v))

    @rule(q=qiovs)
    def destroy(self, q: int) -> None:
        self.step(("close", q))

    @rule(block=blocks)
    def close_the_block(self, block: tuple[int, int]) -> None:
        self.step(("close", block[1]))

    # -- bytes (a rule per bundle: a rule whose bundle is empty simply waits) ---------------------
    def _read(self, v: int, offset: int, n: int | None) -> None:
        self.step(("read", v, offset, n))

    def _write(self, v: int, data: bytes, offset: int) -> None:
        self.step(("write", v, data, offset), target=v)

    def _fill(self, v: int, byte: int, offset: int, n: int | None) -> None:
        self.step(("fill", v, byte, offset, n), target=v)

    @rule(v=vectors, offset=OFFSET, n=COUNT)
    def read_vector(self, v: int, offset: int, n: int | None) -> None:
        self._read(v, offset, n)

    @rule(q=qiovs, offset=OFFSET, n=COUNT)
    def read_qiov(self, q: int, offset: int, n: int | None) -> None:
        self._read(q, offset, n)

    @rule(v=vectors, size=st.integers(0, 10), offset=OFFSET)
    def readinto(self, v: int, size: int, offset: int) -> None:
        self.step(("readinto", v, size, offset))

    @rule(v=vectors, data=st.binary(max_size=10), offset=OFFSET)
    def write_vector(self, v: int, data: bytes, offset: int) -> None:
        self._write(v, data, offset)

    @rule(q=qiovs, data=st.binary(max_size=10), offset=OFFSET)
    def write_qiov(self, q: int, data: bytes, offset: int) -> None:
        self._write(q, data, offset)

    @rule(v=vectors, byte=BYTE, offset=OFFSET, n=COUNT)
    def fill_vector(self, v: int, byte: int, offset: int, n: int | None) -> None:
        self._fill(v, byte, offset, n)

    @rule(q=qiovs, byte=BYTE, offset=OFFSET, n=COUNT)
    def fill_qiov(self, q: int, byte: int, offset: int, n: int | None) -> None:
        self._fill(q, byte, offset, n)

    @rule(v=vectors)
    def length_vector(self, v: int) -> None:
        self.step(("len", v))

    @rule(q=qiovs)
    def length_qiov(self, q: int) -> None:
        self.step(("len", q))

    @rule(q=qiovs, offset=OFFSET, n=COUNT)
    def is_zero(self, q: int, offset: int, n: int | None) -> None:
        self.step(("is_zero", q, offset, n))

    @rule(q=qiovs, other=qiovs)
    def compare(self, q: int, other: int) -> None:
        self.step(("compare", q, other))

    @precondition(lambda self: self.footprint)
    @rule()
    def everything_agrees(self) -> None:
        """Every object made so far reads the same on both sides, or fails the same way (a
        step of its own, so a difference an earlier step left behind is found even if no rule
        reads that object again)."""
        self.step(("read_all", sorted(self.footprint)))


Lifecycles.TestCase.settings = settings(max_examples=40, stateful_step_count=30, deadline=None)
TestLifecycles = Lifecycles.TestCase
