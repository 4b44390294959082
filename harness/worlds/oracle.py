"""The UB oracle: confirms that a case the port calls undefined is undefined in C too.

The port raises ``UndefinedBehaviour(kind)`` instead of inventing a value, and the
judge then does not run that case in C.  A port that claimed UB wrongly would
dodge the judge, so every claim the judge relies on is checked here: the case runs
in the ``sanitize`` flavour of the C source (ASan + UBSan, ``-fno-wrapv``, the
arena's guard bytes poisoned), plus the checks of our own that the shims add in
that flavour where the sanitizers are silent by design, and the first report must
be of the kind the port names (for an access to no live object, out of bounds, through
NULL or after a free, of any of those: one call can make several, and the sanitizers
report the one their checks meet first).

What confirms each kind (ISO C 9899:2018 clause, then the oracle):

==================== ======================================== ================================
kind                 undefined because                        reported by
==================== ======================================== ================================
out-of-bounds        an access outside any object (6.5.6)     ASan (poisoned guards, redzones,
                                                              SEGV), UBSan bounds (VLAs)
use-after-free       an access to a freed block (7.22.3)      ASan heap-use-after-free
invalid-free         free of no live block (7.22.3.3)         our g_free/g_realloc check
                                                              (ASan says "double-free" or
                                                              "bad-free" depending on the case)
null-pointer         NULL to memcpy/memset even for 0 bytes   our memcpy/memset check, UBSan
                     (7.1.4, 7.24.1), NULL + small deref      nonnull/null, ASan SEGV at 0x0..
zero-length-vla      a VLA bound <= 0 (6.7.6.2)               UBSan vla-bound
signed-overflow      int arithmetic out of range (6.5)        UBSan signed-integer-overflow
overlapping-memcpy   memcpy between overlapping objects,      our memcpy check (ASan ignores
                     identical ones included (7.24.2.1)       dst == src by design)
stack-overflow       a VLA larger than the stack (5.2.4.1)    ASan stack-overflow
==================== ======================================== ================================

The sanitize flavour runs in a server process started with libasan preloaded; it
forks a child per case, so a case that aborts costs a fork, not a process start.
A run shares one server among its workers (``IOVCONF_ORACLE`` names its socket).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.model.case import Case, case_from_json, case_to_json

#: report fragments that confirm each kind (our own checks name the kind themselves)
EXPECTED: dict[str, tuple[str, ...]] = {
    "out-of-bounds": (
        "out of bounds for type",  # UBSan -fsanitize=bounds, e.g. past clone's VLA
        "SEGV on unknown address",  # a walk that left every mapping
        "heap-buffer-overflow",
        "use-after-poison",
        "global-buffer-overflow",
        "stack-buffer-overflow",
        "unknown-crash",
        "negative-size-param",  # a byte count no object has (size_t near 2**64)
        # ASan's own check of the range a memset/memcpy covers: its shadow past 2**40 bytes (a
        # range past 8 TiB, which no object has) stops ASan itself
        '"((size)) <= ((1ULL << (40)))"',
    ),
    "use-after-free": ("heap-use-after-free",),
    "null-pointer": (
        "null pointer passed as argument",  # memcpy/memset(NULL, ...)
        "within null pointer",  # UBSan: member access through NULL
        "load of null pointer",
        "store to null pointer",
        "SEGV on unknown address 0x000000000",  # NULL + less than a page
    ),
    "zero-length-vla": ("variable length array bound evaluates to non-positive value",),
    "overlapping-memcpy": ("memcpy-param-overlap",),
    "invalid-free": ("attempting free on address which was not malloc()-ed", "bad-free", "double-free"),
    "signed-overflow": ("signed integer overflow",),
    "stack-overflow": ("stack-overflow",),
}

#: the line our own checks print (reference_c/shim/osdep.c, glib.c)
OWN_CHECK = re.compile(r"iovconf: undefined behaviour: ([\w-]+): (.*)")
_ASAN = re.compile(r"ERROR: AddressSanitizer: (.*)")
_ASAN_CHECK = re.compile(r"AddressSanitizer: (CHECK failed: .*)")
_UBSAN = re.compile(r"runtime error: (.*)")


def first_report(stderr: str) -> str:
    """The first report line of a sanitized run (ours, UBSan's or ASan's), or ''."""
    found: list[tuple[int, str]] = []
    patterns = ((OWN_CHECK, "iovconf {0}: {1}"), (_UBSAN, "{0}"), (_ASAN, "{0}"), (_ASAN_CHECK, "{0}"))
    for pattern, fmt in patterns:
        m = pattern.search(stderr)
        if m:
            found.append((m.start(), fmt.format(*m.groups()).strip()))
    return min(found)[1] if found else ""


#: the kinds of an access to no live object: one call can make several at once (a memcpy from a
#: NULL-based entry into a buffer too short), and which the sanitizers report first is the
#: order of their checks, not the code's; any of them confirms a claim of any other
ACCESS_KINDS = frozenset({"out-of-bounds", "null-pointer", "use-after-free"})


def confirms(kind: str, report: str) -> bool:
    """Whether a first report line is undefined behaviour of ``kind`` (for an access to no
    live object, of any of :data:`ACCESS_KINDS`)."""
    kinds = ACCESS_KINDS if kind in ACCESS_KINDS else {kind}
    own = re.match(r"iovconf ([\w-]+):", report)
    if own:
        return own.group(1) in kinds
    return any(fragment in report for k in kinds for fragment in EXPECTED.get(k, ()))


@dataclass(frozen=True)
class Confirmation:
    """What the oracle saw: whether it confirms the claim, and the report it based that on."""

    confirmed: bool
    report: str


class Oracle:
    """Confirms or refutes one UB claim of the port."""

    def confirm(self, case: Case, kind: str) -> Confirmation:
        raise NotImplementedError


class Trusting(Oracle):
    """Takes every claim at its word: only for tools that give no verdict (``harness list``)."""

    def confirm(self, case: Case, kind: str) -> Confirmation:
        return Confirmation(True, "not checked")


@functools.cache
def libasan() -> str:
    out = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def sanitizer_env() -> dict[str, str]:
    """The environment of a process that loads the sanitize flavour."""
    return dict(
        os.environ,
        LD_PRELOAD=libasan(),
        ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:allow_user_poisoning=1:detect_stack_use_after_return=0",
        UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=0",
    )


#: seconds a sanitized case may run before it counts as hung
CASE_TIMEOUT = 60.0


class Sanitizer(Oracle):
    """A client of the sanitizer server of one C source (started on first use if none is shared)."""

    def __init__(self, c_source: str | None, address: str | None = None) -> None:
        self.c_source = c_source
        self.address = address
        self._server: subprocess.Popen[bytes] | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._lock = threading.Lock()

    def _ensure(self) -> str:
        with self._lock:
            if self.address is not None and (self._server is None or self._server.poll() is None):
                return self.address
            from reference_c import build

            build.build(self.c_source, flavour="sanitize")  # here, not racing in the server
            self._tmp = tempfile.TemporaryDirectory(prefix="iovconf-oracle-", ignore_cleanup_errors=True)
            address = str(Path(self._tmp.name) / "oracle.sock")
            self._server = subprocess.Popen(
                [sys.executable, "-m", "harness.worlds.oracle", address, self.c_source or ""],
                env=sanitizer_env(),
                stdin=subprocess.PIPE,  # the server ends when this pipe does: when we end, however
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            deadline = time.monotonic() + 120
            while not os.path.exists(address):
                if self._server.poll() is not None or time.monotonic() > deadline:
                    err = self._server.stderr.read().decode(errors="replace") if self._server.stderr else ""
                    raise RuntimeError(f"the sanitizer server did not start: {err[-2000:]}")
                time.sleep(0.02)
            self.address = address
            return address

    def confirm(self, case: Case, kind: str) -> Confirmation:
        report = self.report(case)
        return Confirmation(confirms(kind, report), report or "no sanitizer report")

    def report(self, case: Case) -> str:
        """The first report of ``case`` run sanitized (or why there is none)."""
        answer = self._request([case])
        report = str(answer.get("report", ""))
        if report:
            return report
        status = int(answer.get("status", 0))
        how = "ran to its end" if status == 0 else "timed out" if status < 0 else _ended(status)
        tail = str(answer.get("stderr", "")).strip()[-300:]
        return f"no sanitizer report: the C code {how}" + (f": {tail}" if tail else "")

    def scan(self, cases: list[Case]) -> list[tuple[int, str]]:
        """Run ``cases`` sanitized, in order: (index, first report) of each that has one."""
        found: list[tuple[int, str]] = []
        start = 0
        while start < len(cases):
            answer = self._request(cases[start:])
            index = int(answer.get("index", -1))
            report = str(answer.get("report", ""))
            if index < 0 or not report:
                break
            found.append((start + index, report))
            start += index + 1
        return found

    def _request(self, cases: list[Case]) -> dict[str, Any]:
        address = self._ensure()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(CASE_TIMEOUT * max(1, len(cases)) + 30)
            s.connect(address)
            payload = "[" + ",".join(case_to_json(c) for c in cases) + "]"
            s.sendall(payload.encode() + b"\n\0")
            s.shutdown(socket.SHUT_WR)
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
        answer: dict[str, Any] = json.loads(b"".join(chunks) or b"{}")
        return answer

    def close(self) -> None:
        if self._server is not None:
            if self._server.stdin is not None:
                self._server.stdin.close()  # the server's cue to leave
            try:
                self._server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._server.kill()
                self._server.wait()
            self._server = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def _ended(wait_status: int) -> str:
    if os.WIFSIGNALED(wait_status):
        return f"died of {signal.Signals(os.WTERMSIG(wait_status)).name}"
    return f"exited with status {os.WEXITSTATUS(wait_status)}"


_SHARED: dict[str | None, Sanitizer] = {}
_SHARED_LOCK = threading.Lock()
#: names the run's shared server to its workers: "SOCKET|C SOURCE" (the source empty: the original)
SHARED_ENV = "IOVCONF_ORACLE"


def _key(c_source: str | None) -> str | None:
    return str(Path(c_source).resolve()) if c_source else None


@contextlib.contextmanager
def shared_server(c_source: str | None) -> Iterator[None]:
    """One sanitizer server for ``c_source``, for every worker started inside the block (each
    finds it through :data:`SHARED_ENV` in :func:`for_source`); stopped on the way out."""
    oracle = Sanitizer(_key(c_source))
    try:
        os.environ[SHARED_ENV] = f"{oracle._ensure()}|{_key(c_source) or ''}"
        yield
    finally:
        os.environ.pop(SHARED_ENV, None)
        oracle.close()


def for_source(c_source: str | None) -> Sanitizer:
    """This process's oracle for ``c_source``: the run's shared server if ``IOVCONF_ORACLE``
    names one for that source, else a server of its own started on first use."""
    key = _key(c_source)
    with _SHARED_LOCK:
        oracle = _SHARED.get(key)
        if oracle is None:
            shared = os.environ.get(SHARED_ENV, "")
            address, _, source = shared.partition("|")
            oracle = Sanitizer(key, address if shared and source == (key or "") else None)
            _SHARED[key] = oracle
    return oracle


@atexit.register
def _close_all() -> None:
    for oracle in _SHARED.values():
        oracle.close()


# -- the server ---------------------------------------------------------------------------------
def _run_sanitized(case: Case, c_source: str | None) -> None:
    """In a forked child of the server: run the case with the guard bytes poisoned."""
    import ctypes

    import reference_c

    from .world import CWorld, Run

    world = CWorld(reference_c.load(c_source, flavour="sanitize"))
    run = Run(world, case)
    poison = ctypes.CDLL(None).__asan_poison_memory_region
    poison.argtypes = (ctypes.c_void_p, ctypes.c_size_t)
    pos = 0
    for size, guard in case.layout()[1]:
        if guard and size:
            poison(run.base + pos, size)
        pos += size
    run.calls(case.calls)


_MARK = "iovconf-oracle-case "


def _serve_one(conn: socket.socket, c_source: str | None) -> None:
    """Run the cases of one request in a child, in order; answer with the first report, and
    the index of the case it came from (the last one the child announced)."""
    data = b""
    while chunk := conn.recv(65536):
        data += chunk
    cases = [case_from_json(json.dumps(c)) for c in json.loads(data.rstrip(b"\0").decode())]
    with tempfile.TemporaryFile() as err:
        pid = os.fork()
        if pid == 0:  # the child runs the cases and dies of whatever it finds first
            code = 0
            try:
                os.dup2(err.fileno(), 2)
                for k, case in enumerate(cases):
                    print(f"{_MARK}{k}", file=sys.stderr, flush=True)
                    _run_sanitized(case, c_source)
            except BaseException as exc:
                print(f"iovconf oracle: {type(exc).__name__}: {exc}", file=sys.stderr)
                code = 3
            finally:
                sys.stderr.flush()
                os._exit(code)
        deadline = time.monotonic() + CASE_TIMEOUT * max(1, len(cases))
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                status = -1
                break
            time.sleep(0.005)
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    report = first_report(stderr)
    marks = [int(m) for m in re.findall(rf"^{_MARK}(\d+)$", stderr, re.M)]
    index = marks[-1] if marks and (report or status != 0) else -1
    tail = stderr.rsplit(f"{_MARK}{index}\n", 1)[-1] if index >= 0 else stderr
    answer: dict[str, Any] = {"report": report, "status": status, "index": index, "stderr": tail[-2000:]}
    conn.sendall(json.dumps(answer).encode())


def serve(address: str, c_source: str | None) -> None:
    """Load the sanitize flavour, then answer one request per connection, each in a forked
    handler (so requests from several workers run side by side; no threads, so every fork is
    safe), until standard input ends: the client that started us has gone, even if killed."""
    import reference_c

    reference_c.load(c_source, flavour="sanitize")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    tmp = address + ".tmp"
    listener.bind(tmp)
    listener.listen(64)
    os.rename(tmp, address)  # clients wait for the name: it appears only once we listen
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # handlers are reaped by the kernel
    while True:
        ready, _, _ = select.select([listener, sys.stdin.buffer], [], [])
        if sys.stdin.buffer in ready and not os.read(sys.stdin.fileno(), 1):
            listener.close()
            with contextlib.suppress(OSError):
                os.unlink(address)
            # the directory is the one our client made for this socket alone (Sanitizer._ensure);
            # a client that ends by os._exit (a pool worker) never cleans it up itself
            with contextlib.suppress(OSError):
                os.rmdir(os.path.dirname(address))
            return
        if listener not in ready:
            continue
        conn, _ = listener.accept()
        if os.fork() == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the handler waits for its own child
            listener.close()
            try:
                with conn:
                    _serve_one(conn, c_source)
            finally:
                os._exit(0)
        conn.close()


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2] or None)
