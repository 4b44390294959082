"""What a campaign command runs: the functions ``--only`` names, the jobs each engine gets,
the exhaustive bound's shard, and how many worker processes.

The commands (``run``, ``diff``, ``fuzz``) and the gates (``coverage``) plan the same way, so
the planning lives here, beside the pool that runs the jobs, not in any one command.
"""

from __future__ import annotations

import argparse
import os

from harness.engines.exhaustive import FUNCTIONS

from .pool import CAMPAIGNS, STATEFUL, Job

#: --only of run and diff
ONLY_HELP = (
    "comma-separated C function names; 'changed': the functions whose code differs (diff: OLD against "
    "NEW; run: the C source against the original) and every function that calls them"
)


def jobs_count(text: str) -> int:
    """``--jobs``: a positive number, or ``auto`` for one worker per CPU."""
    if text == "auto":
        return os.cpu_count() or 1
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'auto', got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {n}")
    return n


def selected(only: str | None) -> list[str] | str:
    """The functions ``--only`` names (every campaigned one without it), or what is wrong with it."""
    if not only:
        return list(CAMPAIGNS)
    names = [n.strip() for n in only.split(",") if n.strip()]
    unknown = [n for n in names if n not in CAMPAIGNS]
    if unknown:
        return f"--only: no campaign for {', '.join(unknown)} (known: {', '.join(CAMPAIGNS)})"
    return names


def plan_jobs(funcs: list[str], engine: str, sequences: int, only: bool) -> list[Job]:
    """The campaigns of ``funcs`` for ``--engine engine``: the stateful machine mixes every
    function, so a run limited by ``--only`` (``only``) leaves it out unless asked for by name."""
    jobs: list[Job] = []
    if engine in ("all", "batched"):
        jobs += [("batched", f) for f in funcs if f in FUNCTIONS]
    if engine in ("all", "hypothesis"):
        jobs += [("hypothesis", f) for f in funcs]
    if engine in ("all", "stateful") and sequences and (not only or engine == "stateful"):
        jobs.append(("stateful", STATEFUL))
    if engine in ("all", "exhaustive"):
        jobs += [("exhaustive", f) for f in funcs if f in FUNCTIONS]
    return jobs


def shard(text: str | None, engine: str) -> tuple[int, int] | str | None:
    """``--shard K/N`` as (K, N), or what is wrong with it."""
    if text is None:
        return None
    k, slash, n = text.partition("/")
    if not (slash and k.isdigit() and n.isdigit() and 1 <= int(k) <= int(n)):
        return f"--shard: {text!r}: say K/N with 1 <= K <= N, e.g. 2/4"
    if engine != "exhaustive":
        return "--shard: only the exhaustive engine splits its cases: add --engine exhaustive"
    return int(k), int(n)
