"""The build cache keys the environment the compile reads: a build made with other CFLAGS (an
instrumented one, say) is never served as the plain one."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from reference_c import build


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No build variable set, whatever the shell running the suite has."""
    for name in build.BUILD_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_other_cflags_give_another_key_and_directory(clean_environment: pytest.MonkeyPatch) -> None:
    plain = build.plan(build.DEFAULT_SOURCE)
    clean_environment.setenv("CFLAGS", "-fsanitize=address")
    instrumented = build.plan(build.DEFAULT_SOURCE)
    assert instrumented.key != plain.key
    assert instrumented.directory != plain.directory
    assert instrumented.environment == (("CFLAGS", "-fsanitize=address"),)


def test_the_same_environment_gives_the_same_key(clean_environment: pytest.MonkeyPatch) -> None:
    clean_environment.setenv("CFLAGS", "-O2")
    clean_environment.setenv("LDFLAGS", "-Wl,-z,now")
    assert build.plan(build.DEFAULT_SOURCE).key == build.plan(build.DEFAULT_SOURCE).key


@pytest.mark.parametrize("name", [n for n in build.BUILD_ENVIRONMENT if n != "CC"])
def test_each_variable_the_compile_reads_is_keyed(clean_environment: pytest.MonkeyPatch, name: str) -> None:
    plain = build.plan(build.DEFAULT_SOURCE).key
    clean_environment.setenv(name, "/nonexistent/iovconf-key-test")
    assert build.plan(build.DEFAULT_SOURCE).key != plain


def test_another_compiler_command_is_keyed(clean_environment: pytest.MonkeyPatch) -> None:
    plain = build.plan(build.DEFAULT_SOURCE).key
    clean_environment.setenv("CC", f"{build.compiler_command()} -m64")
    assert build.plan(build.DEFAULT_SOURCE).key != plain


@pytest.mark.parametrize("name", ["CPP", "CXX", "AR", "RANLIB", "IOVCONF_UNRELATED"])
def test_tools_the_build_never_runs_keep_the_key(clean_environment: pytest.MonkeyPatch, name: str) -> None:
    """setuptools reads CPP, CXX, AR and RANLIB, but this build runs none of those tools (a
    build with each pointing nowhere succeeds), so they must not cost a rebuild."""
    plain = build.plan(build.DEFAULT_SOURCE).key
    clean_environment.setenv(name, "/nonexistent/iovconf-key-test")
    assert build.plan(build.DEFAULT_SOURCE).key == plain


def test_the_version_of_a_wrapped_compiler_is_the_compiler_s(tmp_path: Path) -> None:
    """``ccache gcc``: the key must name gcc's version, which the wrapper's own does not."""
    wrapper = tmp_path / "fakecache"
    wrapper.write_text('#!/bin/sh\n[ "$1" = --version ] && { echo "fakecache 1.0"; exit 0; }\nexec "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    compiler = build.compiler_command()
    assert build.compiler_version(f"{wrapper} {compiler}") == build.compiler_version(compiler)
    assert build.compiler_version(str(wrapper)) == "fakecache 1.0"


def test_a_build_with_other_cflags_is_built_apart(
    clean_environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_environment.setenv("IOVCONF_CACHE_DIR", str(tmp_path))
    plain = build.build()
    clean_environment.setenv("CFLAGS", "-DIOVCONF_CACHE_TEST")
    flagged = build.build()
    assert plain.built_now and flagged.built_now  # not served the plain build
    assert flagged.plan.directory != plain.plan.directory
    assert flagged.so_path.exists() and plain.so_path.exists()
    # the flag reached the compiler (setuptools appends $CFLAGS to each compile line) ...
    compiles = [
        line.split()
        for line in (flagged.plan.directory / "build.log").read_text().splitlines()
        if " -c " in line
    ]
    assert compiles and all("-DIOVCONF_CACHE_TEST" in words for words in compiles)
    assert "-DIOVCONF_CACHE_TEST" not in (plain.plan.directory / "build.log").read_text()
    # ... and the manifest says which environment made the build
    manifest = json.loads((flagged.plan.directory / "manifest.json").read_text())
    assert manifest["environment"] == {"CFLAGS": "-DIOVCONF_CACHE_TEST"}
    # the environment of the plain build finds the plain build again
    clean_environment.delenv("CFLAGS")
    again = build.build()
    assert not again.built_now and again.plan.directory == plain.plan.directory
    assert os.path.samefile(again.so_path, plain.so_path)
