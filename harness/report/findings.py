"""Telling what a run found, the same way for ``run`` and ``diff``: every distinct difference
with its case and report (the most telling first), the notes, and the functions not judged.

A difference of behaviour (a value, an abort against a return, memory, heap use, errno)
comes before a refuted UB claim, and every difference before a note.  A function that was
selected but not judged is said so, with why: it is never counted as agreeing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from harness.model.outcome import rank
from harness.model.results import Finding, FunctionResult, dedupe
from harness.verdict.expected import Expected
from harness.verdict.functions_in_source import InSource
from iovspec.ctable import BY_NAME

from . import export
from .reports import format_fields, write_report

__all__ = ["Unjudged", "not_judged", "ranked", "show_differences", "show_notes", "show_unjudged"]


def ranked(rows: Sequence[export.Row]) -> list[export.Row]:
    """A command's rows in the order it tells them: the red ones first, the most telling kind
    first (as the terminal shows them), then the rest as they came."""
    return sorted(rows, key=lambda r: (not r.red, rank(r.kind) if r.red else 0))


@dataclass(frozen=True)
class Unjudged:
    """A selected function no case judged, and why."""

    func: str
    category: str  # missing, changed prototype, not in this source, added, no case
    why: str
    red: bool  # whether it fails the run (an unlisted missing function or changed prototype)


def not_judged(
    selected: Sequence[str], found: InSource, expected: Expected, cases: dict[str, int]
) -> list[Unjudged]:
    """Every function of ``selected`` no case judged (``cases``: cases judged per function),
    and every function only the source has."""
    out: list[Unjudged] = []
    for func in selected:
        # a static helper is not observable from outside the file: a change of its prototype,
        # or its removal, is spelling; what it does shows through its callers, judged
        helper = " (a static helper: judged through its callers)" if _static(func) else ""
        if func in found.missing:
            why = expected.missing.get(func)
            said = "not in the C source" + (f" (listed: {why})" if why else helper)
            out.append(Unjudged(func, "missing", said, not why and not helper))
        elif func in found.changed:
            why = expected.changed.get(func)
            said = f"another prototype: {found.changed[func]}" + (f" (listed: {why})" if why else helper)
            out.append(Unjudged(func, "changed prototype", said, not why and not helper))
        elif func in found.later:
            out.append(
                Unjudged(
                    func, "not in this source", f"the port has it from upstream {found.later[func]}", False
                )
            )
        elif func in found.unjudged:
            out.append(Unjudged(func, "not callable", found.unjudged[func], False))
        elif func in found.run and not cases.get(func):
            out.append(Unjudged(func, "no case", "no engine judged a case of it", False))
    out += [
        Unjudged(f, "added", "only the C source has it: the port has nothing to judge it by", False)
        for f in found.added
    ]
    return out


def _static(func: str) -> bool:
    row = BY_NAME.get(func)
    return row is not None and row.kind == "static"


def show_unjudged(console: Console, unjudged: Sequence[Unjudged], group: str) -> list[export.Row]:
    for u in unjudged:
        console.print(
            f"  {u.func}: NOT JUDGED ({u.category}): {u.why}" + (" [a difference]" if u.red else "")
        )
    return [
        export.Row(group, u.func, export.NOT_JUDGED, difference=u.why, kind=u.category, red=u.red)
        for u in unjudged
    ]


@dataclass(frozen=True)
class Shown:
    """A difference as told: what found it, the finding, and its reproducer."""

    result: FunctionResult
    finding: Finding
    reproducer: Path


def show_differences(
    console: Console,
    results: Sequence[FunctionResult],
    report_dir: Path,
    c_source: str | None,
    old_source: str | None = None,
    headline: Callable[[FunctionResult, Finding], str] | None = None,
    trailer: str = "",
    strict_asserts: bool | None = None,
) -> list[Shown]:
    """Print every distinct difference of ``results`` (the most telling first, across
    functions), each with every field that differs, its case and its reproducer (written)."""
    pairs = dedupe(list(results))
    pairs.sort(key=lambda p: rank(p[1].kind))  # stable: within a rank, in the order found
    shown: list[Shown] = []
    for r, f in pairs:
        assert f.case_json is not None
        script = write_report(
            report_dir,
            r.func,
            f.difference,
            f.case_json,
            f.detail,
            c_source,
            old_source,
            fields=f.fields,
            strict_asserts=strict_asserts,
        )
        also = f"; also found by the {', '.join(f.also_found_by)} engine" if f.also_found_by else ""
        head = headline(r, f) if headline is not None else _headline(r, f)
        lines = [f"\n{head} ({r.engine} engine{also}): {f.kind}{f' ({f.where})' if f.where else ''}"]
        lines.append(f"  {f.difference}")
        if len(f.fields) > 1:
            lines.append("  " + format_fields(f.fields, "    "))
        lines += [f"case:\n{f.detail}", f"reproducer: {script}  (python -m harness replay {script})"]
        if trailer:
            lines.append(trailer)
        console.print("\n".join(lines))
        shown.append(Shown(r, f, script))
    return shown


def _headline(r: FunctionResult, f: Finding) -> str:
    if f.kind == "a hang":
        return f"HUNG on case {r.func}"
    return f"C CRASHED on case {r.func}" if f.crashed else f"DISCREPANCY in {r.func}"


def show_notes(
    console: Console, results: Sequence[FunctionResult], group: Callable[[FunctionResult], str]
) -> list[export.Row]:
    """Print each note once per function and kind (never red); their rows."""
    rows: list[export.Row] = []
    smallest: dict[tuple[str, str, str], tuple[FunctionResult, Finding]] = {}
    for r in results:
        for n in r.notes:
            key = (r.func, *n.key)
            if key not in smallest or n.size() < smallest[key][1].size():
                smallest[key] = (r, n)
    for r, n in smallest.values():
        console.print(f"\nnote: {r.func}: {n.kind} ({n.where}): {n.difference}\n{n.detail}")
        rows.append(
            export.Row(
                group(r),
                r.func,
                "note",
                difference=n.difference,
                kind=n.kind,
                where=n.where,
                case=n.detail,
                case_json=n.case_json or "",
            )
        )
    return rows
