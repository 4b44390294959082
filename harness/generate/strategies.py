"""The Hypothesis strategy of each C function's cases, by C name, in table order.

Each is its family (``harness.generate.families``) answered by Hypothesis draws: one drawn
layout, one drawn test.  The families lean on the corners of iov.c: 0-2 vectors and
large counts, zero-length entries, NULL bases, overlapping and out-of-order bases,
offsets at every boundary and +-1, byte counts 0, exact, past the end, and size_t
values near 2**64.  Cases whose C execution would be undefined are still drawn; the
port classifies them and the UB oracle checks the claim.
"""

from __future__ import annotations

from hypothesis import strategies as st

from harness.model.case import Case
from iovspec.ctable import TABLE

from .families import FAMILIES, strategy

#: a strategy of cases for each function under test, by C name
STRATEGIES: dict[str, st.SearchStrategy[Case]] = {
    f.name: strategy(f.name) for f in TABLE if f.name in FAMILIES
}
#: the functions of STRATEGIES whose cases need no sockets or streams
MEMORY_FUNCTIONS = tuple(f for f in STRATEGIES if FAMILIES[f].enumerable)
