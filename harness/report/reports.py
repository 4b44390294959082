"""Discrepancy reports, standalone reproducers, and replaying them."""

from __future__ import annotations

import base64
import hashlib
import re
import zlib
from collections.abc import Sequence
from pathlib import Path

from harness.model.case import Case, case_from_json

#: the most any report file may take (bytes): the .txt, the .py and the .c reproducer
REPORT_LIMIT = 100_000
#: the case JSON a .py reproducer holds as it is; a longer one is held compressed
PLAIN_CASE_LIMIT = 60_000
#: what the .txt gives the case listing and the first difference at most
DETAIL_LIMIT, DIFFERENCE_LIMIT = 40_000, 4_000

REPRO_TEMPLATE = '''#!/usr/bin/env python3
"""iovconf reproducer for {func}: {difference}
{fields}
Rebuilds the exact case below and runs it in the pure-Python port (or, if
OLD_SOURCE is set, in the C built from it) and in the C built from C_SOURCE, then
prints both outcomes and every field that differs.
Run it from an iovconf checkout (python {name}) or with `python -m harness replay {name}`.
Exit status: 0 if the two sides agree now, 1 if they still differ.
"""

C_SOURCE = {c_source!r}
OLD_SOURCE = {old_source!r}
# two aborts of a call agree only if by the same assert (as the run that wrote this judged)
STRICT_ASSERTS = {strict!r}

{case}

if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from harness.report.reports import replay_case_json

    raise SystemExit(replay_case_json(CASE, C_SOURCE, OLD_SOURCE, STRICT_ASSERTS))
'''

#: how a .py reproducer holds its case: as it is, or compressed (zlib, then base64)
PLAIN_CASE = 'CASE = r"""\n{}\n"""'
ZLIB_CASE = '''import base64
import zlib

CASE_ZLIB = """
{}
"""
CASE = zlib.decompress(base64.b64decode(CASE_ZLIB)).decode()'''
#: a case too big even compressed is kept beside the reproducer, in a file of this name
SIDE_CASE = """from pathlib import Path

CASE_FILE = "{}"
CASE = (Path(__file__).resolve().parent / CASE_FILE).read_text()"""


def cut(text: str, limit: int, what: str = "characters") -> str:
    """``text``, or its start and a line saying how much was cut to keep it under ``limit``."""
    if len(text) <= limit:
        return text
    return text[: limit - 80] + f"\n[... {len(text) - limit + 80} more {what} cut: reports are kept short]"


def format_fields(fields: Sequence[str], indent: str = "  ") -> str:
    """Every differing field (harness.model.outcome.differences), one item each, for the terminal and
    the .txt alike; empty when there are none."""
    if not fields:
        return ""
    items = []
    for sentence in fields:
        first, *rest = sentence.splitlines() or [""]
        items.append(f"{indent}- {first}" + "".join(f"\n{indent}  {line}" for line in rest))
    return "every differing field:\n" + "\n".join(items)


def _docstring_text(text: str) -> str:
    """``text`` as it may stand in a (non-raw) docstring: every backslash doubled, no triple quote."""
    return text.replace("\\", "\\\\").replace('"""', "'''")


def _case_block(case_json: str, directory: Path, stem: str) -> tuple[str, str]:
    """How the .py holds ``case_json`` (plain, compressed, or in a side file), and a note on it."""
    if len(case_json) <= PLAIN_CASE_LIMIT:
        return PLAIN_CASE.format(case_json), ""
    packed = base64.b64encode(zlib.compress(case_json.encode(), 9)).decode()
    if len(packed) <= REPORT_LIMIT - 20_000:
        lines = "\n".join(packed[k : k + 76] for k in range(0, len(packed), 76))
        return ZLIB_CASE.format(lines), ""
    side = f"{stem}.case.json"
    (directory / side).write_text(case_json)
    note = (
        f"the case is {len(case_json) // 1000} KB of JSON ({len(packed) // 1000} KB compressed): too large "
        f"for the reproducer, it is kept beside it in {side}"
    )
    return SIDE_CASE.format(side), note


