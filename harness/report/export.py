"""Machine-readable results of ``harness run``, ``diff`` and ``revisions``: JSON and JUnit XML.

Every command describes its outcome once, as a :class:`Record` of :class:`Row` s; both
formats are derived from it, so they cannot disagree.  A row is one verdict: for ``run``
an (engine, function) campaign, for ``diff`` a function, for ``revisions`` a
(revision, function) pair.  JUnit maps a row to a ``testcase`` (its ``classname`` the
engine or revision), a red row to a ``failure`` whose text carries the case, the
reproducer path and the command that replays the run, a row "not judged" that is not red
to a ``skipped`` with its reason (never a silent pass).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: the verdict of a selected function that was not judged (harness.report.findings says why)
NOT_JUDGED = "not judged"


@dataclass
class Row:
    """One verdict of a command."""

    group: str  # the engine (run), "diff", or the revision tag (revisions)
    function: str
    verdict: str  # agree / differs / crashed / error (run); same / changed / ... (diff, revisions)
    cases: int = 0
    seconds: float = 0.0
    difference: str = ""
    kind: str = ""
    where: str = ""
    case: str = ""  # the failing case, as the reports print it
    reproducer: str = ""
    red: bool = False  # whether this row fails the command (each command says which do)
    case_json: str = ""  # the failing case itself (harness.model.case), to replay or merge
    place: int = -1  # exhaustive: the place of the failing case's layout in the enumeration


@dataclass
class Record:
    """What one command did: enough to replay it and to read its verdict without the console."""

    command: str  # run, diff or revisions
    replay: str  # the exact command line that repeats it
    seed: int | None
    profile: str
    exit_status: int
    seconds: float
    c_source: str = ""
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    shard: str = ""  # "K/N" when this run judged one shard of the exhaustive engine

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Record:
        fields = {f.name for f in dataclasses.fields(cls)}
        record = cls(**{k: v for k, v in data.items() if k in fields})
        record.rows = [Row(**row) for row in data.get("rows", [])]
        return record


def add_arguments(parser: argparse.ArgumentParser, verb: str = "also write the results") -> None:
    """``--json`` and ``--junitxml``: where a command writes its record (:func:`write`)."""
    parser.add_argument("--json", metavar="FILE", help=f"{verb} as JSON")
    parser.add_argument("--junitxml", metavar="FILE", help=f"{verb} as JUnit XML")


def write_json(record: Record, path: str | Path) -> None:
    Path(path).write_text(json.dumps(record.as_json(), indent=2) + "\n")


def write_junit(record: Record, path: str | Path) -> None:
    """One ``testsuite`` per command; one ``testcase`` per row."""
    suite = ET.Element(
        "testsuite",
        name=f"iovconf {record.command}",
        tests=str(len(record.rows)),
        failures=str(sum(r.red for r in record.rows)),
        errors="0",
        skipped=str(sum(_skipped(r) for r in record.rows)),
        time=f"{record.seconds:.3f}",
    )
    props = ET.SubElement(suite, "properties")
    for name, value in (("seed", record.seed), ("profile", record.profile), ("replay", record.replay)):
        ET.SubElement(props, "property", name=name, value=str(value))
    for row in record.rows:
        case = ET.SubElement(
            suite, "testcase", classname=f"iovconf.{row.group}", name=row.function, time=f"{row.seconds:.3f}"
        )
        if row.red:
            failure = ET.SubElement(case, "failure", message=f"{row.verdict}: {row.difference}"[:500])
            failure.text = "\n".join(
                part
                for part in (
                    row.difference,
                    row.case,
                    f"reproducer: {row.reproducer}" if row.reproducer else "",
                    f"replay the run: {record.replay}",
                )
                if part
            )
        elif _skipped(row):
            ET.SubElement(case, "skipped", message=f"{row.kind}: {row.difference}"[:500])
        if row.reproducer:
            ET.SubElement(case, "properties").append(
                ET.Element("property", name="reproducer", value=row.reproducer)
            )
    ET.indent(suite)
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)


def _skipped(row: Row) -> bool:
    """A function left unjudged for a reason the command accepts (a listed prototype change, a
    static helper): JUnit's ``skipped``, so a CI page shows it was not run."""
    return row.verdict == NOT_JUDGED and not row.red


def write(record: Record, json_path: str | None, junit_path: str | None) -> None:
    """Write the record where the command's ``--json`` and ``--junitxml`` say."""
    if json_path:
        write_json(record, json_path)
    if junit_path:
        write_junit(record, junit_path)
