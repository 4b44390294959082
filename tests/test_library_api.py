"""pyimpl and reference_c as libraries: the same names, real signatures, clear errors."""

from __future__ import annotations

import importlib.util
import inspect
import io
import pydoc
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import iovspec.ctable
import iovspec.structs
import pyimpl
import reference_c
from reference_c import facade_gen

ROOT = Path(__file__).resolve().parent.parent
STATIC = [f.name for f in pyimpl.TABLE if f.kind == "static"]
PUBLIC = [f.name for f in pyimpl.TABLE if f.kind != "static"]
SIDES = {"pyimpl": pyimpl, "reference_c": reference_c}
SHARED = [
    "IOVEC_SIZE",
    "QIOV_SIZE",
    "UNDO_SIZE",
    "MemoryLike",
    "HeapStats",
    "QiovFields",
    "UndoFields",
    "CAssertionError",
    "GLibFatalError",
    "read_iovecs",
    "write_iovecs",
    "read_qiov",
    "write_qiov",
    "read_undo",
    "write_undo",
]


@pytest.fixture
def cmem() -> Iterator[reference_c.CMemory]:
    with reference_c.memory() as m:
        yield m


def test_both_sides_export_the_public_functions_and_struct_helpers_but_not_the_statics() -> None:
    for side in SIDES.values():
        assert set(PUBLIC) <= set(side.__all__)
        assert not set(STATIC) & set(side.__all__), side.__name__
        assert all(callable(getattr(side, name)) for name in STATIC)  # still importable
        assert set(SHARED) <= set(side.__all__)
    for name in SHARED:
        assert getattr(pyimpl, name) is getattr(reference_c, name)
    assert (pyimpl.IOVEC_SIZE, pyimpl.QIOV_SIZE, pyimpl.UNDO_SIZE) == (16, 40, 24)


@pytest.mark.parametrize("side", SIDES)
def test_every_function_has_its_real_signature_for_help(side: str) -> None:
    module = SIDES[side]
    for row in pyimpl.TABLE:
        fn = getattr(module, row.name)
        params = list(inspect.signature(fn).parameters)
        assert params == ["mem", *(p.py_name for p in row.inputs)], row.name
    text = pydoc.render_doc(module.iov_to_buf, renderer=pydoc.plaintext)  # type: ignore[attr-defined]  # pydoc has it, its stub not
    assert "iov_to_buf(mem" in text and "iov_cnt: int" in text and "bytes_: int" in text
    assert "iov.h" in text or "iov.c" in text


def _world_args(mem: Any, row: pyimpl.CFunction) -> dict[str, Any]:
    """Arguments that run ``row`` somewhere harmless: each pointer a fresh zeroed block (a
    zeroed QEMUIOVector is an empty owned vector), counts 0, no socket."""
    args: dict[str, Any] = {}
    for p in row.inputs:
        if p.name == "sockfd":
            args[p.py_name] = -1
        elif p.kind == "stream":
            args[p.py_name] = io.StringIO()
        elif p.kind == "str":
            args[p.py_name] = "p"
        elif p.kind == "ptr":
            args[p.py_name] = mem.buffer(256)
        elif p.kind == "bool":
            args[p.py_name] = True
        else:
            args[p.py_name] = 0
    return args


def _outcome(call: Any) -> Any:
    """What a call did, with addresses (which differ between memories) as "address"."""
    try:
        result = call()
    except Exception as exc:
        return type(exc).__name__
    items = result if isinstance(result, tuple) else (result,)
    return tuple("address" if isinstance(v, int) and v > 1 << 20 else v for v in items)


@pytest.mark.parametrize("name", [f.name for f in pyimpl.TABLE])
def test_keyword_calls_work_on_both_sides_and_match_positional_ones(name: str) -> None:
    row = iovspec.ctable.BY_NAME[name]
    ref = reference_c.load()
    outcomes = []
    for side, make in (("pyimpl", pyimpl.Memory), ("reference_c", ref.memory)):
        fn = getattr(SIDES[side], name)
        for by_keyword in (False, True):
            mem = make()
            args = _world_args(mem, row)
            if by_keyword:
                outcomes.append(_outcome(lambda: fn(mem=mem, **args)))  # noqa: B023
            else:
                outcomes.append(_outcome(lambda: fn(mem, *args.values())))  # noqa: B023
            if not isinstance(mem, pyimpl.Memory):  # the C side's memory is closed, not collected
                mem.close()
    missing = "MissingFunction" if name in ref.missing else None
    assert outcomes[0] == outcomes[1], outcomes
    assert outcomes[2] == outcomes[3], outcomes
    assert missing in (None, outcomes[2])


