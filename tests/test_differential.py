"""The differential properties: for every function, the port and a compiled C source agree.

Each test states one property: for every case the function's family draws (layouts,
QEMUIOVector kinds, offsets and byte counts at the boundaries), running it in pyimpl
and in the compiled C gives the same outcome: return values, which assert fired
(function, expression, ordinal), every byte of the arena including the guards, every
iovec and QEMUIOVector field, undo records, and the heap balance.  Cases the port
classifies as undefined behaviour are not run in C; the UB oracle checks the claim.
The functions later upstream revisions add are checked against the first revision
that has them.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import given, settings

import reference_c
from harness.engines.database import keyed
from harness.generate.strategies import STRATEGIES
from harness.verdict.judge import Judge
from harness.worlds.world import CWorld, PyWorld
from iovspec import ctable
from reference_c.revisions import revision

EXAMPLES = int(os.environ.get("IOVCONF_TEST_EXAMPLES", "150"))


def _agree(func: str, judge: Judge) -> None:
    def agrees(case: Any) -> None:
        judge.check(case)

    # each function keeps its failures under its own database key (the source of ``agrees`` is
    # the same for all, and Hypothesis would key them all by it)
    keyed(settings(max_examples=EXAMPLES)(given(STRATEGIES[func])(agrees)), func, "pytest")()


@pytest.mark.parametrize("func", [f for f in STRATEGIES if f not in ctable.ADDED_UPSTREAM])
def test_port_and_reference_agree(func: str, judge: Judge) -> None:
    _agree(func, judge)


@pytest.mark.parametrize("func", ctable.ADDED_UPSTREAM)
def test_port_and_the_first_revision_with_it_agree(func: str) -> None:
    source = revision(ctable.BY_NAME[func].source).path
    _agree(func, Judge(PyWorld(), CWorld(reference_c.load(source))))
