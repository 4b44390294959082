"""The iovconf pytest plugin: C-source options, the ``reference``/``judge`` fixtures, reproducers.

Installing iovconf registers this module as the ``pytest11`` entry point ``iovconf``, so
every pytest run in that environment loads it (with ``PYTEST_DISABLE_PLUGIN_AUTOLOAD``
set, ask for it with ``-p iovconf``).  It adds:

- ``--c-source=PATH`` (or ``$IOVCONF_C_SOURCE``): the C file standing in for
  ``reference_c/iov.c``, or ``REV:PATH`` (a git object) or a pipe (``<(git show ...)``),
  read once (``harness.review.sources``); ``--assert-mode trap|abort``.  pytest-xdist workers
  inherit both (a worker gets the file the controller read).
  Write the ``=`` form for a path outside the project: pytest picks its rootdir and
  config file from the command line before any plugin can say that the word after
  ``--c-source`` is an option's value, so ``--c-source /elsewhere/iov.c`` makes it root
  the run at ``/elsewhere`` and skip the project's config (the run still uses that
  source; the plugin warns);
- the ``reference`` (the compiled source, built once per session and cached across
  workers) and ``judge`` (port against reference) fixtures;
- for a test that fails on a discrepancy or a C crash: the report and its ``.py`` and
  ``.c`` reproducers under ``--iovconf-reports`` (default ``iovconf-reports/``), named
  in the test's report section and as JUnit XML properties (``--junitxml``):
  ``iovconf_difference``, ``iovconf_reproducer``, ``iovconf_c_reproducer``,
  ``iovconf_report``;
- Hypothesis profiles ``iovconf-ci`` (derandomized, no deadline, no database),
  ``iovconf-dev`` (random, no deadline, failures kept in ``.hypothesis/examples``) and
  ``iovconf-ci-readonly``.  Loading the plugin registers them and loads none: the host
  project's Hypothesis settings stay as they are unless it asks with
  ``--iovconf-profile NAME`` or ``$IOVCONF_HYPOTHESIS_PROFILE``.  ``NAME`` is any
  registered profile (``ci``/``dev`` mean ``iovconf-ci``/``iovconf-dev``; Hypothesis's own
  ``ci`` profile stays ``--hypothesis-profile=ci``), or ``auto``:
  ``$HYPOTHESIS_PROFILE`` if set, else ``iovconf-ci`` where Hypothesis detects a CI
  service (it then loads its own ``ci`` profile: ``$CI``, ``$GITHUB_ACTIONS``,
  ``$GITLAB_CI``, ...), else ``iovconf-dev``.  iovconf's own suite opts in with
  ``--iovconf-profile=auto``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase, ReadOnlyDatabase

#: the profiles this plugin registers (loaded only when asked)
PROFILES = ("iovconf-ci", "iovconf-dev", "iovconf-ci-readonly")
#: the option and the variable that ask for one
PROFILE_OPTION, PROFILE_ENV = "--iovconf-profile", "IOVCONF_HYPOTHESIS_PROFILE"
#: Hypothesis's own CI detection, read before anything loads a profile: when it sees a CI
#: service (its list of variables is longer than ``$CI``) it loads its ``ci`` profile at import
IN_CI = settings.get_current_profile_name() == "ci"

_HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large]
# CI: reproducible (derandomized), no deadline, never writes a database.
settings.register_profile(
    "iovconf-ci",
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=_HEALTH,
)
# Local: random, no deadline (xdist workers share the cores), failures remembered under .hypothesis/.
settings.register_profile(
    "iovconf-dev",
    deadline=None,
    print_blob=True,
    database=DirectoryBasedExampleDatabase(".hypothesis/examples"),
    suppress_health_check=_HEALTH,
)
settings.register_profile(
    "iovconf-ci-readonly",
    parent=settings.get_profile("iovconf-ci"),
    database=ReadOnlyDatabase(DirectoryBasedExampleDatabase(".hypothesis/examples")),
)


def resolve_profile(name: str) -> str:
    """The Hypothesis profile ``--iovconf-profile NAME`` loads (see the module docstring)."""
    if name == "auto":
        name = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if IN_CI else "dev")
    # ours first: Hypothesis registers a "ci" profile of its own
    for candidate in (f"iovconf-{name}", name):
        try:
            settings.get_profile(candidate)
        except Exception:  # hypothesis.errors.InvalidArgument: not registered
            continue
        return candidate
    raise pytest.UsageError(f"{PROFILE_OPTION}: no Hypothesis profile named {name!r}")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("iovconf")
    group.addoption(
        "--c-source",
        default=os.environ.get("IOVCONF_C_SOURCE"),
        metavar="PATH",
        help="C file standing in for reference_c/iov.c (default: $IOVCONF_C_SOURCE, else the original); "
        "write --c-source=PATH for a path outside the project, or pytest roots the run at it",
    )
    group.addoption(
        "--assert-mode",
        choices=("trap", "abort"),
        default="trap",
        help="trap asserts in-process (default) or let them abort in a forked child",
    )
    group.addoption(
        PROFILE_OPTION,
        default=os.environ.get(PROFILE_ENV),
        metavar="NAME",
        help="load this Hypothesis profile: iovconf-ci, iovconf-dev, iovconf-ci-readonly, any other "
        "registered one, or auto ($HYPOTHESIS_PROFILE, else iovconf-ci where Hypothesis detects CI, "
        "else iovconf-dev); "
        f"default ${PROFILE_ENV}, else none (the host project's settings stay)",
    )
    group.addoption(
        "--iovconf-reports",
        default="iovconf-reports",
        metavar="DIR",
        help="where failing differential tests leave reports and reproducers (default: %(default)s)",
    )


@pytest.hookimpl(trylast=True)  # after Hypothesis's own --hypothesis-profile, when both are given
def pytest_configure(config: pytest.Config) -> None:
    wanted = config.getoption(PROFILE_OPTION)
    if wanted:
        settings.load_profile(resolve_profile(wanted))
    c_source = config.getoption("--c-source")
    if c_source:
        config.option.c_source = _c_source_path(config, c_source)
        spelled = config.invocation_params.dir / c_source
        if spelled.is_file():
            _warn_if_rooted_at(config, spelled.resolve())


#: the key of the resolved source in an xdist worker's input
WORKER_SOURCE = "iovconf_c_source"


def _c_source_path(config: pytest.Config, spec: str) -> str:
    """A real file with the source ``spec`` names (``harness.review.sources``: a path, ``REV:PATH`` or a
    pipe; not ``-``, which is pytest's).  A worker takes the controller's: a pipe reads once."""
    given = getattr(config, "workerinput", {}).get(WORKER_SOURCE)
    if given:
        return str(given)
    from harness.review.sources import SourceError, resolve

    try:
        return resolve(spec, "--c-source", cwd=config.invocation_params.dir, allow_stdin=False).path
    except SourceError as exc:
        raise pytest.UsageError(str(exc)) from None


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's: the controller sets up a worker
def pytest_configure_node(node: Any) -> None:
    c_source = node.config.getoption("--c-source")
    if c_source:
        node.workerinput[WORKER_SOURCE] = c_source


def _warn_if_rooted_at(config: pytest.Config, c_source: Path) -> None:
    """Warn when pytest counted the value of a plain ``--c-source PATH`` as a test path while it
    chose its rootdir and config file (it does that before any plugin's options are known)."""
    args = [*config.invocation_params.args]
    plain = "--c-source" in args or "--c-source " in os.environ.get("PYTEST_ADDOPTS", "")
    here = config.invocation_params.dir.resolve()
    if plain and not c_source.parent.is_relative_to(here):
        config.issue_config_time_warning(
            pytest.PytestConfigWarning(
                f"--c-source {c_source}: pytest counted this path as a test path when it chose its "
                f"rootdir ({config.rootpath}) and config file ({config.inipath or 'none'}), before the "
                f"iovconf plugin could say it is an option's value; write --c-source={c_source}"
            ),
            stacklevel=2,
        )


@pytest.fixture(scope="session")
def reference(request: pytest.FixtureRequest) -> Any:
    """The compiled reference (built once, cached across workers and sessions)."""
    import reference_c

    return reference_c.load(
        request.config.getoption("--c-source"), flavour=request.config.getoption("--assert-mode")
    )


@pytest.fixture(scope="session")
def judge(reference: Any) -> Any:
    """A judge comparing pyimpl with the reference: on the original iov.c the port must fail
    every assert the C fails (strict asserts); on another source, an abort by another assert
    of the same call with the same state agrees (a note, as ``harness run`` has it)."""
    from harness.verdict.judge import Judge
    from harness.worlds.world import CWorld, PyWorld
    from reference_c.build import DEFAULT_SOURCE

    original = Path(reference.source_path).resolve() == Path(DEFAULT_SOURCE).resolve()
    return Judge(PyWorld(), CWorld(reference), strict_asserts=original)


def _judged_failure(exc: BaseException | None) -> Any:
    """The Discrepancy or CCrashed behind a test failure (Hypothesis may wrap it in a group)."""
    from harness.verdict.judge import CCrashed, Discrepancy

    if exc is None:
        return None
    if isinstance(exc, (Discrepancy, CCrashed)):
        return exc
    for inner in (*getattr(exc, "exceptions", ()), exc.__cause__):
        found = _judged_failure(inner)
        if found is not None:
            return found
    return None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A test that failed on a discrepancy or a C crash leaves reproducers, as the CLI does,
    and names them in its report and its JUnit XML properties."""
    outcome = yield
    report = outcome.get_result()
    if call.excinfo is None or report.when != "call":
        return
    failure = _judged_failure(call.excinfo.value)
    if failure is None:
        return
    from harness.model.case import case_to_json
    from harness.model.outcome import differences
    from harness.report.reports import format_fields, write_report
    from harness.verdict.judge import Discrepancy

    fields: list[str] = []
    if isinstance(failure, Discrepancy):
        ours, theirs = failure.outcomes
        if ours is not None and theirs is not None:
            fields = differences(ours, theirs, failure.names)
    config = item.config
    directory = config.invocation_params.dir / config.getoption("--iovconf-reports")
    script = write_report(
        directory,
        failure.case.func or "case",
        failure.difference,
        case_to_json(failure.case),
        failure.case.describe(),
        config.getoption("--c-source"),
        fields=fields,
    )
    script = script.resolve()
    c_file, text = script.with_suffix(".c"), script.with_suffix(".txt")
    listed = f"\n{format_fields(fields)}" if fields else ""
    report.sections.append(("iovconf reproducer", f"{script} (and {c_file}, report {text}){listed}"))
    # junitxml writes a test's user_properties with its teardown report, made from the item's list
    for prop in (
        ("iovconf_difference", failure.difference),
        ("iovconf_reproducer", str(script)),
        ("iovconf_c_reproducer", str(c_file)),
        ("iovconf_report", str(text)),
    ):
        item.user_properties.append(prop)
        report.user_properties.append(prop)
