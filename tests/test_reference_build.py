"""The C reference: build, cache, traps and the facade, against real behaviour."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import sysconfig
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import reference_c as rc
from iovspec import ctable
from iovspec.errors import CAssertionError, GLibFatalError
from iovspec.structs import QIOV_SIZE, HeapStats, QiovFields, read_iovecs, read_qiov, write_iovecs, write_qiov
from reference_c import _facade as statics  # the static helpers: importable, not in the API

ROOT = Path(__file__).resolve().parents[1]
IOV_C = ROOT / "reference_c" / "iov.c"
IOV_H = ROOT / "reference_c" / "include" / "qemu" / "iov.h"
ORIGINAL_SHA256 = "bf759d98dd81e994fca548cc6b1b0c078ff24a02dcc47350e1aaa560d7ffc7cc"


@pytest.fixture(scope="module")
def ref() -> rc.Reference:
    return rc.load()


@pytest.fixture
def mem(ref: rc.Reference):  # type: ignore[no-untyped-def]
    with ref.memory() as m:
        yield m


def function_text(source: str, signature_start: str) -> tuple[int, int]:
    """(start, end) offsets of the function whose definition starts with the text given."""
    start = source.index(signature_start)
    depth, i = 0, source.index("{", start)
    while True:
        if source[i] == "{":
            depth += 1
        elif source[i] == "}":
            depth -= 1
            if depth == 0:
                return start, i + 1
        i += 1


def assert_line(path: Path, signature_start: str, expr: str) -> int:
    """Line number of ``assert(expr)`` inside the function starting with signature_start."""
    text = path.read_text()
    start, end = function_text(text, signature_start)
    at = text.index(f"assert({expr})", start, end)
    return text.count("\n", 0, at) + 1


def variant(tmp_path: Path, name: str, edit) -> Path:  # type: ignore[no-untyped-def]
    """A copy of iov.c changed by ``edit`` (text -> text), saved as tmp_path/name."""
    original = IOV_C.read_text()
    changed = edit(original)
    assert changed != original
    path = tmp_path / name
    path.write_text(changed)
    return path


def in_iov_size(old: str, new: str):  # type: ignore[no-untyped-def]
    def edit(text: str) -> str:
        start, end = function_text(text, "size_t iov_size(")
        body = text[start:end]
        assert old in body
        return text[:start] + body.replace(old, new, 1) + text[end:]

    return edit


# -- the original --------------------------------------------------------------


def test_original_iov_c_is_untouched() -> None:
    assert hashlib.sha256(IOV_C.read_bytes()).hexdigest() == ORIGINAL_SHA256


def test_reference_reports_its_source(ref: rc.Reference) -> None:
    assert ref.source_path == IOV_C
    assert ref.source_sha256 == ORIGINAL_SHA256
    assert ref.flavour == "trap"
    # the original lacks only what later revisions add
    assert ref.missing == frozenset(ctable.ADDED_UPSTREAM) == {"qemu_iovec_slice", "iov_send_recv_with_flags"}
    assert ref.available == {f.name for f in ctable.TABLE} - ref.missing
    assert ref.changed == {} and ref.added == frozenset()
    assert len(ctable.ORIGINAL) == 34 and len(ctable.INLINES) == 6


def test_names_follow_iov_c_order() -> None:
    text = IOV_C.read_text()
    positions = [re.search(rf"^\w[^;(]*?\b{n}\(|^{n}\(", text, re.M) for n in ctable.ORIGINAL]
    assert all(positions)
    offsets = [m.start() for m in positions if m]
    assert offsets == sorted(offsets)


# -- assertions ------------------------------------------------------------------


def test_assert_is_trapped_despite_pythons_ndebug(mem: rc.CMemory) -> None:
    # Python's own CFLAGS would turn every assert off; the build undoes that last.
    assert "-DNDEBUG" in str(sysconfig.get_config_var("CFLAGS"))
    line = assert_line(IOV_C, "size_t iov_to_buf_full(", "offset == 0")
    data = mem.buffer(b"abcdefgh")
    iov = mem.buffer(16)
    write_iovecs(mem, iov, [(data, 8)])
    out = mem.buffer(8)
    with pytest.raises(CAssertionError) as info:
        rc.iov_to_buf_full(mem, iov, 1, 9, out, 1)
    e = info.value
    assert (e.expr, e.func, e.line, e.file) == ("offset == 0", "iov_to_buf_full", line, "iov.c")
    # the process goes on, and the same call in range works
    assert rc.iov_to_buf_full(mem, iov, 1, 2, out, 8) == 6
    assert mem.read(out, 6) == b"cdefgh"


def test_header_assert_names_iov_h(mem: rc.CMemory) -> None:
    line = assert_line(
        IOV_H,
        "static inline void *qemu_iovec_buf(",
        "qiov->nalloc == -1 && qiov->iov == &qiov->local_iov",
    )
    qiov = mem.buffer(QIOV_SIZE)
    data = mem.buffer(b"xyz")
    rc.qemu_iovec_init_buf(mem, qiov, data, 3)
    fields = read_qiov(mem, qiov)
    assert (fields.iov, fields.niov, fields.nalloc, fields.local_base, fields.size) == (
        qiov + 24,
        1,
        -1,
        data,
        3,
    )
    assert rc.qemu_iovec_buf(mem, qiov) == data
    rc.qemu_iovec_init(mem, qiov, 1)
    with pytest.raises(CAssertionError) as info:
        rc.qemu_iovec_buf(mem, qiov)
    assert (info.value.file, info.value.line, info.value.func) == ("iov.h", line, "qemu_iovec_buf")
    rc.qemu_iovec_destroy(mem, qiov)


# -- the GLib heap -------------------------------------------------------------------


def test_heap_counters_and_fatal_overflow(mem: rc.CMemory) -> None:
    qiov = mem.buffer(QIOV_SIZE)
    rc.qemu_iovec_init(mem, qiov, 2)
    block = read_qiov(mem, qiov).iov
    assert mem.heap_block(block) == (1, 0)
    assert mem.heap_block(block + 31) == (1, 31)
    assert mem.heap_block(block + 32) is None
    rc.qemu_iovec_destroy(mem, qiov)
    assert mem.heap_stats() == HeapStats(allocs=1, reallocs=0, frees=1, live=0)
    assert mem.heap_block(block) is None

    with pytest.raises(GLibFatalError) as info:
        rc.qemu_iovec_init(mem, qiov, -1)
    assert info.value.message == "overflow allocating 18446744073709551615*16 bytes"
    assert mem.heap_stats() == HeapStats(allocs=1, reallocs=0, frees=1, live=0)
    # still alive: grow a vector through g_renew
    rc.qemu_iovec_init(mem, qiov, 0)
    assert read_qiov(mem, qiov).iov == 0  # g_new(T, 0) is NULL
    for i in range(3):
        rc.qemu_iovec_add(mem, qiov, 0x1000 * (i + 1), i + 1)
    # nalloc 0 -> 1 -> 3: the first g_renew of NULL allocates, the second reallocates
    assert mem.heap_stats() == HeapStats(allocs=2, reallocs=1, frees=1, live=1)
    fields = read_qiov(mem, qiov)
    assert (fields.niov, fields.nalloc, fields.size) == (3, 3, 6)
    assert read_iovecs(mem, fields.iov, 3) == [(0x1000, 1), (0x2000, 2), (0x3000, 3)]
    assert mem.heap_block(fields.iov) == (2, 0)  # keeps its serial across g_renew
    rc.qemu_iovec_destroy(mem, qiov)
    assert mem.heap_stats().live == 0


def test_new_memory_counts_from_zero(ref: rc.Reference) -> None:
    with ref.memory() as first:
        qiov = first.buffer(QIOV_SIZE)
        rc.qemu_iovec_init(first, qiov, 4)  # left live: close() frees it
    with ref.memory() as second:
        assert second.heap_stats() == HeapStats(0, 0, 0, 0)
        qiov = second.buffer(QIOV_SIZE)
        rc.qemu_iovec_init(second, qiov, 4)
        assert second.heap_block(read_qiov(second, qiov).iov) == (1, 0)
        assert second.heap_stats() == HeapStats(1, 0, 0, 1)


def test_arena_is_one_contiguous_zeroed_block(mem: rc.CMemory) -> None:
    base = mem.map_arena([(8, True), (32, False), (8, True), (16, False)])
    assert mem.read(base, 64) == bytes(64)
    mem.write(base + 8, b"abcd")
    mem.set_u64(base + 48, 2**64 - 1)
    mem.set_i32(base + 56, -2)
    mem.set_u32(base + 60, -1)
    assert mem.peek(base + 8, 4) == b"abcd"
    assert mem.u64(base + 48) == 2**64 - 1
    assert (mem.i32(base + 56), mem.u32(base + 56), mem.u32(base + 60)) == (-2, 2**32 - 2, 2**32 - 1)


def test_arguments_wrap_like_c_conversions(mem: rc.CMemory) -> None:
    data = mem.buffer(b"0123456789")
    iov = mem.buffer(32)
    write_iovecs(mem, iov, [(data, 4), (data + 4, 6)])
    # iov_cnt is unsigned int: 2**32 + 2 converts to 2
    assert rc.iov_size(mem, iov, 2**32 + 2) == 10
    # bytes is size_t: -1 is SIZE_MAX ("up to the end")
    out = mem.buffer(10)
    assert rc.iov_to_buf(mem, iov, 2, 0, out, -1) == 10
    # fillc is int: 0x100 + ord("z") converts to an int whose low byte memset uses
    assert rc.iov_memset(mem, iov, 2, 8, 0x100 + ord("z"), 5) == 2
    assert mem.read(data, 10) == b"01234567zz"


# -- static helpers --------------------------------------------------------------------


def test_static_helpers_return_their_out_parameters(mem: rc.CMemory) -> None:
    iov = mem.buffer(48)
    write_iovecs(mem, iov, [(0x1000, 4), (0x2000, 6), (0x3000, 5)])
    assert statics.iov_skip_offset(mem, iov, 7) == (iov + 16, 3)
    assert statics.iov_skip_offset(mem, iov, 4) == (iov + 16, 0)
    qiov = mem.buffer(QIOV_SIZE)
    rc.qemu_iovec_init_external(mem, qiov, iov, 3)
    # bytes 2..11: head 2 in the first iovec, ends 2 bytes into the third (tail 3)
    assert statics.qiov_slice(mem, qiov, 2, 10) == (iov, 2, 3, 3)
    assert rc.qemu_iovec_subvec_niov(mem, qiov, 2, 10) == 3
    elems = mem.buffer(48)  # two IOVectorSortElem {int; struct iovec *; void *}
    mem.set_i32(elems, 5)
    mem.set_u64(elems + 8, iov + 16)
    mem.set_i32(elems + 24, 2)
    mem.set_u64(elems + 32, iov)
    assert statics.sortelem_cmp_src_base(mem, elems, elems + 24) == 1
    assert statics.sortelem_cmp_src_index(mem, elems, elems + 24) == 3


def test_errno_is_captured_after_each_call(mem: rc.CMemory) -> None:
    data = mem.buffer(4)
    iov = mem.buffer(16)
    write_iovecs(mem, iov, [(data, 4)])
    assert statics.do_send_recv(mem, -1, iov, 1, True) == -1
    assert mem.errno == 9  # EBADF
    assert rc.iov_size(mem, iov, 1) == 4
    assert mem.errno == 0


# -- hexdump ---------------------------------------------------------------------------


def expected_hexdump(prefix: str, data: bytes) -> str:
    """DESIGN.md's rules for qemu_hexdump (QEMU 6.x)."""
    out = []
    for b in range(0, len(data), 16):
        offset = f"{b:04x}:"
        if len(offset) > 5:  # from 0x10000 on, only the first five characters show
            out.append(f"{prefix}: {offset[:5]}\n")
            continue
        chunk = data[b : b + 16]
        line = offset
        for i in range(16):
            if i % 4 == 0:
                line += " "
            line += f" {chunk[i]:02x}" if i < len(chunk) else "   "
        line += " " + "".join(chr(c) if 0x20 <= c <= 0x7E else "." for c in chunk)
        out.append(f"{prefix}: {line}\n")
    return "".join(out)