def write_report(
    directory: Path,
    func: str,
    difference: str,
    case_json: str,
    detail: str,
    c_source: str | None,
    old_source: str | None = None,
    fields: Sequence[str] = (),
    strict_asserts: bool | None = None,
) -> Path:
    """Write ``<func>-<hash>.txt``, the reproducers ``<func>-<hash>.py`` and ``<func>-<hash>.c``
    (with the C files it needs in ``iovconf-c-<hash>/`` beside it); returns the ``.py`` script.

    ``fields``: every differing field (harness.model.outcome.differences), listed in the .txt and in
    the reproducers' headers.  Each file stays under REPORT_LIMIT bytes: long texts are cut
    with a line saying so, a long case is compressed, and what the .c checks by CRC instead of
    byte by byte is named in the .txt."""
    directory.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(case_json.encode()).hexdigest()[:10]
    stem = f"{func}-{digest}"
    script = directory / f"{stem}.py"
    difference = cut(difference, DIFFERENCE_LIMIT)
    listed = format_fields(fields)
    case_block, case_note = _case_block(case_json, directory, stem)
    script.write_text(
        REPRO_TEMPLATE.format(
            func=func,
            difference=_docstring_text(difference),
            fields=f"\n{_docstring_text(listed)}\n" if listed else "",
            name=script.name,
            c_source=c_source,
            old_source=old_source,
            strict=strict_asserts_of(c_source, old_source) if strict_asserts is None else strict_asserts,
            case=case_block,
        )
    )
    from .creproducer import build_command, c_program, write_c_support

    support = write_c_support(directory, c_source)
    c_name = f"{stem}.c"
    program = c_program(
        case_from_json(case_json), c_source, f"{func}: {difference}", c_name, support.name, fields
    )
    (directory / c_name).write_text(program.text)
    notes = [n for n in (case_note, *program.notes) if n]
    head = f"function: {func}\nfirst difference: {difference}\n"
    if listed:
        head += listed + "\n"
    tail = (
        f"reproducer: {script} (C alone: {c_name}, with {support.name}/ beside it;\n"
        f"  build and run it in {directory}: {build_command(c_name, support.name)})\n"
        + "".join(f"note: {n}\n" for n in notes)
    )
    source = f"C source: {c_source or 'reference_c/iov.c'}\n"
    room = REPORT_LIMIT - len((head + source + tail).encode()) - 200
    (directory / f"{stem}.txt").write_text(
        f"{head}{source}case:\n{cut(detail, max(min(room, DETAIL_LIMIT), 1000))}\n{tail}"
    )
    return script


def load_case(path: Path) -> tuple[Case, str | None, str | None]:
    """A case from a reproducer script or a case JSON file, with the C source it names and,
    for a C-against-C reproducer, the old source."""
    text = path.read_text()
    if path.suffix == ".py":
        return case_from_json(_script_case(path, text)), _named(text, "C_SOURCE"), _named(text, "OLD_SOURCE")
    return case_from_json(text), None, None


def _script_case(path: Path, text: str) -> str:
    """The case JSON a reproducer holds, in any of the ways write_report holds it."""
    m = re.search(r'^CASE = r"""\n(.*?)\n"""', text, re.S | re.M)
    if m:
        return m.group(1)
    m = re.search(r'^CASE_ZLIB = """\n(.*?)\n"""', text, re.S | re.M)
    if m:
        return zlib.decompress(base64.b64decode(m.group(1))).decode()
    m = re.search(r'^CASE_FILE = "(.*)"$', text, re.M)
    if m:
        return (path.parent / m.group(1)).read_text()
    raise ValueError(f"{path}: no CASE in this reproducer")


def _named(text: str, name: str) -> str | None:
    m = re.search(rf"^{name} = (.*)$", text, re.M)
    if m is None or m.group(1).strip() == "None":
        return None
    return str(m.group(1).strip()[1:-1])


def strict_asserts_of(c_source: str | None, old_source: str | None = None) -> bool:
    """Whether aborts are told apart by their assert when nothing says otherwise: for the port
    against the original iov.c, which it must mirror assert for assert (``harness run``)."""
    from reference_c import DEFAULT_SOURCE

    return old_source is None and (
        c_source is None or Path(c_source).resolve() == Path(DEFAULT_SOURCE).resolve()
    )


def strict_asserts_named(path: Path) -> bool | None:
    """The STRICT_ASSERTS a reproducer script names, if it names one."""
    m = (
        re.search(r"^STRICT_ASSERTS = (True|False)$", path.read_text(), re.M)
        if path.suffix == ".py"
        else None
    )
    return None if m is None else m.group(1) == "True"


def replay_case_json(
    case_json: str, c_source: str | None, old_source: str | None = None, strict_asserts: bool | None = None
) -> int:
    """Judge a case again, exactly as a campaign does (the same judge step, UB claims checked
    by the oracle); print both outcomes.  0 when they agree, 1 when not.  With ``old_source``
    the port's place is taken by the C built from it (a C-against-C reproducer).
    ``strict_asserts`` None: as :func:`strict_asserts_of` says."""
    import reference_c
    from harness.model.outcome import differences
    from harness.verdict.judge import CCrashed, Discrepancy, Judge
    from harness.worlds.world import CWorld, PyWorld, World

    case = case_from_json(case_json)
    port: World = PyWorld() if old_source is None else CWorld(reference_c.load(old_source), "OLD")
    strict = strict_asserts_of(c_source, old_source) if strict_asserts is None else strict_asserts
    judge = Judge(
        port, CWorld(reference_c.load(c_source), "C" if old_source is None else "NEW"), strict_asserts=strict
    )
    print(f"case ({case.func}):\n{case.describe()}")
    try:
        outcome = judge.check(case)
    except Discrepancy as d:
        for name, o in zip(d.names, d.outcomes, strict=True):
            if o is not None:
                print(f"{name}: {'; '.join(r.show() for r in o.results)}")
        print(f"DIFFERENT: {d.difference}")
        ours, theirs = d.outcomes
        if ours is not None and theirs is not None:
            print(format_fields(differences(ours, theirs, d.names)))
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
