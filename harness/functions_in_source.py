"""Which of the port's functions a built C source has, as the port has them, and why not.

One rule for every command that judges a source (run, revisions, coverage, mutate): a
function the original iov.c has and the source lacks is missing, one it defines with another
prototype is changed (both are differences, unless a known-differences file lists them); a
function the port has from a later upstream file is simply not there yet; one the source
defines and the port does not know is added (there is nothing to judge it against).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyimpl.ctable import ADDED_UPSTREAM, BY_NAME

if TYPE_CHECKING:
    from reference_c.reference import Reference

__all__ = ["InSource", "in_source"]


@dataclass(frozen=True)
class InSource:
    """How a C source's functions meet the port's, for a list of them: which are judged, and
    why each other one is not."""

    run: list[str]  # defined as the port's table has them: judged
    missing: list[str]  # the original iov.c has them, this source does not: a difference
    changed: dict[str, str]  # defined with another prototype (the source's): a difference
    later: dict[str, str]  # the port has them from a later upstream file (its tag): not yet here
    added: list[str]  # defined by the source, unknown to the port: nothing to judge them against


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
    )
