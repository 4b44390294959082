"""Source specs (harness.review.sources): a path, -, REV:PATH or a pipe, read once, clear usage errors."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_runs import ROOT, harness
from git_repos import IN_REPO, IOV_C, git, history, patched

from harness.review.sources import SourceError, materialise, resolve, resolve_all

ORIGINAL = IOV_C.read_text()
#: iov_size counts one entry fewer: a change every engine sees on the smallest layouts
DROPS_LAST = patched(
    "    for (i = 0; i < iov_cnt; i++) {\n        len +=",
    "    for (i = 0; i + 1 < iov_cnt; i++) {\n        len +=",
)


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, list[str]]:
    """util/iov.c: the original, then with iov_size changed."""
    path = tmp_path / "repo"
    return path, history(path, [("original", ORIGINAL), ("iov_size drops the last entry", DROPS_LAST)])


@pytest.fixture
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Written copies go to this test's cache (nothing is built in it)."""
    monkeypatch.setenv("IOVCONF_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_a_regular_file_is_used_where_it_is(tmp_path: Path) -> None:
    path = tmp_path / "mine.c"
    path.write_text(DROPS_LAST)
    source = resolve("mine.c", "--c-source", cwd=tmp_path)
    assert source.path == str(path) and source.replay == str(path) and source.spelling == "mine.c"


def test_rev_path_reads_the_git_object_and_replays_pinned_to_its_commit(
    repo: tuple[Path, list[str]], own_cache: Path
) -> None:
    path, (first, second) = repo
    older = resolve(f"HEAD~1:{IN_REPO}", "OLD", cwd=path)
    assert Path(older.path).read_text() == ORIGINAL and older.spelling == f"HEAD~1:{IN_REPO}"
    assert older.replay == f"{first}:{IN_REPO}"  # HEAD~1 moves on with the next commit; this does not
    newer = resolve(f"HEAD:{IN_REPO}", "NEW", cwd=path)
    assert Path(newer.path).read_text() == DROPS_LAST and newer.replay == f"{second}:{IN_REPO}"
    # as git show resolves it: ./ is relative to the current directory
    relative = resolve("HEAD~1:./iov.c", "OLD", cwd=path / "util")
    assert relative.path == older.path and relative.replay == f"{first}:{IN_REPO}"
    # the copy is named by its content, as iov.c, in the cache
    assert Path(older.path) == materialise(ORIGINAL.encode())
    assert Path(older.path).name == "iov.c" and Path(older.path).is_relative_to(own_cache)


def test_an_existing_file_wins_over_the_rev_path_reading(tmp_path: Path) -> None:
    (tmp_path / "HEAD:iov.c").write_text(ORIGINAL)
    assert resolve("HEAD:iov.c", "--c-source", cwd=tmp_path).path == str(tmp_path / "HEAD:iov.c")


def test_standard_input_is_read_once(tmp_path: Path, own_cache: Path) -> None:
    source = resolve("-", "--c-source", cwd=tmp_path, stdin=io.BytesIO(DROPS_LAST.encode()))
    assert Path(source.path).read_text() == DROPS_LAST and source.replay == source.path
    with pytest.raises(SourceError, match="OLD and NEW: standard input"):
        resolve_all([("-", "OLD"), ("-", "NEW")], cwd=tmp_path)


def test_a_pipe_is_read_and_copied(tmp_path: Path, own_cache: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    writer = subprocess.Popen(
        [sys.executable, "-c", f"open({str(fifo)!r}, 'w').write(open({str(IOV_C)!r}).read())"]
    )
    try:
        source = resolve(str(fifo), "NEW", cwd=tmp_path)
    finally:
        writer.wait(60)
    assert Path(source.path).read_text() == ORIGINAL and source.spelling == str(fifo)
    assert source.path != str(fifo) and source.replay == source.path  # the pipe is gone: replay the copy


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("HEAD~5:util/iov.c", "'HEAD~5' is not a revision"),
        ("HEAD:util/nothing.c", "util/nothing.c is not in HEAD"),
        ("HEAD:util", "util is a tree in HEAD, not a file"),
        ("HEAD:", "no path after the colon"),
        ("missing.c", "missing.c: No such file or directory"),
        ("util", "util is a directory"),
    ],
)
def test_bad_specs_are_usage_errors_naming_the_argument(
    repo: tuple[Path, list[str]], spec: str, message: str
) -> None:
    path, _ = repo
    with pytest.raises(SourceError, match=r"^--c-source: ") as err:
        resolve(spec, "--c-source", cwd=path)
    assert message in str(err.value)


