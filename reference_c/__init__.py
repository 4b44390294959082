"""The compiled C original (QEMU util/iov.c) behind the same API as pyimpl.

``load()`` builds (or finds in the cache) a cffi extension of the chosen C
source with our shims, and returns a :class:`Reference`.  ``Reference.memory()``
gives a :class:`CMemory`: real process memory with the same loads, stores and
heap observers as :class:`pyimpl.memory.Memory`.  The module-level functions
(one per row of :mod:`pyimpl.ctable`, see ``_facade.py``) take that memory first
and then the C arguments in C order; pointers are int addresses (NULL is 0) and
ints are converted to the C parameter types the way C converts them.

A failing C assert raises :class:`pyimpl.errors.CAssertionError`, a fatal GLib
error :class:`pyimpl.errors.GLibFatalError`, a fatal signal :class:`CCrash`,
an endless loop :class:`CTimeout` and a function the source lacks (or defines
with another prototype) :class:`MissingFunction`; the process survives all of
them (trap flavour).
"""

from __future__ import annotations

from . import _facade
from ._facade import *  # noqa: F403  (the C functions, generated from the table)
from ._forked import AbortModeMismatch
from .errors import BuildError, CCrash, CTimeout, MissingFunction
from .reference import DEFAULT_SOURCE, DEFAULT_TIMEOUT, CMemory, Reference, load

__all__ = [
    "DEFAULT_SOURCE",
    "DEFAULT_TIMEOUT",
    "AbortModeMismatch",
    "BuildError",
    "CCrash",
    "CMemory",
    "CTimeout",
    "MissingFunction",
    "Reference",
    "load",
    *_facade.__all__,
]
