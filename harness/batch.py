"""The fast inner loop: many tests against one layout, raw bytes compared first.

Both worlds lay a group's layout out once, at the same addresses (the port's
memory mirrors the C memory's arena slot and heap pool), and run its setup
calls.  Then every test starts from that state again on each side: the port
restores its arena bytes and heap (``Memory.heap_back``), the C side runs a
whole chunk of tests in one crossing (``Reference.batch``, shim/batch.c).  A
test agrees when its results, its arena bytes, its heap record and its heap
counters are the same numbers on both sides: since every pointer is the same
number, one byte comparison says it.  Anything else goes to the judge as a case
of its own (fresh runs, every observation decoded), so the verdict is always
the judge's: a raw difference the judge finds benign (padding bytes, say) is not
a failure.  Tests the port calls undefined are not run in C: the judge settles
the claim, as for any case.
"""

from __future__ import annotations

import signal
from collections.abc import Sequence
from typing import Any

from pyimpl.ctable import BY_NAME
from pyimpl.memory import int_, ssize_t

from .case import Call, Case
from .judge import CCrashed, Judge, Tally
from .outcome import AssertFailed, Outcome, Result, Returned, TimedOut, Undefined
from .worlds import PORT_TIME_LIMIT, CWorld, PortTimeout, PyWorld, Run, _on_alarm

#: tests per crossing into C
CHUNK = 512

#: the identity of a result for the fast comparison: ("ret", value) and the like
Raw = tuple[Any, ...]
#: what one side left after a test: its results, arena bytes, heap record, heap counters
State = tuple[tuple[Raw, ...], bytes, bytes | None, tuple[int, int, int, int]]

_MASK = {"size_t": (1 << 64) - 1, "ptr": (1 << 64) - 1, "unsigned": (1 << 32) - 1}


def _value(kind: str, word: int) -> Any:
    """A C value from the 64-bit word the batch runner stored it in."""
    if kind == "bool":
        return bool(word & 0xFF)
    if kind == "ssize_t":
        return ssize_t(word)
    if kind == "int":
        return int_(word)
    return word & _MASK.get(kind, (1 << 64) - 1)


