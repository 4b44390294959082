"""docs/library.md's examples run: its >>> blocks are doctests (the virtio-blk scenario on
the port and on the C code, and the strict memory's promises)."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "library.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)


def test_the_library_doc_runs_as_doctests() -> None:
    blocks = _blocks()
    assert len(blocks) >= 2 and all(">>>" in b for b in blocks)
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for k, block in enumerate(blocks):
        test = parser.get_doctest(block, {}, f"docs/library.md block {k}", str(DOC), 0)
        result = runner.run(test)
        assert result.failed == 0, block


def test_the_virtio_scenario_is_about_15_lines() -> None:
    scenario = _blocks()[0]
    lines = [ln for ln in scenario.splitlines() if ln.startswith((">>> ", "... "))]
    # the scenario itself: request() and serve(), without the imports, the disk and the checks
    start = next(i for i, ln in enumerate(lines) if "def request" in ln)
    end = next(i for i, ln in enumerate(lines) if ln.startswith(">>> port = "))
    assert end - start <= 16
