"""Packaging: a wheel builds without setuptools warnings and carries every data file."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_wheel_builds_silently_with_its_data_files(tmp_path: Path) -> None:
    # a copy: setuptools leaves build/ in the tree it builds
    tree = tmp_path / "tree"
    shutil.copytree(
        ROOT,
        tree,
        ignore=shutil.ignore_patterns(
            ".git",
            ".venv",
            "build",
            "*.egg-info",
            ".hypothesis",
            "iovconf-reports",
            ".iovconf",
            "__pycache__",
        ),
    )
    out = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "-w", str(tmp_path), str(tree)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    log = out.stdout + out.stderr
    assert "absent from the `packages` configuration" not in log
    assert "Package would be ignored" not in log
    (wheel,) = tmp_path.glob("iovconf-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for rel in (
        "reference_c/iov.c",
        "reference_c/shim.h",
        "reference_c/include/glib.h",
        "reference_c/include/qemu/iov.h",
        "reference_c/shim/glib.c",
        "reference_c/revisions/iov-v10.0.0.c",
        "reference_c/revisions/SHA256SUMS",
        "harness/py.typed",
        "harness/gates/mutants_equivalent.toml",
        "harness/report/templates/program.c",
        "harness/report/templates/helpers.c",
        "harness/report/templates/prelude.h",
    ):
        assert rel in names, rel
    # every module, in sub-packages too: a package the configuration does not find would be left out
    for package in ("iovspec", "pyimpl", "harness", "reference_c"):
        for module in (ROOT / package).rglob("*.py"):
            assert module.relative_to(ROOT).as_posix() in names, module
    # data directories stay data: no stray package markers were invented for them
    assert not any(n.startswith("reference_c/include/") and n.endswith(".py") for n in names)
