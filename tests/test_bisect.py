"""``--bisect``: exit statuses ``git bisect run`` understands, and a real bisection that finds the
commit that changed a function's behaviour."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cli_runs import ROOT, harness
from git_repos import IN_REPO, IOV_C, git, history, patched

from harness.review.exits import (
    BISECT_BAD,
    BISECT_GOOD,
    BISECT_SKIP,
    BISECT_STOP,
    DOES_NOT_BUILD,
    EXIT_AGREE,
    EXIT_DIFFER,
    EXIT_USAGE,
    NOTHING_JUDGED,
    exit_status,
)

ORIGINAL = IOV_C.read_text()
#: iov_size counts one entry fewer (the exhaustive engine's smallest layouts show it)
BUG = (
    "    for (i = 0; i < iov_cnt; i++) {\n        len +=",
    "    for (i = 0; i + 1 < iov_cnt; i++) {\n        len +=",
)
#: pycparser reads it (it does not check types), the compiler does not
DOES_NOT_COMPILE = ("        len += iov[i].iov_len;\n", "        len += iov[i].no_such_field;\n")


def test_the_statuses_map_in_one_table() -> None:
    assert [exit_status(s, True) for s in (EXIT_AGREE, EXIT_DIFFER, DOES_NOT_BUILD, NOTHING_JUDGED)] == [
        BISECT_GOOD,
        BISECT_BAD,
        BISECT_SKIP,
        BISECT_SKIP,
    ]
    assert exit_status(EXIT_USAGE, True) == BISECT_STOP and exit_status(99, True) == BISECT_STOP
    # without --bisect the statuses stay the documented 0/1/2
    assert [exit_status(s, False) for s in (EXIT_AGREE, EXIT_DIFFER, DOES_NOT_BUILD, 99)] == [0, 1, 2, 2]


def test_git_bisect_run_finds_the_commit_that_changed_behaviour(tmp_path: Path) -> None:
    """The README's command: OLD is the good revision's file, NEW the working tree's at each step.
    A commit that only respells the file is good without a build; the first bad one is found.
    (The later commits leave iov.c as it is, so every bad step reuses one build: fast.)"""
    repo = tmp_path / "qemu"
    respelt = patched("    len = 0;\n", "    /* from nothing */\n    len  =  0 ;\n")
    bug = patched(*BUG, respelt)
    commits = history(
        repo,
        [
            ("the original", ORIGINAL),
            ("respell iov_size", respelt),
            ("iov_size: skip the last entry", bug),
            ("elsewhere in the tree", bug),
            ("elsewhere again", bug),
        ],
    )
    git(repo, "bisect", "start", commits[-1], commits[0])
    env = dict(os.environ, PYTHONPATH=str(ROOT), IOVCONF_NO_DB="1")
    command = [sys.executable, "-m", "harness", "diff", f"{commits[0]}:{IN_REPO}", IN_REPO]
    command += ["--only", "changed", "--bisect", "--jobs", "1"]
    run = subprocess.run(
        ["git", "bisect", "run", *command], cwd=repo, env=env, capture_output=True, text=True, timeout=900
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert git(repo, "rev-parse", "refs/bisect/bad").strip() == commits[2], run.stdout
    assert f"{commits[2]} is the first bad commit" in run.stdout
    assert "--bisect: exit 1 (changed)" in run.stdout


def test_a_source_that_does_not_build_is_skipped(tmp_path: Path) -> None:
    broken = tmp_path / "broken.c"
    broken.write_text(patched(*DOES_NOT_COMPILE))
    r = harness("diff", str(IOV_C), str(broken), "--only", "changed", "--bisect", cwd=tmp_path)
    assert r.returncode == BISECT_SKIP, r.stdout + r.stderr
    assert "does not build" in r.stdout
    # without --bisect it is the build error it always was
    assert harness("diff", str(IOV_C), str(broken), cwd=tmp_path).returncode == EXIT_USAGE


def test_a_command_line_argparse_refuses_stops_the_bisection(tmp_path: Path) -> None:
    r = harness("diff", str(IOV_C), str(IOV_C), "--bisect", "--no-such-option", cwd=tmp_path)
    assert r.returncode == BISECT_STOP, r.stdout + r.stderr