def test_hexdump_format(mem: rc.CMemory) -> None:
    payload = b"Hello, \x00\x1f\x7f\x80\xff ~world! 0123456"
    assert len(payload) == 28
    first = mem.buffer(payload[:10])
    second = mem.buffer(payload[10:])
    iov = mem.buffer(32)
    write_iovecs(mem, iov, [(first, 10), (second, 18)])
    fp = io.StringIO()
    rc.iov_hexdump(mem, iov, 2, fp, "iov", 1000)
    assert fp.getvalue() == expected_hexdump("iov", payload)
    assert fp.getvalue().splitlines()[1] == (
        "iov: 0010:  72 6c 64 21  20 30 31 32  33 34 35 36              rld! 0123456"
    )
    fp = io.StringIO()
    rc.iov_hexdump(mem, iov, 2, fp, "p", 5)  # limit
    assert fp.getvalue() == expected_hexdump("p", payload[:5])
    fp = io.StringIO()
    rc.iov_hexdump(mem, iov, 2, fp, "p", 0)  # nothing for size 0
    assert fp.getvalue() == ""
    assert mem.heap_stats() == HeapStats(allocs=2, reallocs=0, frees=2, live=0)


def test_hexdump_past_64k_shows_five_offset_characters(mem: rc.CMemory) -> None:
    payload = bytes(range(256)) * 257  # 0x10100 bytes
    data = mem.buffer(payload)
    iov = mem.buffer(16)
    write_iovecs(mem, iov, [(data, len(payload))])
    fp = io.StringIO()
    rc.iov_hexdump(mem, iov, 1, fp, "big", len(payload))
    text = fp.getvalue()
    assert text == expected_hexdump("big", payload)
    lines = text.splitlines()
    assert lines[0x1000] == "big: 10000" and lines[-1] == "big: 100f0"


