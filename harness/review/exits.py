"""The exit statuses of ``harness run`` and ``harness diff``, and what ``--bisect`` makes of them.

``git bisect run`` reads a command's exit status: 0 the commit is good, 1-127 (but 125)
bad, 125 skip it (it cannot be tested), anything else stop the bisection.  The harness's
own statuses map onto those here, in one table, so a usage error never passes for a bad
commit and a source that does not build is skipped, not blamed.
"""

from __future__ import annotations

#: every case agreed (nothing changed)
EXIT_AGREE = 0
#: a discrepancy: something changed
EXIT_DIFFER = 1
#: a usage, build or harness error
EXIT_USAGE = 2

#: internal outcomes that the plain statuses fold into EXIT_USAGE, told apart for --bisect
DOES_NOT_BUILD = "the source does not build"
NOTHING_JUDGED = "no case of a selected function was judged"

#: git bisect run: good, bad, skip this commit, stop the bisection
BISECT_GOOD, BISECT_BAD, BISECT_SKIP, BISECT_STOP = 0, 1, 125, 128

_PLAIN: dict[int | str, int] = {
    EXIT_AGREE: EXIT_AGREE,
    EXIT_DIFFER: EXIT_DIFFER,
    EXIT_USAGE: EXIT_USAGE,
    DOES_NOT_BUILD: EXIT_USAGE,
    NOTHING_JUDGED: EXIT_USAGE,
}
_BISECT: dict[int | str, int] = {
    EXIT_AGREE: BISECT_GOOD,
    EXIT_DIFFER: BISECT_BAD,
    EXIT_USAGE: BISECT_STOP,  # a usage or harness error says nothing about the commit
    DOES_NOT_BUILD: BISECT_SKIP,
    NOTHING_JUDGED: BISECT_SKIP,  # no case judged (e.g. only uncampaigned functions changed): cannot tell
}


def exit_status(outcome: int | str, bisect: bool) -> int:
    """The process's exit status for ``outcome`` (a plain status or an internal outcome);
    an unknown one is an error (2), or a stop (128) under ``--bisect``."""
    return (_BISECT if bisect else _PLAIN).get(outcome, BISECT_STOP if bisect else EXIT_USAGE)
