"""``--summary FILE``: what a ``run`` or ``diff`` found, in at most 40 lines of Markdown.

Written for a reviewer to paste into a mailing-list reply: per function whether it is the
same or changed (or not judged, missing, added, with the reason), each change with its
kind, its minimal case as C (``harness.report.ccalls``) and the command that reproduces it, and
the command that repeats the whole run.  It is derived from the command's one
:class:`harness.report.export.Record` (as JSON and JUnit are): a function is changed when one of
its rows is red, and each red row with a case is one change.  Rows are read tolerantly
(fields a record does not have are empty; verdicts this module does not know are shown
as they are).  When it would run past :data:`MAX_LINES`, the least important parts go
first (the later changes, then the rows of functions that did not fail) and a line says
how many were left out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.model.case import case_from_json

from .ccalls import c_lines
from .reports import load_case

#: the most lines a summary has
MAX_LINES = 40
#: verdicts that mean the function behaved the same on every case
SAME = frozenset({"agree", "same"})
#: verdicts of a red row that mean "it behaves otherwise" (rather than "it could not be judged")
CHANGED = frozenset({"differs", "changed"})
#: a difference text is cut to this many characters
SHORT = 160
#: functions named on the line of those that are the same
SHOWN_SAME = 16


def _field(row: Any, name: str, default: Any = "") -> Any:
    return getattr(row, name, default) if not isinstance(row, Mapping) else row.get(name, default)


def _short(text: str, limit: int = SHORT) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


@dataclass
class _Function:
    """One function's rows."""

    name: str
    rows: list[Any] = field(default_factory=list)

    @property
    def red(self) -> list[Any]:
        return [r for r in self.rows if _field(r, "red", False)]

    @property
    def verdicts(self) -> list[str]:
        return list(dict.fromkeys(str(_field(r, "verdict")) for r in self.rows))

    def label(self) -> str:
        """``changed``, ``same``, or the verdicts that are neither (``missing``, ``not judged``...)."""
        red = self.red
        if red:
            if any(_field(r, "verdict") in CHANGED for r in red):
                return "changed"
            return ", ".join(dict.fromkeys(str(_field(r, "verdict")) for r in red))
        others = [v for v in self.verdicts if v not in SAME]
        if not others:
            return "same"
        same = any(v in SAME for v in self.verdicts)  # judged the same, with notes
        return ", ".join(["same", *others] if same else others)

    def detail(self) -> str:
        """What the table says after the label."""
        red = self.red
        if red:
            changes = [f"{_field(r, 'kind')} ({_field(r, 'where')})" for r in red if _field(r, "kind")]
            plain = [_field(r, "difference") for r in red if not _field(r, "kind")]
            return _short("; ".join(dict.fromkeys([*changes, *(p for p in plain if p)])))
        notes = [_field(r, "difference") for r in self.rows if _field(r, "verdict") not in SAME]
        return _short("; ".join(dict.fromkeys(n for n in notes if n)))


def _functions(rows: Iterable[Any]) -> list[_Function]:
    by_name: dict[str, _Function] = {}
    for row in rows:
        name = str(_field(row, "function"))
        by_name.setdefault(name, _Function(name)).rows.append(row)
    return list(by_name.values())


def _changes(rows: Iterable[Any]) -> list[Any]:
    """One red row with a case (or a reproducer) per (function, kind, where): the one with a
    reproducer, else the one with the smallest case."""
    best: dict[tuple[str, str, str], Any] = {}
    for row in rows:
        if not (_field(row, "red", False) and (_field(row, "case_json") or _field(row, "reproducer"))):
            continue
        key = (str(_field(row, "function")), str(_field(row, "kind")), str(_field(row, "where")))
        rank = (not _field(row, "reproducer"), len(_field(row, "case_json")))
        old = best.get(key)
        if old is None or rank < (not _field(old, "reproducer"), len(_field(old, "case_json"))):
            best[key] = row
    return list(best.values())


def _case_lines(row: Any) -> list[str]:
    """The row's case as C: from its ``case_json``, else from its reproducer."""
    try:
        if _field(row, "case_json"):
            return c_lines(case_from_json(_field(row, "case_json")))
        return c_lines(load_case(Path(_field(row, "reproducer")))[0])
    except (OSError, ValueError, KeyError, TypeError) as exc:  # a case this version cannot read
        return [f"/* the case cannot be shown ({type(exc).__name__}: {exc}): see the reproducer */"]