def test_rev_path_outside_a_repository_and_empty_inputs(tmp_path: Path) -> None:
    outside = tmp_path / "plain"
    outside.mkdir()
    env_git = subprocess.run(["git", "rev-parse"], cwd=outside, capture_output=True, check=False)
    if env_git.returncode == 0:
        pytest.skip("the temporary directory is inside a git repository")
    with pytest.raises(SourceError, match="is not in a git repository"):
        resolve("HEAD:iov.c", "OLD", cwd=outside)
    (outside / "empty.c").write_text("")
    with pytest.raises(SourceError, match=r"empty\.c is empty"):
        resolve("empty.c", "NEW", cwd=outside)
    with pytest.raises(SourceError, match="standard input is empty"):
        resolve("-", "NEW", cwd=outside, stdin=io.BytesIO(b""))


def test_the_cli_reads_sources_from_stdin_a_pipe_and_git(repo: tuple[Path, list[str]]) -> None:
    """Without a build: --only changed finds that the sources define the same functions, so
    the command judges nothing and says so (exit 0)."""
    path, _ = repo
    r = harness("diff", "-", f"HEAD:./{IN_REPO}", "--only", "changed", cwd=path, stdin=DROPS_LAST)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"no function changed from - -> HEAD:./{IN_REPO}" in r.stdout
    # <(git show ...) is a /dev/fd pipe: refused as "not a file" before, read now
    git(path, "checkout", "-q", "HEAD~1")  # the working tree holds the original
    shell = f"{sys.executable} -m harness diff <(git show HEAD:{IN_REPO}) {IN_REPO} --only changed"
    r = subprocess.run(
        ["bash", "-c", shell],
        cwd=path,
        env=dict(os.environ, PYTHONPATH=str(ROOT), IOVCONF_NO_DB="1"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "no function changed from /dev/fd/" in r.stdout


def test_cli_usage_errors_exit_2_and_128_under_bisect(repo: tuple[Path, list[str]]) -> None:
    path, _ = repo
    bad_rev = harness("diff", f"HEAD~7:{IN_REPO}", IN_REPO, cwd=path)
    assert bad_rev.returncode == 2 and "OLD: HEAD~7:util/iov.c" in bad_rev.stderr
    no_path = harness("run", "--c-source", "HEAD:util/other.c", "--bisect", cwd=path)
    assert no_path.returncode == 128 and "util/other.c is not in HEAD" in no_path.stderr
    twice = harness("diff", "-", "-", "--bisect", cwd=path)
    assert twice.returncode == 128 and "standard input (-) can be read only once" in twice.stderr


@pytest.mark.parametrize("option", ["--json", "--junitxml", "--summary"])
def test_an_output_that_cannot_be_written_is_a_usage_error_before_any_campaign(
    tmp_path: Path, option: str
) -> None:
    """A file the command writes at its end, in a directory that does not exist or that is a
    directory itself, is refused at once (exit 2, 128 under --bisect), never a traceback and
    exit 1 ("a difference") after the whole campaign."""
    missing = tmp_path / "no" / "such" / "out.txt"
    r = harness("diff", str(IOV_C), str(IOV_C), "--only", "iov_size", option, str(missing), cwd=tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"{option}: cannot write {missing}: the directory" in r.stderr and "Traceback" not in r.stderr
    assert "campaign" not in r.stdout
    r = harness("run", "--only", "iov_size", "--bisect", option, str(tmp_path), cwd=tmp_path)
    assert r.returncode == 128 and f"{option}: cannot write {tmp_path}: it is a directory" in r.stderr


def test_a_known_differences_file_that_cannot_be_read_is_a_usage_error(tmp_path: Path) -> None:
    """run and diff refuse an --expect-diff file that is missing or malformed the same way:
    exit 2, naming the option and the file, before any campaign."""
    bad = tmp_path / "known.toml"
    bad.write_text("[[changed]\n")
    for path in (bad, tmp_path / "missing.toml"):
        for command in (["run"], ["diff", str(IOV_C), str(IOV_C)]):
            r = harness(*command, "--only", "iov_size", "--expect-diff", str(path), cwd=tmp_path)
            assert r.returncode == 2, r.stdout + r.stderr
            assert f"--expect-diff: {path}: " in r.stdout and "campaign" not in r.stdout
