"""pyimpl.sg lifetimes (issue 16, part 1): an object that is gone never writes.

Every sg object knows what it depends on: a copy, a slice, a ``vector()`` view and a
``discarded()`` view depend on the object they were made from, a QIOV that took entries
of another (``concat``) on that one; a clone owns its buffer and array and depends on
nothing.  Closing (destroying) an object first closes everything that depends on it; using
a closed object is a ValueError that touches nothing.  The C side's scenarios run in a
child process, so a regression that corrupts the C heap fails here instead of killing the
worker.
"""

from __future__ import annotations

from typing import Any

import pytest
from sg_sides import SIDES, on, outcome, side_kwargs

import pyimpl
from pyimpl import UndefinedBehaviour, sg

# -- a slice used after its parent's block -------------------------------------------------


def slice_after_its_parent(state: dict[str, Any], side: str) -> tuple[tuple[str, Any], bytes, bytes]:
    kw = side_kwargs(side)
    with sg.QIOV([bytearray(b"0123456789")], **kw) as p:
        s = p.slice(2, 4)
    victim = bytearray(b"victim-data")
    v = sg.QIOV([victim], **kw)  # made after: on a memory that reuses addresses, where s pointed
    seen = outcome(lambda: s.write(b"ZZ"))
    read = outcome(lambda: s.to_bytes())
    v.destroy()
    return seen, read[1], bytes(victim)


@pytest.mark.parametrize("side", SIDES)
def test_a_slice_used_after_its_parents_block_raises_and_touches_nothing(side: str) -> None:
    """The issue's b'ZZctim-data': the slice was destroyed with its parent, so it raises."""
    seen, read, victim = on(side, slice_after_its_parent)
    assert seen == ("ValueError", "qiov: destroyed with the QIOV it depends on")
    assert read == "qiov: destroyed with the QIOV it depends on"
    assert victim == b"victim-data"


# -- close() inside a discarded() block -------------------------------------------------------


def close_inside_discarded(state: dict[str, Any], side: str, rounds: int) -> list[Any]:
    kw = side_kwargs(side)
    seen: list[Any] = []
    for _ in range(rounds):
        chain = [bytearray(b"abcdefgh"), bytearray(b"ijklmnop")]
        v = sg.IOVector(chain, **kw)
        with v.discarded(front=3, back=2) as mid:
            v.close()
            seen.append(outcome(mid.read))
        seen.append(outcome(mid.read))
        seen.append(bytes(chain[0] + chain[1]))
        # the C heap, were it corrupt, would abort in one of these allocations
        q = sg.QIOV([bytearray(8) for _ in range(5)], **kw)
        q.destroy()
    return seen


@pytest.mark.parametrize("side", SIDES)
def test_close_inside_discarded_does_not_write_into_the_freed_array(side: str) -> None:
    """The undo on the way out is skipped when the vector is gone: no write into its freed
    array (on the C side a corrupt heap, ``malloc_consolidate(): unaligned fastbin chunk``)."""
    seen = on(side, close_inside_discarded, 40)
    closed = ("ValueError", "vector: closed with the IOVector it depends on")
    assert seen == [closed, closed, b"abcdefghijklmnop"] * 40


# -- QIOV.clone(buffer) checks the buffer ---------------------------------------------------------


def clone_into_a_short_buffer(state: dict[str, Any], side: str) -> tuple[Any, ...]:
    kw = side_kwargs(side)
    mem = kw["mem"]
    q = sg.QIOV([bytearray(b"abcd"), bytearray(b"efgh")], **kw)
    before = mem.heap_stats()
    short = bytearray(b"xyz")
    seen = outcome(lambda: q.clone(short))
    after = mem.heap_stats()
    fits = q.clone(bytearray(8))
    fits.write(b"12345678")
    return seen, before == after, bytes(short), fits.to_bytes(), q.to_bytes()


@pytest.mark.parametrize("side", SIDES)
def test_clone_refuses_a_buffer_shorter_than_the_vector(side: str) -> None:
    """On the C side it was an out-of-bounds read and write; now a ValueError before any call."""
    seen, untouched_heap, short, cloned, source = on(side, clone_into_a_short_buffer)
    assert seen == ("ValueError", "buffer: 3 bytes, but the vector holds 8")
    assert untouched_heap and short == b"xyz"
    assert cloned == b"12345678" and source == b"abcdefgh"