def _change_block(row: Any, replay: str) -> list[str]:
    what = f"{_field(row, 'kind') or 'a difference'}" + (
        f" ({_field(row, 'where')})" if _field(row, "where") else ""
    )
    out = [f"**`{_field(row, 'function')}`: {what}**: {_short(_field(row, 'difference'))}", "```c"]
    out += _case_lines(row)
    out.append("```")
    script = _field(row, "reproducer")
    out.append(f"reproduce: `python -m harness replay {script}`" if script else f"reproduce: `{replay}`")
    return out


def render(
    record: Any,
    title: str,
    reasons: Mapping[str, str] | None = None,
    notes: Sequence[str] = (),
    max_lines: int = MAX_LINES,
) -> str:
    """The summary of ``record`` (a :class:`harness.report.export.Record`); ``title`` names what was
    compared, ``reasons`` why each function was chosen (``--only changed``), ``notes`` lines
    said before the table."""
    reasons = reasons or {}
    functions = _functions(_field(record, "rows", []))
    failed = [f for f in functions if f.red]
    same = [f for f in functions if f.label() == "same"]
    other = [f for f in functions if not f.red and f.label() != "same"]
    replay = str(_field(record, "replay"))
    changed = [f for f in failed if f.label() == "changed"]
    # a red row that is not a change (not judged, an error) is counted as what it is
    counts = [f"**{len(changed)} changed**" if changed else "0 changed" if failed else "nothing changed"]
    counts += [
        f"**{n} {label}**" for label, n in Counter(f.label() for f in failed if f not in changed).items()
    ]
    counts += [f"{len(same)} same"] + ([f"{len(other)} other"] if other else [])
    counts = counts if functions else ["nothing judged"]
    seed = _field(record, "seed", None)
    how = [f"profile {_field(record, 'profile')}", *([f"seed {seed}"] if seed is not None else [])]
    head = [
        f"### iovconf {_field(record, 'command')}: {title}",
        f"{', '.join(counts)} ({', '.join(how)}; exit {_field(record, 'exit_status')})",
        *notes,
    ]

    def row(f: _Function) -> list[str]:
        why = f" | {reasons.get(f.name, '')}" if reasons else ""
        label = f"**{f.label()}**" if f.red else f.label()
        detail = f.detail()
        return [f"| `{f.name}` | {label}{': ' + detail if detail else ''}{why} |"]

    def same_line() -> list[str]:
        if not same:
            return []
        names = [f"`{f.name}`" + (f" ({reasons[f.name]})" if f.name in reasons else "") for f in same]
        more = len(names) - SHOWN_SAME
        return [f"same: {', '.join(names[:SHOWN_SAME])}" + (f" and {more} more" if more > 0 else "")]

    table_head = [
        "",
        "| function | verdict |" + (" chosen |" if reasons else ""),
        "|---|---|" + ("---|" * bool(reasons)),
    ]
    # the parts that may be left out, in the order they are shown, each with its rank (kept first)
    parts: list[tuple[int, str, list[str]]] = [(0, "function", row(f)) for f in failed]
    parts += [(2, "function", row(f)) for f in other]
    for k, change in enumerate(_changes(_field(record, "rows", []))):
        parts.append((1 if k == 0 else 3, "change", ["", *_change_block(change, replay)]))
    tail = ["", f"the whole run again: `{replay}`"]
    fixed = len(head) + (len(table_head) if failed or other else 0) + len(same_line()) + len(tail)
    budget = max_lines - fixed - 1  # a line for what was left out
    kept: set[int] = set()
    for i in sorted(range(len(parts)), key=lambda i: parts[i][0]):  # stable: earlier first
        if len(parts[i][2]) <= budget:
            kept.add(i)
            budget -= len(parts[i][2])

    def shown(what: str) -> list[str]:
        return [
            line for i, (_, kind, lines) in enumerate(parts) if i in kept and kind == what for line in lines
        ]

    out = [
        *head,
        *(table_head + shown("function") if failed or other else []),
        *same_line(),
        *shown("change"),
    ]
    left_out: dict[str, int] = {}
    for i, (_, what, _) in enumerate(parts):
        if i not in kept:
            left_out[what] = left_out.get(what, 0) + 1
    if left_out:
        said = ", ".join(f"{n} {what}{'s' if n > 1 else ''}" for what, n in left_out.items())
        out.append(f"({said} left out to keep this short: see the command's output, --json or --junitxml)")
    return "\n".join([*out, *tail]) + "\n"
