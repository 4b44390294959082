"""The commands of ``python -m harness``, one module each, registered in :data:`COMMANDS`.

Each module has ``add_parser(sub)``, which adds its sub-command and sets ``handler``, the
function that runs it and gives its exit status.  ``harness.cli`` parses and dispatches;
nothing else imports a command.
"""

from __future__ import annotations

from types import ModuleType

from . import bench, coverage, diff, fuzz, listing, merge, mutate, replay, revisions, run

#: every command, in the order ``python -m harness --help`` lists them
COMMANDS: tuple[ModuleType, ...] = (
    run,
    mutate,
    coverage,
    fuzz,
    listing,
    diff,
    revisions,
    merge,
    bench,
    replay,
)
