"""The differential properties as plain Hypothesis tests, one per function, for fuzzers.

Run them with pytest, on as many processes and machines as share one example database::

    export IOVCONF_DB=redis://HOST:6379 IOVCONF_FUZZ_EXAMPLES=100000
    pytest -n 4 --pyargs harness.engines.fuzz_targets

or hand the same pytest arguments to a fuzzer that runs Hypothesis tests (HypoFuzz:
``hypothesis fuzz -n 4 -- --pyargs harness.engines.fuzz_targets``; see the README for why it is not
one of our dependencies).

Each ``test_FUNC`` states the property of :mod:`tests.test_differential`: for every case
the function's family draws, the port and the compiled C agree (the judge's verdict).  The
C source is ``$IOVCONF_C_SOURCE`` (default: the original); the functions later revisions
add are checked against the first revision that has them.  The database is the one
``$IOVCONF_DB`` names (:mod:`harness.engines.database`; default ``.hypothesis/iovconf``), loaded as
the active settings profile, because HypoFuzz keeps its own records in that profile's
database.  Each test keeps its examples under the key Hypothesis computes for it
(:func:`harness.engines.database.keyed`), so a failure a fuzzer saved is replayed first by
``pytest harness/engines/fuzz_targets.py`` on any machine sharing the database.

``harness fuzz`` drives these same tests through libFuzzer (``harness.integrations.libfuzzer``, in a
process of its own per function, which sets its judge in :data:`JUDGES`); no other command
imports this module, since importing it loads its settings profile.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings

from harness.generate.strategies import STRATEGIES
from harness.verdict.judge import Judge
from harness.worlds.world import CWorld, PyWorld
from iovspec import ctable

from .database import keyed, open_database, spec_from_env

settings.register_profile(
    "iovconf-fuzz",
    database=open_database(spec_from_env()),
    deadline=None,
    # the IOV_MAX layouts are large and C is slow to load; nothing else is suppressed
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
    max_examples=int(os.environ.get("IOVCONF_FUZZ_EXAMPLES", "100")),
)
settings.load_profile("iovconf-fuzz")


#: each function's judge: one a driver chose (``harness fuzz``: its own build, in-flight record
#: and strictness), else the default one, made on first use
JUDGES: dict[str, Judge] = {}


def _judge(func: str) -> Judge:
    judge = JUDGES.get(func)
    if judge is None:
        judge = JUDGES[func] = _default_judge(func)
    return judge


def _default_judge(func: str) -> Judge:
    import reference_c

    return Judge(PyWorld(), CWorld(reference_c.load(default_source(func))))


def default_source(func: str) -> str | None:
    """The C source ``func`` is judged against unless a driver says otherwise:
    ``$IOVCONF_C_SOURCE``, else the original (None), or for a function the original lacks
    (added upstream later) the first shipped revision that has it."""
    from reference_c.revisions import revision

    source = os.environ.get("IOVCONF_C_SOURCE") or None
    if source is None and func in ctable.ADDED_UPSTREAM:
        source = str(revision(ctable.BY_NAME[func].source).path)
    return source


def _target(func: str) -> Callable[..., None]:
    def agrees(case: Any) -> None:
        _judge(func).check(case)

    agrees.__name__ = agrees.__qualname__ = f"test_{func}"
    test: Callable[..., None] = keyed(given(STRATEGIES[func])(agrees), func, "fuzz")
    return test


for _func in STRATEGIES:
    globals()[f"test_{_func}"] = _target(_func)
