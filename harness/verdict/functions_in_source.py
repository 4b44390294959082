"""Which of the port's functions a built C source has, as the port has them, and why not.

One rule for every command that judges a source (run, diff, revisions, coverage, mutate): a
function the original iov.c has and the source lacks is missing, one it defines with a
prototype that takes or returns other values is changed (both are differences, unless a
known-differences file lists them); one whose prototype is only spelt otherwise (a parameter
renamed, ``const`` added, ``unsigned`` for ``unsigned int``) is judged as usual, with a note;
a function the port has from a later upstream file is simply not there yet; one the source
defines and the port does not know is added (there is nothing to judge it against).

``harness diff OLD NEW`` applies the same rule to both sources: a function is judged when
both have it as the port's table describes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from iovspec.ctable import ADDED_UPSTREAM, BY_NAME

if TYPE_CHECKING:
    from reference_c.reference import Reference

__all__ = ["InSource", "in_source", "in_sources"]


@dataclass(frozen=True)
class InSource:
    """How a C source's functions meet the port's, for a list of them: which are judged, and
    why each other one is not."""

    run: list[str]  # defined as the port's table has them (or spelt otherwise): judged
    missing: list[str]  # the original iov.c has them, this source does not: a difference
    changed: dict[str, str]  # defined with another prototype (the source's): a difference
    later: dict[str, str]  # the port has them from a later upstream file (its tag): not yet here
    added: list[str]  # defined by the source, unknown to the port: nothing to judge them against
    #: judged, with a note: the source spells the prototype otherwise (name -> the source's)
    respelt: dict[str, str] = field(default_factory=dict)
    #: C against C: not judged, and no difference (name -> why), e.g. both sources define it
    #: with the same prototype the port's table does not describe
    unjudged: dict[str, str] = field(default_factory=dict)


def in_source(reference: Reference, funcs: list[str]) -> InSource:
    """Sort ``funcs`` by what ``reference`` (a built source) has of them; every function the
    source defines that the port does not know is listed as added."""
    lacking, other = set(reference.missing), dict(reference.changed)
    later = {f: BY_NAME[f].source for f in funcs if f in lacking and f in ADDED_UPSTREAM}
    return InSource(
        run=[f for f in funcs if f not in lacking and f not in other],
        missing=[f for f in funcs if f in lacking and f not in later],
        changed={f: other[f] for f in funcs if f in other},
        later=later,
        added=sorted(reference.added),
        respelt={f: p for f, p in reference.respelt.items() if f in funcs},
    )


def in_sources(old: Reference, new: Reference, funcs: list[str]) -> InSource:
    """``funcs`` sorted for C against C: judged where both sources have a function as the
    table describes it; missing where NEW lacks what OLD has, added the other way round;
    changed where one defines it as the table does and the other with another prototype."""
    a, b = in_source(old, funcs), in_source(new, funcs)
    has_a = set(a.run) | set(a.changed)
    has_b = set(b.run) | set(b.changed)
    run, missing, changed, unjudged, respelt = [], [], {}, {}, {}
    for f in funcs:
        if f in has_a and f not in has_b:
            missing.append(f)
        elif f not in has_a or f not in has_b:
            continue  # added (below), or in neither
        elif f in a.run and f in b.run:
            run.append(f)
            if old.prototypes.get(f) != new.prototypes.get(f):
                respelt[f] = f"{old.prototypes.get(f)}  ->  {new.prototypes.get(f)}"
        elif f in a.changed and f in b.changed and a.changed[f] == b.changed[f]:
            unjudged[f] = f"both define it as {b.changed[f]}, which the port's table does not describe"
        else:
            changed[f] = f"{old.prototypes.get(f)}  ->  {new.prototypes.get(f)}"
    added = sorted({f for f in funcs if f in has_b and f not in has_a} | (set(new.added) - set(old.added)))
    return InSource(run, missing, changed, {}, added, respelt, unjudged)
