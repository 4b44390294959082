"""``harness merge``: the verdict of an exhaustive bound judged in shards on many machines.

``harness run --engine exhaustive --shard K/N --json shard-K.json`` judges every N-th layout
of each function's enumeration (``harness.exhaustive.check_function``); merging the N files
gives what one run of the whole bound gives: the cases of every shard added up, and of the
failures of a function the one whose layout comes first in the enumeration, which is the
failure the unsharded run reports (it stops at its first).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from .export import Record, Row


class MergeError(ValueError):
    """Shard files that do not make one whole run."""


def load(paths: Sequence[str | Path]) -> list[Record]:
    records = []
    for path in paths:
        try:
            records.append(Record.from_json(json.loads(Path(path).read_text())))
        except (OSError, ValueError, TypeError) as exc:
            raise MergeError(f"{path}: not a results file of harness run --json ({exc})") from exc
    return records


def _check_whole(records: Sequence[Record], paths: Sequence[str | Path]) -> int:
    """The number of shards, once every file is shown to be a different shard of one run."""
    if not records:
        raise MergeError("merge: no shard files given")
    shards: dict[int, str] = {}
    totals = set()
    for record, path in zip(records, paths, strict=True):
        if record.command != "run" or not record.shard:
            raise MergeError(f"{path}: not a sharded run (run it with --engine exhaustive --shard K/N)")
        k, _, of = record.shard.partition("/")
        totals.add(int(of))
        if int(k) in shards:
            raise MergeError(f"{path}: shard {record.shard} again (also in {shards[int(k)]})")
        shards[int(k)] = str(path)
    if len(totals) != 1:
        raise MergeError(f"merge: the files split the bound differently ({sorted(totals)} shards)")
    (n,) = totals
    absent = sorted(set(range(1, n + 1)) - set(shards))
    if absent:
        raise MergeError(
            f"merge: shard{'s' if len(absent) > 1 else ''} {', '.join(map(str, absent))} of {n} missing"
        )
    for what in ("profile", "c_source"):
        values = {getattr(r, what) for r in records}
        if len(values) > 1:
            raise MergeError(
                f"merge: the shards ran with different {what.replace('_', ' ')}s: {sorted(values)}"
            )
    return n


def merge(records: Sequence[Record], paths: Sequence[str | Path]) -> Record:
    """One record for the whole bound (raises :class:`MergeError` if the shards are not one run)."""
    n = _check_whole(records, paths)
    by_key: dict[tuple[str, str], list[Row]] = {}
    for record in records:
        for row in record.rows:
            by_key.setdefault((row.group, row.function), []).append(row)
    rows = []
    for (group, func), parts in by_key.items():
        red = [r for r in parts if r.red]
        # the failure of the earliest layout; one of unknown place (a worker killed) after those
        first = min(red, key=lambda r: (r.place < 0, r.place)) if red else parts[0]
        merged = Row(**{**first.__dict__, "group": group, "function": func})
        merged.cases = sum(r.cases for r in parts)
        merged.seconds = sum(r.seconds for r in parts)
        rows.append(merged)
    status = max(r.exit_status for r in records)
    base = records[0]
    replay = base.replay.replace(f"--shard {base.shard}", "").replace("  ", " ").strip()
    return Record(
        "run",
        replay,
        base.seed,
        base.profile,
        status,
        max(r.seconds for r in records),
        base.c_source,
        rows,
        [f"merged from {n} shards: {', '.join(map(str, paths))}"],
    )
