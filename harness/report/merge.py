"""``harness merge``: the verdict of an exhaustive bound judged in shards on many machines.

``harness run --engine exhaustive --shard K/N --json shard-K.json`` judges every N-th layout
of each function's enumeration (``harness.engines.exhaustive.check_function``); merging the N files
gives what one run of the whole bound gives: the cases of every shard added up, and of the
failures of a function the one whose layout comes first in the enumeration, which is the
failure the unsharded run reports (it stops at its first).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from harness.model.outcome import generalise

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
    by_key: dict[tuple[str, str], list[tuple[int, Row]]] = {}
    for k, record in enumerate(records):
        for row in record.rows:
            by_key.setdefault((row.group, row.function), []).append((k, row))
    rows = []
    for (group, func), parts in by_key.items():
        # a campaign's rows (one per distinct difference) each carry its cases: count them once
        per_shard: dict[int, Row] = {}
        for k, row in parts:
            per_shard.setdefault(k, row)
        cases = sum(r.cases for r in per_shard.values())
        seconds = sum(r.seconds for r in per_shard.values())
        # of each distinct difference, the case of the earliest layout (one of unknown place,
        # a worker killed, after those); notes once each; else the campaign's verdict
        kept: dict[tuple[str, str, str], Row] = {}
        for _, row in parts:
            if row.red or row.verdict == "note":
                key = (row.verdict if row.verdict == "note" else "red", row.kind, generalise(row.where))
                held = kept.get(key)
                if held is None or (row.place < 0, row.place) < (held.place < 0, held.place):
                    kept[key] = row
        red = [r for key, r in kept.items() if key[0] == "red"]
        notes = [r for key, r in kept.items() if key[0] == "note"]
        verdicts = red or [next((r for _, r in parts if r.verdict != "note"), parts[0][1])]
        for row in verdicts + notes:
            merged = Row(**{**row.__dict__, "group": group, "function": func})
            merged.cases, merged.seconds = cases, seconds
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
