"""The exhaustive bound judged in shards: merged, the shards' verdict is the whole run's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from changes import changed_iov_c
from cli_runs import harness

from harness.campaign.pool import PROFILES
from harness.engines.exhaustive import count_cases
from harness.generate.bounds import BOUNDS

ROOT = Path(__file__).resolve().parent.parent
#: qemu_iovec_add grows the vector by one entry more than the original
CHANGES = [
    ("        qiov->nalloc = 2 * qiov->nalloc + 1;", "        qiov->nalloc = 2 * qiov->nalloc + 2;"),
]
FUNCS = ["qemu_iovec_add", "iov_size", "iov_to_buf_full"]


def exhaustive(cwd: Path, source: Path, out: str, *extra: str) -> dict[str, Any]:
    r = harness(
        "run", "--engine", "exhaustive", "--profile", "quick", "--only", ",".join(FUNCS), "--jobs", "1",
        "--c-source", str(source), "--report", str(cwd / "rep"), "--json", out, *extra, cwd=cwd,
    )  # fmt: skip
    assert r.returncode in (0, 1), r.stdout + r.stderr
    data: dict[str, Any] = json.loads((cwd / out).read_text())
    return data


def rows(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["function"]: row for row in record["rows"]}


def test_merged_shards_give_the_unsharded_verdict_and_smallest_case(tmp_path: Path) -> None:
    changed = changed_iov_c(tmp_path, *CHANGES[0])
    whole = rows(exhaustive(tmp_path, changed, "whole.json"))
    files = [f"shard-{k}.json" for k in (1, 2, 3)]
    for k, name in enumerate(files, 1):
        exhaustive(tmp_path, changed, name, "--shard", f"{k}/3")
    merged_run = harness(
        "merge", *files, "--json", "merged.json", "--report", str(tmp_path / "m"), cwd=tmp_path
    )
    assert merged_run.returncode == 1, merged_run.stdout + merged_run.stderr
    merged = rows(json.loads((tmp_path / "merged.json").read_text()))
    assert merged.keys() == whole.keys() == set(FUNCS)
    for func in FUNCS:
        assert merged[func]["verdict"] == whole[func]["verdict"], func
        assert merged[func]["case"] == whole[func]["case"], func  # the same first (smallest) case
        if not whole[func]["red"]:  # a failing run stops at its first failure; others count all
            assert (
                merged[func]["cases"]
                == whole[func]["cases"]
                == count_cases(func, BOUNDS[PROFILES["quick"].bound])
            ), func
    assert whole["qemu_iovec_add"]["red"] and whole["qemu_iovec_add"]["case"] and not whole["iov_size"]["red"]
    shard_places = [rows(json.loads((tmp_path / f).read_text()))["qemu_iovec_add"]["place"] for f in files]
    assert len(set(shard_places)) == 3, shard_places  # each shard failed on a layout of its own
    assert list((tmp_path / "m").glob("qemu_iovec_add-*.py")), "merge wrote no reproducer"


def test_shards_that_do_not_make_a_whole_run_are_refused(tmp_path: Path) -> None:
    original = ROOT / "reference_c" / "iov.c"
    exhaustive(tmp_path, original, "a.json", "--shard", "1/2")
    missing = harness("merge", "a.json", cwd=tmp_path)
    assert missing.returncode == 2 and "shard 2 of 2 missing" in missing.stdout
    twice = harness("merge", "a.json", "a.json", cwd=tmp_path)
    assert twice.returncode == 2 and "shard 1/2 again" in twice.stdout
    bad = harness("run", "--shard", "3/2", "--engine", "exhaustive", cwd=tmp_path)
    assert bad.returncode == 2 and "--shard" in bad.stdout
    not_exhaustive = harness("run", "--shard", "1/2", cwd=tmp_path)
    assert not_exhaustive.returncode == 2 and "--engine exhaustive" in not_exhaustive.stdout
