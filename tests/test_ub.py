"""The UB oracle: every kind the port raises is confirmed by ASan/UBSan on the C side."""

from __future__ import annotations

import os

import pytest

from harness.oracle import EXPECTED
from harness.ub import GENERATORS, run_ub_campaign


def test_every_ub_kind_the_port_knows_has_a_generator() -> None:
    import pyimpl

    assert set(GENERATORS) == set(EXPECTED)
    assert set(GENERATORS) <= set(pyimpl.UB_KINDS)


@pytest.mark.parametrize("kind", list(GENERATORS))
def test_sanitizers_confirm_the_ports_ub_classification(kind: str) -> None:
    """For generated cases of this kind, the port raises UndefinedBehaviour(kind) and the
    sanitize flavour of the C reference, run in a child, reports a fault of the matching class."""
    results = run_ub_campaign(
        1, seed=int(os.environ.get("IOVCONF_UB_SEED", "5")), kinds=[kind], c_source=None, show=lambda _: None
    )
    (r,) = results
    assert r.misclassified == 0
    assert r.cases == 1
    assert r.confirmed == 1, r.reports
