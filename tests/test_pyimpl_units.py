"""Plain unit tests of the port for behaviour worth naming, each derived from reading iov.c."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

import iovspec.ctable
import pyimpl
from iovspec.structs import IOVEC_SIZE, QIOV_LOCAL_IOV, QIOV_SIZE

ROOT = Path(__file__).resolve().parent.parent


def vectors(mem: pyimpl.Memory, data: int, lens: list[int]) -> int:
    """A fresh iovec array over consecutive pieces of ``data``."""
    arr = mem.buffer(IOVEC_SIZE * max(len(lens), 1))
    entries, pos = [], 0
    for n in lens:
        entries.append((data + pos, n))
        pos += n
    pyimpl.write_iovecs(mem, arr, entries)
    return arr


def test_discard_front_drops_zero_length_entries_after_an_exact_cut() -> None:
    mem = pyimpl.Memory()
    data = mem.buffer(b"abcdef")
    arr = vectors(mem, data, [2, 0, 0, 4])
    iov_var = mem.buffer(8)
    cnt = mem.buffer(4)
    mem.set_u64(iov_var, arr)
    mem.set_u32(cnt, 4)
    assert pyimpl.iov_discard_front(mem, iov_var, cnt, 2) == 2
    # cur->iov_len > bytes is false for the empty entries once bytes hits 0, so they go too
    assert mem.u32(cnt) == 1
    assert mem.u64(iov_var) == arr + 3 * IOVEC_SIZE
    assert pyimpl.read_iovecs(mem, arr + 3 * IOVEC_SIZE, 1) == [(data + 2, 4)]


def test_discard_front_undoable_records_a_zero_byte_cut_and_undo_restores() -> None:
    mem = pyimpl.Memory()
    data = mem.buffer(b"abcdef")
    arr = vectors(mem, data, [2, 4])
    iov_var, cnt, undo = mem.buffer(8), mem.buffer(4), mem.buffer(24)
    mem.set_u64(iov_var, arr)
    mem.set_u32(cnt, 2)
    assert pyimpl.iov_discard_front_undoable(mem, iov_var, cnt, 3, undo) == 3
    assert pyimpl.read_iovecs(mem, arr, 2) == [(data, 2), (data + 3, 3)]
    assert pyimpl.read_undo(mem, undo) == pyimpl.UndoFields(arr + IOVEC_SIZE, data + 2, 4)
    pyimpl.iov_discard_undo(mem, undo)
    assert pyimpl.read_iovecs(mem, arr, 2) == [(data, 2), (data + 2, 4)]


def test_init_extended_with_one_vector_uses_local_iov() -> None:
    mem = pyimpl.Memory()
    data = mem.buffer(b"0123456789")
    arr = vectors(mem, data, [4, 6])
    mid, q = mem.buffer(QIOV_SIZE), mem.buffer(QIOV_SIZE)
    pyimpl.qemu_iovec_init_external(mem, mid, arr, 2)
    assert pyimpl.qemu_iovec_init_extended(mem, q, 0, 0, mid, 5, 3, 0, 0) == 0
    f = pyimpl.read_qiov(mem, q)
    assert (f.iov, f.niov, f.nalloc) == (q + QIOV_LOCAL_IOV, 1, -1)
    assert (f.local_base, f.size) == (data + 5, 3)
    assert pyimpl.qemu_iovec_buf(mem, q) == data + 5
    assert mem.heap_stats().allocs == 0


def test_init_extended_with_nothing_gives_no_vectors_and_null_iov() -> None:
    mem = pyimpl.Memory()
    mid, q = mem.buffer(QIOV_SIZE), mem.buffer(QIOV_SIZE)
    pyimpl.qemu_iovec_init_external(mem, mid, 0, 0)
    assert pyimpl.qemu_iovec_init_extended(mem, q, 0, 0, mid, 0, 0, 0, 0) == 0
    f = pyimpl.read_qiov(mem, q)
    assert (f.iov, f.niov, f.nalloc, f.size) == (0, 0, 0, 0)  # g_new(struct iovec, 0) is NULL


def test_init_extended_rejects_sizes_that_overflow_size_t() -> None:
    mem = pyimpl.Memory()
    mid, q = mem.buffer(QIOV_SIZE), mem.buffer(QIOV_SIZE)
    pyimpl.qemu_iovec_init_external(mem, mid, 0, 0)
    assert pyimpl.qemu_iovec_init_extended(mem, q, 1, 2**64 - 1, mid, 0, 0, 1, 1) == -22
    assert mem.read(q, QIOV_SIZE) == bytes(QIOV_SIZE)  # nothing written before the check


def test_size_and_local_iov_len_are_one_field() -> None:
    mem = pyimpl.Memory()
    data = mem.buffer(b"xyz")
    q = mem.buffer(QIOV_SIZE)
    pyimpl.qemu_iovec_init_buf(mem, q, data, 3)
    assert pyimpl.read_qiov(mem, q).size == 3
    # iov_discard_back shortens local_iov.iov_len by 1, then `qiov->size -= bytes`
    # subtracts again from the same field: an embedded vector loses the bytes twice.
    pyimpl.qemu_iovec_discard_back(mem, q, 1)
    assert pyimpl.read_qiov(mem, q).size == 1
    assert pyimpl.read_iovecs(mem, q + QIOV_LOCAL_IOV, 1) == [(data, 1)]


def test_add_grows_to_twice_plus_one_and_counts_the_heap() -> None:
    mem = pyimpl.Memory()
    q = mem.buffer(QIOV_SIZE)
    pyimpl.qemu_iovec_init(mem, q, 0)
    nallocs = []
    for k in range(4):
        pyimpl.qemu_iovec_add(mem, q, 0, k)
        nallocs.append(pyimpl.read_qiov(mem, q).nalloc)
    assert nallocs == [1, 3, 3, 7]
    pyimpl.qemu_iovec_destroy(mem, q)
    assert mem.heap_stats() == pyimpl.HeapStats(allocs=1, reallocs=2, frees=1, live=0)
    assert mem.read(q, QIOV_SIZE) == bytes(QIOV_SIZE)


def test_negative_alloc_hint_is_a_glib_fatal_error() -> None:
    mem = pyimpl.Memory()
    q = mem.buffer(QIOV_SIZE)
    with pytest.raises(pyimpl.GLibFatalError, match=r"overflow allocating 18446744073709551615\*16 bytes"):
        pyimpl.qemu_iovec_init(mem, q, -1)


def test_discard_back_on_a_skewed_vector_asserts_before_updating_it() -> None:
    """size larger than the vectors: iov_discard_back drops them all, then assert 760 fires
    before qemu_iovec_discard_back stores niov or size."""
    mem = pyimpl.Memory()
    data = mem.buffer(b"abc")
    arr = vectors(mem, data, [1, 2])
    q = mem.buffer(QIOV_SIZE)
    pyimpl.write_qiov(mem, q, pyimpl.QiovFields(arr, 2, -1, 0, 5))
    with pytest.raises(pyimpl.CAssertionError) as info:
        pyimpl.qemu_iovec_discard_back(mem, q, 4)
    assert (info.value.expr, info.value.line) == ("total == bytes", 760)
    assert pyimpl.read_qiov(mem, q) == pyimpl.QiovFields(arr, 2, -1, 0, 5)
    assert pyimpl.read_iovecs(mem, arr, 2) == [(data, 1), (data + 1, 2)]


def test_clone_keeps_overlap_between_vectors() -> None:
    mem = pyimpl.Memory()
    data = mem.buffer(b"0123456789")
    arr = mem.buffer(3 * IOVEC_SIZE)
    # out of order and overlapping: [4,8) [0,6) [8,10)
    pyimpl.write_iovecs(mem, arr, [(data + 4, 4), (data, 6), (data + 8, 2)])
    src, dest = mem.buffer(QIOV_SIZE), mem.buffer(QIOV_SIZE)
    pyimpl.qemu_iovec_init_external(mem, src, arr, 3)
    pyimpl.qemu_iovec_init(mem, dest, 3)
    buf = mem.buffer(10)
    pyimpl.qemu_iovec_clone(mem, dest, src, buf)
    f = pyimpl.read_qiov(mem, dest)
    assert pyimpl.read_iovecs(mem, f.iov, 3) == [(buf + 4, 4), (buf, 6), (buf + 8, 2)]


def test_clone_of_an_empty_vector_is_a_zero_length_vla() -> None:
    mem = pyimpl.Memory()
    src, dest = mem.buffer(QIOV_SIZE), mem.buffer(QIOV_SIZE)
    pyimpl.qemu_iovec_init_external(mem, src, 0, 0)
    pyimpl.qemu_iovec_init(mem, dest, 1)
    with pytest.raises(pyimpl.UndefinedBehaviour) as info:
        pyimpl.qemu_iovec_clone(mem, dest, src, 0)
    assert info.value.kind == "zero-length-vla"


def test_reading_past_the_iovec_array_is_undefined() -> None:
    mem = pyimpl.Memory(strict=False)  # as C: the count is not checked against the array
    data = mem.buffer(b"ab")
    arr = vectors(mem, data, [2])
    with pytest.raises(pyimpl.UndefinedBehaviour) as info:
        pyimpl.iov_size(mem, arr, 2)
    assert info.value.kind == "out-of-bounds"


def test_a_strict_memory_rejects_a_count_past_the_array_before_writing() -> None:
    mem = pyimpl.Memory()
    data = mem.buffer(b"abcd")
    arr = vectors(mem, data, [2, 2])
    src = mem.buffer(b"WXYZ")
    with pytest.raises(ValueError, match="iov_cnt: 3 entries, but the array at iov holds 2"):
        pyimpl.iov_from_buf(mem, arr, 3, 0, src, 4)
    assert mem.read(data, 4) == b"abcd"
    with pytest.raises(ValueError, match="qiov: 0x10 is not inside any region"):
        pyimpl.qemu_iovec_reset(mem, 0x10)
    cnt, var = mem.buffer(4), mem.buffer(8)
    mem.set_u32(cnt, 5)
    mem.set_u64(var, arr)
    with pytest.raises(ValueError, match="iov_cnt: 5 entries"):
        pyimpl.iov_discard_front(mem, var, cnt, 1)
    assert pyimpl.iov_from_buf(mem, arr, 2, 0, src, 4) == 4  # within bounds: runs as in C


def test_offset_plus_len_wrapping_is_defined_until_the_walk_leaves_the_array() -> None:
    """size_t arithmetic wraps in C without UB: offset 1 + len 2**64-1 is 0 <= size, and
    qiov_slice's second skip starts from 1 + (2**64-1) = 0, so it stays in the vector.
    offset 2**64-1 + 2 wraps to 1 too, but skipping 2**64-1 bytes walks off the array."""
    for strict in (False, True):
        mem = pyimpl.Memory(strict=strict)
        data = mem.buffer(bytes(4))
        q = mem.buffer(QIOV_SIZE)
        pyimpl.qemu_iovec_init_buf(mem, q, data, 4)
        assert pyimpl.qemu_iovec_subvec_niov(mem, q, 1, 2**64 - 1) == 0
        if strict:  # the walk is checked first: the load past the struct is named
            with pytest.raises(ValueError, match=r"qiov->iov\[1\]: 0x[0-9a-f]+ is not inside any region"):
                pyimpl.qemu_iovec_is_zero(mem, q, 2**64 - 1, 2)
            continue
        with pytest.raises(pyimpl.UndefinedBehaviour) as info:
            pyimpl.qemu_iovec_is_zero(mem, q, 2**64 - 1, 2)
        assert info.value.kind == "out-of-bounds"


@pytest.mark.parametrize(
    ("args", "error", "name"),
    [
        ((0, -1), ValueError, "iov_cnt"),
        (("x", 0), TypeError, "iov"),
        ((0, 2**32), ValueError, "iov_cnt"),
        ((1.5, 0), TypeError, "iov"),
    ],
)
def test_bad_arguments_name_the_argument(args: tuple[object, ...], error: type[Exception], name: str) -> None:
    mem = pyimpl.Memory()
    iov_size: Any = pyimpl.iov_size  # called with what its types refuse, on purpose
    with pytest.raises(error, match=name):
        iov_size(mem, *args)


def test_bad_memory_argument_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="mem"):
        pyimpl.iov_size(object(), 0, 0)  # type: ignore[arg-type]


def _source_of(row: pyimpl.CFunction) -> Path:
    from reference_c.revisions import revision

    if row.source == "iov.c":
        return ROOT / "reference_c" / "iov.c"
    return revision(row.source).path


def _ported_asserts() -> set[tuple[str, str, str, int]]:
    """(source, func, expr, line) of every assert the port can raise: the literal _assert calls,
    and the bodies shared by two functions with the lines each passes (SHARED_ASSERT_LINES)."""
    from pyimpl.iov import SHARED_ASSERT_LINES

    tree = ast.parse((ROOT / "pyimpl" / "iov.py").read_text())
    found = set()
    shared: dict[str, list[str]] = {}
    for fn in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
        for node in ast.walk(fn):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "_assert":
                expr, func, line = node.args[1:4]
                assert isinstance(expr, ast.Constant), fn.name
                if isinstance(func, ast.Constant):
                    assert isinstance(line, ast.Constant) and isinstance(line.value, int), fn.name
                    row = iovspec.ctable.BY_NAME[str(func.value)]
                    found.add((row.source, str(func.value), str(expr.value), line.value))
                else:
                    shared.setdefault(fn.name, []).append(str(expr.value))
    bodies = {
        "_send_recv": ("iov_send_recv", "iov_send_recv_with_flags"),
        "_slice": ("qiov_slice", "qemu_iovec_slice"),
    }
    for body, names in bodies.items():
        for name in names:
            lines = SHARED_ASSERT_LINES[name]
            assert len(lines) == len(shared[body]), name
            row = iovspec.ctable.BY_NAME[name]
            found |= {(row.source, name, e, n) for e, n in zip(shared[body], lines, strict=True)}
    return found


def test_every_assert_is_ported_with_its_expression_and_line() -> None:
    """The port's asserts are exactly those of the C sources its table rows name."""
    from reference_c.csource import read_source

    ported = _ported_asserts()
    expected = set()
    for source in {r.source for r in pyimpl.TABLE if r.kind != "inline"}:
        path = ROOT / "reference_c" / "iov.c" if source == "iov.c" else None
        if path is None:
            from reference_c.revisions import revision

            path = revision(source).path
        funcs = {r.name for r in pyimpl.TABLE if r.source == source}
        expected |= {(source, a.func, a.expr, a.line) for a in read_source(path).asserts if a.func in funcs}
    assert ported == expected