# -- what depends on what ------------------------------------------------------------------------


def made_from_a_qiov(state: dict[str, Any], side: str) -> dict[str, Any]:
    kw = side_kwargs(side)
    q = sg.QIOV([bytearray(b"abcd"), bytearray(b"efgh")], **kw)
    s = q.slice(1, 5)
    view = q.vector()
    copy = view.copy(2, 3)
    r = sg.QIOV([bytearray(b"R")], **kw)
    r.concat(q, 6, 2)  # r now points into q's second buffer
    c = q.clone()
    c.write(b"CLONEDXX")
    independent = sg.QIOV([bytearray(b"ind")], **kw)
    q.destroy()
    return {
        name: outcome(call)
        for name, call in (
            ("slice", s.to_bytes),
            ("view", view.read),
            ("copy", copy.read),
            ("concat", r.to_bytes),
            ("clone", c.to_bytes),
            ("independent", independent.to_bytes),
            ("q", lambda: len(q)),
        )
    }


@pytest.mark.parametrize("side", SIDES)
def test_destroying_a_qiov_closes_what_depends_on_it_and_nothing_else(side: str) -> None:
    seen = on(side, made_from_a_qiov)
    assert seen == {
        "slice": ("ValueError", "qiov: destroyed with the QIOV it depends on"),
        "view": ("ValueError", "vector: closed with the QIOV it depends on"),
        "copy": ("ValueError", "vector: closed with the IOVector it depends on"),
        "concat": ("ValueError", "qiov: destroyed with the QIOV it depends on"),
        "clone": ("ok", b"CLONEDXX"),  # it owns its buffer and array
        "independent": ("ok", b"ind"),
        "q": ("ValueError", "qiov: destroyed"),
    }


def test_closing_frees_the_memory_of_everything_closed() -> None:
    """Each object frees what it made (structs, arrays, heap blocks) when it is closed, and
    closing a parent frees its dependants' too: no heap block is left."""
    mem = pyimpl.Memory()
    q = sg.QIOV([bytearray(4), bytearray(4)], mem=mem)
    q.slice(1, 5)
    q.clone()
    q.vector().copy()
    q.add(bytearray(2))  # grows its heap array
    r = sg.QIOV(mem=mem)
    r.concat(q)
    assert mem.heap_stats().live == 4  # q's, the slice's, the clone's and r's arrays
    q.destroy()
    assert mem.heap_stats().live == 1  # the clone's
    regions = len(mem._regions)
    for _ in range(20):  # a loop of vectors leaves nothing behind
        with sg.QIOV([bytearray(3)], mem=mem) as t:
            t.slice(0, 2)
            t.vector().copy()
    assert len(mem._regions) == regions and mem.heap_stats().live == 1


def test_a_discarded_view_ends_with_its_block_and_so_does_what_was_made_from_it() -> None:
    v = sg.IOVector([bytearray(b"abcdef")])
    with v.discarded(front=1, back=1) as mid:
        copy = mid.copy()
        assert copy.read() == b"bcde"
    for obj in (mid, copy):
        with pytest.raises(ValueError, match=r"^vector: closed"):
            obj.read()
    assert v.read() == b"abcdef"  # undone


def test_a_vector_view_of_a_qiov_ends_when_its_entries_change() -> None:
    """``add`` and ``concat`` may move the QIOV's array (g_renew): views of it end."""
    q = sg.QIOV([bytearray(b"ab")])
    view = q.vector()
    q.add(bytearray(b"cd"))
    with pytest.raises(ValueError, match=r"^vector: closed when its QIOV's entries changed$"):
        view.read()
    assert q.vector().read() == b"abcd"


def test_a_qiov_is_busy_while_a_discarded_block_cuts_its_entries() -> None:
    """Its ``size`` field no longer matches its cut entries (the C walks by size would run past
    them): everything but destroy waits for the block to end."""
    q = sg.QIOV([bytearray(b"abcd"), bytearray(b"efgh")])
    with q.vector().discarded(front=2, back=3) as mid:
        assert mid.read() == b"cde"
        busy = r"^qiov: its entries are cut by an open discarded\(\) block$"
        for call in (q.to_bytes, q.is_zero, lambda: q.slice(0, 8), q.clone, lambda: q.add(bytearray(1))):
            with pytest.raises(ValueError, match=busy):
                call()
    assert q.to_bytes() == b"abcdefgh" and q.slice(0, 8).to_bytes() == b"abcdefgh"


