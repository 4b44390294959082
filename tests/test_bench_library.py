"""``python -m harness bench --library`` on a tiny subset: the table, the JSON and the plot
have their shape, and every ratio is a positive number (a benchmark, never a timed test)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from harness.bench import library as bench_library
from harness.cli import main


def test_library_bench_on_a_tiny_subset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, png = tmp_path / "lib.json", tmp_path / "lib.png"
    argv = ["bench", "--library", "--ops", "to_buf,is_zero,clone", "--sizes", "64,4K", "--entries", "1,16"]
    argv += ["--budget", "0.002", "--out", str(out), "--png", str(png)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "to_buf" in printed and "4 KiB" in printed and "16 entries" in printed
    data = json.loads(out.read_text())
    assert data["sizes"] == [64, 4096] and data["entries"] == [1, 16]
    cells = data["cells"]
    # 64 B over 16 entries is not skipped (64 >= 16): 3 ops x 2 sizes x 2 counts x 2 layouts
    assert sorted((c["op"], c["size"], c["entries"], c["layout"]) for c in cells) == sorted(
        (op, s, n, layout)
        for op in ("to_buf", "is_zero", "clone")
        for s in (64, 4096)
        for n in (1, 16)
        for layout in ("consecutive", "separate")
    )
    assert all(c["ratio"] > 0 and c["port_us"] > 0 and c["c_us"] > 0 for c in cells)
    # the plain loop is the floor of the copies, over separate buffers only
    assert all(
        (c["loop_us"] is not None) == (c["op"] == "to_buf" and c["layout"] == "separate") for c in cells
    )
    per = data["port_per_entry_us_minus_c"]
    assert set(per) == {"consecutive", "separate"}
    assert all(set(slopes) == {"to_buf", "is_zero", "clone"} for slopes in per.values())
    assert isinstance(data["misses"], list) and data["targets"] == []  # no sg op asked for
    if importlib.util.find_spec("matplotlib") is not None:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    else:
        assert "iovconf[bench]" in printed and not png.exists()


def test_without_matplotlib_the_table_and_json_are_still_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(bench_library, "plot", lambda *_: False)  # as when the import fails
    out, png = tmp_path / "lib.json", tmp_path / "lib.png"
    assert bench_library.main(out, png, budget=0.001, sizes=(64,), entries=(1,), ops=("memset",)) == 0
    assert "pip install 'iovconf[bench]'" in capsys.readouterr().out
    assert json.loads(out.read_text())["cells"][0]["op"] == "memset" and not png.exists()


def test_the_sg_ops_time_the_targets_against_c_and_a_plain_loop(tmp_path: Path) -> None:
    """Each sg op asked for is timed on its grid and on the cells of its targets of issue 16,
    over separate buffers, with the loop beside; sg_read counts the copies one call makes."""
    out = tmp_path / "sg.json"
    ops = ("sg_readinto", "sg_read")
    assert bench_library.main(out, None, budget=0.001, sizes=(256,), entries=(4,), ops=ops) == 0
    data = json.loads(out.read_text())
    cells = {(c["op"], c["size"], c["entries"]): c for c in data["cells"]}
    assert set(cells) == {
        ("sg_readinto", 256, 4),
        ("sg_readinto", 1 << 20, 256),
        ("sg_read", 256, 4),
        ("sg_read", 1 << 20, 256),
    }
    assert all(c["layout"] == "separate" and c["loop_us"] > 0 and c["loop_ratio"] > 0 for c in cells.values())
    targets = {(t["op"], t["measure"]) for t in data["targets"]}
    assert targets == {
        ("sg_readinto", "ratio"),
        ("sg_readinto", "loop_ratio"),
        ("sg_readinto", "port_us"),
        ("sg_read", "copies"),
    }
    read = cells[("sg_read", 1 << 20, 256)]
    assert read["port_copies"] >= 1 and read["c_copies"] >= 1  # the result itself is one copy
    assert all(isinstance(t["met"], bool) for t in data["targets"])


def test_bad_subsets_are_usage_errors() -> None:
    assert main(["bench", "--library", "--ops", "frobnicate"]) == 2
    assert main(["bench", "--library", "--sizes", "lots"]) == 2
    assert main(["bench", "--library", "--entries", "0"]) == 2
