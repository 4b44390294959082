"""What runs inside a libFuzzer process: one function's fuzz target, driven by atheris.

libFuzzer owns the process it runs in (it exits when it is done or when an input fails), so
each function is fuzzed in a process of its own, started one of two ways:

- ``python -m harness.integrations.libfuzzer --job JOB.json``: a child of ``harness fuzz``
  (:mod:`harness.integrations.fuzz`), which says what to fuzz, for how long and where to write what it
  found; the child writes its :class:`~harness.model.results.FunctionResult` there and leaves.
- ``python -m harness.integrations.libfuzzer FUNC [libFuzzer options and corpus directories]``: a
  fuzzer as libFuzzer's own tools run one (ClusterFuzzLite's wrappers, a local corpus); an
  input that fails is libFuzzer's crash, its input written as libFuzzer writes crashes.

The target is ``harness.engines.fuzz_targets.test_FUNC`` through Hypothesis's ``fuzz_one_input``:
libFuzzer's bytes are the choices Hypothesis draws the case from, and a failing input is
saved in the example database under that test's key (its secondary corpus, which Hypothesis
replays).  It is saved under the ``hypothesis`` engine's key too, so that ``pytest
harness/engines/fuzz_targets.py``, ``harness run --engine hypothesis`` and ``harness fuzz``'s own
shrinking step all replay it.

Coverage: the port (``pyimpl``) is instrumented by atheris as it is imported, so this
module imports nothing of the harness before :func:`start`.  The C side is instrumented
when clang can build the ``fuzz`` flavour (``-fsanitize=fuzzer-no-link``): its counters
and comparison hooks are symbols of libFuzzer, which must be loaded with RTLD_GLOBAL before
the C module (otherwise loading it fails on ``__sancov_lowest_stack``).  atheris ships
libFuzzer inside ``atheris.core_with_libfuzzer``, the module its ``Setup`` loads with
``internal_libfuzzer=True``: loaded globally first, the C module links against it and
libFuzzer sees both sides' branches as one map.  Without clang, C is the usual trap build
and only the port's branches guide the search.  The UB oracle stays gcc's sanitize build in
its own process (it preloads gcc's libasan).
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import json
import os
import pickle
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.verdict.judge import Judge
    from reference_c.reference import Reference

#: the compiler of the fuzz flavour: this variable, else clang on PATH
CC_ENV = "IOVCONF_FUZZ_CC"
#: how libFuzzer's finding came to be the case reported (before the shrinking step)
HOW = "found by libFuzzer (not shrunk)"
#: libFuzzer's own time limit, past the job's: a backstop, the job's deadline comes first
BACKSTOP_SECONDS = 60
#: seconds between two writes of a child's running counts
COUNTS_EVERY = 0.5
#: C's faults stay the shims' to trap (a trapped crash is a finding like any other); a fault
#: they do not trap kills the process, and the parent reports the case in flight
LIBFUZZER_HANDS_OFF = ("-handle_segv=0", "-handle_bus=0", "-handle_fpe=0", "-handle_ill=0", "-handle_abrt=0")


def fuzz_compiler() -> str | None:
    """The clang that builds the fuzz flavour (``$IOVCONF_FUZZ_CC``, else ``clang``), None if absent."""
    return shutil.which(os.environ.get(CC_ENV) or "clang")


@contextlib.contextmanager
def _compiler(cc: str | None) -> Iterator[None]:
    """``$CC`` is ``cc`` for the block (the build reads it, and keys the cache by it)."""
    before = os.environ.get("CC")
    if cc is not None:
        os.environ["CC"] = cc
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("CC", None)
        else:
            os.environ["CC"] = before


def load_reference(c_source: str | None, flavour: str) -> Reference:
    """The C source built and loaded in ``flavour``; the fuzz flavour by clang, which no other
    build of this process sees (the UB oracle's stays gcc's)."""
    import reference_c

    with _compiler(fuzz_compiler() if flavour == "fuzz" else None):
        return reference_c.load(c_source, flavour=flavour)


def fuzz_flavour(c_source: str | None) -> tuple[str, str]:
    """(the flavour to fuzz ``c_source`` in, why): ``fuzz`` when clang builds it (built here,
    once, into the cache), else ``trap`` (gcc's), and the note that says what is lost."""
    from reference_c import BuildError
    from reference_c.build import build

    cc = fuzz_compiler()
    if cc is None:
        return "trap", (
            f"no clang (install it, as ci/setup.sh does, or name one in ${CC_ENV}): C is the plain build "
            "and only the port's branches guide libFuzzer"
        )
    try:
        with _compiler(cc):
            build(c_source, "fuzz")
    except BuildError as exc:
        said = (str(exc) or type(exc).__name__).splitlines()[0]
        return (
            "trap",
            f"{cc} could not build the fuzz flavour ({said}): only the port's branches guide libFuzzer",
        )
    return (
        "fuzz",
        f"C built by {cc} with -fsanitize=fuzzer-no-link: libFuzzer sees C's branches and the port's",
    )


def libfuzzer_library() -> str:
    """The shared object of atheris that holds libFuzzer."""
    spec = importlib.util.find_spec("atheris.core_with_libfuzzer")
    if spec is None or spec.origin is None:
        raise ImportError("atheris.core_with_libfuzzer: this atheris has no libFuzzer of its own")
    return spec.origin


def start(flavour: str) -> Any:
    """atheris, with libFuzzer loaded globally (the fuzz flavour links against it) and the
    port instrumented; call before anything imports ``pyimpl``."""
    import atheris

    if "pyimpl" in sys.modules:
        raise RuntimeError("pyimpl was imported before atheris could instrument it")
    if flavour == "fuzz":
        ctypes.CDLL(libfuzzer_library(), mode=os.RTLD_NOW | os.RTLD_GLOBAL)
    with atheris.instrument_imports(include=["pyimpl"]):
        import pyimpl  # noqa: F401  (instrumented: its branches guide libFuzzer)
    return atheris


@dataclass(frozen=True)
class Job:
    """What ``harness fuzz`` asks of one child: plain data, passed as JSON."""

    func: str
    c_source: str | None
    flavour: str  # fuzz (C instrumented) or trap
    database: str  # a --db spec; the child saves what it finds there
    seed: int  # libFuzzer's
    max_time: float  # seconds of fuzzing
    result: str  # where the child writes its pickled outcome
    inflight: str  # its in-flight directory (the parent reads it if the child dies)
    strict_asserts: bool

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)))

    @staticmethod
    def read(path: Path) -> Job:
        return Job(**json.loads(path.read_text()))


