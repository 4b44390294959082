"""The in-flight record: what a process is running in C, kept where a crash cannot erase it.

A C crash can kill the process outright (glibc's abort on a wrecked heap, a wild
write into the interpreter).  So before C runs a case (or a batch of them), the
case goes into this process's in-flight file; the parent of a worker that died,
or the next run after a whole run died, finds it there.

Each live process holds an exclusive ``flock`` on its file for as long as it
lives (the kernel drops it when the process dies, however it dies), so a file is
a leftover only if its lock can be taken: two runs sharing a checkout never take
each other's live files for leftovers.  Writing is one ``pwrite`` to an open file
(no fsync: the page cache outlives the process).
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.model.case import Call, Case, Ref, case_from_json, case_to_json

PREFIX = "inflight-"


class InFlight:
    """This process's in-flight file, created and locked on first use."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.pid = os.getpid()
        self.fd: int | None = None
        self.path: Path | None = None

    def _open(self) -> int:
        if self.fd is not None and self.pid == os.getpid():
            return self.fd
        self.directory.mkdir(parents=True, exist_ok=True)
        self.pid = os.getpid()
        name = f"{PREFIX}{self.pid}-{secrets.token_hex(4)}.json"
        tmp = self.directory / f".{name}"
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)  # locked before it can be seen under its name
        os.rename(tmp, self.directory / name)
        self.fd, self.path = fd, self.directory / name
        return fd

    def _write(self, record: dict[str, Any]) -> None:
        fd = self._open()
        data = json.dumps(record).encode()
        os.pwrite(fd, data, 0)
        os.ftruncate(fd, len(data))

    def record(self, case: Case) -> None:
        """C is about to run ``case`` (its JSON written as it is, not parsed and dumped again)."""
        fd = self._open()
        data = ('{"case": ' + case_to_json(case) + "}").encode()
        os.pwrite(fd, data, 0)
        os.ftruncate(fd, len(data))

    def record_batch(self, base: Case, tests: Sequence[tuple[Call, ...]]) -> None:
        """C is about to run ``base`` followed by each of ``tests`` in turn (the first that kills
        it is the culprit); written once for the whole batch, its calls without a Case each."""
        try:
            calls = [[[c.func, [_plain(a) for a in c.args]] for c in test] for test in tests]
        except TypeError:  # an argument only case_to_json can write
            calls = [json.loads(case_to_json(Case((), test)))["calls"] for test in tests]
        self._write({"base": json.loads(case_to_json(base)), "tests": calls})

    def clear(self) -> None:
        """Nothing is in flight now."""
        if self.fd is not None and self.pid == os.getpid():
            os.ftruncate(self.fd, 0)

    def close(self) -> None:
        """The process ends normally: remove the file."""
        if self.fd is not None and self.pid == os.getpid():
            if self.path is not None:
                self.path.unlink(missing_ok=True)
            os.close(self.fd)
        self.fd = self.path = None


def _plain(arg: Any) -> Any:
    """A call argument as case_to_json writes it (ints and Refs, the arguments of a batch)."""
    if type(arg) is int:
        return arg
    if type(arg) is Ref:
        return {"ref": arg.region, "off": arg.offset}
    raise TypeError(arg)


@dataclass(frozen=True)
class Leftover:
    """A dead process's in-flight record: a case, or a batch whose culprit is one of its cases."""

    path: Path
    cases: tuple[Case, ...]
    batch: bool


def _parse(text: str) -> tuple[tuple[Case, ...], bool]:
    raw = json.loads(text)
    if "tests" in raw:
        base = raw["base"]
        tests = raw["tests"]
        return tuple(case_from_json(json.dumps({**base, "calls": base["calls"] + t})) for t in tests), True
    return (case_from_json(json.dumps(raw["case"])),), False


def read(path: Path) -> Leftover | None:
    """The record in ``path`` (None if empty: nothing was in flight)."""
    text = path.read_text() if path.is_file() else ""
    if not text.strip():
        return None
    cases, batch = _parse(text)
    return Leftover(path, cases, batch)


@contextmanager
def claimed(directory: Path) -> Iterator[list[Leftover]]:
    """The leftovers of dead processes in ``directory``, locked for the caller (live processes'
    files are skipped); each is removed when the block ends."""
    held: list[tuple[int, Path]] = []
    found: list[Leftover] = []
    try:
        for path in sorted(directory.glob(f"{PREFIX}*.json")) if directory.is_dir() else []:
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # its process is alive
                os.close(fd)
                continue
            held.append((fd, path))
            left = read(path)
            if left is not None:
                found.append(left)
        yield found
    finally:
        for fd, path in held:
            path.unlink(missing_ok=True)
            os.close(fd)


def of_process(directory: Path, pid: int) -> Leftover | None:
    """The record a dead worker ``pid`` left (its parent reads it); the file is removed."""
    for path in directory.glob(f"{PREFIX}{pid}-*.json"):
        left = read(path)
        path.unlink(missing_ok=True)
        if left is not None:
            return left
    return None
