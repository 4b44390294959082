"""Trap mode and abort mode agree on every assert site of iov.c the harness reaches."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, find, settings

import reference_c
from harness.campaign.pool import CAMPAIGNS
from harness.model.case import Case
from harness.model.sites import assert_sites, unreachable
from harness.worlds.world import CWorld, PyWorld, run_case

ROOT = Path(__file__).resolve().parent.parent
REACHABLE = [s for s in assert_sites(ROOT / "reference_c" / "iov.c") if unreachable(s.func, s.expr) is None]
#: the campaign whose cases reach a site inside a helper
CAMPAIGN_OF = {"iov_copy": "iov_copy", "qiov_slice": "qiov_slice"}


def test_every_site_is_either_reachable_or_has_a_reason() -> None:
    sites = assert_sites(ROOT / "reference_c" / "iov.c")
    reasons = [unreachable(s.func, s.expr) for s in sites]
    assert len(sites) == 24
    assert sum(r is not None for r in reasons) == 5  # each with its reason in iovspec.ctable
    assert len(REACHABLE) == 19


@pytest.mark.parametrize("site", REACHABLE, ids=lambda s: f"{s.func}:{s.line}")
def test_trap_and_abort_mode_report_the_same_assertion(site: Any, reference: Any) -> None:
    """A generated case that makes this site fail in the port fails at the same site, with the
    same expression and the same memory, in the trap build and in the abort build (real glibc
    assert in a forked child)."""
    port = PyWorld()

    def fires(case: Case) -> bool:
        outcome = run_case(port, case)
        a = outcome.assertion
        return a is not None and (a.file, a.line) == ("iov.c", site.line)

    campaign = CAMPAIGNS[CAMPAIGN_OF.get(site.func, site.func)]
    case = find(
        campaign,
        fires,
        settings=settings(max_examples=3000, database=None, suppress_health_check=list(HealthCheck)),
    )
    trap = run_case(CWorld(reference), case) if reference.flavour == "trap" else None
    aborting = run_case(CWorld(reference_c.load(reference.source_path, flavour="abort")), case)
    expected = run_case(port, case)
    assert aborting.assertion == expected.assertion
    a = aborting.assertion
    assert a is not None and (a.file, a.line, a.func, a.expr) == ("iov.c", site.line, site.func, site.expr)
    assert aborting == expected
    if trap is not None:
        assert trap == aborting
