"""The build cache: its key names the compiler's version, and old builds are evicted."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from reference_c import build


def test_the_key_names_the_compiler_version(monkeypatch: pytest.MonkeyPatch) -> None:
    first = build.plan(build.DEFAULT_SOURCE)
    version = build.compiler_version()
    assert version and not version.startswith("unknown"), version
    assert any(ch.isdigit() for ch in version)  # e.g. "gcc (Debian 12.2.0-14) 12.2.0"
    monkeypatch.setitem(build._COMPILER_VERSIONS, build.compiler_command(), "gcc (Imaginary) 99.1.0")
    upgraded = build.plan(build.DEFAULT_SOURCE)
    assert upgraded.key != first.key
    assert upgraded.directory != first.directory


def test_a_compiler_that_cannot_run_gives_a_key_anyway() -> None:
    assert build.compiler_version("/nonexistent/cc-for-iovconf").startswith("unknown")


def _fake_build(root: Path, flavour: str, n: int, used_ago: float) -> Path:
    directory = root / f"{flavour}-{n:024x}"
    directory.mkdir(parents=True)
    manifest = directory / "manifest.json"
    manifest.write_text(json.dumps({"flavour": flavour}))
    (root / f"{directory.name}.lock").touch()
    when = time.time() - used_ago
    os.utime(manifest, (when, when))
    return directory


def test_eviction_keeps_the_newest_per_flavour_and_anything_just_used(tmp_path: Path) -> None:
    hour = 3600.0
    trap = [_fake_build(tmp_path, "trap", n, used_ago=(n + 1) * hour) for n in range(5)]
    sanitize = [_fake_build(tmp_path, "sanitize", 100 + n, used_ago=(n + 1) * hour) for n in range(2)]
    recent = _fake_build(tmp_path, "trap", 50, used_ago=60)  # beyond `keep`, but used a minute ago
    removed = build.evict(tmp_path, keep=2, max_age_days=30)
    # the two most recently used trap builds stay (the recent one and trap[0]), as do both sanitize
    assert sorted(removed) == sorted(trap[1:])
    assert recent.exists() and trap[0].exists() and all(d.exists() for d in sanitize)
    assert not any((tmp_path / f"{d.name}.lock").exists() for d in trap[1:])


def test_eviction_removes_builds_unused_for_too_long(tmp_path: Path) -> None:
    day = 86400.0
    old = _fake_build(tmp_path, "abort", 1, used_ago=40 * day)
    fresh = _fake_build(tmp_path, "abort", 2, used_ago=1 * day)
    assert build.evict(tmp_path, keep=10, max_age_days=30) == [old]
    assert fresh.exists()


def test_eviction_leaves_a_build_whose_lock_is_held(tmp_path: Path) -> None:
    from filelock import FileLock

    busy = _fake_build(tmp_path, "trap", 7, used_ago=90 * 86400)
    with FileLock(str(tmp_path / f"{busy.name}.lock")):
        assert build.evict(tmp_path, keep=0, max_age_days=1) == []
    assert busy.exists()


def test_finding_a_build_counts_as_using_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IOVCONF_CACHE_DIR", str(tmp_path))
    built = build.build()  # compiles into the empty cache
    manifest = built.plan.directory / "manifest.json"
    manifest_data = json.loads(manifest.read_text())
    assert manifest_data["compiler_version"] == build.compiler_version()
    long_ago = time.time() - 5 * 86400
    os.utime(manifest, (long_ago, long_ago))
    again = build.build()
    assert not again.built_now
    assert time.time() - manifest.stat().st_mtime < 3600
