"""iovconf's differential harness: twin worlds, outcomes, strategies, campaigns.

What a test or a pytest-plugin user imports has a public name here, wherever it lives in the
packages (``from harness import CAMPAIGNS, Judge``); each is loaded on first use, so importing
one module of the harness does not load them all.  The packages themselves are mapped in
docs/DESIGN.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.campaign.pool import CAMPAIGNS as CAMPAIGNS
    from harness.generate.strategies import STRATEGIES as STRATEGIES
    from harness.model.case import Builder as Builder
    from harness.model.case import Case as Case
    from harness.model.case import case_from_json as case_from_json
    from harness.model.case import case_to_json as case_to_json
    from harness.report.reports import replay_case_json as replay_case_json
    from harness.verdict.judge import Discrepancy as Discrepancy
    from harness.verdict.judge import Judge as Judge
    from harness.worlds.world import CWorld as CWorld
    from harness.worlds.world import PyWorld as PyWorld
    from harness.worlds.world import run_case as run_case

#: each public name and the module that defines it
PUBLIC = {
    "CAMPAIGNS": "harness.campaign.pool",
    "STRATEGIES": "harness.generate.strategies",
    "Builder": "harness.model.case",
    "Case": "harness.model.case",
    "case_from_json": "harness.model.case",
    "case_to_json": "harness.model.case",
    "replay_case_json": "harness.report.reports",
    "Discrepancy": "harness.verdict.judge",
    "Judge": "harness.verdict.judge",
    "CWorld": "harness.worlds.world",
    "PyWorld": "harness.worlds.world",
    "run_case": "harness.worlds.world",
}
__all__ = sorted(PUBLIC)


def __getattr__(name: str) -> Any:
    module = PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # looked up once
    return value
