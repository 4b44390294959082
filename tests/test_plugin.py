"""The pytest plugin as another project sees it: loaded by its entry point, options from any
rootdir, reproducers in JUnit XML, and the host's Hypothesis settings left alone."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from changes import changed_iov_c
from hypothesis import settings

import harness.integrations.pytest_plugin

HOST_TEST = """
import os

from hypothesis import given, settings

from harness.campaign.pool import CAMPAIGNS


def test_hypothesis_settings_are_the_hosts():
    assert settings.get_current_profile_name() == os.environ["EXPECT_PROFILE"]


def test_iov_size_agrees(judge):
    @settings(max_examples=50, deadline=None)
    @given(CAMPAIGNS["iov_size"])
    def agrees(case):
        judge.check(case)

    agrees()
"""


def test_the_plugin_comes_through_its_entry_point(pytestconfig: pytest.Config) -> None:
    (ep,) = [e for e in importlib.metadata.entry_points(group="pytest11") if e.name == "iovconf"]
    assert ep.value == "harness.integrations.pytest_plugin"
    assert pytestconfig.pluginmanager.get_plugin("iovconf") is harness.integrations.pytest_plugin


def hypothesis_own_profile(env: dict[str, str] | None = None) -> str:
    """The profile Hypothesis itself loads in ``env`` (its ``ci`` one where it detects a CI
    service), found by asking a fresh interpreter that loads no plugin."""
    out = subprocess.run(
        [sys.executable, "-c", "from hypothesis import settings; print(settings.get_current_profile_name())"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def test_this_suite_opted_in_to_a_profile() -> None:
    expected = os.environ.get("HYPOTHESIS_PROFILE") or (
        "iovconf-ci" if hypothesis_own_profile() == "ci" else "iovconf-dev"
    )
    assert settings.get_current_profile_name() == harness.integrations.pytest_plugin.resolve_profile(expected)


@pytest.mark.parametrize("variable", ["CI", "GITHUB_ACTIONS", "GITLAB_CI"])
def test_auto_means_iovconf_ci_wherever_hypothesis_sees_a_ci_service(variable: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "HYPOTHESIS_PROFILE"}
    env[variable] = "true"
    probe = "import harness.integrations.pytest_plugin as p; print(p.resolve_profile('auto'))"
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert hypothesis_own_profile(env) == "ci"
    assert out.stdout.strip() == "iovconf-ci"


def test_profile_names() -> None:
    resolve = harness.integrations.pytest_plugin.resolve_profile
    assert resolve("ci") == "iovconf-ci" and resolve("dev") == "iovconf-dev"
    assert resolve("iovconf-ci-readonly") == "iovconf-ci-readonly"
    assert resolve("default") == "default"  # Hypothesis's own, or any the host registered
    with pytest.raises(pytest.UsageError):
        resolve("no-such-profile")


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A project of its own (with its own config) and, outside it, a changed iov.c."""
    root = tmp_path_factory.mktemp("plugin")
    project = root / "host"
    (project / "tests").mkdir(parents=True)
    (project / "pyproject.toml").write_text('[tool.pytest.ini_options]\ntestpaths = ["tests"]\n')
    (project / "tests" / "test_host.py").write_text(textwrap.dedent(HOST_TEST))
    elsewhere = root / "elsewhere"
    elsewhere.mkdir()
    changed = changed_iov_c(
        elsewhere, "        len += iov[i].iov_len;\n", "        len += iov[i].iov_len + 1;\n"
    )
    return project, changed


def run_host(
    project: Path,
    *args: str,
    expect_profile: str | None = None,
    pass_fds: tuple[int, ...] = (),
    **env: str,
) -> tuple[str, Path]:
    """pytest in the host project (no -p: the entry point brings the plugin); its output and JUnit
    XML.  The host's test expects ``expect_profile``, by default the one Hypothesis itself loads
    in that environment: the plugin must leave it as it is."""
    junit = project / f"junit-{len(list(project.glob('junit-*.xml')))}.xml"
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTEST_ADDOPTS", "IOVCONF_C_SOURCE", "HYPOTHESIS_PROFILE", "IOVCONF_HYPOTHESIS_PROFILE")
    }
    full = {**clean, **env}
    expected = expect_profile or hypothesis_own_profile(full)
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--junitxml={junit}", *args],
        cwd=project,
        env={**full, "EXPECT_PROFILE": expected},
        capture_output=True,
        text=True,
        timeout=600,
        pass_fds=pass_fds,
    )
    text = out.stdout + out.stderr
    assert out.returncode == 1, text  # the differential test fails: the source was changed
    assert "1 failed, 1 passed" in text, text
    return text, junit


def reproducer_properties(junit: Path) -> dict[str, str]:
    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}
    failing = cases["test_iov_size_agrees"]
    assert failing.find("failure") is not None
    assert cases["test_hypothesis_settings_are_the_hosts"].find("failure") is None
    return {p.get("name", ""): p.get("value", "") for p in failing.iter("property")}


def test_a_host_project_runs_a_differential_test_against_a_changed_source(host: tuple[Path, Path]) -> None:
    project, changed = host
    text, junit = run_host(project, f"--c-source={changed}")
    assert f"rootdir: {project}" in text  # the host's own config was read
    assert "result of call 1" in text and "iov_size" in text
    props = reproducer_properties(junit)
    script = Path(props["iovconf_reproducer"])
    assert script.is_file() and script.parent == project / "iovconf-reports"
    assert script.suffix == ".py" and script.name.startswith("iov_size-")
    assert Path(props["iovconf_c_reproducer"]).is_file()
    assert Path(props["iovconf_report"]).is_file()
    assert props["iovconf_difference"].startswith("result of call 1: pyimpl returned")
    assert str(changed) in script.read_text()  # the reproducer names the source it ran against


def test_a_plain_c_source_path_outside_the_project_still_works(host: tuple[Path, Path]) -> None:
    """``--c-source PATH``: pytest roots the run at PATH (it decides before any plugin can
    register the option), but the plugin is loaded, uses the source and says what happened."""
    project, changed = host
    text, junit = run_host(project, "--c-source", str(changed))
    assert f"write --c-source={changed}" in text
    assert Path(reproducer_properties(junit)["iovconf_reproducer"]).is_file()


def test_with_autoload_disabled_the_plugin_is_asked_for_by_name(host: tuple[Path, Path]) -> None:
    project, changed = host
    _, junit = run_host(
        project,
        "-p",
        "iovconf",
        f"--c-source={changed}",
        "--iovconf-profile=ci",
        expect_profile="iovconf-ci",
        PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",
    )
    assert Path(reproducer_properties(junit)["iovconf_reproducer"]).is_file()


def test_a_pipe_is_read_once_and_xdist_workers_get_what_was_read(host: tuple[Path, Path]) -> None:
    """``--c-source=<(git show ...)`` is a /dev/fd pipe that only the process pytest started has,
    and only once: the controller reads it, and its worker (which has no such descriptor) runs
    against the same bytes."""
    project, changed = host
    read_end, write_end = os.pipe()
    os.write(write_end, changed.read_bytes())  # a pipe holds 64 KiB; iov.c is smaller
    os.close(write_end)
    try:
        text, junit = run_host(project, f"--c-source=/dev/fd/{read_end}", "-n", "1", pass_fds=(read_end,))
    finally:
        os.close(read_end)
    assert "result of call 1" in text
    script = Path(reproducer_properties(junit)["iovconf_reproducer"])
    assert f"/dev/fd/{read_end}" not in script.read_text()  # the reproducer names the copy, not the pipe
