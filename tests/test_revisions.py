"""Every upstream revision of iov.c: builds as it is, diffs by behaviour, known differences kept.

The expectations come from reading the sources side by side (the comments say which
lines), not from a run of the harness.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import reference_c
from harness.campaign.pool import Profile
from harness.campaign.revisions import Diff, check_revision, diff, function_status
from harness.model.outcome import SAME_ABORT
from harness.report.findings import not_judged
from harness.verdict.expected import Expected, shipped
from iovspec import ctable
from reference_c.csource import read_source
from reference_c.revisions import REVISIONS, revision

ROOT = Path(__file__).resolve().parent.parent
ORIGINAL = ROOT / "reference_c" / "iov.c"
#: a small campaign: the exhaustive engine at its quick bound, and a few drawn socket cases
SMALL = Profile("test", examples=60, sequences=0, bound="quick", ub_cases=0, batches=0)


def _quiet(*_: object) -> None:
    pass


@pytest.mark.parametrize("rev", REVISIONS[1:], ids=lambda r: r.tag)
def test_every_revision_builds_and_reports_what_it_lacks_and_adds(rev: object) -> None:
    """What the build says a revision lacks or declares otherwise is what its text defines."""
    ref = reference_c.load(rev.path)  # type: ignore[attr-defined]
    defined = read_source(rev.path).functions  # type: ignore[attr-defined]
    table = {f.name for f in ctable.TABLE if f.kind != "inline"}
    assert ref.missing == {n for n in table if n not in defined}
    assert ref.added == {n for n in defined if n not in ctable.BY_NAME}
    for name, proto in ref.changed.items():
        assert ctable.normalise(proto) != ctable.normalise(ctable.BY_NAME[name].prototype)


def test_a_header_inline_whose_callee_is_gone_is_missing_not_later() -> None:
    """Only the functions upstream added after the original are "not there yet"; an inline of
    ``qemu/iov.h`` (``iov_send``) whose callee a source lacks is missing like its callee."""
    from types import SimpleNamespace

    from harness.verdict.functions_in_source import in_source

    lacking = SimpleNamespace(
        missing={"iov_send_recv", "iov_send", "qemu_iovec_slice"},
        changed={"do_send_recv": "x"},
        added={"y"},
        respelt={},
    )
    found = in_source(lacking, ["iov_send_recv", "iov_send", "qemu_iovec_slice", "do_send_recv", "iov_size"])  # type: ignore[arg-type]
    assert found.missing == ["iov_send_recv", "iov_send"]
    assert found.later == {"qemu_iovec_slice": ctable.BY_NAME["qemu_iovec_slice"].source}
    assert found.changed == {"do_send_recv": "x"} and found.added == ["y"] and found.run == ["iov_size"]


def _unjudged(run: Diff) -> list[tuple[str, str, bool]]:
    u = not_judged(run.selected, run.found, Expected(), {d.func: d.cases for d in run.functions})
    return [(x.func, x.category, x.red) for x in u]


def test_diff_of_the_original_and_v10_names_exactly_what_changed() -> None:
    v10 = revision("v10.0.0").path
    run = diff(str(ORIGINAL), str(v10), None, SMALL, 1, 2, _quiet, engines=("exhaustive", "hypothesis"))
    found = {d.func: d for d in run.functions}
    noted = {r.func for r in run.results for n in r.notes if n.kind == SAME_ABORT}
    status = {f: d.status for f, d in found.items()}
    # 9dc64bd5 removed `assert(offset == 0)` from the three copy loops and iov_copy, and
    # `assert(soffset == 0)` from qemu_iovec_concat_iov: so they and everything that calls them
    # with an offset past the data now return where the original asserted
    removed_asserts = [
        "iov_from_buf_full",
        "iov_to_buf_full",
        "iov_memset",
        "iov_copy",
        "qemu_iovec_concat_iov",
    ]
    callers = [
        "iov_from_buf",
        "iov_to_buf",
        "qemu_iovec_from_buf",
        "qemu_iovec_to_buf",
        "qemu_iovec_memset",
        "qemu_iovec_concat",
    ]
    for func in removed_asserts + callers:
        assert status[func] == "changed", func
        assert any(c.kind == "an assert became a return" for c in found[func].changes), func
    # v9.2 moved iov_send_recv's loop (and its asserts) into iov_send_recv_with_flags, and v8.1
    # renamed qiov_slice qemu_iovec_slice (subvec_niov's asserts are now named after it): the
    # same aborts by asserts of other names, which are notes, not changes
    for func in ("iov_send_recv", "iov_send", "iov_recv", "qemu_iovec_subvec_niov"):
        assert status[func] == "same" and func in noted, func
    # v8.1 rebuilt qemu_iovec_init_slice on qemu_iovec_slice; v8.2 heap-allocates clone's sort array
    assert status["qemu_iovec_init_slice"] == "changed"
    assert [c.kind for c in found["qemu_iovec_clone"].changes] == ["different heap use"]
    unjudged = {f: (kind, red) for f, kind, red in _unjudged(run)}
    assert unjudged["qemu_iovec_init_extended"] == ("missing", True)
    # v8.1 renamed the static qiov_slice qemu_iovec_slice: not observable outside the file
    assert unjudged["qiov_slice"] == ("missing", False)
    assert unjudged["qemu_iovec_slice"] == unjudged["iov_send_recv_with_flags"] == ("added", False)
    assert unjudged["do_send_recv"] == ("changed prototype", False)  # v9.2: a flags argument, static
    changed = set(removed_asserts + callers) | {
        "qemu_iovec_init_slice",
        "qemu_iovec_clone",
        "qemu_iovec_init_extended",
        "qiov_slice",
        "qemu_iovec_slice",
        "iov_send_recv_with_flags",
        "do_send_recv",
    }
    assert {f for f, s in status.items() if s != "same"} | set(unjudged) == changed
    # each change comes with its case, and that case replays as a change
    for d in found.values():
        for c in d.changes:
            assert c.case_json is not None


def test_diff_of_a_pure_line_shift_is_empty(tmp_path: Path) -> None:
    shifted = tmp_path / "shifted.c"
    shifted.write_text("/* one more line */\n" + ORIGINAL.read_text())
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness",
            "diff",
            str(ORIGINAL),
            str(shifted),
            "--seed",
            "2",
            "--only",
            "iov_to_buf_full,qemu_iovec_discard_back,qiov_slice,iov_send_recv,qemu_iovec_compare",
        ],
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "5 functions the same, 0 changed" in r.stdout


def test_known_differences_are_kept_and_one_deleted_is_red(tmp_path: Path) -> None:
    """v10.0 against the port: green with its shipped file; without the entry for the removed
    assert of iov_to_buf_full, red; every entry of the functions checked is seen."""
    funcs = ["iov_to_buf_full", "iov_size", "qemu_iovec_init_extended"]
    kept = check_revision("v10.0.0", 2, _quiet, profile=SMALL, funcs=funcs, scan_ub=False)
    assert kept.verdicts == {
        "iov_to_buf_full": "changed (listed)",
        "iov_size": "same",
        "qemu_iovec_init_extended": "missing",
    }
    assert not kept.failures
    text = shipped("v10.0.0").read_text()
    blocks = text.split("[[difference]]")
    cut = "[[difference]]".join(b for b in blocks if 'function = "iov_to_buf_full"' not in b)
    assert cut != text
    (tmp_path / "cut.toml").write_text(cut)
    red = check_revision(
        "v10.0.0", 2, _quiet, known=tmp_path / "cut.toml", profile=SMALL, funcs=funcs, scan_ub=False
    )
    assert red.verdicts["iov_to_buf_full"] == "FAILED" and not red.ok
    assert red.failures[0].kind == "an assert became a return"


def test_every_shipped_file_names_a_known_kind_and_function() -> None:
    for rev in REVISIONS[1:]:
        known = Expected.load(shipped(rev.tag))
        for e in known.entries:
            assert e.function in ctable.BY_NAME and e.reason and "TODO" not in e.reason, (rev.tag, e)
        for func in [*known.missing, *known.changed]:
            assert func in ctable.BY_NAME, (rev.tag, func)


def test_a_change_found_is_a_change_even_when_another_campaign_failed() -> None:
    """diff's verdict of a function: a change wins over an error of another engine (exit 1,
    not 2: under --bisect an error would stop the bisection at the commit that changed it),
    an error over "same", and a difference listed in --expect-diff is "changed (listed)"."""
    assert function_status(changed=True, errored=True, listed=False) == "changed"
    assert function_status(changed=True, errored=False, listed=True) == "changed"
    assert function_status(changed=False, errored=True, listed=True) == "error"
    assert function_status(changed=False, errored=False, listed=True) == "changed (listed)"
    assert function_status(changed=False, errored=False, listed=False) == "same"