def test_functions_are_ported_in_table_order_with_their_line() -> None:
    """Each row's prototype and line are those of its source (pycparser's reading), the
    original's rows in file order, and the port defines the functions in table order."""
    from reference_c.csource import read_source

    for row in pyimpl.TABLE:
        path = ROOT / "reference_c" / "iov.c" if row.source in ("iov.c", "qemu/iov.h") else _source_of(row)
        c = read_source(path).functions[row.name]
        assert (c.line, c.origin) == (row.line, "iov.c" if row.source != "qemu/iov.h" else "qemu/iov.h")
        assert iovspec.ctable.normalise(c.prototype()) == iovspec.ctable.normalise(row.prototype), row.name
    original = [r.line for r in pyimpl.TABLE if r.source == "iov.c"]
    assert original == sorted(original)
    tree = ast.parse((ROOT / "pyimpl" / "iov.py").read_text())
    defined = [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")]
    assert defined == [r.name for r in pyimpl.TABLE]


def test_qemu_iovec_buf_assert_line_matches_the_shim_header() -> None:
    from pyimpl.iov import QEMU_IOVEC_BUF_ASSERT_LINE

    header = (ROOT / "reference_c" / "include" / "qemu" / "iov.h").read_text().splitlines()
    line = header[QEMU_IOVEC_BUF_ASSERT_LINE - 1]
    assert "assert(qiov->nalloc == -1 && qiov->iov == &qiov->local_iov);" in line
