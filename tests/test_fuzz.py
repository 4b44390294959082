"""``harness fuzz``: each function's fuzz target under libFuzzer (atheris), one child process per
function, C instrumented by clang where there is one; and the ClusterFuzzLite configuration that
runs the same targets elsewhere."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from changes import changed_iov_c
from cli_runs import ROOT, harness
from ruamel.yaml import YAML

from harness import cli
from harness.generate.strategies import STRATEGIES
from harness.integrations.libfuzzer import CC_ENV, fuzz_compiler, fuzz_flavour

#: the fuzz targets' module, found without importing it (pytest collects its file)
_TARGETS_SPEC = importlib.util.find_spec("harness.engines.fuzz_targets")
assert _TARGETS_SPEC is not None and _TARGETS_SPEC.origin is not None
TARGETS = Path(_TARGETS_SPEC.origin)
HAS_CLANG = fuzz_compiler() is not None
needs_clang = pytest.mark.skipif(not HAS_CLANG, reason="clang is not installed (ci/setup.sh installs it)")
#: a clang that is not there: the fuzz flavour cannot be built, C is gcc's plain build
NO_CLANG = {CC_ENV: "/nonexistent/clang"}
#: iov_size adds one more than the entry's length for the second entry: wrong from two entries on
SECOND_ENTRY_OFF_BY_ONE = ("        len += iov[i].iov_len;", "        len += iov[i].iov_len + (i == 1);")
#: iov_size aborts on reaching a second entry: the process dies (SIGABRT is not one the shims trap)
ABORT_ON_SECOND_ENTRY = (
    "        len += iov[i].iov_len;",
    "        if (i == 1) { abort(); } len += iov[i].iov_len;",
)


@pytest.mark.parametrize(
    ("env", "build"),
    [
        pytest.param({}, "fuzz", marks=needs_clang, id="C-instrumented"),
        pytest.param(NO_CLANG, "trap", id="no-clang"),
    ],
)
def test_fuzzing_the_original_finds_nothing(tmp_path: Path, env: dict[str, str], build: str) -> None:
    """Five seconds of libFuzzer on iov_size of the original judge cases and find no difference (exit
    0), with C instrumented by clang or, without clang, C's plain build and the port's coverage alone."""
    done = harness(
        "fuzz", "--only", "iov_size", "--max-time", "5", "--seed", "1", "--db", "none", cwd=tmp_path, env=env
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"fuzz iov_size: [1-9]\d* cases judged", done.stdout), done.stdout
    assert f"({build} build)" in done.stdout
    if build == "trap":
        assert "no clang" in done.stdout  # said, not silently weaker


def test_a_planted_difference_is_reported_saved_for_the_fuzz_target_and_run_and_replayed(
    tmp_path: Path,
) -> None:
    """A changed iov_size is found (exit 1), shrunk to the smallest case that shows it (two entries),
    reported with reproducers, and saved in the database: the fuzz target under pytest and run's
    Hypothesis engine replay it red from there with one example, and pass without it."""
    changed = str(changed_iov_c(tmp_path, *SECOND_ENTRY_OFF_BY_ONE))
    db, reports = str(tmp_path / "db"), tmp_path / "reports"
    found = harness(
        "fuzz", "--only", "iov_size", "--c-source", changed, "--max-time", "120", "--seed", "1",
        "--db", db, "--report", str(reports), cwd=tmp_path,
    )  # fmt: skip
    assert found.returncode == 1, found.stdout + found.stderr
    assert "DISCREPANCY in iov_size (fuzz engine): a different value" in found.stdout
    assert "iov_size(&iov1, 2)" in found.stdout  # shrunk: two entries are the fewest that differ
    for suffix in (".txt", ".py", ".c"):
        assert len(list(reports.glob(f"iov_size-*{suffix}"))) == 1, suffix

    def fuzz_target(database: str) -> subprocess.CompletedProcess[str]:
        env = dict(
            os.environ, PYTHONPATH=str(ROOT), IOVCONF_DB=database, IOVCONF_C_SOURCE=changed,
            IOVCONF_FUZZ_EXAMPLES="1",
        )  # fmt: skip
        env.pop("IOVCONF_NO_DB", None)
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", str(TARGETS), "-k", "iov_size"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip

    def run(database: str) -> subprocess.CompletedProcess[str]:
        return harness(
            "run", "--only", "iov_size", "--engine", "hypothesis", "--examples", "1", "--c-source", changed,
            "--db", database, "--jobs", "1", "--seed", "3", "--report", str(tmp_path / "run"), cwd=tmp_path,
        )  # fmt: skip

    for replay in (fuzz_target, run):
        again = replay(db)
        assert again.returncode == 1, again.stdout + again.stderr
        assert replay("none").returncode == 0  # one example alone does not find it: the database did


def test_a_c_crash_that_kills_the_fuzzer_is_reported_with_its_case(tmp_path: Path) -> None:
    """C aborting kills the libFuzzer child, not the command: the case C was running is reported as a
    crash (exit 1) with its reproducers."""
    changed = str(changed_iov_c(tmp_path, *ABORT_ON_SECOND_ENTRY))
    found = harness(
        "fuzz", "--only", "iov_size", "--c-source", changed, "--max-time", "120", "--seed", "1",
        "--db", "none", "--report", str(tmp_path / "reports"), cwd=tmp_path,
    )  # fmt: skip
    assert found.returncode == 1, found.stdout + found.stderr
    assert "C CRASHED on case iov_size" in found.stdout
    assert "died of SIGABRT" in found.stdout
    assert list((tmp_path / "reports").glob("iov_size-*.py"))


def test_without_atheris_fuzz_is_a_usage_error_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without atheris (the fuzz extra not installed) the command exits 2 and says what to install."""
    monkeypatch.setitem(sys.modules, "atheris", None)  # import atheris raises ImportError
    assert cli.main(["fuzz", "--only", "iov_size", "--max-time", "1"]) == 2
    said = capsys.readouterr().out
    assert "atheris" in said and "iovconf[fuzz]" in said


