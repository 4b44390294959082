"""The spec of QEMU's ``util/iov.c``, owned by neither side: what the port and the reference both read.

- :mod:`iovspec.ctable`: the table of C functions (prototypes, kinds, out parameters, facts);
- :mod:`iovspec.structs`: the structs' x86-64 layouts, their read/write helpers, and what a
  memory offers (:class:`~iovspec.structs.MemoryLike`);
- :mod:`iovspec.cint`: the C integer types (limits and conversions);
- :mod:`iovspec.errors`: what C does when it does not return (a failed assert, undefined
  behaviour, a GLib abort);
- :mod:`iovspec.arguments`: the argument contract both memories keep.

``pyimpl`` (the port) and ``reference_c`` (the compiled original) import this package and
nothing of each other, so ``import reference_c`` does not load the port.
"""
