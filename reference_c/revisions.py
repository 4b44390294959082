"""The upstream revisions of QEMU ``util/iov.c`` the project ships as test data.

Each distinct file released after the original stands for one or more QEMU
release tags.  The files live in ``reference_c/revisions/`` byte for byte as
upstream released them; their sha256 come from ``revisions/SHA256SUMS`` (read
here, written nowhere else).  The original, ``reference_c/iov.c``, is the first
entry; SHA256SUMS does not list it, so its hash is the one constant below.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REVISIONS_DIR = HERE / "revisions"
SHA256SUMS = REVISIONS_DIR / "SHA256SUMS"

#: sha256 of reference_c/iov.c (QEMU util/iov.c at af531756)
ORIGINAL_SHA256 = "bf759d98dd81e994fca548cc6b1b0c078ff24a02dcc47350e1aaa560d7ffc7cc"

#: (tag of the file, the release tags whose util/iov.c is that file), in release order;
#: the first is the original, the others are revisions/iov-TAG.c
_RELEASES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("v6.2.0", ("v6.1.0", "v6.2.0")),
    ("v7.1.0", ("v7.1.0",)),
    ("v7.2.0", ("v7.2.0", "v8.0.0")),
    ("v8.1.0", ("v8.1.0",)),
    ("v9.0.0", ("v8.2.0", "v9.0.0", "v9.1.0")),
    ("v9.2.0", ("v9.2.0",)),
    ("v10.0.0", ("v10.0.0", "v10.1.0", "v10.2.0")),
)


@dataclass(frozen=True)
class Revision:
    """One distinct ``util/iov.c``."""

    tag: str  # the tag the file is named after
    releases: tuple[str, ...]  # every release tag whose util/iov.c this is
    path: Path
    sha256: str  # expected


def read_sha256sums(path: Path = SHA256SUMS) -> dict[str, str]:
    """``{file name: sha256}`` of a ``sha256sum`` listing (text or binary mode)."""
    sums: dict[str, str] = {}
    for line in path.read_text(encoding="ascii").splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            sums[name.removeprefix("*")] = digest.lower()
    return sums


def _revisions() -> tuple[Revision, ...]:
    sums = read_sha256sums()
    (first_tag, first_releases), *rest = _RELEASES
    revisions = [Revision(first_tag, first_releases, HERE / "iov.c", ORIGINAL_SHA256)]
    for tag, releases in rest:
        name = f"iov-{tag}.c"
        if name not in sums:
            raise RuntimeError(f"{SHA256SUMS} does not list {name}")
        revisions.append(Revision(tag, releases, REVISIONS_DIR / name, sums[name]))
    return tuple(revisions)


#: every shipped util/iov.c, in release order; the original first
REVISIONS: tuple[Revision, ...] = _revisions()
ORIGINAL: Revision = REVISIONS[0]
#: release tag -> its revision (a file's own tag is one of its releases)
BY_RELEASE: dict[str, Revision] = {t: r for r in REVISIONS for t in r.releases}


def revision(tag: str) -> Revision:
    """The revision of ``util/iov.c`` that release ``tag`` (e.g. ``"v8.0.0"``) shipped."""
    try:
        return BY_RELEASE[tag]
    except KeyError:
        raise KeyError(f"no shipped util/iov.c for {tag!r}; known: {', '.join(BY_RELEASE)}") from None