def test_a_wrong_keyword_is_a_type_error_naming_the_function(cmem: reference_c.CMemory) -> None:
    with pytest.raises(TypeError, match=r"iov_size\(\)"):
        pyimpl.iov_size(pyimpl.Memory(), iov=0, count=0)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="count"):
        reference_c.iov_size(cmem, iov=0, count=0)  # type: ignore[call-arg]


def test_each_side_turns_away_the_other_sides_memory(cmem: reference_c.CMemory) -> None:
    with pytest.raises(TypeError, match=r"^mem: expected pyimpl.Memory, got reference_c.CMemory$"):
        pyimpl.iov_size(cmem, 0, 0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^mem: expected reference_c.CMemory, got pyimpl.Memory$"):
        reference_c.iov_size(pyimpl.Memory(), 0, 0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^mem: expected reference_c.CMemory, got pyimpl.Memory$"):
        reference_c.iov_hexdump(pyimpl.Memory(), 0, 0, io.StringIO(), "p", 0)  # type: ignore[arg-type]


def test_both_memories_map_and_unmap_any_writable_buffer(cmem: reference_c.CMemory) -> None:
    import array
    import mmap

    for mem in (pyimpl.Memory(), cmem):
        for buf in (
            bytearray(b"abcd"),
            memoryview(bytearray(b"abcd")),
            mmap.mmap(-1, 4),
            array.array("B", b"abcd"),
        ):
            addr = mem.map(buf)
            mem.write(addr, b"wxyz")
            assert bytes(memoryview(buf)[:4]) == b"wxyz"
            mem.unmap(addr)
        with pytest.raises(TypeError, match="writable"):
            mem.map(b"read-only")
        block = mem.buffer(b"xy")
        mem.unmap(block)


def test_reference_c_all_is_a_literal_of_what_it_gathers() -> None:
    """reference_c.__all__ is written out (type checkers read only a literal list); it must be
    its own names plus iovspec.structs.__all__ and the facade's (the table's public functions)."""
    import ast

    from reference_c import _facade

    tree = ast.parse((ROOT / "reference_c" / "__init__.py").read_text())
    (assign,) = [
        n
        for n in tree.body
        if isinstance(n, ast.Assign) and any(getattr(t, "id", "") == "__all__" for t in n.targets)
    ]
    assert isinstance(assign.value, ast.List) and all(isinstance(e, ast.Constant) for e in assign.value.elts)
    own = set(reference_c.__all__) - set(iovspec.structs.__all__) - set(_facade.__all__)
    assert own == {name for name in own if not name.startswith(("iov_", "qemu_"))}
    assert set(iovspec.structs.__all__) | set(_facade.__all__) <= set(reference_c.__all__)
    assert len(reference_c.__all__) == len(set(reference_c.__all__))
    assert set(_facade.__all__) == set(PUBLIC)


def test_the_facade_is_generated_from_the_table() -> None:
    assert (ROOT / "reference_c" / "_facade.py").read_text() == facade_gen.render()


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is a dev extra")
def test_mypy_sees_the_real_signatures_of_both_sides(tmp_path: Path) -> None:
    """Code written against MemoryLike and either side type-checks; a wrong keyword, a wrong
    type or the other side's memory does not."""
    from mypy import api

    snippet = tmp_path / "use_both.py"
    snippet.write_text(
        textwrap.dedent(
            """
            import pyimpl
            import reference_c

            def total(mem: pyimpl.MemoryLike, arr: int) -> int:
                return pyimpl.read_iovecs(mem, arr, 1)[0][1]

            m = pyimpl.Memory()
            c = reference_c.memory()
            n: int = pyimpl.iov_to_buf(mem=m, iov=0, iov_cnt=0, offset=0, buf=0, bytes_=0)
            k: int = reference_c.iov_to_buf(mem=c, iov=0, iov_cnt=0, offset=0, buf=0, bytes_=0)
            total(m, 0) + total(c, 0)
            pyimpl.iov_size(m, iov=0, count=0)  # E1: no such keyword
            reference_c.iov_size(c, 0, "0")  # E2: not an int
            pyimpl.iov_size(c, 0, 0)  # E3: the other side's memory
            """
        )
    )
    out, err, _ = api.run(
        [
            "--strict",
            "--follow-imports=silent",
            "--cache-dir",
            str(ROOT / ".mypy_cache"),
            str(snippet),
        ]
    )
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert len(errors) == 3, out + err
    expected = [n for n, line in enumerate(snippet.read_text().splitlines(), 1) if "# E" in line]
    assert [int(line.split(":")[1]) for line in errors] == expected, out
