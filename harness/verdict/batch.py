"""The fast inner loop: many tests against one layout, raw bytes compared first.

Both worlds lay a group's layout out once, at the same addresses (the port's
memory mirrors the C memory's arena slot and heap pool), and run its setup
calls.  Then every test starts from that state again on each side: the port
restores its arena bytes and heap (``Memory.heap_back``), the C side runs a
whole chunk of tests in one crossing (``Reference.batch``, shim/batch.c).  A
test agrees when its results, its arena bytes, its heap record and its heap
counters are the same numbers on both sides: since every pointer is the same
number, one comparison says it.  The port's side is written in the words the C
side leaves (``reference_c.BatchOut``), so a whole chunk is compared with a few
list and byte comparisons, test by test only where they differ.  Anything else
goes to the judge as a case of its own (fresh runs, every observation decoded),
so the verdict is always the judge's: a raw difference the judge finds benign
(padding bytes, say) is not a failure.  Tests the port calls undefined are not
run in C: the judge settles the claim, as for any case.

The words say no more than the decoded results would: a value is written as its
64-bit word only if it lies in its C type's range (so equal words are equal
values), an assert or a GLib abort as the number of its identity (the same
number for the same identity on both sides), and anything else the port returns
or raises as a word no C call leaves, which always goes to the judge.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterable, Sequence
from time import monotonic
from typing import Any

from harness.model.case import Call, Case
from harness.model.outcome import (
    SAME_ABORT,
    AssertFailed,
    GLibFatal,
    Outcome,
    Result,
    Returned,
    TimedOut,
    Undefined,
)
from harness.worlds.world import PORT_TIME_LIMIT, CWorld, PortTimeout, PyWorld, Run, _on_alarm
from iovspec.ctable import BY_NAME
from iovspec.errors import CAssertionError

from .judge import CCrashed, CHung, Discrepancy, Judge, Tally, raw_pair, raw_state

#: tests per crossing into C
CHUNK = 512

_U64 = (1 << 64) - 1
#: the words of one call (status, four values) and of one test (calls made, heap record length,
#: allocs, reallocs, frees, live), as reference_c's BatchOut lays them out
CALL_WORDS = 5
TEST_WORDS = 6
#: C statuses (reference_c, shim.h)
_OK, _ASSERT, _FATAL, _CRASH, _TIMEOUT = range(5)
#: the words of a call not reached (status -1)
NOT_REACHED = (_U64, 0, 0, 0, 0)
#: a status no C call leaves: what the port did has no words (the judge decides)
ODD = (_U64 - 1, 0, 0, 0, 0)
#: a heap record that did not fit (shim/batch.c)
NO_RECORD = 0xFFFFFFFF

#: the range of each value kind; a value outside it has no word
_RANGES = {
    "size_t": (0, _U64),
    "ptr": (0, _U64),
    "str": (0, _U64),
    "stream": (0, _U64),
    "ssize_t": (-(1 << 63), (1 << 63) - 1),
    "int": (-(1 << 31), (1 << 31) - 1),
    "unsigned": (0, (1 << 32) - 1),
    "bool": (0, 1),
}

Encoder = Callable[[Any], tuple[int, ...]]


def _word(kind: str, value: Any) -> int | None:
    """The 64-bit word C leaves for ``value`` of ``kind``, or None if it has none."""
    if type(value) is bool and kind == "bool":
        return int(value)
    if type(value) is not int:
        return None
    lo, hi = _RANGES[kind]
    return value & _U64 if lo <= value <= hi else None


def encoder(func: str) -> Encoder:
    """The port's return value of ``func`` in the words of a batch: (status 0, the out values,
    the return value, zeros), or ODD where it is not a value the C function can return."""
    row = BY_NAME[func]
    ret_kind = row.ret_kind
    if ret_kind == "void":
        ok_void = (_OK, 0, 0, 0, 0)
        return lambda v: ok_void if v is None else ODD
    if not row.outs:
        if ret_kind == "bool":
            return lambda v: (_OK, 1 if v else 0, 0, 0, 0) if type(v) in (bool, int) and v in (0, 1) else ODD
        lo, hi = _RANGES[ret_kind]

        def one(v: Any) -> tuple[int, ...]:
            if type(v) is int and lo <= v <= hi:
                return (_OK, v & _U64, 0, 0, 0)
            return ODD

        return one
    kinds = (ret_kind, *row.out_kinds)
    n = len(kinds)
    pad = (0,) * (CALL_WORDS - 1 - n)

    def several(v: Any) -> tuple[int, ...]:
        if type(v) is not tuple or len(v) != n:
            return ODD
        words: list[int] = []
        for k, x in zip(kinds, v, strict=True):
            w = _word(k, x)
            if w is None:
                return ODD
            words.append(w)
        # C leaves the out values first, then the return value
        return (_OK, *words[1:], words[0], *pad)

    return several


class Batch:
    """A group's layout in both worlds, ready to judge its tests."""

    def __init__(self, judge: Judge, base: Case) -> None:
        self.judge = judge
        self.base = base
        self.fast = False
        self.port_run: Run | None = None
        self.c_run: Run | None = None
        #: where each Discrepancy goes instead of up (see judge_tests); True from it: stop
        self.on_failure: Callable[[Discrepancy], bool] | None = None
        self.stop = False
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
        if judge.batch_tables is None:
            judge.batch_tables = _Tables(port, ref)
        self.tables: _Tables = judge.batch_tables

    def close(self) -> None:
        for run in (self.port_run, self.c_run):
            if run is not None:
                run.close()
        self.port_run = self.c_run = None
        self.fast = False

    # -- judging ---------------------------------------------------------------------------------
    def judge_tests(
        self,
        tests: Sequence[tuple[Call, ...]],
        label: str,
        tally: Tally | None = None,
        on_failure: Callable[[Discrepancy], bool] | None = None,
    ) -> bool:
        """Judge every test (the base's calls, then the test's); raises the judge's failure,
        or (``on_failure``) hands each Discrepancy to it and goes on.  True: ``on_failure``
        asked to stop."""
        self.on_failure = on_failure
        self.stop = False
        for start in range(0, len(tests), CHUNK):
            if not self.fast:  # never fast, or laid out again after a difference and no longer
                for test in tests[start:]:
                    self._check(Case(self.base.regions, self.base.calls + test, label), tally)
                    if self.stop:
                        return True
                return False
            self._chunk(tests[start : start + CHUNK], label, tally)
            if self.stop:
                return True
        return False

    def _check(self, case: Case, tally: Tally | None) -> None:
        """The judge on one case alone; a Discrepancy goes to ``on_failure`` if there is one."""
        _judged(self, self.judge.check, case, tally)

    def _chunk(self, tests: Sequence[tuple[Call, ...]], label: str, tally: Tally | None) -> None:
        judge = self.judge
        setup = self.base.calls
        run, c_run = self.port_run, self.c_run
        assert run is not None and c_run is not None
        mem, backing, arena0 = run.mem, self.backing, self.arena0
        tables = self.tables
        functions, interned, port_asserts = tables.functions, tables.interned, tables.port_asserts
        classify = run.world.classify
        b0, b1, b2 = (int(n) for n in c_run.mem._base[:3])  # the C counters' start (BatchOut.tests)
        stats = mem.heap_stats()  # as marked: a test that leaves the heap unmoved leaves these
        unmoved = (stats.allocs + b0, stats.reallocs + b1, stats.frees + b2, stats.live)
        # the port's side of every test that goes to C, in the words of a BatchOut
        words: list[int] = []
        twords: list[int] = []
        arenas = bytearray()
        heaps = bytearray()
        fired: list[tuple[str, str, int]] = []  # the assert each of them ends in, if any
        in_c: list[int] = []
        c_calls: list[tuple[str, int, list[int]]] = []
        base, offsets = run.base, run.offsets
        setitimer, real, limit = signal.setitimer, signal.ITIMER_REAL, PORT_TIME_LIMIT
        armed = -limit  # when the port's time limit was last set (a test gets limit - 1 s at least)
        moved = True  # the heap may have moved since the mark (heap_back puts it back)
        previous = signal.signal(signal.SIGALRM, _on_alarm)
        try:
            for t, test in enumerate(tests):
                # the arguments as numbers: the same in both worlds
                resolved = [
                    (c.func, [a if type(a) is int else base + offsets[a.region] + a.offset for a in c.args])
                    for c in test
                ]
                backing[:] = arena0
                if moved:
                    mem.heap_back()
                mem.errno = 0
                mark = len(words)
                made = 0
                rets: list[Any] = []  # what the test's calls returned (for a UB claim's outcome)
                ends: tuple[str, str, int] | None = None
                undefined: Undefined | None = None
                hung = False
                now = monotonic()
                if now - armed > 1.0:
                    setitimer(real, limit)
                    armed = now
                try:
                    for func, args in resolved:
                        fn, encode = functions.get(func) or tables.function(func)
                        made += 1
                        try:
                            ret = fn(mem, *args)
                        except PortTimeout:
                            raise
                        except CAssertionError as exc:
                            key = (exc.file, exc.func, exc.expr, exc.line)
                            known = port_asserts.get(key)
                            if known is None:
                                record = classify(exc)
                                assert isinstance(record, AssertFailed)
                                known = port_asserts[key] = (
                                    record.identity,
                                    interned.number(("assert", *record.identity)),
                                )
                            ends = known[0]
                            words += (_ASSERT, known[1], 0, 0, 0)
                            break
                        except Exception as exc:
                            record = classify(exc)
                            if record is None:
                                raise
                            if isinstance(record, Undefined):
                                undefined = record
                            elif isinstance(record, AssertFailed):
                                ends = record.identity
                                words += (_ASSERT, interned.number(("assert", *ends)), 0, 0, 0)
                            elif isinstance(record, GLibFatal):
                                words += (_FATAL, interned.number(("fatal", record.message)), 0, 0, 0)
                            else:
                                words += ODD
                            break
                        words += encode(ret)
                        rets.append(ret)
                except PortTimeout:
                    hung = True
                moved = mem.heap_moved()
                if hung or undefined is not None:
                    setitimer(real, 0)  # the judge is not the port: no limit on it
                    armed = -limit
                    case = Case(self.base.regions, setup + test, label)
                    if hung:
                        timed_out = Outcome((*(Returned(None),) * len(setup), TimedOut()))
                        judge.decide(case, timed_out, _never, tally)
                        raise AssertionError("unreachable: the judge raises on a port that hangs")
                    del words[mark:]
                    # the setup's results are not compared: C is not run
                    results: list[Result] = [Returned(None)] * len(setup)
                    results += [Returned(r) for r in rets]
                    claim = Outcome((*results, undefined))  # type: ignore[arg-type]
                    _judged(self, judge.decide, case, claim, _never, tally)  # refuted: a Discrepancy
                    if self.stop:
                        return
                    continue
                for _ in range(len(resolved) - made):
                    words += NOT_REACHED
                arenas += backing
                record_bytes = mem.heap_record(0)
                heaps += record_bytes
                twords += (made, len(record_bytes))
                if moved:
                    stats = mem.heap_stats()
                    twords += (stats.allocs + b0, stats.reallocs + b1, stats.frees + b2, stats.live)
                else:
                    twords += unmoved
                if ends is not None:
                    fired.append(ends)
                k = len(in_c)
                in_c.append(t)
                for func, args in resolved:
                    c_calls.append((func, k, args))
        finally:
            setitimer(real, 0)
            signal.signal(signal.SIGALRM, previous)
        if not in_c:
            return
        if judge.flight is not None:
            judge.flight.record_batch(self.base, [tests[t] for t in in_c])
        out = c_run.mem.reference.batch(c_run.mem, c_run.base, arena0, c_calls, len(in_c))
        odd = tables.translate(out)
        if (
            not odd
            and out.ran == len(in_c)
            and out.words == words
            and out.tests == twords
            and out.arenas == arenas
            and out.heaps == heaps
        ):
            if tally is not None:
                tally.cases += len(in_c)
                tally.fired.update(fired)
            return
        self._one_by_one(tests, in_c, out, (words, twords, bytes(arenas), bytes(heaps)), label, tally)

    def _same_abort(self, ours: Sequence[int], theirs: Sequence[int], tally: Tally | None) -> bool:
        return same_abort(self.judge, ours, theirs, tally)

    def _one_by_one(
        self,
        tests: Sequence[tuple[Call, ...]],
        in_c: list[int],
        out: Any,
        ours: tuple[list[int], list[int], bytes, bytes],
        label: str,
        tally: Tally | None,
    ) -> None:
        """The chunk did not agree as a whole: test by test, in order, the judge deciding each
        test whose words differ (a C crash ends the chunk)."""
        judge = self.judge
        setup = self.base.calls
        words, twords, arenas, heaps = ours
        n = out.arena_len
        at_call = our_heap = their_heap = 0
        for k, t in enumerate(in_c[: out.ran]):
            ncalls = len(tests[t])
            w0, w1 = at_call * CALL_WORDS, (at_call + ncalls) * CALL_WORDS
            at_call += ncalls
            theirs = out.words[w0:w1]
            statuses = theirs[::CALL_WORDS]
            for j, status in enumerate(statuses):
                if status in (_CRASH, _TIMEOUT):
                    # C crashed (or hung) here, in this process: no more C in it; a fresh
                    # process replays the report
                    record = out.record(w0 // CALL_WORDS + j)
                    text = record[11].split(b"\0", 1)[0].decode(errors="replace")
                    case = Case(self.base.regions, setup + tests[t], label)
                    judge.tainted_by = case
                    if status == _TIMEOUT:  # its CPU-time limit, where the port returned
                        raise CHung(case, f"C hung in a batch ({text or 'its CPU-time limit'})")
                    raise CCrashed(case, f"C crashed in a batch ({text or 'signal ' + str(record[7])})")
            our_t = twords[k * TEST_WORDS : (k + 1) * TEST_WORDS]
            their_t = out.tests[k * TEST_WORDS : (k + 1) * TEST_WORDS]
            our_len = our_t[1]
            their_len = 0 if their_t[1] == NO_RECORD else their_t[1]
            state_same = (
                our_t == their_t
                and arenas[k * n : (k + 1) * n] == out.arenas[k * n : (k + 1) * n]
                and heaps[our_heap : our_heap + our_len] == out.heaps[their_heap : their_heap + their_len]
            )
            our_words = words[w0:w1]
            same = state_same and (our_words == theirs or self._same_abort(our_words, theirs, tally))
            our_heap += our_len
            their_heap += their_len
            if same:
                if tally is not None:
                    tally.cases += 1
                    if _ASSERT in statuses:  # counted as the port's assert, as Judge.decide counts it
                        number = our_words[statuses.index(_ASSERT) * CALL_WORDS + 1]
                        tally.fired[self.tables.interned.identity(number)[1:]] += 1
                continue
            # not the same numbers: the judge decides, on the case alone, with fresh runs
            self.close()
            self._check(Case(self.base.regions, setup + tests[t], label), tally)
            if self.stop:
                return
            self._lay_out()


def _judged(batch: Batch | CBatch, judging: Callable[..., object], *args: Any) -> None:
    """One judgement of ``batch`` (``judging(*args)``): a Discrepancy goes to its ``on_failure``,
    which says whether to stop (``batch.stop``), or is raised when there is none."""
    try:
        judging(*args)
    except Discrepancy as d:
        if batch.on_failure is None:
            raise
        batch.stop = batch.on_failure(d)


def _abort_blind(words: Sequence[int]) -> list[int]:
    """A test's call words with the identity of each failed assert left out."""
    out = list(words)
    for w in range(0, len(out), CALL_WORDS):
        if out[w] == _ASSERT:
            out[w + 1] = 0
    return out


def same_abort(judge: Judge, ours: Sequence[int], theirs: Sequence[int], tally: Tally | None) -> bool:
    """Whether two tests' words differ only in which assert ended a call, and a case of that
    note is already in ``tally`` (the first one is judged alone, so the note has its case)."""
    if judge.strict_asserts or tally is None or _abort_blind(ours) != _abort_blind(theirs):
        return False
    return any(kind == SAME_ABORT for kind, _ in tally.notes)


class CBatch:
    """A group's layout judged C against C (``harness diff``): the port only screens out the
    tests it calls undefined, then each C build lays the layout out, runs the setup and the
    other tests in one crossing, one build after the other, at the same addresses (every
    build of a process shares one address space, see ``reference_c.reference``); a test
    agrees when both leave the same numbers.  Where they do not, the judge decides on the
    case alone."""

    def __init__(self, judge: Judge, base: Case) -> None:
        self.judge = judge
        self.base = base
        self.on_failure: Callable[[Discrepancy], bool] | None = None
        self.stop = False
        self.port_run: Run | None = None
        self.fast = self._lay_out()

    def _lay_out(self) -> bool:
        """The port's run of the layout, to screen the tests (fast only if its setup returns)."""
        judge, base = self.judge, self.base
        port, new = judge.ub_filter, judge.reference
        if base.peers or any(c.func not in BY_NAME for c in base.calls):
            return False
        if not isinstance(port, PyWorld) or not isinstance(new, CWorld):
            return False
        self.port_run = Run(port, base)
        if not all(isinstance(r, Returned) for r in self.port_run.calls(base.calls)):
            self.close()
            return False
        mem = self.port_run.mem
        self.backing = mem.arena_backing(self.port_run.base)
        self.arena0 = bytes(self.backing)
        mem.heap_mark()
        if judge.batch_tables is None:
            judge.batch_tables = _Tables(port, new)
        self.tables: _Tables = judge.batch_tables
        return True

    def close(self) -> None:
        if self.port_run is not None:
            self.port_run.close()
        self.port_run = None
        self.fast = False

    def judge_tests(
        self,
        tests: Sequence[tuple[Call, ...]],
        label: str,
        tally: Tally | None = None,
        on_failure: Callable[[Discrepancy], bool] | None = None,
    ) -> bool:
        """As :meth:`Batch.judge_tests`."""
        self.on_failure, self.stop = on_failure, False
        if not self.fast:
            self._alone(tests, range(len(tests)), label, tally)
            return self.stop
        for start in range(0, len(tests), CHUNK):
            self._chunk(tests[start : start + CHUNK], label, tally)
            if self.stop:
                return True
        return False

    def _alone(
        self, tests: Sequence[tuple[Call, ...]], which: Iterable[int], label: str, tally: Tally | None
    ) -> None:
        """Judge each of ``which`` on its case alone (a Discrepancy to ``on_failure`` if any)."""
        for t in which:
            case = Case(self.base.regions, self.base.calls + tests[t], label)
            _judged(self, self.judge.check, case, tally)
            if self.stop:
                return

    def _screen(self, tests: Sequence[tuple[Call, ...]], tally: Tally | None) -> list[int]:
        """The tests the port does not call undefined (those it does count as judged: undefined
        C may do anything, in the old source and the new)."""
        run = self.port_run
        assert run is not None
        mem, backing, arena0 = run.mem, self.backing, self.arena0
        base, offsets = run.base, run.offsets
        functions = self.tables.functions
        keep: list[int] = []
        for t, test in enumerate(tests):
            backing[:] = arena0
            mem.heap_back()
            mem.errno = 0
            undefined: str | None = None
            for c in test:
                fn = (functions.get(c.func) or self.tables.function(c.func))[0]
                args = [a if type(a) is int else base + offsets[a.region] + a.offset for a in c.args]
                try:
                    fn(mem, *args)
                except Exception as exc:
                    record = run.world.classify(exc)
                    if record is None:
                        raise
                    if isinstance(record, Undefined):
                        undefined = record.kind
                    break
            if undefined is None:
                keep.append(t)
            elif tally is not None:
                tally.cases += 1
                tally.ub[undefined] += 1
        return keep

    def _chunk(self, tests: Sequence[tuple[Call, ...]], label: str, tally: Tally | None) -> None:
        judge = self.judge
        in_c = self._screen(tests, tally)
        if not in_c:
            return
        outs: list[Any] = []
        setups: list[tuple[Any, ...]] = []
        for side in (judge.port, judge.reference):
            assert isinstance(side, CWorld)
            run = Run(side, self.base)
            try:
                results = tuple(run.calls(self.base.calls))
                setups.append((run.base, results, run.arena_bytes(), raw_state(run)))
                if setups[0] != setups[-1] or not all(isinstance(r, Returned) for r in results):
                    break  # the setups part already: every test on its case alone
                c_calls = [
                    (
                        c.func,
                        k,
                        [
                            a if type(a) is int else run.base + run.offsets[a.region] + a.offset
                            for a in c.args
                        ],
                    )
                    for k, t in enumerate(in_c)
                    for c in tests[t]
                ]
                if judge.flight is not None:
                    judge.flight.record_batch(self.base, [tests[t] for t in in_c])
                out = side.reference.batch(run.mem, run.base, setups[0][2], c_calls, len(in_c))
                self.tables.translate(out, side)
                outs.append(out)
            finally:
                run.close()
        if len(outs) < 2:
            self._alone(tests, in_c, label, tally)
            return
        differ, by_assert = _differing(outs[0], outs[1], [len(tests[t]) for t in in_c])
        if judge.strict_asserts:
            alone = differ + by_assert
        else:  # one case of the note judged alone, for its case; the rest agree
            noted = tally is not None and any(kind == SAME_ABORT for kind, _ in tally.notes)
            alone = differ + ([] if noted else by_assert[:1])
        if tally is not None:
            tally.cases += len(in_c) - len(alone)
        self._alone(tests, [in_c[k] for k in sorted(alone)], label, tally)


#: the statuses a batch's numbers say everything of (a return, not reached, an assert, an abort)
_PLAIN = (_OK, _U64, _ASSERT, _FATAL)


def _differing(a: Any, b: Any, ncalls: Sequence[int]) -> tuple[list[int], list[int]]:
    """The tests (by place) on which two builds' batches did not leave the same numbers (the
    calls' words, the heap counters from each memory's start, the arena bytes, the heap
    record; every test from a crash on, and any that did not end plainly), and apart from
    them those on which only the identity of a failed assert differs."""
    n = len(ncalls)
    same = a.ran == b.ran == n and a.words == b.words and a.arenas == b.arenas and a.heaps == b.heaps
    plain = same and all(status in _PLAIN for status in a.words[::CALL_WORDS])
    if plain and all(a.test(t) == b.test(t) for t in range(n)):
        return [], []
    ran = min(a.ran, b.ran)
    ha, hb = a.heap_offsets(), b.heap_offsets()
    size = a.arena_len
    differ: list[int] = []
    by_assert: list[int] = []
    at = 0
    for t in range(n):
        w0, w1 = at * CALL_WORDS, (at + ncalls[t]) * CALL_WORDS
        at += ncalls[t]
        if (
            t >= ran
            or any(status not in _PLAIN for status in a.words[w0:w1:CALL_WORDS])
            or a.test(t) != b.test(t)
            or a.arenas[t * size : (t + 1) * size] != b.arenas[t * size : (t + 1) * size]
            or a.heaps[ha[t] : ha[t + 1]] != b.heaps[hb[t] : hb[t + 1]]
        ):
            differ.append(t)
        elif a.words[w0:w1] != b.words[w0:w1]:
            same_abort = _abort_blind(a.words[w0:w1]) == _abort_blind(b.words[w0:w1])
            (by_assert if same_abort else differ).append(t)
    return differ, by_assert


def make_batch(judge: Judge, base: Case) -> Batch | CBatch:
    """The batch for ``judge``: the port against C, or (a judge of ``harness diff``) C against C."""
    if (
        judge.ub_filter is not None
        and isinstance(judge.port, CWorld)
        and raw_pair(judge.port, judge.reference)
    ):
        return CBatch(judge, base)
    return Batch(judge, base)


class _Interned:
    """Identities (("assert", func, expr, ordinal) or ("fatal", message)) numbered as first seen."""

    def __init__(self) -> None:
        self._numbers: dict[tuple[Any, ...], int] = {}
        self._identities: list[tuple[Any, ...]] = []

    def number(self, identity: tuple[Any, ...]) -> int:
        found = self._numbers.get(identity)
        if found is None:
            self._identities.append(identity)
            found = self._numbers[identity] = len(self._identities)
        return found

    def identity(self, number: int) -> tuple[Any, ...]:
        return self._identities[number - 1]


class _Tables:
    """What a judge's batches share: the port's functions with their encoders, and the numbers
    of assert and abort identities (one number per identity, for both sides)."""

    def __init__(self, port: PyWorld, reference: CWorld) -> None:
        self.module = port.module
        self.world = reference
        self.functions: dict[str, tuple[Callable[..., Any], Encoder]] = {}
        self.interned = _Interned()
        #: the port's asserts (file, func, expr, line) -> (identity, its number)
        self.port_asserts: dict[tuple[str, str, str, int], tuple[tuple[str, str, int], int]] = {}
        #: C assert records (build, expr, func, file addresses, line) -> the number of their identity
        self._c_asserts: dict[tuple[int, ...], int] = {}

    def function(self, func: str) -> tuple[Callable[..., Any], Encoder]:
        made = self.functions[func] = (getattr(self.module, func), encoder(func))
        return made

    def translate(self, out: Any, world: CWorld | None = None) -> bool:
        """Put the numbers of the identities in place of the C side's assert and abort words
        (``world``: the C build that left ``out``, default the judge's reference); True if a
        call ended in a way no port record says (a crash, a hang, missing)."""
        world = self.world if world is None else world
        words: list[int] = out.words
        statuses = words[::CALL_WORDS]
        if statuses.count(_OK) + statuses.count(_U64) == len(statuses):
            return False
        odd = False
        for i, status in enumerate(statuses):
            if status in (_OK, _U64):
                continue
            w = i * CALL_WORDS
            if status == _ASSERT:
                key = (id(world), *words[w + 1 : w + 5])
                number = self._c_asserts.get(key)
                if number is None:
                    ref = world.reference
                    expr, func, file = ref.text(key[1]), ref.text(key[2]), ref.text(key[3])
                    identity = ("assert", func, expr, world.sites.ordinal(file, func, expr, key[4]))
                    number = self._c_asserts[key] = self.interned.number(identity)
                words[w + 1 : w + 5] = (number, 0, 0, 0)
            elif status == _FATAL:
                text = out.record(i)[11].split(b"\0", 1)[0].decode(errors="replace")
                words[w + 1 : w + 5] = (self.interned.number(("fatal", text)), 0, 0, 0)
            else:
                odd = True
        return odd


def _never() -> Outcome:
    raise AssertionError("C is not run on a case the port calls undefined")


__all__ = ["CHUNK", "Batch", "CBatch", "encoder", "make_batch"]
