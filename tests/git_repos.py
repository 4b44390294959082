"""Real git repositories of iov.c histories, for the tests of sources, --only changed and --bisect."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

IOV_C = Path(__file__).resolve().parent.parent / "reference_c" / "iov.c"
#: where QEMU keeps the file, and so where these repositories do
IN_REPO = "util/iov.c"


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` (no user configuration needed); its standard output."""
    cmd = ["git", "-c", "user.name=iovconf", "-c", "user.email=iovconf@example.org", *args]
    return subprocess.run(cmd, cwd=repo, check=True, capture_output=True, text=True).stdout


def history(repo: Path, versions: Sequence[tuple[str, str]]) -> list[str]:
    """A repository at ``repo`` with one commit per (message, text of util/iov.c); the commit ids.
    Each commit also adds its message to ``NEWS``, so one may leave iov.c as it was (a commit
    elsewhere in the tree)."""
    (repo / "util").mkdir(parents=True, exist_ok=True)
    git(repo, "init", "-q", "-b", "main")
    commits = []
    for message, text in versions:
        (repo / IN_REPO).write_text(text)
        with (repo / "NEWS").open("a") as news:
            news.write(message + "\n")
        git(repo, "add", IN_REPO, "NEWS")
        git(repo, "commit", "-q", "-m", message)
        commits.append(git(repo, "rev-parse", "HEAD").strip())
    return commits


def patched(old: str, new: str, text: str | None = None) -> str:
    """iov.c (or ``text``) with ``old``, which must occur exactly once, replaced by ``new``."""
    base = IOV_C.read_text() if text is None else text
    assert base.count(old) == 1, f"{old!r} must occur exactly once"
    return base.replace(old, new)
