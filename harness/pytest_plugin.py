"""pytest plugin: ``--c-source`` / ``--assert-mode`` options and the fixtures built on them.

Loaded with ``-p harness.pytest_plugin`` (pyproject's addopts), so pytest-xdist
workers inherit the options.  The reference build is cached and file-locked, so
workers build it once between them.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase, ReadOnlyDatabase

# CI: reproducible (derandomized), no deadline, never writes a database.
settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# Local: random, no deadline (xdist workers share 2 cores), failures remembered under .hypothesis/.
settings.register_profile(
    "dev",
    deadline=None,
    print_blob=True,
    database=DirectoryBasedExampleDatabase(".hypothesis/examples"),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "ci-readonly",
    parent=settings.get_profile("ci"),
    database=ReadOnlyDatabase(DirectoryBasedExampleDatabase(".hypothesis/examples")),
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("iovconf")
    group.addoption(
        "--c-source",
        default=os.environ.get("IOVCONF_C_SOURCE"),
        help="C file standing in for reference_c/iov.c",
    )
    group.addoption(
        "--assert-mode",
        choices=("trap", "abort"),
        default="trap",
        help="trap asserts in-process (default) or let them abort in a forked child",
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
    """A judge comparing pyimpl with the reference."""
    from .judge import Judge
    from .worlds import CWorld, PyWorld

    return Judge(PyWorld(), CWorld(reference))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A test that failed on a discrepancy or a C crash leaves reproducers, as the CLI does."""
    outcome = yield
    report = outcome.get_result()
    if call.excinfo is None or report.when != "call":
        return
    from pathlib import Path

    from .case import case_to_json
    from .judge import CCrashed, Discrepancy
    from .report import write_report

    exc = call.excinfo.value
    if isinstance(exc, (Discrepancy, CCrashed)):
        c_source = item.config.getoption("--c-source")
        script = write_report(
            Path("iovconf-reports"),
            exc.case.func or "case",
            exc.difference,
            case_to_json(exc.case),
            exc.case.describe(),
            c_source,
        )
        report.sections.append(("iovconf reproducer", f"{script} (and {script.with_suffix('.c')})"))