class Batch:
    """A group's layout in both worlds, ready to judge its tests."""

    def __init__(self, judge: Judge, base: Case) -> None:
        self.judge = judge
        self.base = base
        self.fast = False
        self.port_run: Run | None = None
        self.c_run: Run | None = None
        self._lay_out()

    def _lay_out(self) -> None:
        """Build both runs and run the setup; fast only if the two agree to the byte."""
        judge, base = self.judge, self.base
        port, ref = judge.port, judge.reference
        if not (isinstance(port, PyWorld) and isinstance(ref, CWorld) and ref.reference.batches):
            return
        if base.peers or any(c.func not in BY_NAME for c in base.calls):
            return
        self.port_run = Run(port, base, mirror=ref)
        self.c_run = Run(ref, base)
        self.module = port.module
        ours, theirs = self.port_run.calls(base.calls), self.c_run.calls(base.calls)
        if self.port_run.base != self.c_run.base or not all(isinstance(r, Returned) for r in ours):
            self.close()
            return
        if ours != theirs or self.port_run.arena_bytes() != self.c_run.arena_bytes():
            self.close()  # the setup itself differs: each test's own judging says how
            return
        mem = self.port_run.mem
        self.backing = mem.arena_backing(self.port_run.base)
        self.arena0 = bytes(self.backing)
        mem.heap_mark()
        self.fast = not self.port_run.pairs and not self.port_run.streams

    def close(self) -> None:
        for run in (self.port_run, self.c_run):
            if run is not None:
                run.close()
        self.port_run = self.c_run = None
        self.fast = False

    def _resolve(self, test: tuple[Call, ...]) -> list[tuple[str, tuple[int, ...]]]:
        """The test's calls with their arguments as numbers: the same in both worlds."""
        run = self.port_run
        assert run is not None
        base, offsets = run.base, run.offsets
        return [
            (c.func, tuple(a if type(a) is int else base + offsets[a.region] + a.offset for a in c.args))
            for c in test
        ]

    # -- the port's side -----------------------------------------------------------------------
    def _port_test(self, calls: list[tuple[str, tuple[int, ...]]]) -> tuple[State, list[Result]]:
        run = self.port_run
        assert run is not None
        mem = run.mem
        self.backing[:] = self.arena0
        mem.heap_back()
        mem.errno = 0
        raws: list[Raw] = []
        results: list[Result] = []
        module = self.module
        for func, args in calls:
            fn = getattr(module, func)
            try:
                ret = fn(mem, *args)
            except PortTimeout:
                raise
            except Exception as exc:
                record = run.world.classify(exc)
                if record is None:
                    raise
                results.append(record)
                raws.append(self._raw(record))
                break
            results.append(Returned(ret))
            raws.append(("ret", ret))
        stats = mem.heap_stats()
        counters = (stats.allocs, stats.reallocs, stats.frees, stats.live)
        return (tuple(raws), bytes(self.backing), mem.heap_record(0), counters), results

    @staticmethod
    def _raw(r: Result) -> Raw:
        if isinstance(r, AssertFailed):
            return ("assert", *r.identity)
        if isinstance(r, Undefined):
            return ("ub", r.kind)
        return (type(r).__name__, *vars(r).values())

    # -- the C side ------------------------------------------------------------------------------
    def _c_states(self, tests: list[list[tuple[str, tuple[int, ...]]]]) -> tuple[list[State], int]:
        run = self.c_run
        assert run is not None
        ref = run.world.reference  # type: ignore[attr-defined]
        out = ref.batch(run.mem, run.base, self.arena0, tests)
        records = out.records()
        states: list[State] = []
        k = 0
        sites = run.world.sites
        for t in range(out.ran):
            made, _, allocs, reallocs, frees, live = out.test(t)
            raws: list[Raw] = []
            for j, (func, _) in enumerate(tests[t]):
                if j < made:
                    raws.append(self._c_raw(records[k], func, ref, sites))
                k += 1
            states.append((tuple(raws), out.arena(t), out.heap(t), (allocs, reallocs, frees, live)))
        return states, out.ran

    @staticmethod
    def _c_raw(record: tuple[Any, ...], func: str, ref: Any, sites: Any) -> Raw:
        status, _, o0, o1, o2, o3, line, signum, expr, fname, file, message = record
        o = (o0, o1, o2, o3)
        if status == 0:
            row = BY_NAME[func]
            if not row.outs:
                return ("ret", None if row.ret_kind == "void" else _value(row.ret_kind, o[0]))
            outs = [_value(kind, o[j]) for j, kind in enumerate(row.out_kinds)]
            return ("ret", (_value(row.ret_kind, o[len(outs)]), *outs))
        if status == 1:
            e, f, fl = ref.text(expr), ref.text(fname), ref.text(file)
            return ("assert", f, e, sites.ordinal(fl, f, e, line))
        text = message.split(b"\0", 1)[0].decode(errors="replace")
        if status == 2:
            return ("GLibFatal", text)
        return ("C status", status, text, signum)

    # -- judging ---------------------------------------------------------------------------------
    def judge_tests(self, tests: Sequence[tuple[Call, ...]], label: str, tally: Tally | None = None) -> None:
        """Judge every test (the base's calls, then the test's); raises the judge's failure."""
        if not self.fast:
            for test in tests:
                self.judge.check(Case(self.base.regions, self.base.calls + test, label), tally)
            return
        for start in range(0, len(tests), CHUNK):
            self._chunk(tests[start : start + CHUNK], label, tally)

    def _chunk(self, tests: Sequence[tuple[Call, ...]], label: str, tally: Tally | None) -> None:
        judge = self.judge
        setup = self.base.calls
        ours: list[State] = []
        in_c: list[int] = []
        previous = signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, PORT_TIME_LIMIT)
        try:
            resolved = [self._resolve(test) for test in tests]
            for t, test in enumerate(tests):
                try:
                    state, results = self._port_test(resolved[t])
                except PortTimeout:
                    case = Case(self.base.regions, setup + test, label)
                    judge.decide(case, Outcome((*(Returned(None),) * len(setup), TimedOut())), _never, tally)
                    raise AssertionError("unreachable: the judge raises on a port that hangs") from None
                ours.append(state)
                if results and isinstance(results[-1], Undefined):
                    case = Case(self.base.regions, setup + test, label)
                    setup_results = tuple(Returned(None) for _ in setup)  # not compared: C is not run
                    judge.decide(case, Outcome((*setup_results, *results)), _never, tally)
                else:
                    in_c.append(t)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        if not in_c:
            return
        if judge.flight is not None:
            judge.flight.record_batch(self.base, [tests[t] for t in in_c])
        theirs, ran = self._c_states([resolved[t] for t in in_c])
        for k, t in enumerate(in_c[:ran]):
            raws = theirs[k][0]
            if raws and raws[-1][0] == "C status" and raws[-1][1] in (3, 4):
                # C crashed (or hung) here, in this process: no more C in it; a fresh process
                # replays the report
                case = Case(self.base.regions, setup + tests[t], label)
                judge.tainted_by = case
                raise CCrashed(case, f"C crashed in a batch ({raws[-1][2] or 'signal ' + str(raws[-1][3])})")
            if theirs[k] == ours[t]:
                if tally is not None:
                    tally.cases += 1
                    last = ours[t][0][-1] if ours[t][0] else None
                    if last is not None and last[0] == "assert":
                        tally.fired[last[1:]] += 1
                continue
            # not the same numbers: the judge decides, on the case alone, with fresh runs
            self.close()
            judge.check(Case(self.base.regions, setup + tests[t], label), tally)
            self._lay_out()


def _never() -> Outcome:
    raise AssertionError("C is not run on a case the port calls undefined")


__all__ = ["CHUNK", "Batch"]
