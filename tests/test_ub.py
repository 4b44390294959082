"""The UB oracle: every kind the port raises is confirmed by ASan/UBSan on the C side."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

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


def test_buffer_is_zero_past_its_object_is_undefined_whatever_the_bytes_hold() -> None:
    """qemu_iovec_discard_back(q, 2) on a 3-byte vector made by qemu_iovec_init_buf wraps its
    size (the size is the one entry's length: both drop by 1, then the size by 2 more), so
    qemu_iovec_is_zero(q, 0, 397262) asks buffer_is_zero about 397262 bytes of a 12-byte
    buffer.  Its byte 8 is not zero, so a byte loop stops there; QEMU's buffer_is_zero may
    read any byte of the range (the port says out of bounds), and the sanitize shim checks
    the whole range, so the oracle confirms the claim (a stateful sequence called the
    original red on it)."""
    from harness.model.case import Builder
    from harness.worlds.oracle import for_source
    from harness.worlds.world import PyWorld, run_case

    b = Builder()
    q = b.qiov()
    data = b.data(bytes(8) + b"\xa9" + bytes(3))
    b.call("qemu_iovec_init_buf", q, data, 3)
    b.call("qemu_iovec_discard_back", q, 2)
    b.call("qemu_iovec_is_zero", q, 0, 397262)
    case = b.case()
    claim = run_case(PyWorld(), case).ub
    assert claim is not None and claim.kind == "out-of-bounds"
    assert for_source(None).confirm(case, claim.kind).confirmed


def test_the_oracle_server_leaves_no_directory_behind_when_its_client_exits_abruptly(tmp_path: Path) -> None:
    """A pool worker ends with os._exit, so its oracle is never closed: the server, told by
    the end of its standard input, removes its socket and the directory made for it."""
    script = (
        "import os, sys\n"
        "from harness.worlds.oracle import Sanitizer\n"
        "oracle = Sanitizer(None)\n"
        "print(oracle._ensure(), flush=True)\n"
        "os._exit(0)\n"
    )
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert child.returncode == 0, child.stderr
    socket_dir = Path(child.stdout.strip()).parent
    assert socket_dir.name.startswith("iovconf-oracle-")
    deadline = time.monotonic() + 120  # a bound on a slow machine, not a speed claim
    while socket_dir.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not socket_dir.exists()


def test_a_memset_past_8_tib_is_out_of_bounds_though_asan_stops_on_its_own_check() -> None:
    """qemu_iovec_memset of 25 TB from offset 152879 of a vector whose first entry claims
    2**63 - 1 bytes of a 12-byte buffer writes far past it (iov.c's memset gets the whole
    count): the port says out of bounds.  ASan does not report it as an access: its own check
    of the range's shadow (at most 2**40 bytes) fails first, and that line confirms the claim
    (it was read as no report at all, a false red on the original: default profile, seed 707)."""
    from harness.model.case import Builder
    from harness.worlds.oracle import confirms, first_report, for_source
    from harness.worlds.world import PyWorld, run_case

    b = Builder()
    data = b.data(bytes.fromhex("e81bb5c97fb5bc83ceab8510"))
    q = b.qiov()
    b.call("qemu_iovec_init", q, 2)
    b.call("qemu_iovec_add", q, data, 2**63 - 1)
    b.call("qemu_iovec_add", q, data + 1, 11)
    b.call("qemu_iovec_memset", q, 152879, 193, 25227315380690)
    case = b.case()
    claim = run_case(PyWorld(), case).ub
    assert claim is not None and claim.kind == "out-of-bounds"
    assert for_source(None).confirm(case, claim.kind).confirmed
    check = 'AddressSanitizer: CHECK failed: sanitizer_libc.cpp:274 "((size)) <= ((1ULL << (40)))" (0x1, 0x2)'
    assert first_report("==1==" + check).startswith("CHECK failed")
    assert confirms("out-of-bounds", first_report("==1==" + check))
    other = first_report('==1==AddressSanitizer: CHECK failed: asan_rtl.cpp:1 "((x)) == ((y))" (0x1, 0x2)')
    assert other and not confirms("out-of-bounds", other)  # only the range's size check confirms
