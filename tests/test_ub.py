"""The UB oracle: every kind the port raises is confirmed by ASan/UBSan on the C side."""

from __future__ import annotations

import os

import pytest

from harness.engines.ub import GENERATORS, run_ub_campaign
from harness.worlds.oracle import EXPECTED


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


@pytest.mark.parametrize("nbytes", [8, 1 << 20, (1 << 32) - 4])
def test_a_call_with_two_bad_accesses_is_confirmed_whichever_the_sanitizers_report(nbytes: int) -> None:
    """iov_to_buf_full from an entry of 2**32 bytes based at NULL, at offset 4, into a 16-byte
    buffer: the port stops at the source (NULL + 4: null-pointer); ASan reports a SEGV near 0
    for 8 bytes, the overflowed destination for 1 MiB, and the source's wild end for 4 GiB.
    All are accesses to no live object: the claim is confirmed (a stateful sequence met the
    last one and called the original red)."""
    from harness.model.case import Builder
    from harness.worlds.oracle import for_source
    from harness.worlds.world import PyWorld, run_case

    b = Builder()
    iov = b.iovs([(0, 1 << 32)])
    buf = b.data(bytes(16))
    b.call("iov_to_buf_full", iov, 1, 4, buf, nbytes)
    case = b.case()
    claim = run_case(PyWorld(), case).ub
    assert claim is not None and claim.kind == "null-pointer"
    assert for_source(None).confirm(case, claim.kind).confirmed


def test_a_kind_that_is_not_an_access_still_needs_its_own_report() -> None:
    from harness.worlds.oracle import confirms

    assert confirms("out-of-bounds", "SEGV on unknown address 0x000000000004 (pc 0x1)")
    assert confirms("null-pointer", "heap-buffer-overflow on address 0x6020 at pc 0x1")
    assert not confirms("zero-length-vla", "heap-buffer-overflow on address 0x6020 at pc 0x1")
    assert not confirms("overlapping-memcpy", "iovconf null-pointer: memcpy(0x0, 0x10, 4)")
    assert confirms("overlapping-memcpy", "iovconf overlapping-memcpy: memcpy(0x10, 0x10, 4)")
