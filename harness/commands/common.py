"""What the commands share: the environment their help shows, what judging nothing says, and
reading ``--expect-diff``."""

from __future__ import annotations

from rich.console import Console

from harness.verdict.expected import Expected

#: the environment variables the harness reads (shown by --help)
ENVIRONMENT = """\
environment:
  IOVCONF_C_SOURCE      C source standing in for reference_c/iov.c when --c-source is not given
                        (a path, -, REV:PATH or a pipe, as --c-source)
  IOVCONF_CACHE_DIR     where C builds are cached (default ~/.cache/iovconf)
  IOVCONF_CACHE_KEEP    builds kept per flavour when old ones are evicted (default 16)
  IOVCONF_CACHE_MAX_AGE_DAYS  builds unused this long are evicted (default 30)
  CC, CFLAGS, CPPFLAGS, LDFLAGS, LDSHARED (and gcc's CPATH, ...)  read by the C build, and part of
                        its cache key (reference_c.build.BUILD_ENVIRONMENT)
  IOVCONF_DB            the example database when --db is not given (a directory, redis://HOST:PORT,
                        github:OWNER/REPO, readonly:SPEC, SPEC+SPEC or none; default .hypothesis/iovconf)
  IOVCONF_NO_DB         set: no example database (the same as --db none)
  IOVCONF_FUZZ_EXAMPLES examples per function of the fuzz targets (pytest --pyargs
                        harness.engines.fuzz_targets)
  IOVCONF_FUZZ_CC       the clang that builds C for harness fuzz (default clang on PATH)
  CI                    set: plain progress lines instead of a live table
  HYPOTHESIS_PROFILE    not read by the harness commands (their settings come from --profile);
                        the test suite reads it (see --iovconf-profile in pytest --help)
"""


#: what a run that judged no case says (exit 2: nothing judged is not a pass; skip under --bisect)
NOTHING = "NOTHING JUDGED: no case of any selected function was judged, which is not a pass (exit 2)"


def expected_differences(console: Console, path: str | None) -> Expected | None:
    """The known differences ``--expect-diff PATH`` lists (none without it), or None after
    saying why the file cannot be read (a usage error)."""
    if not path:
        return Expected()
    try:
        return Expected.load(path)
    except (OSError, ValueError, KeyError) as exc:
        console.print(f"--expect-diff: {path}: {type(exc).__name__}: {exc}")
        return None