def test_a_qiov_destroyed_inside_a_discarded_block_is_not_undone_into() -> None:
    mem = pyimpl.Memory()
    q = sg.QIOV([bytearray(b"abcd"), bytearray(b"efgh")], mem=mem)
    with q.vector().discarded(front=2) as mid:
        q.destroy()
        with pytest.raises(ValueError, match="closed"):
            mid.read()
    assert mem.heap_stats().live == 0


def blocks_left_out_of_order(state: dict[str, Any], side: str) -> tuple[bytes, bytes]:
    chain = [bytearray(b"abcd"), bytearray(b"efgh")]
    v = sg.IOVector(chain, **side_kwargs(side))
    first = v.discarded(front=2)
    second = v.discarded(back=2)
    first.__enter__()
    second.__enter__()  # records entry 0 as the first block left it: cut by 2
    first.__exit__(None, None, None)
    second.__exit__(None, None, None)  # so its undo puts the cut back
    return v.read(), bytes(chain[0] + chain[1])


@pytest.mark.parametrize("side", SIDES)
def test_discarded_blocks_may_end_in_any_order(side: str) -> None:
    """Two blocks over one array, left in the order they were entered: each undo restores
    the entry it recorded, as C does (the vector stays cut by the first block), and every
    write lands in the live array: no byte of a buffer changes."""
    assert on(side, blocks_left_out_of_order) == (b"cdefgh", b"abcdefgh")


def test_concat_of_a_qiov_with_itself_reads_what_it_had() -> None:
    """qemu_iovec_concat(q, q) reads q's array while it grows it (a g_renew frees what it
    reads); sg takes the entries through a slice first, on both sides alike."""
    q = sg.QIOV([bytearray(b"ab"), bytearray(b"cd")])
    q.concat(q, 1, 2)
    assert q.to_bytes() == b"abcdbc" and q.niov == 4


def test_closing_twice_and_closing_a_dependant_first_are_fine() -> None:
    q = sg.QIOV([bytearray(b"abcd")])
    s = q.slice(0, 2)
    s.destroy()
    s.destroy()
    assert q.to_bytes() == b"abcd"
    q.close()
    q.destroy()
    with pytest.raises(ValueError, match=r"^qiov: destroyed$"):
        q.to_bytes()
    with pytest.raises(ValueError, match=r"^other: destroyed$"):
        sg.QIOV().concat(q)


# -- a strict Memory never reuses an address range ------------------------------------------------


def test_a_strict_memory_never_hands_out_an_address_twice() -> None:
    mem = pyimpl.Memory()
    a = mem.buffer(32)
    mem.unmap(a)
    b = mem.buffer(32)
    assert not a <= b < a + 32
    block = mem.g_malloc(64)
    mem.g_free(block)
    assert not block <= mem.g_malloc(64) < block + 64


def test_a_stale_pointer_into_a_strict_memory_is_a_use_after_free() -> None:
    """The strict checks name it; without them (the port's own access) it is UB of that kind."""
    mem = pyimpl.Memory()
    arr = mem.buffer(16)
    mem.unmap(arr)
    stale = r"^iov: 0x[0-9a-f]+ points into freed memory \(use after free\), but iov_cnt is 1$"
    with pytest.raises(ValueError, match=stale):
        pyimpl.iov_size(mem, arr, 1)
    with pytest.raises(UndefinedBehaviour) as info:
        mem.u64(arr)
    assert info.value.kind == "use-after-free"


def test_the_harness_memory_still_reuses_what_it_unmaps_as_c_does() -> None:
    """``Memory(strict=False)`` mirrors the C arena: the last region unmapped gives its
    addresses back, so the next one lands where it was."""
    mem = pyimpl.Memory(strict=False)
    a = mem.buffer(32)
    mem.unmap(a)
    assert mem.buffer(32) == a


def test_objects_dropped_unclosed_are_collected_with_their_memory() -> None:
    """What sg keeps per memory (its index of mapped buffers) does not keep the memory alive:
    vectors made on their own memory and dropped leave nothing behind."""
    import gc

    gc.collect()
    before = len(pyimpl.Memory._live)
    for _ in range(30):
        q = sg.QIOV([bytearray(4), bytearray(4)])
        q.slice(0, 6)
        sg.IOVector([bytearray(3)]).copy()
    del q
    gc.collect()
    assert len(pyimpl.Memory._live) <= before + 1


