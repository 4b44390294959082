"""Discrepancy reports, standalone reproducers, and replaying them."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from .case import Case, case_from_json

REPRO_TEMPLATE = '''#!/usr/bin/env python3
"""iovconf reproducer for {func}: {difference}

Rebuilds the exact case below and runs it in the pure-Python port (or, if
OLD_SOURCE is set, in the C built from it) and in the C built from C_SOURCE, then
prints both outcomes and the first difference.
Run it from an iovconf checkout (python {name}) or with `python -m harness replay {name}`.
Exit status: 0 if the two sides agree now, 1 if they still differ.
"""

C_SOURCE = {c_source!r}
OLD_SOURCE = {old_source!r}

CASE = r"""
{case_json}
"""

if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from harness.report import replay_case_json

    raise SystemExit(replay_case_json(CASE, C_SOURCE, OLD_SOURCE))
'''


def write_report(
    directory: Path,
    func: str,
    difference: str,
    case_json: str,
    detail: str,
    c_source: str | None,
    old_source: str | None = None,
) -> Path:
    """Write ``<func>-<hash>.txt``, the reproducers ``<func>-<hash>.py`` and ``<func>-<hash>.c``
    (with the C files it needs in ``iovconf-c-<hash>/`` beside it); returns the ``.py`` script."""
    directory.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(case_json.encode()).hexdigest()[:10]
    stem = f"{func}-{digest}"
    script = directory / f"{stem}.py"
    script.write_text(
        REPRO_TEMPLATE.format(
            func=func,
            difference=difference.replace('"""', "'''"),
            name=script.name,
            c_source=c_source,
            old_source=old_source,
            case_json=case_json,
        )
    )
    from .creproducer import build_command, c_reproducer, write_c_support

    support = write_c_support(directory, c_source)
    c_name = f"{stem}.c"
    (directory / c_name).write_text(
        c_reproducer(case_from_json(case_json), c_source, f"{func}: {difference}", c_name, support.name)
    )
    (directory / f"{stem}.txt").write_text(
        f"function: {func}\nfirst difference: {difference}\nC source: {c_source or 'reference_c/iov.c'}\n"
        f"case:\n{detail}\nreproducer: {script} (C alone: {c_name}, with {support.name}/ beside it;\n"
        f"  build and run it in {directory}: {build_command(c_name, support.name)})\n"
    )
    return script


def load_case(path: Path) -> tuple[Case, str | None, str | None]:
    """A case from a reproducer script or a case JSON file, with the C source it names and,
    for a C-against-C reproducer, the old source."""
    text = path.read_text()
    if path.suffix == ".py":
        m = re.search(r'^CASE = r"""\n(.*?)\n"""', text, re.S | re.M)
        if not m:
            raise ValueError(f"{path}: no CASE in this reproducer")
        return case_from_json(m.group(1)), _named(text, "C_SOURCE"), _named(text, "OLD_SOURCE")
    return case_from_json(text), None, None


def _named(text: str, name: str) -> str | None:
    m = re.search(rf"^{name} = (.*)$", text, re.M)
    if m is None or m.group(1).strip() == "None":
        return None
    return str(m.group(1).strip()[1:-1])


def replay_case_json(case_json: str, c_source: str | None, old_source: str | None = None) -> int:
    """Judge a case again, exactly as a campaign does (the same judge step, UB claims checked
    by the oracle); print both outcomes.  0 when they agree, 1 when not.  With ``old_source``
    the port's place is taken by the C built from it (a C-against-C reproducer)."""
    import reference_c

    from .judge import CCrashed, Discrepancy, Judge
    from .worlds import CWorld, PyWorld, World

    case = case_from_json(case_json)
    port: World = PyWorld() if old_source is None else CWorld(reference_c.load(old_source), "OLD")
    judge = Judge(port, CWorld(reference_c.load(c_source), "C" if old_source is None else "NEW"))
    print(f"case ({case.func}):\n{case.describe()}")
    try:
        outcome = judge.check(case)
    except Discrepancy as d:
        for name, o in zip(d.names, d.outcomes, strict=True):
            if o is not None:
                print(f"{name}: {'; '.join(r.show() for r in o.results)}")
        print(f"DIFFERENT: {d.difference}")
        return 1
    except CCrashed as crash:
        print(f"DIFFERENT: {crash.what}: {crash.difference}")
        return 1
    print(f"both: {'; '.join(r.show() for r in outcome.results)}")
    if outcome.ub is not None:
        print(f"AGREE: undefined behaviour ({outcome.ub.kind}), confirmed in C by the sanitizers")
    else:
        print("AGREE")
    return 0