class Counts:
    """A child's running counts (cases judged, inputs tried), in a file its parent reads if the
    child dies before it can write its result; written at most every COUNTS_EVERY seconds."""

    def __init__(self, result: str) -> None:
        self.path = Path(result + ".counts")
        self.last = 0.0

    def write(self, cases: int, inputs: int) -> None:
        now = time.monotonic()
        if now - self.last >= COUNTS_EVERY:
            self.last = now
            self.path.write_text(f"{cases} {inputs}")

    @staticmethod
    def read(result: str) -> tuple[int, int]:
        """The last counts written for ``result`` ((0, 0) if none were)."""
        try:
            cases, inputs = Path(result + ".counts").read_text().split()
            return int(cases), int(inputs)
        except (OSError, ValueError):
            return 0, 0


def _judge(c_source: str | None, flavour: str, strict: bool, inflight: str | None) -> Judge:
    """The judge ``run`` would make for this source (strictness, in-flight record), over the
    build in ``flavour``."""
    from harness.campaign.pool import PROFILES, Config, make_judge
    from harness.worlds.world import CWorld, PyWorld

    reference = load_reference(c_source, flavour)
    config = Config(PROFILES["quick"], c_source, "trap", 0, None, inflight, strict_asserts=strict)
    return make_judge(config, (PyWorld(), CWorld(reference), None))


def _fuzz_targets(database: str) -> ModuleType:
    """``harness.engines.fuzz_targets``, which opens the database ``$IOVCONF_DB`` names when it is
    imported: this one."""
    os.environ["IOVCONF_DB"] = database
    os.environ.pop("IOVCONF_NO_DB", None)
    from harness.engines import fuzz_targets

    return fuzz_targets


def _target(func: str, judge: Judge, database: str) -> tuple[Callable[[bytes], Any], Callable[[bytes], Any]]:
    """(the fuzz target's ``fuzz_one_input``, the ``hypothesis`` engine's test's) for ``func``."""
    from hypothesis import settings

    from harness.campaign.pool import hypothesis_test
    from harness.engines.database import keyed, open_database
    from harness.verdict.judge import Tally

    fuzz_targets = _fuzz_targets(database)
    fuzz_targets.JUDGES[func] = judge
    target = getattr(fuzz_targets, f"test_{func}")
    run_test = keyed(
        settings(database=open_database(database))(hypothesis_test(func, judge, Tally())), func, "hypothesis"
    )
    return target.hypothesis.fuzz_one_input, run_test.hypothesis.fuzz_one_input


