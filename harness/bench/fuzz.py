"""``python -m harness.bench.fuzz``: how soon ``harness fuzz`` and the Hypothesis engines find a
known difference, on the same time budget.

Each target is a C source that differs from the port in one function; each engine searches
that function alone, once per seed, until it meets its first failing case or the budget runs
out, and the table gives, per engine, how many runs found it and how long each took:

- ``fuzz``: the libFuzzer child ``harness fuzz`` runs (:func:`harness.integrations.fuzz.run_children`),
  C instrumented when clang is there; its time is its child's search, start-up excluded
  (printed apart);
- ``hypothesis`` and ``batched``: ``run``'s engines in this process, stopped at their first
  failing case (before Hypothesis would shrink it).

Targets: ``v10`` is upstream v10.0.0's ``iov.c`` (its ``iov_to_buf_full`` returns where the
original asserts, on an offset past the data); ``early-return`` is the original with
``if (bytes == 7) return 0;`` planted at the top of ``iov_to_buf_full``: wrong only for one
byte count, a bug deep in the input space.  Long by design (runs x budget per engine and
target): a measurement, not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from reference_c import DEFAULT_SOURCE
from reference_c.revisions import revision

#: the line the early-return target plants its bug after (iov_to_buf_full's declarations)
EARLY_RETURN_AT = "size_t offset, void *buf, size_t bytes)\n{\n    size_t done;\n    unsigned int i;\n"
EARLY_RETURN = "    if (bytes == 7) {\n        return 0;\n    }\n"
ENGINES = ("fuzz", "hypothesis", "batched")


@dataclass(frozen=True)
class Target:
    name: str
    func: str
    source: Callable[[Path], Path]  # writes (or names) the C source, given a scratch directory


def _v10(scratch: Path) -> Path:
    return revision("v10.0.0").path


def _early_return(scratch: Path) -> Path:
    text = DEFAULT_SOURCE.read_text()
    assert text.count(EARLY_RETURN_AT) == 1
    path = scratch / "early-return.c"
    path.write_text(text.replace(EARLY_RETURN_AT, EARLY_RETURN_AT + EARLY_RETURN))
    return path


TARGETS = {
    "v10": Target("v10", "iov_to_buf_full", _v10),
    "early-return": Target("early-return", "iov_to_buf_full", _early_return),
}


@dataclass
class Cell:
    """One (target, engine): each run's time to the first failing case (None: not found)."""

    target: str
    engine: str
    budget: float
    found_after: list[float | None] = field(default_factory=list)
    startup: list[float] = field(default_factory=list)  # fuzz: a child's time beyond its search

    def line(self) -> str:
        hits = sorted(t for t in self.found_after if t is not None)
        runs = f"{len(hits)}/{len(self.found_after)} runs of {self.budget:g}s"
        said = f"{self.target:13} {self.engine:10} found in {runs}"
        if hits:
            said += f": median {statistics.median(hits):.1f}s (" + ", ".join(f"{t:.1f}" for t in hits) + ")"
        if self.startup:
            said += f"; start-up {statistics.median(self.startup):.1f}s a run"
        return said


class _Stop(BaseException):
    """The run is over: a failing case was met, or the budget ran out (a BaseException, so that
    Hypothesis stops at once instead of shrinking)."""


def hypothesis_run(engine: str, func: str, source: str, seed: int, budget: float) -> float | None:
    """Seconds until ``run``'s ``engine`` meets its first failing case of ``func`` (None: not within
    ``budget``)."""
    from harness.campaign.pool import ENGINES as RUN_ENGINES
    from harness.campaign.pool import PROFILES, Config, make_judge
    from harness.verdict.judge import CCrashed, Discrepancy

    profile = replace(PROFILES["quick"], examples=10**9, batches=10**9)
    config = Config(profile, source, "trap", seed, None)
    judge = make_judge(config)
    began = time.monotonic()
    found: list[float] = []
    check = judge.check

    def first_failure(case: object, tally: object = None) -> object:
        try:
            return check(case, tally)  # type: ignore[arg-type]
        except (Discrepancy, CCrashed):
            found.append(time.monotonic() - began)
            raise _Stop from None

    def on_case(cases: int) -> None:
        if time.monotonic() - began > budget:
            raise _Stop

    judge.check = first_failure  # type: ignore[method-assign,assignment]
    with contextlib.suppress(_Stop):
        RUN_ENGINES[engine](func, config, judge, on_case)
    return found[0] if found else None


def fuzz_run(
    func: str, source: str, flavour: str, seed: int, budget: float, scratch: Path
) -> tuple[float | None, float]:
    """(seconds until the libFuzzer child meets its first failing case, or None; the child's time
    beyond its search: start-up and leaving)."""
    from harness.integrations.fuzz import libfuzzer_seed, run_children
    from harness.integrations.libfuzzer import Job

    where = scratch / f"fuzz-{seed}"
    job = Job(func, source, flavour, "none", libfuzzer_seed(seed, func), budget, str(where / "result.pkl"),
              str(where / "inflight"), False)  # fmt: skip
    began = time.monotonic()
    (result,) = run_children([job], 1, lambda result, inputs: None)
    whole = time.monotonic() - began
    return (result.seconds if result.findings else None), whole - result.seconds


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m harness.bench.fuzz", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--runs", type=int, default=3, help="runs (seeds 1..N) per engine and target")
    p.add_argument("--budget", type=float, default=90.0, help="seconds per run")
    p.add_argument("--targets", default=",".join(TARGETS), help=f"of {', '.join(TARGETS)}")
    p.add_argument("--engines", default=",".join(ENGINES), help=f"of {', '.join(ENGINES)}")
    p.add_argument("--out", default="bench_fuzz.json", help="the cells as JSON")
    args = p.parse_args(argv)
    targets = [TARGETS[t] for t in args.targets.split(",")]
    engines = args.engines.split(",")
    from harness.integrations.libfuzzer import fuzz_flavour
    from harness.worlds.oracle import shared_server

    cells = []
    with tempfile.TemporaryDirectory(prefix="iovconf-bench-fuzz-") as tmp:
        scratch = Path(tmp)
        for target in targets:
            source = str(target.source(scratch))
            flavour, said = fuzz_flavour(source)
            print(f"{target.name}: {target.func} of {source}; fuzz: {said}", flush=True)
            with shared_server(source):
                for engine in engines:
                    cell = Cell(target.name, engine, args.budget)
                    for seed in range(1, args.runs + 1):
                        if engine == "fuzz":
                            found, startup = fuzz_run(
                                target.func, source, flavour, seed, args.budget, scratch
                            )
                            cell.startup.append(startup)
                        else:
                            found = hypothesis_run(engine, target.func, source, seed, args.budget)
                        cell.found_after.append(found)
                        print(
                            f"  {engine} seed {seed}: {'not found' if found is None else f'{found:.1f}s'}",
                            flush=True,
                        )
                    cells.append(cell)
    print()
    for cell in cells:
        print(cell.line())
    if args.out:
        Path(args.out).write_text(json.dumps([asdict(c) for c in cells], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
