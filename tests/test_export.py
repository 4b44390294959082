"""Machine-readable results: ``--json`` and ``--junitxml`` say what the console says, and the
command they name replays the run."""

from __future__ import annotations

import json
import shlex
import xml.etree.ElementTree as ET
from pathlib import Path

from changes import IOV_C, changed_iov_c
from cli_runs import harness

from harness.report.export import NOT_JUDGED, Record, Row, write_junit

ROOT = Path(__file__).resolve().parent.parent
GROWTH = ("        qiov->nalloc = 2 * qiov->nalloc + 1;", "        qiov->nalloc = 2 * qiov->nalloc + 2;")


def test_a_red_run_names_its_seed_case_reproducer_and_replay_command(tmp_path: Path) -> None:
    changed = changed_iov_c(tmp_path, *GROWTH)
    args = ["run", "--engine", "hypothesis", "--only", "qemu_iovec_add,iov_size", "--examples", "100"]
    args += ["--seed", "5", "--jobs", "1", "--c-source", str(changed), "--report", str(tmp_path / "rep")]
    r = harness(*args, "--json", "out.json", "--junitxml", "out.xml", cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    record = json.loads((tmp_path / "out.json").read_text())
    assert (record["command"], record["seed"], record["profile"], record["exit_status"]) == (
        "run",
        5,
        "default",
        1,
    )
    rows = {(row["group"], row["function"]): row for row in record["rows"]}
    assert (
        rows[("hypothesis", "iov_size")]["verdict"] == "agree" and not rows[("hypothesis", "iov_size")]["red"]
    )
    # the growth policy shows in nalloc, and in the sizes of the blocks it reallocates: each
    # distinct difference is a red row of its own, the most telling first
    reds = [row for row in record["rows"] if row["red"]]
    assert reds and all(row["function"] == "qemu_iovec_add" and row["verdict"] == "differs" for row in reds)
    assert any("nalloc" in row["difference"] for row in reds)
    red = reds[0]
    assert Path(red["reproducer"]).is_file() and red["reproducer"] in r.stdout
    assert "qemu_iovec_add" in red["case"]

    suite = ET.parse(tmp_path / "out.xml").getroot()
    assert suite.get("tests") == str(len(record["rows"])) and suite.get("failures") == str(len(reds))
    props = {p.get("name"): p.get("value") for p in suite.find("properties") or []}
    assert props["seed"] == "5" and props["replay"] == record["replay"]
    failing = [c for c in suite.iter("testcase") if c.find("failure") is not None]
    assert {(c.get("name"), c.get("classname")) for c in failing} == {
        ("qemu_iovec_add", "iovconf.hypothesis")
    }
    failure_text = failing[0].findtext("failure") or ""
    assert red["reproducer"] in failure_text and record["replay"] in failure_text

    # the replay command is the run: the same verdict, the same smallest case
    replay = shlex.split(record["replay"])
    assert replay[:3] == ["python", "-m", "harness"]
    again = harness(*replay[3:], "--json", "again.json", "--report", str(tmp_path / "rep2"), cwd=tmp_path)
    assert again.returncode == 1
    reds2 = [row for row in json.loads((tmp_path / "again.json").read_text())["rows"] if row["red"]]
    assert [row["case"] for row in reds2] == [row["case"] for row in reds]


def test_a_diff_writes_one_row_per_change_and_one_per_unchanged_function(tmp_path: Path) -> None:
    changed = changed_iov_c(tmp_path, *GROWTH)
    r = harness(
        "diff", str(IOV_C), str(changed), "--only", "qemu_iovec_add,iov_size", "--seed", "3",
        "--jobs", "1", "--report", str(tmp_path / "rep"), "--json", "d.json", "--junitxml", "d.xml",
        cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 1, r.stdout + r.stderr
    record = json.loads((tmp_path / "d.json").read_text())
    by_func: dict[str, list[dict[str, object]]] = {}
    for row in record["rows"]:
        by_func.setdefault(str(row["function"]), []).append(row)
    assert [row["verdict"] for row in by_func["iov_size"]] == ["same"]
    assert by_func["qemu_iovec_add"] and all(
        row["verdict"] == "changed" and row["red"] for row in by_func["qemu_iovec_add"]
    )
    assert all(Path(str(row["reproducer"])).is_file() for row in by_func["qemu_iovec_add"])
    suite = ET.parse(tmp_path / "d.xml").getroot()
    assert suite.get("failures") == str(len(by_func["qemu_iovec_add"]))


def test_junit_marks_a_function_not_judged_as_skipped_never_as_passed(tmp_path: Path) -> None:
    """A row "not judged" that the command accepts (not red) is a JUnit ``skipped`` with its
    reason; a red one is a failure; an agreeing one has neither."""
    rows = [
        Row("hypothesis", "iov_size", "agree", cases=10),
        Row(
            "hypothesis", "iov_copy", NOT_JUDGED, difference="listed in known.toml", kind="changed prototype"
        ),
        Row("hypothesis", "qemu_iovec_slice", NOT_JUDGED, difference="gone", kind="missing", red=True),
    ]
    record = Record("run", "python -m harness run", 1, "quick", 1, 1.0, rows=rows)
    write_junit(record, tmp_path / "out.xml")
    suite = ET.parse(tmp_path / "out.xml").getroot()
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("3", "1", "1")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    skipped = cases["iov_copy"].find("skipped")
    assert skipped is not None and "changed prototype" in (skipped.get("message") or "")
    assert cases["iov_copy"].find("failure") is None
    assert cases["qemu_iovec_slice"].find("failure") is not None
    assert cases["qemu_iovec_slice"].find("skipped") is None
    assert cases["iov_size"].find("failure") is None and cases["iov_size"].find("skipped") is None