# -- other sources ------------------------------------------------------------------------


def test_missing_function(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def drop_compare(text: str) -> str:
        start, end = function_text(text, "ssize_t qemu_iovec_compare(")
        return text[:start] + text[end:]

    path = variant(tmp_path, "iov_no_compare.c", drop_compare)
    monkeypatch.setenv("IOVCONF_C_SOURCE", str(path))
    ref = rc.load()
    assert ref.source_path == path.resolve()
    assert ref.missing == {"qemu_iovec_compare", *ctable.ADDED_UPSTREAM}
    with ref.memory() as mem:
        qiov = mem.buffer(QIOV_SIZE)
        with pytest.raises(rc.MissingFunction) as info:
            rc.qemu_iovec_compare(mem, qiov, qiov)
        assert isinstance(info.value, NotImplementedError)
        assert info.value.name == "qemu_iovec_compare"
        rc.qemu_iovec_init(mem, qiov, 1)  # the rest works
        assert mem.heap_stats().live == 1


def test_missing_callee_traps_as_missing(tmp_path: Path) -> None:
    # qemu_iovec_concat calls qemu_iovec_concat_iov, which this source lacks
    def drop_concat_iov(text: str) -> str:
        start, end = function_text(text, "size_t qemu_iovec_concat_iov(")
        return text[:start] + text[end:]

    ref = rc.load(variant(tmp_path, "iov_no_concat_iov.c", drop_concat_iov))
    assert ref.missing == {"qemu_iovec_concat_iov", *ctable.ADDED_UPSTREAM}
    with ref.memory() as mem:
        dst = mem.buffer(QIOV_SIZE)
        rc.qemu_iovec_init(mem, dst, 1)
        with pytest.raises(rc.MissingFunction) as info:
            rc.qemu_iovec_concat(mem, dst, dst, 0, 1)
        assert info.value.name == "qemu_iovec_concat_iov"


def test_an_added_function_of_a_type_the_facade_lacks_is_listed_not_a_build_error(tmp_path: Path) -> None:
    """A patch may add a function with types the facade has no value kind for (``uint64_t``):
    the source still builds, and the function is added (with its prototype), not callable."""
    path = variant(
        tmp_path,
        "iov_added.c",
        lambda text: (
            text + "\nuint64_t iov_bits(const struct iovec *iov, unsigned int iov_cnt)\n{\n"
            "    return (uint64_t)iov_size(iov, iov_cnt) * 8;\n}\n"
        ),
    )
    ref = rc.load(path)
    assert ref.added == {"iov_bits"}
    assert ref.prototypes["iov_bits"] == "uint64_t iov_bits(const struct iovec *iov, unsigned int iov_cnt)"
    assert "iov_size" in ref.available
    with ref.memory() as mem:
        iov = mem.buffer(16)
        write_iovecs(mem, iov, [(0, 3)])
        assert rc.iov_size(mem, iov, 1) == 3


def test_a_changed_public_prototype_builds_unless_a_header_inline_the_source_uses_calls_it(
    tmp_path: Path,
) -> None:
    """Our qemu/iov.h keeps the original's prototypes; a source that declares a public function
    otherwise gets the header's declaration renamed away (so it builds and the function is
    reported changed), except where an inline of the header calls it the original's way and
    the source calls that inline: then the build says exactly that."""
    reshaped = variant(
        tmp_path,
        "iov_memset_uchar.c",
        lambda text: text.replace(
            "size_t offset, int fillc, size_t bytes)\n{",
            "size_t offset, unsigned char fillc, size_t bytes)\n{",
        ),
    )
    ref = rc.load(reshaped)
    assert ref.changed == {
        "iov_memset": "size_t iov_memset(const struct iovec *iov, const unsigned int iov_cnt, size_t offset, "
        "unsigned char fillc, size_t bytes)"
    }
    with ref.memory() as mem:
        buf, iov, qiov = mem.buffer(4), mem.buffer(16), mem.buffer(QIOV_SIZE)
        write_iovecs(mem, iov, [(buf, 4)])
        rc.qemu_iovec_init_external(mem, qiov, iov, 1)
        assert rc.qemu_iovec_memset(mem, qiov, 1, 0x41, 2) == 2  # its caller works
        assert mem.read(buf, 4) == b"\0AA\0"

    # the same type spelt otherwise: the header's inline iov_from_buf still reaches it
    spelt = variant(
        tmp_path,
        "iov_from_buf_ulong.c",
        lambda text: text.replace(
            "size_t offset, const void *buf, size_t bytes)\n{\n    size_t done;",
            "size_t offset, const void *buf, unsigned long bytes)\n{\n    size_t done;",
            1,
        ),
    )
    ref = rc.load(spelt)
    assert "iov_from_buf_full" in ref.respelt and not ref.changed
    with ref.memory() as mem:
        buf, iov, src = mem.buffer(4), mem.buffer(16), mem.buffer(b"xy")
        write_iovecs(mem, iov, [(buf, 4)])
        assert rc.iov_from_buf(mem, iov, 1, 1, src, 2) == 2  # the inline, through the forwarder
        assert mem.read(buf, 4) == b"\0xy\0"

    narrowed = variant(
        tmp_path,
        "iov_from_buf_uint.c",
        lambda text: text.replace(
            "size_t offset, const void *buf, size_t bytes)\n{\n    size_t done;",
            "size_t offset, const void *buf, unsigned int bytes)\n{\n    size_t done;",
            1,
        ),
    )
    with pytest.raises(rc.BuildError) as info:
        rc.load(narrowed)
    message = str(info.value)
    assert "iov_from_buf_full: iov_from_buf_uint.c defines it as" in message
    assert "inline iov_from_buf (called by qemu_iovec_from_buf)" in message


def test_a_patch_may_use_the_common_qemu_and_glib_helpers(tmp_path: Path) -> None:
    """``likely``, ``ARRAY_SIZE``, ``QEMU_BUILD_BUG_ON``, the rounding and alignment macros,
    ``MIN_NON_ZERO`` and ``g_assert`` exist, and mean what QEMU means: iov_size written with
    them in ways that keep its value still agrees with the port."""
    from harness.engines.exhaustive import QUICK_BOUND, check_function
    from harness.verdict.judge import Judge
    from harness.worlds.world import CWorld, PyWorld

    path = variant(
        tmp_path,
        "iov_helpers.c",
        in_iov_size(
            "len += iov[i].iov_len;",
            "static const int one[1] = { 1 };\n"
            "        QEMU_BUILD_BUG_ON(ARRAY_SIZE(one) != 1);\n"
            "        g_assert(QEMU_IS_ALIGNED(iov[i].iov_len, 1));\n"
            "        if (likely(iov[i].iov_len) || unlikely(!one[0])) {\n"
            "            len += MIN_NON_ZERO(QEMU_ALIGN_UP(iov[i].iov_len, 1), ROUND_UP(iov[i].iov_len, 1))\n"
            "                   + DIV_ROUND_UP(iov[i].iov_len, 1) - QEMU_ALIGN_DOWN(iov[i].iov_len, 1)\n"
            "                   + (ROUND_UP(5, 4) != 8) + (QEMU_ALIGN_UP(5, 3) != 6)\n"
            "                   + (DIV_ROUND_UP(5, 2) != 3);\n"
            "        }",
        ),
    )
    judge = Judge(PyWorld(), CWorld(rc.load(path)))
    assert check_function("iov_size", QUICK_BOUND, judge) > 0  # raises on a difference


def test_crash_is_reported_and_survived(tmp_path: Path) -> None:
    path = variant(
        tmp_path,
        "iov_null.c",
        in_iov_size(
            "len += iov[i].iov_len;",
            "const struct iovec *volatile nowhere = NULL; len += nowhere[i].iov_len;",
        ),
    )
    ref = rc.load(path)
    with ref.memory() as mem:
        iov = mem.buffer(16)
        write_iovecs(mem, iov, [(0, 3)])
        with pytest.raises(rc.CCrash) as info:
            rc.iov_size(mem, iov, 1)
        assert info.value.signum == signal.SIGSEGV
        assert "SIGSEGV" in str(info.value)
        assert rc.iov_size(mem, iov, 0) == 0  # loop not entered: fine
        with pytest.raises(rc.CCrash):  # and a second crash is caught too
            rc.iov_size(mem, iov, 1)
        with pytest.raises(rc.CCrash):  # a bad address read by the facade
            mem.read(8, 8)


def test_endless_loop_times_out(tmp_path: Path) -> None:
    path = variant(
        tmp_path,
        "iov_spin.c",
        in_iov_size("len = 0;", "len = 0;\n    for (volatile int spin = 1; spin; ) { }"),
    )
    ref = rc.load(path)
    ref.set_timeout(0.2)
    try:
        with ref.memory() as mem:
            iov = mem.buffer(16)
            with pytest.raises(rc.CTimeout):
                rc.iov_size(mem, iov, 0)
            with pytest.raises(rc.CTimeout):
                rc.iov_size(mem, iov, 0)
            assert rc.qemu_iovec_compare(mem, mem.buffer(40), mem.buffer(40)) == -1
    finally:
        ref.set_timeout(rc.DEFAULT_TIMEOUT)


def test_source_that_does_not_compile(tmp_path: Path) -> None:
    path = variant(tmp_path, "iov_broken.c", in_iov_size("len = 0;", "len = 0 +;"))
    with pytest.raises(rc.BuildError) as info:
        rc.load(path)
    assert "error" in info.value.output and "iov.c" in info.value.output


# -- the cache ------------------------------------------------------------------------------

_PROBE = textwrap.dedent(
    """
    import json, sys
    import reference_c as rc
    ref = rc.load(sys.argv[1] if len(sys.argv) > 1 else None)
    with ref.memory() as mem:
        iov = mem.buffer(16)
        mem.set_u64(iov + 8, 7)
        size = rc.iov_size(mem, iov, 1)
    so = ref.build_info.so_path
    print(json.dumps({"built_now": ref.build_info.built_now, "so": str(so),
                      "mtime": so.stat().st_mtime_ns, "size": size}))
    """
)


def run_probe(cache: Path, *args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, IOVCONF_CACHE_DIR=str(cache), PYTHONPATH=str(ROOT))
    env.pop("IOVCONF_C_SOURCE", None)
    return subprocess.Popen(
        [sys.executable, "-c", _PROBE, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def probe_result(proc: subprocess.Popen[str]) -> dict[str, object]:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    result: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return result


def test_cache_is_reused_by_a_fresh_process(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = probe_result(run_probe(cache))
    second = probe_result(run_probe(cache))
    assert first["built_now"] is True and second["built_now"] is False
    assert first["so"] == second["so"] and first["mtime"] == second["mtime"]
    assert first["size"] == second["size"] == 7
    assert not list(cache.glob("*.tmp-*"))


def test_concurrent_builds_build_once(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    source = tmp_path / "iov_concurrent.c"
    source.write_text(IOV_C.read_text() + f"\n/* {tmp_path} */\n")  # a source never built
    procs = [run_probe(cache, str(source)) for _ in range(2)]
    results = [probe_result(p) for p in procs]
    assert sorted(r["built_now"] for r in results) == [False, True]  # type: ignore[type-var]
    assert results[0]["so"] == results[1]["so"]
    assert len([d for d in cache.iterdir() if d.is_dir()]) == 1


# -- the abort flavour ------------------------------------------------------------------------


def test_abort_flavour_keeps_the_c_library_assert() -> None:
    """Called directly (no fork), the abort build really aborts with glibc's message."""
    line = assert_line(IOV_C, "size_t iov_to_buf_full(", "offset == 0")
    code = textwrap.dedent(
        """
        import reference_c as rc
        ref = rc.load(flavour="abort")
        out = ref.ffi.new("size_t *")
        with ref.memory() as mem:
            iov = mem.buffer(16)
            ref.lib.iovconf_iov_to_buf_full(iov, 0, 5, 0, 0, out)
        """
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("IOVCONF_C_SOURCE", None)
    proc = subprocess.run(
        [sys.executable, "-X", "faulthandler", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == -signal.SIGABRT
    assert f"iov.c:{line}: iov_to_buf_full: Assertion `offset == 0' failed." in proc.stderr


def scripted_run(ref: rc.Reference) -> list[tuple[Any, ...]]:
    """A few calls that return, assert, fail in GLib, crash and do socket I/O."""
    seen: list[tuple[Any, ...]] = []
    a, b = socket.socketpair()
    b.setblocking(False)
    with ref.memory() as mem:

        def record(fn: Callable[..., object], *args: object) -> None:
            try:
                seen.append(("ret", fn(mem, *args)))
            except (CAssertionError, GLibFatalError, rc.CCrash) as e:
                seen.append((type(e).__name__, str(e)))
            seen.append(("errno", mem.errno))

        base = mem.map_arena([(16, False), (48, False), (40, False), (8, False)])
        data, iov, qiov = base, base + 16, base + 64
        mem.write(data, b"0123456789abcdef")
        write_iovecs(mem, iov, [(data, 4), (data + 4, 12), (data + 8, 8)])
        record(rc.iov_to_buf_full, iov, 2, 17, data, 1)  # assert
        record(rc.iov_memset, iov, 3, 2, ord("-"), 4)
        record(rc.qemu_iovec_init, qiov, -1)  # GLib fatal
        record(rc.qemu_iovec_init, qiov, 1)
        record(rc.qemu_iovec_concat_iov, qiov, iov, 3, 1, 100)
        record(rc.qemu_iovec_discard_back, qiov, 100)  # assert after nothing changed
        record(rc.qemu_iovec_reset, qiov)
        record(rc.iov_size, 8, 1)  # crash
        record(rc.iov_send, a.fileno(), iov, 3, 3, 6)
        seen.append(("peer got", b.recv(100)))
        a.send(b"ABCDE")
        record(rc.iov_recv, b.fileno(), iov, 2, 1, 8)
        record(rc.iov_recv, b.fileno(), iov, 2, 1, 8)  # EAGAIN
        record(rc.iov_send_recv, a.fileno(), iov, 1, 9, 1, True)  # offset past the end: assert
        seen.append(("data", mem.peek(data, 16)))
        seen.append(("iovecs", [(b - base, n) for b, n in read_iovecs(mem, iov, 3)]))
        q = read_qiov(mem, qiov)
        seen.append(("qiov", q.niov, q.nalloc, q.size, mem.heap_block(q.iov)))
        seen.append(("heap", mem.heap_stats()))
        rc.qemu_iovec_destroy(mem, qiov)
        write_qiov(mem, qiov, QiovFields(data, 0, 4, 0, 0))  # an "owned" iov that is no heap block
        record(rc.qemu_iovec_destroy, qiov)  # g_free of it: the C library would abort
    a.close()
    b.close()
    return seen


def test_abort_flavour_agrees_with_trap(ref: rc.Reference) -> None:
    aborting = rc.load(flavour="abort")
    trap_run, abort_run = scripted_run(ref), scripted_run(aborting)
    assert abort_run == trap_run
    kinds = [entry[0] for entry in trap_run]
    assert {"CAssertionError", "GLibFatalError", "CCrash"} <= set(kinds)
    assert ("CCrash", "C code crashed with SIGABRT: free(): invalid pointer") in trap_run
    after_memset = b"01----6789abcdef"  # iov_memset wrote "--" at 2 in iov[0] and at 4 in iov[1]
    assert ("peer got", after_memset[3:4] + after_memset[4:9]) in trap_run
    received = after_memset[:1] + b"ABCDE" + after_memset[6:]  # 5 bytes at offset 1
    assert ("data", received) in trap_run
