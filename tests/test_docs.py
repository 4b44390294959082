"""The documents a clone carries: every relative link resolves inside the project."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def tracked_files() -> list[Path]:
    """The files git tracks, or (outside a git checkout, e.g. an unpacked sdist) every file."""
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=False)
    if out.returncode == 0 and out.stdout.strip():
        return [ROOT / line for line in out.stdout.splitlines() if line]
    skip = {".git", ".venv", "build", "dist", ".hypothesis", "iovconf-reports", ".iovconf"}
    return [
        p
        for p in ROOT.rglob("*")
        if p.is_file() and not skip & set(p.relative_to(ROOT).parts) and "egg-info" not in str(p)
    ]


def test_nothing_points_outside_the_clone() -> None:
    outside = "../" + "shared"  # spelt in two, so this file does not name it
    for path in tracked_files():
        if path.suffix in {".md", ".py", ".toml", ".sh", ".txt"} or path.name == "run":
            text = path.read_text(errors="replace")
            assert outside not in text, path


def test_markdown_links_resolve() -> None:
    for doc in (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))):
        for target in re.findall(r"\]\(([^)#\s]+)", doc.read_text()):
            if "://" in target:
                continue
            assert (doc.parent / target).exists(), f"{doc.name}: {target}"
