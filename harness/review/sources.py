"""Where a C source comes from: a path, ``-``, ``REV:PATH``, or a pipe.

``harness run --c-source``, ``diff OLD NEW``, ``replay --c-source``, ``$IOVCONF_C_SOURCE``
and the pytest plugin's ``--c-source=`` take a *source spec*:

- a regular file: used where it is;
- ``-``: standard input;
- anything else readable that is not a directory: ``/dev/stdin``, ``<(git show ...)``
  (``/dev/fd/N``, a pipe);
- ``REV:PATH`` (or ``:PATH``, the index): a git object of the repository of the current
  directory, as ``git show REV:PATH`` resolves it (``REV:./relative`` included).  An
  existing file wins over this reading, so a file name with a colon still works.

The bytes are read once; anything but a regular file is written to a content-addressed
file, ``$IOVCONF_CACHE_DIR/sources/<sha256>/iov.c`` (atomically), so forked workers,
reproducers and the build (keyed by content anyway) have a real path.  A :class:`Source`
keeps the user's spelling for display and a form a replay command can repeat: the file's
absolute path, ``REV:PATH`` with the revision pinned to its commit, or the written copy.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import stat
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

__all__ = ["STDIN", "Source", "SourceError", "materialise", "resolve", "resolve_all"]

#: the forms a source spec takes, as help texts say it
SOURCE_SPEC = "a path, - (standard input), REV:PATH (a git object of the current repository) or a pipe"
#: the spec that means standard input
STDIN = "-"
#: the name every written copy has (the build and the reports read it as iov.c)
COPY_NAME = "iov.c"
_GIT_TIMEOUT = 60


class SourceError(ValueError):
    """A spec that names no usable C source; the message names the argument."""


@dataclass(frozen=True)
class Source:
    """One resolved source spec."""

    spelling: str  # as the user wrote it: what the output shows
    path: str  # a regular file holding the bytes (the file itself, or its written copy)
    replay: str  # what a replay command says to get the same bytes again


def sources_root() -> Path:
    """Where written copies live: beside the build cache (``reference_c.build.cache_root``)."""
    from reference_c.build import cache_root

    return cache_root() / "sources"


def materialise(data: bytes) -> Path:
    """A regular file holding ``data``, named by its sha256; written once, atomically."""
    digest = hashlib.sha256(data).hexdigest()
    target = sources_root() / digest / COPY_NAME
    if target.is_file() and target.stat().st_size == len(data):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, target)  # a concurrent writer writes the same bytes: either wins
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def resolve(
    spec: str, what: str, *, cwd: Path | None = None, stdin: BinaryIO | None = None, allow_stdin: bool = True
) -> Source:
    """The source ``spec`` names (``what`` is the argument, for messages: ``--c-source``, ``OLD``).

    Raises :class:`SourceError` for a missing file, a directory, an empty input, a bad
    revision, a path the revision lacks, or ``REV:PATH`` outside a git repository.
    """
    here = Path.cwd() if cwd is None else cwd
    if not spec:
        raise SourceError(f"{what}: an empty name: give a path, - (standard input) or REV:PATH")
    if spec == STDIN:
        if not allow_stdin:
            raise SourceError(f"{what}: - (standard input) is not available here; use a file or REV:PATH")
        data = (stdin if stdin is not None else sys.stdin.buffer).read()
        return _copied(spec, _non_empty(data, what, "standard input"))
    path = Path(os.path.expanduser(spec))
    path = path if path.is_absolute() else here / path
    try:
        st = path.stat()
    except OSError as exc:
        if ":" in spec:
            return _git_object(spec, what, here)
        raise SourceError(f"{what}: {spec}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise SourceError(f"{what}: {spec} is a directory, not a C file")
    if stat.S_ISREG(st.st_mode):
        if st.st_size == 0:
            raise SourceError(f"{what}: {spec} is empty")
        resolved = str(path.resolve())
        return Source(spec, resolved, resolved)
    try:  # a pipe, /dev/stdin, a character device: read it once, now
        data = path.read_bytes()
    except OSError as exc:
        raise SourceError(f"{what}: {spec}: cannot read it: {exc.strerror or exc}") from None
    return _copied(spec, _non_empty(data, what, spec))


def resolve_all(specs: Sequence[tuple[str, str]], *, cwd: Path | None = None) -> list[Source]:
    """Each ``(spec, what)`` resolved, in order; standard input may be read only once."""
    readers = [what for spec, what in specs if spec == STDIN]
    if len(readers) > 1:
        raise SourceError(f"{' and '.join(readers)}: standard input (-) can be read only once")
    return [resolve(spec, what, cwd=cwd) for spec, what in specs]


def _non_empty(data: bytes, what: str, name: str) -> bytes:
    if not data:
        raise SourceError(f"{what}: {name} is empty (nothing was read)")
    return data


def _copied(spelling: str, data: bytes) -> Source:
    path = str(materialise(data))
    return Source(spelling, path, path)


# -- REV:PATH ------------------------------------------------------------------------------------


def _git(args: Sequence[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False, timeout=_GIT_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SourceError(f"cannot run git: {exc}") from None


def _said(proc: subprocess.CompletedProcess[bytes]) -> str:
    """What git said on a failure, on one line."""
    text = proc.stderr.decode(errors="replace").strip().replace("\n", "; ")
    return text or f"git exited {proc.returncode}"


def _git_object(spec: str, what: str, cwd: Path) -> Source:
    """``REV:PATH`` read with git in ``cwd``'s repository."""
    rev, _, inner = spec.partition(":")
    where = f"{what}: {spec}: no such file, and as REV:PATH"
    top = _git(["rev-parse", "--show-toplevel"], cwd)
    if top.returncode != 0:
        raise SourceError(f"{where}: {cwd} is not in a git repository")
    commit = ""
    if rev:  # empty: the index (git's ":PATH")
        pinned = _git(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"], cwd)
        if pinned.returncode != 0:
            tree = _git(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{tree}}"], cwd)
            if tree.returncode != 0:
                raise SourceError(f"{where}: {rev!r} is not a revision of the repository at {cwd}")
        else:
            commit = pinned.stdout.decode().strip()
    if not inner:
        raise SourceError(f"{where}: no path after the colon")
    kind = _git(["cat-file", "-t", spec], cwd)
    if kind.returncode != 0:
        raise SourceError(f"{where}: {inner} is not in {rev or 'the index'} ({_said(kind)})")
    if kind.stdout.strip() != b"blob":
        raise SourceError(f"{where}: {inner} is a {kind.stdout.decode().strip()} in {rev}, not a file")
    blob = _git(["cat-file", "-p", spec], cwd)
    if blob.returncode != 0:
        raise SourceError(f"{where}: {_said(blob)}")
    data = _non_empty(blob.stdout, what, spec)
    path = str(materialise(data))
    return Source(spec, path, _pinned(commit, inner, cwd) if commit else spec)


def _pinned(commit: str, inner: str, cwd: Path) -> str:
    """``COMMIT:PATH`` with PATH from the top of the repository: what ``REV:PATH`` names now,
    whatever HEAD, branches or the current directory become."""
    if inner.startswith(("./", "../")) or inner in (".", ".."):
        prefix = _git(["rev-parse", "--show-prefix"], cwd).stdout.decode().strip()
        inner = posixpath.normpath(posixpath.join(prefix, inner))
    return f"{commit}:{inner}"