def closing_the_c_memory_under_live_objects(state: dict[str, Any], side: str) -> list[Any]:
    kw = side_kwargs(side)
    chain = [bytearray(b"abcd")]
    v = sg.IOVector(chain, **kw)
    q = sg.QIOV([bytearray(b"efgh")], **kw)
    with v.discarded(front=1) as mid:
        kw["mem"].close()
        seen = [outcome(mid.read), outcome(v.read), outcome(lambda: q.to_bytes()), repr(v), repr(q)]
    v.close()  # nothing left to free: the memory freed it all
    q.destroy()
    return [*seen, bytes(chain[0])]


def test_objects_of_a_closed_c_memory_raise_and_touch_nothing() -> None:
    """``CMemory.close()`` frees everything the memory holds; sg's objects on it then raise
    instead of reaching into freed C memory (the discarded() block's undo included)."""
    assert on("reference_c", closing_the_c_memory_under_live_objects) == [
        ("ValueError", "vector: its memory is closed"),
        ("ValueError", "vector: its memory is closed"),
        ("ValueError", "qiov: its memory is closed"),
        "<IOVector of a closed memory>",
        "<QIOV of a closed memory>",
        b"abcd",
    ]


def test_a_strict_memory_that_used_up_its_range_moves_on_to_another() -> None:
    """However long it lives: once the zone of its regions (or its heap) is used up, a strict
    memory takes a fresh range of addresses for the next ones, still its own."""
    mem = pyimpl.Memory()
    first = mem.buffer(16)
    mem._next = mem._next_end - 8  # as after some hundred million buffers
    nxt = mem.buffer(16)
    assert nxt // pyimpl.memory.RANGE_SIZE != first // pyimpl.memory.RANGE_SIZE
    assert pyimpl.Memory.owner(nxt) is mem and mem.read(nxt, 16) == bytes(16)
    mem._heap_next = mem._heap_end - 8
    block = mem.g_malloc(32)
    assert pyimpl.Memory.owner(block) is mem and block // pyimpl.memory.RANGE_SIZE not in (
        first // pyimpl.memory.RANGE_SIZE,
        nxt // pyimpl.memory.RANGE_SIZE,
    )
    arr = mem.buffer(16)  # and the port works across its ranges
    pyimpl.write_iovecs(mem, arr, [(first, 16)])
    assert pyimpl.iov_to_buf(mem, arr, 1, 0, block, 16) == 16


# -- one buffer, one address: a buffer in two entries, a slice of a mapped buffer --------------


def _aliases(state: dict[str, Any], side: str) -> tuple[Any, ...]:
    kw = side_kwargs(side)
    one = bytearray(b"p")
    whole = bytearray(b"abcdef")
    with sg.QIOV([one, one], alloc_hint=0, **kw) as twice, twice.clone() as clone:
        clone.write(b"\x01", 0)  # the clone merged the two entries over one byte, as C does
        cloned_twice = clone.to_bytes()
    with sg.QIOV([memoryview(whole)[2:4], whole], **kw) as nested:
        (a, _), (b, _) = nested.entries()
        with nested.clone() as copy:
            copy.write(b"XY", 0)  # the slice lies inside the whole buffer in the clone too
            nested_bytes = copy.to_bytes()
    first = sg.IOVector([whole], **kw)
    second = sg.IOVector([memoryview(whole)[1:]], **kw)
    first.close()  # the buffer stays mapped for the vector that still holds it
    second.write(b"Z", 0)
    return cloned_twice, a - b, nested_bytes, bytes(whole), second.read()


def test_a_buffer_has_one_address_however_often_it_is_mapped() -> None:
    """As in C, where a buffer is its own address: the same bytearray twice in a vector is one
    byte to qemu_iovec_clone (writing it through the clone shows in both entries), a slice of a
    buffer lies inside that buffer, and closing one vector leaves the buffer mapped for another
    (the port mapped each entry apart, so its clone kept two separate bytes where C's had one)."""
    port, c = on("pyimpl", _aliases), on("reference_c", _aliases)
    assert port == c
    cloned_twice, offset, nested, whole, rest = port
    assert cloned_twice == b"\x01\x01" and offset == 2
    assert nested == b"XY" + b"\x00\x00XY\x00\x00"  # a zeroed clone, the slice at offset 2 of it
    assert whole == b"aZcdef" and rest == b"Zcdef"
