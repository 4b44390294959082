"""Where failing examples are kept between runs: one spec string picks a Hypothesis database.

A spec is what ``--db`` (or ``IOVCONF_DB``) says:

- ``none``: no database (nothing is read or written);
- a directory path: Hypothesis's ``DirectoryBasedExampleDatabase`` (the default is
  ``.hypothesis/iovconf`` in the working directory);
- ``redis://HOST:PORT[/DB]``: ``RedisExampleDatabase``, shared by every worker and machine
  that names the same server;
- ``github:OWNER/REPO[/ARTIFACT]``: ``GitHubArtifactDatabase``, the database a CI workflow
  uploaded as an artifact (read-only: it is how a developer replays what CI found);
- ``readonly:SPEC``: SPEC, read but never written (a CI job reading a shared database
  without changing it);
- ``SPEC+SPEC[+...]``: a ``MultiplexedDatabase``: saves go to every part, reads see all.

Each test keeps its examples under its own key, one per (function, engine): see
:func:`keyed`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeVar

from hypothesis.database import (
    DirectoryBasedExampleDatabase,
    ExampleDatabase,
    GitHubArtifactDatabase,
    MultiplexedDatabase,
    ReadOnlyDatabase,
)

T = TypeVar("T", bound=Any)

ENV = "IOVCONF_DB"
DEFAULT = str(Path(".hypothesis") / "iovconf")


class DatabaseSpecError(ValueError):
    """A ``--db`` spec that names no database this module can open."""


def spec_from_env(given: str | None = None) -> str:
    """The spec in force: the one given, else ``$IOVCONF_DB``, else the default directory
    (``IOVCONF_NO_DB=1``, the older switch, still means ``none``)."""
    if given:
        return given
    if os.environ.get("IOVCONF_NO_DB"):
        return "none"
    return os.environ.get(ENV) or DEFAULT


def open_database(spec: str) -> ExampleDatabase | None:
    """The database a spec names (``None`` for ``none``); raises :class:`DatabaseSpecError`."""
    spec = spec.strip()
    if not spec:
        raise DatabaseSpecError("--db: empty (say a directory, redis://HOST:PORT, github:OWNER/REPO or none)")
    if spec == "none":
        return None
    if "+" in spec and not spec.startswith(("readonly:", "github:", "redis://")):
        parts = [open_database(p) for p in spec.split("+")]
        return MultiplexedDatabase(*[p for p in parts if p is not None])
    if spec.startswith("readonly:"):
        inner = open_database(spec.removeprefix("readonly:"))
        if inner is None:
            raise DatabaseSpecError("--db: readonly:none reads nothing; say none")
        return ReadOnlyDatabase(inner)
    if spec.startswith("redis://"):
        return _redis(spec)
    if spec.startswith("github:"):
        owner, _, rest = spec.removeprefix("github:").partition("/")
        repo, _, artifact = rest.partition("/")
        if not owner or not repo:
            raise DatabaseSpecError(f"--db: {spec!r}: say github:OWNER/REPO[/ARTIFACT]")
        return ReadOnlyDatabase(GitHubArtifactDatabase(owner, repo, artifact or "hypothesis-example-db"))
    if "://" in spec:
        raise DatabaseSpecError(f"--db: {spec!r}: only redis:// URLs are databases (or a directory path)")
    path = Path(spec)
    if path.exists() and not path.is_dir():
        raise DatabaseSpecError(f"--db: {spec!r} is a file, not a directory")
    return DirectoryBasedExampleDatabase(str(path))


def _redis(url: str) -> ExampleDatabase:
    try:
        import redis
        from hypothesis.extra.redis import RedisExampleDatabase
    except ImportError as exc:  # the 'redis' extra is not installed
        raise DatabaseSpecError(f"--db: {url}: needs the redis package (the 'redis' extra)") from exc
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise DatabaseSpecError(f"--db: {url}: no Redis server answers: {exc}") from exc
    return RedisExampleDatabase(client, key_prefix=b"iovconf:")


def digest_for(func: str, engine: str) -> bytes:
    """What tells one (function, engine) campaign's examples from another's in the database."""
    return f"iovconf|{engine}|{func}".encode()


def keyed(test: T, func: str, engine: str, seed: int | None = None) -> T:
    """``test`` (a ``@given`` test) keeping its examples under a key of its own per (func,
    engine), and drawing from ``seed`` if given.

    Every campaign's inner test has the same source, and Hypothesis keys a test by its source,
    so without this every function shared one key and a passing run of one deleted another's
    saved failure.  The key is made the way ``@pytest.mark.parametrize`` makes its cases' keys
    differ (an added digest), so Hypothesis, pytest and HypoFuzz all compute the same key.  The
    seed is set as ``@seed`` sets it, without the ``database=None`` that ``@seed`` adds, so a
    seeded run still saves its failures and replays them."""
    test.hypothesis.inner_test._hypothesis_internal_add_digest = digest_for(func, engine)
    if seed is not None:
        test._hypothesis_internal_use_seed = seed
    return test
