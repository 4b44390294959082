"""``--only changed``: the functions a patch touched, and every function that reaches them.

A function *changed* when its code differs between the two sources: its fingerprint
(``reference_c.csource``: pycparser's regenerated text, so comments, whitespace, line
moves and the spelling of an assert's text do not count; with the source's declarations
it names) is not the same, or only one source defines it.  Every function of either
source that calls a changed one, directly or through others, is selected with it: a
changed static helper (``iov_skip_offset``, ``qiov_slice``) is judged through its callers.
Only functions the harness has a campaign for are judged; a changed function without one
is named, with why it is not.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

# the functions with a campaign are those with a strategy (harness.campaign.pool.CAMPAIGNS)
from harness.generate.strategies import STRATEGIES as CAMPAIGNS
from reference_c.csource import SourceInfo, read_source

#: the word of ``--only`` that asks for this selection
CHANGED = "changed"


@dataclass
class Selection:
    """What ``--only`` chose, each function with why."""

    funcs: list[str]  # to judge, in campaign (table) order
    reasons: dict[str, str]  # every function of funcs -> why it was chosen
    changed: dict[str, str] = field(default_factory=dict)  # every changed function -> how
    #: changed functions without a campaign of their own -> how they are judged, or why not
    uncovered: dict[str, str] = field(default_factory=dict)
    #: the changed functions of ``uncovered`` that nothing selected reaches
    unjudged: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """What the command prints about the selection, a line per function."""
        out = [f"  {f}: {self.reasons[f]}" for f in self.funcs]
        return out + [f"  {f}: {self.changed[f]}, {why}" for f, why in self.uncovered.items()]


def split_only(text: str | None) -> tuple[bool, list[str]]:
    """(whether ``changed`` is asked for, the other names) of an ``--only`` value."""
    names = [n.strip() for n in (text or "").split(",") if n.strip()]
    return CHANGED in names, [n for n in names if n != CHANGED]


def changed_functions(old: SourceInfo, new: SourceInfo) -> dict[str, str]:
    """Each function whose code differs from ``old`` to ``new`` -> ``code changed``, ``added``
    (only ``new`` defines it) or ``removed`` (only ``old`` does), in file order."""
    out: dict[str, str] = {}
    for name in dict.fromkeys([*old.fingerprints, *new.fingerprints]):
        before, after = old.fingerprints.get(name), new.fingerprints.get(name)
        if before is None:
            out[name] = "added"
        elif after is None:
            out[name] = "removed"
        elif before != after:
            out[name] = "code changed"
    return out


def _callers(graphs: Iterable[Mapping[str, frozenset[str]]]) -> dict[str, set[str]]:
    """callee -> the functions that name it, in any of ``graphs``."""
    out: dict[str, set[str]] = {}
    for calls in graphs:
        for caller, callees in calls.items():
            for callee in callees:
                out.setdefault(callee, set()).add(caller)
    return out


def _reaching(name: str, callers: Mapping[str, set[str]]) -> set[str]:
    """Every function that reaches ``name`` through ``callers`` (callee -> callers)."""
    found: set[str] = set()
    todo = [name]
    while todo:
        for caller in callers.get(todo.pop(), ()):
            if caller not in found:
                found.add(caller)
                todo.append(caller)
    return found


def explain(changed: Mapping[str, str], old: SourceInfo, new: SourceInfo) -> dict[str, tuple[str, str]]:
    """Each changed function with how, and each function that reaches one with which: ``calls X``
    (directly) or ``calls X via Y`` (through Y, which calls X, maybe through more); each
    with the changed function that explains it."""
    out = {f: (how, f) for f, how in changed.items()}
    callers = _callers((old.calls, new.calls))
    todo = deque(changed)
    while todo:  # breadth first: each caller is explained by its nearest changed callee
        callee = todo.popleft()
        root = out[callee][1]
        for caller in sorted(callers.get(callee, ())):
            if caller not in out:
                via = "" if callee == root else f" via {callee}"
                out[caller] = (f"calls {root}{via}", root)
                todo.append(caller)
    return out


def select(old_path: str | Path, new_path: str | Path, named: Iterable[str] = ()) -> Selection:
    """The functions to judge for ``--only changed[,NAME...]`` between two sources.

    Raises :class:`reference_c.csource.CSourceError` when a source cannot be parsed.
    """
    old, new = read_source(old_path), read_source(new_path)
    changed = changed_functions(old, new)
    why = explain(changed, old, new)
    graph = _callers((old.calls, new.calls))
    for name in named:
        why.setdefault(name, ("named", name))
    funcs = [f for f in CAMPAIGNS if f in why]
    uncovered, unjudged = {}, []
    for f in changed:
        if f in CAMPAIGNS:
            continue
        through = [c for c in funcs if c in _reaching(f, graph)]
        if through:
            uncovered[f] = f"no campaign of its own: judged through {', '.join(through)}"
        else:
            uncovered[f] = "no campaign, and no function with one calls it: NOT JUDGED"
            unjudged.append(f)
    return Selection(funcs, {f: why[f][0] for f in funcs}, changed, uncovered, unjudged)
