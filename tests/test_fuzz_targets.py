"""Long campaigns across processes: the fuzz targets (harness/engines/fuzz_targets.py) run by two
worker processes on one Redis database, and a failure one of them saved is replayed first
by a later run anywhere that shares the database."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import redis
from changes import changed_iov_c

ROOT = Path(__file__).resolve().parent.parent
#: the fuzz targets' module, found without importing it (pytest collects its file)
_TARGETS_SPEC = importlib.util.find_spec("harness.engines.fuzz_targets")
assert _TARGETS_SPEC is not None and _TARGETS_SPEC.origin is not None
TARGETS = Path(_TARGETS_SPEC.origin)
GROWTH = ("        qiov->nalloc = 2 * qiov->nalloc + 1;", "        qiov->nalloc = 2 * qiov->nalloc + 2;")


def pytest_run(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", str(TARGETS), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_two_workers_share_one_redis_database_and_a_saved_failure_is_replayed_first(
    tmp_path: Path, redis_url: str
) -> None:
    changed = changed_iov_c(tmp_path, *GROWTH)
    env = dict(os.environ, PYTHONPATH=str(ROOT), IOVCONF_DB=redis_url, IOVCONF_C_SOURCE=str(changed))
    env.pop("IOVCONF_NO_DB", None)
    chosen = "test_qemu_iovec_add or test_iov_size or test_iov_memset"
    first = pytest_run(
        "-v", "-n", "2", "-k", chosen, env=dict(env, IOVCONF_FUZZ_EXAMPLES="300"), cwd=tmp_path
    )
    assert first.returncode == 1, first.stdout + first.stderr
    assert "1 failed, 2 passed" in first.stdout and "test_qemu_iovec_add" in first.stdout
    assert "[gw0]" in first.stdout and "[gw1]" in first.stdout  # two worker processes ran them
    assert redis.Redis.from_url(redis_url).keys("iovconf:*"), "the failure was not saved in Redis"

    # one example: generation alone does not find it (the run against no database passes) ...
    alone = pytest_run(
        "-k", "test_qemu_iovec_add", env=dict(env, IOVCONF_FUZZ_EXAMPLES="1", IOVCONF_DB="none"), cwd=tmp_path
    )
    assert alone.returncode == 0, alone.stdout + alone.stderr
    # ... but the failure a worker saved is tried first
    again = pytest_run("-k", "test_qemu_iovec_add", env=dict(env, IOVCONF_FUZZ_EXAMPLES="1"), cwd=tmp_path)
    assert again.returncode == 1 and "nalloc" in again.stdout, again.stdout + again.stderr
