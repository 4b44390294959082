"""``python -m harness bench``: cases per second per engine, the library's pyimpl/C ratios, or
what ``diff`` costs beside ``run``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from harness.campaign.plan import jobs_count
from harness.campaign.pool import PROFILES
from harness.review.exits import EXIT_USAGE


def add_parser(sub: Any) -> None:
    """``bench`` and its options."""
    p = sub.add_parser(
        "bench",
        help="differential cases per second per core, per engine and group; --library: pyimpl/C ratios",
    )
    p.add_argument("--seconds", type=float, default=3.0, help="CPU seconds per function and engine")
    p.add_argument(
        "--out", help="the table as JSON (default: bench.json; with --library, bench_library.json)"
    )
    p.add_argument(
        "--library",
        action="store_true",
        help="time the port as a library against the C facade: a pyimpl/C ratio per op, size and entries",
    )
    p.add_argument("--png", default="bench_library.png", help="--library: the ratio plot (needs matplotlib)")
    p.add_argument("--ops", help="--library: ops to time, comma-separated (default: all)")
    p.add_argument("--sizes", help="--library: data sizes, comma-separated, e.g. 64,4K,1M (default: all)")
    p.add_argument("--entries", help="--library: entry counts, comma-separated (default: 1,16,256,1024)")
    p.add_argument("--budget", type=float, default=0.05, help="--library: CPU seconds per cell and side")
    p.add_argument("--non-strict", action="store_true", help="--library: time on Memory(strict=False)")
    p.add_argument(
        "--diff",
        action="store_true",
        help="what harness diff costs beside harness run on the same functions and profile (CPU and wall)",
    )
    p.add_argument(
        "--functions",
        default="iov_to_buf_full;iov_copy;qemu_iovec_concat;qemu_iovec_compare;qemu_iovec_clone",
        help="--diff: groups of functions (';' between groups, ',' within one), each timed on its own",
    )
    p.add_argument("--profile", choices=sorted(PROFILES), default="quick", help="--diff: the profile")
    p.add_argument("--seed", type=int, default=1, help="--diff: the seed of both commands")
    p.add_argument("--jobs", type=jobs_count, default=2, help="--diff: worker processes of both")
    p.add_argument("--c-source", help="--diff: the NEW source (default: the original with a comment added)")
    p.set_defaults(handler=cmd_bench)


def _sizes(text: str) -> tuple[int, ...]:
    """``64,4K,1M`` as bytes."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    out = []
    for part in text.split(","):
        part = part.strip().upper().removesuffix("B").removesuffix("I")
        scale = units.get(part[-1:], 1)
        out.append(int(part[:-1] if scale > 1 else part) * scale)
    return tuple(out)


def cmd_bench(args: argparse.Namespace) -> int:
    if args.diff:
        from harness.bench.diff import main as diff_main

        groups = [g.strip() for g in args.functions.split(";") if g.strip()]
        out = "bench_diff.json" if args.out is None else args.out
        return diff_main(
            groups, args.profile, args.seed, args.jobs, args.c_source, Path(out) if out else None
        )
    if not args.library:
        from harness.bench.engines import main as bench_main

        out = "bench.json" if args.out is None else args.out
        return bench_main(args.seconds, Path(out) if out else None)
    from harness.bench import library as lib

    try:
        ops = tuple(o.strip() for o in args.ops.split(",")) if args.ops else lib.OPS
        sizes = _sizes(args.sizes) if args.sizes else lib.SIZES
        entries = tuple(int(n) for n in args.entries.split(",")) if args.entries else lib.ENTRIES
    except ValueError as exc:
        print(f"bench --library: bad --sizes/--entries: {exc}", file=sys.stderr)
        return EXIT_USAGE
    unknown = [o for o in ops if o not in lib.OPS]
    if unknown or any(n <= 0 for n in (*sizes, *entries)):
        print(
            f"bench --library: ops are {', '.join(lib.OPS)}; sizes and entries are positive",
            file=sys.stderr,
        )
        return EXIT_USAGE
    out = "bench_library.json" if args.out is None else args.out
    return lib.main(
        Path(out) if out else None,
        Path(args.png) if args.png else None,
        budget=args.budget,
        strict=not args.non_strict,
        sizes=sizes,
        entries=entries,
        ops=ops,
    )
