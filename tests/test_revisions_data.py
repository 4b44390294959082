"""The shipped upstream revisions of util/iov.c are intact and every release tag finds one."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from reference_c import revisions as rv

ROOT = Path(__file__).resolve().parents[1]
REVISIONS_DIR = ROOT / "reference_c" / "revisions"
ORIGINAL_SHA256 = "bf759d98dd81e994fca548cc6b1b0c078ff24a02dcc47350e1aaa560d7ffc7cc"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def listed() -> dict[str, str]:
    """SHA256SUMS read here independently of the module: ``{name: digest}``."""
    lines = (REVISIONS_DIR / "SHA256SUMS").read_text().splitlines()
    return {name: digest for digest, name in (line.split() for line in lines if line)}


def test_sha256sums_lists_exactly_the_shipped_files() -> None:
    shipped = {p.name for p in REVISIONS_DIR.iterdir() if p.name != "SHA256SUMS"}
    assert shipped == set(listed())
    assert {r.path.name for r in rv.REVISIONS[1:]} == shipped


@pytest.mark.parametrize("rev", rv.REVISIONS, ids=lambda r: r.tag)
def test_file_matches_its_sha256(rev: rv.Revision) -> None:
    assert rev.path.is_file()
    assert sha256(rev.path) == rev.sha256
    if rev is rv.ORIGINAL:
        assert rev.path == ROOT / "reference_c" / "iov.c"
        assert rev.sha256 == ORIGINAL_SHA256
    else:
        assert rev.path.parent == REVISIONS_DIR
        assert rev.sha256 == listed()[rev.path.name]


def test_files_are_distinct_and_in_release_order() -> None:
    assert len({r.sha256 for r in rv.REVISIONS}) == len(rv.REVISIONS)
    assert rv.REVISIONS[0] is rv.ORIGINAL

    def version(tag: str) -> tuple[int, ...]:
        return tuple(int(part) for part in tag.removeprefix("v").split("."))

    tags = [version(t) for r in rv.REVISIONS for t in r.releases]
    assert tags == sorted(tags)
    assert len(set(tags)) == len(tags)


@pytest.mark.parametrize(
    ("release", "file_tag"),
    [
        ("v6.1.0", "v6.2.0"),
        ("v6.2.0", "v6.2.0"),
        ("v7.1.0", "v7.1.0"),
        ("v7.2.0", "v7.2.0"),
        ("v8.0.0", "v7.2.0"),
        ("v8.1.0", "v8.1.0"),
        ("v8.2.0", "v9.0.0"),
        ("v9.0.0", "v9.0.0"),
        ("v9.1.0", "v9.0.0"),
        ("v9.2.0", "v9.2.0"),
        ("v10.0.0", "v10.0.0"),
        ("v10.1.0", "v10.0.0"),
        ("v10.2.0", "v10.0.0"),
    ],
)
def test_every_release_tag_resolves(release: str, file_tag: str) -> None:
    rev = rv.revision(release)
    assert rev.tag == file_tag
    assert release in rev.releases
    assert rev.path.name == ("iov.c" if rev is rv.ORIGINAL else f"iov-{file_tag}.c")


def test_every_listed_tag_resolves_to_its_entry() -> None:
    for rev in rv.REVISIONS:
        assert rev.tag in rev.releases
        for tag in rev.releases:
            assert rv.revision(tag) is rev


def test_unknown_tag() -> None:
    with pytest.raises(KeyError, match=r"v7\.0\.0"):
        rv.revision("v7.0.0")