def _saved_for_run(run_input: Callable[[bytes], Any], data: bytes) -> None:
    """Save the failing input under the ``hypothesis`` engine's key too (fuzz_one_input saves
    an input only when it fails, so it is run again: it fails as it did)."""
    with contextlib.suppress(BaseException):
        run_input(data)


def run_job(job: Job) -> None:
    """Fuzz ``job.func`` until ``job.max_time`` passes or an input fails; write the outcome
    (pickled: the result and the number of inputs tried) to ``job.result``; leave.  Never
    returns: libFuzzer's loop ends only by the process ending."""
    atheris = start(job.flavour)
    from harness.campaign.pool import finding_of
    from harness.model.results import FunctionResult
    from harness.verdict.judge import CCrashed

    judge = _judge(job.c_source, job.flavour, job.strict_asserts, job.inflight)
    fuzz_input, run_input = _target(job.func, judge, job.database)
    result = FunctionResult(job.func, "fuzz")
    inputs = [0]
    began = time.monotonic()
    deadline = began + job.max_time
    counts = Counts(job.result)

    def finish() -> None:
        result.seconds = time.monotonic() - began
        with open(job.result, "wb") as f:
            pickle.dump({"result": result, "inputs": inputs[0]}, f)
        if judge.flight is not None:
            judge.flight.close()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)  # libFuzzer's loop does not return

    def one_input(data: bytes) -> None:
        if time.monotonic() >= deadline:
            finish()
        inputs[0] += 1
        try:
            judged = fuzz_input(data) is not None
        except (Exception, CCrashed) as exc:  # CCrashed is a BaseException, so that Hypothesis stops
            finding = finding_of(exc, HOW)
            if finding is None:  # not a verdict on the code: the harness failed
                result.error = f"{type(exc).__name__}: {exc}"
            else:
                result.add(finding)
                _saved_for_run(run_input, data)
            finish()
        result.cases += judged
        counts.write(result.cases, inputs[0])
        if judge.flight is not None:
            judge.flight.clear()  # the case is over: nothing of it in flight

    argv = [sys.argv[0], f"-seed={job.seed}", f"-max_total_time={int(job.max_time) + BACKSTOP_SECONDS}"]
    argv += [*LIBFUZZER_HANDS_OFF, f"-artifact_prefix={Path(job.result).parent}/"]
    atheris.Setup(argv, one_input, internal_libfuzzer=True)
    atheris.Fuzz()


def run_standalone(func: str, libfuzzer_args: list[str]) -> None:
    """Fuzz ``func`` as libFuzzer's tools run a fuzzer: the arguments are libFuzzer's, the
    source is ``$IOVCONF_C_SOURCE`` (default the original), the database ``$IOVCONF_DB``
    (default ``.hypothesis/iovconf``); a failing input raises, which atheris reports and
    libFuzzer saves as a crash."""
    flavour = "fuzz" if fuzz_compiler() else "trap"
    atheris = start(flavour)  # first: nothing of the port imported before it is instrumented
    from harness.engines.database import spec_from_env
    from harness.generate.strategies import STRATEGIES

    if func not in STRATEGIES:
        raise SystemExit(
            f"harness.integrations.libfuzzer: no fuzz target for {func!r} (known: {', '.join(STRATEGIES)})"
        )
    database = spec_from_env()
    source = _fuzz_targets(database).default_source(func)
    judge = _judge(source, flavour, source is None, None)
    fuzz_input, run_input = _target(func, judge, database)

    def one_input(data: bytes) -> None:
        try:
            fuzz_input(data)
        except Exception:
            _saved_for_run(run_input, data)
            raise

    atheris.Setup([sys.argv[0], *libfuzzer_args], one_input, internal_libfuzzer=True)
    atheris.Fuzz()


def main(argv: list[str]) -> int:
    if argv == ["--list"]:  # the fuzzers there are (.clusterfuzzlite/build.sh makes one of each)
        from harness.generate.strategies import STRATEGIES

        print("\n".join(STRATEGIES))
    elif len(argv) == 2 and argv[0] == "--job":
        run_job(Job.read(Path(argv[1])))
    elif argv and not argv[0].startswith("-"):
        run_standalone(argv[0], argv[1:])
    else:
        print(
            "usage: python -m harness.integrations.libfuzzer FUNC [libFuzzer options] | --list  "
            "(or --job JOB.json, as harness fuzz runs it)",
            file=sys.stderr,
        )
        return 2
    return 0  # --list (otherwise not reached: libFuzzer ends the process)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