@pytest.mark.parametrize("seconds", ["0", "-1", "nan", "inf"])
def test_max_time_is_a_finite_positive_number_of_seconds(
    seconds: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A budget that is not a finite positive number is a usage error naming the option (nan
    passed a check of "<= 0", and a child then never reached its deadline)."""
    assert cli.main(["fuzz", "--only", "iov_size", "--max-time", seconds]) == 2
    assert "--max-time: expected a positive number of seconds" in capsys.readouterr().out


def test_without_clang_the_plain_build_is_used_and_said(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CC_ENV, NO_CLANG[CC_ENV])
    flavour, said = fuzz_flavour(None)
    assert flavour == "trap"
    assert "no clang" in said and CC_ENV in said


@needs_clang
def test_the_fuzz_flavour_loads_only_after_libfuzzer_is_loaded_globally(tmp_path: Path) -> None:
    """clang's fuzz flavour calls libFuzzer's coverage hooks without defining them: loaded alone it
    fails on one of them; loaded after atheris's libFuzzer (RTLD_GLOBAL), it loads."""
    assert fuzz_flavour(None)[0] == "fuzz"  # built (or found in the cache) by clang
    load = "from harness.integrations import libfuzzer as lf; lf.load_reference(None, 'fuzz'); print('ok')"
    alone = subprocess.run(
        [sys.executable, "-c", load], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert alone.returncode != 0 and re.search(r"undefined symbol: __san", alone.stderr), alone.stderr
    first = f"from harness.integrations import libfuzzer as lf; lf.start('fuzz'); {load.split('; ', 1)[1]}"
    loaded = subprocess.run(
        [sys.executable, "-c", first], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert loaded.returncode == 0 and loaded.stdout.strip() == "ok", loaded.stderr


def test_clusterfuzzlite_builds_one_fuzzer_per_function_and_one_fuzzes(tmp_path: Path) -> None:
    """The ClusterFuzzLite files: project.yaml parses and says Python; the Dockerfile starts from
    its Python builder and copies build.sh; build.sh (run here, pip stubbed out) writes one fuzzer per
    function of the harness, each marked as a libFuzzer target, and one of them fuzzes."""
    config = ROOT / ".clusterfuzzlite"
    assert YAML(typ="safe").load((config / "project.yaml").read_text()) == {"language": "python"}
    dockerfile = (config / "Dockerfile").read_text().splitlines()
    assert [line for line in dockerfile if line.startswith("FROM")] == [
        "FROM gcr.io/oss-fuzz-base/base-builder-python"
    ]
    assert "COPY .clusterfuzzlite/build.sh $SRC/" in dockerfile
    src, out, stubs = tmp_path / "src", tmp_path / "out", tmp_path / "bin"
    for d in (src, out, stubs):
        d.mkdir()
    (src / "iovconf").symlink_to(ROOT)
    (stubs / "pip3").write_text("#!/bin/sh\nexit 0\n")  # the project is installed already
    (stubs / "python3").write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    for stub in stubs.iterdir():
        stub.chmod(0o755)
    env = dict(
        os.environ, SRC=str(src), OUT=str(out), PATH=f"{stubs}:{os.environ['PATH']}", IOVCONF_DB="none"
    )
    built = subprocess.run(
        ["bash", str(config / "build.sh")], env=env, capture_output=True, text=True, timeout=600
    )
    assert built.returncode == 0, built.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(STRATEGIES)
    for fuzzer in out.iterdir():
        assert os.access(fuzzer, os.X_OK) and "LLVMFuzzerTestOneInput" in fuzzer.read_text()
    ran = subprocess.run(
        [str(out / "iov_size"), "-runs=30"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert ran.returncode == 0 and "Done 30 runs" in ran.stderr, ran.stderr[-3000:]
