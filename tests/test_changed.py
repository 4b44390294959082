"""``--only changed``: the functions whose code differs, and their callers, each with why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_runs import harness
from git_repos import IOV_C, patched

from harness.campaign.pool import CAMPAIGNS
from harness.review.changed import changed_functions, select, split_only
from reference_c import revisions
from reference_c.csource import read_source

ORIGINAL = IOV_C.read_text()
ORIGINAL_INFO = read_source(IOV_C)


def refactored() -> str:
    """iov.c respelt, not recoded: comments, blank lines and spaces added, an assert written without
    spaces, a function moved to the end of the file."""
    text = patched("    len = 0;\n", "    /* count from nothing */\n\n\n    len  =  0 ;\n")
    text = text.replace("assert(offset == 0);", "assert(offset==0);")
    start = text.index("size_t iov_size(const struct iovec *iov")
    end = text.index("/* helper function for iov_send_recv() */")
    text = text[:start] + text[end:] + "\n/* moved */\n" + text[start:end]
    return "/*\n * A new header comment.\n */\n\n" + text


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_refactor_that_only_respells_changes_no_function(tmp_path: Path) -> None:
    path = write(tmp_path, "refactor.c", refactored())
    assert read_source(path).functions["iov_size"].line != ORIGINAL_INFO.functions["iov_size"].line
    assert changed_functions(ORIGINAL_INFO, read_source(path)) == {}
    assert select(IOV_C, path).funcs == []


def test_a_changed_static_helper_selects_every_caller_with_why(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "skip.c",
        patched(
            "while (offset > 0 && offset >= iov->iov_len)", "while (offset > 0 && offset > iov->iov_len)"
        ),
    )
    selection = select(IOV_C, path)
    assert selection.changed == {"iov_skip_offset": "code changed"}
    callers = ORIGINAL_INFO.callers("iov_skip_offset")
    assert set(selection.funcs) == {"iov_skip_offset"} | (callers & set(CAMPAIGNS))
    assert selection.reasons["iov_skip_offset"] == "code changed"
    for func in selection.funcs:
        if func == "iov_skip_offset":
            continue
        if "iov_skip_offset" in ORIGINAL_INFO.calls[func]:
            assert selection.reasons[func] == "calls iov_skip_offset"
        else:  # through another caller, which itself reaches the helper
            via = selection.reasons[func].removeprefix("calls iov_skip_offset via ")
            assert via in ORIGINAL_INFO.calls[func] and via in callers


def test_a_changed_struct_changes_the_functions_that_use_it(tmp_path: Path) -> None:
    path = write(tmp_path, "struct.c", patched("    int src_index;\n", "    long src_index;\n"))
    selection = select(IOV_C, path)
    users = {"qemu_iovec_clone", "sortelem_cmp_src_base", "sortelem_cmp_src_index"}
    assert set(selection.changed) == users
    assert selection.funcs == ["qemu_iovec_clone"]  # the comparators have no campaign of their own
    assert all(
        "judged through qemu_iovec_clone" in selection.uncovered[f] for f in users - {"qemu_iovec_clone"}
    )
    assert selection.unjudged == []


def test_functions_a_revision_adds_and_removes() -> None:
    """v8.1.0 replaced qiov_slice by qemu_iovec_slice, and dropped qemu_iovec_init_extended."""
    v81 = next(r for r in revisions.REVISIONS if r.tag == "v8.1.0")
    found = changed_functions(ORIGINAL_INFO, read_source(v81.path))
    assert found["qiov_slice"] == "removed" and found["qemu_iovec_init_extended"] == "removed"
    assert found["qemu_iovec_slice"] == "added"
    assert "iov_size" not in found  # the same code in both


def test_an_unused_new_function_without_a_campaign_is_named_not_judged(tmp_path: Path) -> None:
    path = write(tmp_path, "extra.c", ORIGINAL + "\nstatic int iovconf_unused(void)\n{\n    return 0;\n}\n")
    selection = select(IOV_C, path)
    assert selection.funcs == [] and selection.unjudged == ["iovconf_unused"]
    assert selection.changed == {"iovconf_unused": "added"}


def test_only_splits_changed_from_names() -> None:
    assert split_only("changed, iov_size") == (True, ["iov_size"])
    assert split_only("iov_size,iov_copy") == (False, ["iov_size", "iov_copy"])
    assert split_only(None) == (False, [])


def test_run_with_nothing_changed_judges_nothing_and_exits_0(tmp_path: Path) -> None:
    """No build, no campaign: the answer comes from the parsed sources, and the record says so."""
    source = write(tmp_path, "refactor.c", refactored())
    out = tmp_path / "out"
    r = harness(
        "run", "--c-source", str(source), "--only", "changed", "--json", str(out.with_suffix(".json")),
        "--summary", str(out.with_suffix(".md")), cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"no function changed from reference_c/iov.c -> {source}" in r.stdout
    assert "cases judged" not in r.stdout
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["exit_status"] == 0 and record["rows"] == [] and "no function changed" in record["notes"][0]
    summary = out.with_suffix(".md").read_text()
    assert "No function changed" in summary and len(summary.splitlines()) <= 40


def test_changed_with_a_name_judges_the_named_function_too(tmp_path: Path) -> None:
    """Against the original itself nothing changed; the named function is judged anyway."""
    out = tmp_path / "run.json"
    r = harness(
        "run", "--only", "changed,iov_size", "--engine", "exhaustive", "--profile", "quick", "--jobs", "1",
        "--json", str(out), cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert "iov_size: named" in r.stdout
    rows = json.loads(out.read_text())["rows"]
    assert {row["function"] for row in rows} == {"iov_size"} and all(row["cases"] > 0 for row in rows)


@pytest.mark.parametrize(("extra", "status"), [((), 2), (("--bisect",), 125)])
def test_only_functions_without_a_campaign_changed_judges_nothing(
    tmp_path: Path, extra: tuple[str, ...], status: int
) -> None:
    """Not green: nothing was judged (exit 2); a bisection cannot tell, so it skips (125)."""
    source = write(tmp_path, "extra.c", ORIGINAL + "\nstatic int iovconf_unused(void)\n{\n    return 0;\n}\n")
    r = harness("run", "--c-source", str(source), "--only", "changed", *extra, cwd=tmp_path)
    assert r.returncode == status, r.stdout + r.stderr
    assert "iovconf_unused: added, no campaign" in r.stdout and "nothing judged" in r.stdout
