"""reference_c.csource against the C text itself: every expectation here is read
from the files with regular expressions, independently of the parser."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import NamedTuple

import pytest

from reference_c import csource
from reference_c import revisions as rv

ROOT = Path(__file__).resolve().parents[1]
INCLUDE = ROOT / "reference_c" / "include"
IOV_H = INCLUDE / "qemu" / "iov.h"
REVS = pytest.mark.parametrize("rev", rv.REVISIONS, ids=lambda r: r.tag)

#: a definition: at column 0 (not a comment, directive or brace), an optional
#: return type, the name, a parameter list, then a body
_DEFINITION = re.compile(r"^(?![\s#/*{}])([^;{}()]*?)\b(\w+)\s*\(([^;{}]*?)\)\s*\{", re.M)


def strip_comments(text: str) -> str:
    """Comments replaced by blanks of the same length (line numbers stay)."""
    return re.sub(r"/\*.*?\*/|//[^\n]*", lambda m: re.sub(r"[^\n]", " ", m.group(0)), text, flags=re.S)


def line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def matching(text: str, start: int, open_: str, close: str) -> int:
    """Offset just past the bracket that closes the one at ``start``."""
    depth = 0
    for i in range(start, len(text)):
        depth += {open_: 1, close: -1}.get(text[i], 0)
        if depth == 0:
            return i + 1
    raise ValueError("unbalanced")


class Definition(NamedTuple):
    line: int  # of the name
    specifiers: list[str]  # the words before the name that are not the return type
    ret: str  # the return type as written
    params: str  # the parameter list as written
    body: str


def definitions(path: Path) -> dict[str, Definition]:
    """The functions ``path`` defines, in file order."""
    text = strip_comments(path.read_text())
    found = {}
    for m in _DEFINITION.finditer(text):
        words = m.group(1).split()
        specifiers = [w for w in words if w in ("static", "inline")]
        ret = " ".join(w for w in words if w not in specifiers)
        body_start = m.end() - 1
        body = text[body_start : matching(text, body_start, "{", "}")]
        found[m.group(2)] = Definition(line_of(text, m.start(2)), specifiers, ret, m.group(3), body)
    return found


def assert_texts(path: Path) -> list[tuple[int, str]]:
    """(line, expression with its whitespace collapsed as #e does) of every assert(...)."""
    text = strip_comments(path.read_text())
    sites = []
    for m in re.finditer(r"\bassert\(", text):
        end = matching(text, m.end() - 1, "(", ")")
        sites.append((line_of(text, m.start()), " ".join(text[m.end() : end - 1].split())))
    return sites


@pytest.fixture(scope="module")
def original() -> csource.SourceInfo:
    return csource.read_source(rv.ORIGINAL.path)


@REVS
def test_functions_are_the_definitions_of_the_file_and_the_header_inlines(rev: rv.Revision) -> None:
    info = csource.read_source(rev.path)
    in_source, in_header = definitions(rev.path), definitions(IOV_H)
    assert list(info.functions) == [*in_source, *in_header]  # the file in file order, then the header
    for name, f in info.functions.items():
        origin, d = ("iov.c", in_source[name]) if name in in_source else ("qemu/iov.h", in_header[name])
        assert (f.name, f.origin, f.line) == (name, origin, d.line)
        assert (f.static, f.inline) == ("static" in d.specifiers, "inline" in d.specifiers)
        # that line holds the name followed by its parameter list
        lines = (rev.path if origin == "iov.c" else IOV_H).read_text().splitlines()
        assert re.search(rf"\b{name}\s*\(", lines[f.line - 1])


def squash(c: str) -> str:
    """C text with its whitespace normalised."""
    return re.sub(r"\s*([*(),])\s*", r"\1", " ".join(c.split()))


@REVS
def test_prototypes_are_the_definitions_text(rev: rv.Revision) -> None:
    info = csource.read_source(rev.path)
    defs = {**definitions(rev.path), **definitions(IOV_H)}
    for name, f in info.functions.items():
        d = defs[name]
        assert squash(f.prototype()) == squash(f"{d.ret} {name}({d.params})")


@REVS
def test_assert_sites_are_the_assert_calls_of_the_file(rev: rv.Revision) -> None:
    info = csource.read_source(rev.path)
    assert [(a.line, a.expr) for a in info.asserts] == assert_texts(rev.path)
    # each one sits in the last function defined above it
    starts = sorted((d.line, name) for name, d in definitions(rev.path).items())
    for a in info.asserts:
        assert a.func == max(s for s in starts if s[0] <= a.line)[1]
    # ordinals count the sites of one (function, expression), in line order
    for a in info.asserts:
        earlier = [b for b in info.asserts if (b.func, b.expr) == (a.func, a.expr) and b.line < a.line]
        assert a.ordinal == len(earlier)


def test_original_assert_sites(original: csource.SourceInfo) -> None:
    text = rv.ORIGINAL.path.read_text()
    assert len(original.asserts) == text.count("assert(") == 24
    twins = [a for a in original.asserts if a.func == "iov_send_recv" and a.expr == "niov < iov_cnt"]
    assert [a.ordinal for a in twins] == [0, 1]
    assert twins[0].line < twins[1].line


@REVS
def test_calls_are_the_names_in_each_body(rev: rv.Revision) -> None:
    """A function calls (or passes on) exactly the functions of the file whose
    names occur in its body as identifiers."""
    info = csource.read_source(rev.path)
    defs = {**definitions(rev.path), **definitions(IOV_H)}
    for name, d in defs.items():
        named = {g for g in info.functions if re.search(rf"(?<![.>\w]){g}\b", d.body)}
        assert info.calls[name] == named, name


def test_callers_are_transitive(original: csource.SourceInfo) -> None:
    callers = original.callers("iov_skip_offset")
    assert "qemu_iovec_is_zero" in callers
    # qemu_iovec_init_slice -> qemu_iovec_init_extended -> qiov_slice -> iov_skip_offset
    assert {"qiov_slice", "qemu_iovec_init_extended", "qemu_iovec_init_slice"} <= callers
    assert "iov_skip_offset" not in callers
    assert original.callers("iov_send_recv") == {"iov_send", "iov_recv"}
    assert original.callers("sortelem_cmp_src_base") == {"qemu_iovec_clone"}
    with pytest.raises(KeyError):
        original.callers("no_such_function")


def test_v8_1_makes_qiov_slice_public_and_drops_init_extended() -> None:
    info = csource.read_source(rv.revision("v8.1.0").path)
    assert not info.functions["qemu_iovec_slice"].static
    assert "qiov_slice" not in info.functions
    assert "qemu_iovec_init_extended" not in info.functions
    assert "qemu_iovec_init_extended" in csource.read_source(rv.revision("v8.0.0").path).functions


def test_v9_2_sends_with_flags() -> None:
    info = csource.read_source(rv.revision("v9.2.0").path)
    f = info.functions["iov_send_recv_with_flags"]
    assert (f.origin, f.static) == ("iov.c", False)
    assert "iov_send_recv_with_flags" in info.calls["iov_send_recv"]
    do = info.functions["do_send_recv"]
    assert do.static
    assert (
        do.prototype()
        == "ssize_t do_send_recv(int sockfd, int flags, struct iovec *iov, unsigned iov_cnt, bool do_send)"
    )


def test_v10_0_drops_five_asserts() -> None:
    v92 = csource.read_source(rv.revision("v9.2.0").path)
    v10 = csource.read_source(rv.revision("v10.0.0").path)
    assert len(v10.asserts) == len(v92.asserts) - 5


def test_header_inline_and_types(original: csource.SourceInfo) -> None:
    f = original.functions["qemu_iovec_buf"]
    assert (f.origin, f.static, f.inline, f.ret) == ("qemu/iov.h", True, True, "void *")
    assert f.params == (csource.Param("QEMUIOVector *", "qiov"),)
    assert original.functions["iov_size"].prototype() == (
        "size_t iov_size(const struct iovec *iov, const unsigned int iov_cnt)"
    )
    assert original.functions["iov_discard_front"].params[0].ctype == "struct iovec **"
    # nothing from our other headers (glib.h, iovconf-parse.h) or the system
    assert {f.origin for f in original.functions.values()} == {"iov.c", "qemu/iov.h"}


def test_info_identifies_the_source(original: csource.SourceInfo) -> None:
    assert original.path == rv.ORIGINAL.path
    assert original.sha256 == rv.ORIGINAL.sha256


def test_cached_per_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = csource.read_source(rv.ORIGINAL.path)
    copy = tmp_path / "copy-of-iov.c"
    copy.write_bytes(rv.ORIGINAL.path.read_bytes())

    def no_preprocessing(path: Path) -> str:
        raise AssertionError("parsed again")

    monkeypatch.setattr(csource, "preprocess", no_preprocessing)
    again = csource.read_source(copy)
    assert again.path == copy.resolve()
    assert (again.functions, again.asserts, again.calls) == (first.functions, first.asserts, first.calls)
    again.functions.clear()  # each call has its own dicts
    assert csource.read_source(rv.ORIGINAL.path).functions == first.functions

    changed = tmp_path / "changed.c"
    changed.write_text(rv.ORIGINAL.path.read_text() + "\n/* changed */\n")
    with pytest.raises(AssertionError, match="parsed again"):
        csource.read_source(changed)


def test_a_broken_source_is_an_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.c"
    bad.write_text('#include "qemu/osdep.h"\nint f(void) { return ; ; }}\n')
    with pytest.raises(csource.CSourceError):
        csource.read_source(bad)
    missing = tmp_path / "missing.c"
    missing.write_text("#include <stdio.h>\n")  # a system header: never read in parse mode
    with pytest.raises(csource.CSourceError, match=r"stdio\.h"):
        csource.read_source(missing)


@REVS
def test_parse_mode_reads_only_our_files(rev: rv.Revision) -> None:
    text = csource.preprocess(rev.path)
    files = set(re.findall(r'^# \d+ "([^"]+)"', text, re.M)) - {"<built-in>", "<command-line>"}
    assert rev.path.name in files
    for f in files - {rev.path.name}:
        assert Path(f).is_relative_to(INCLUDE), f


@REVS
def test_parse_mode_text_is_valid_c(rev: rv.Revision) -> None:
    """gcc accepts what pycparser reads (offsetof is a keyword to pycparser, a
    builtin to gcc), so the declarations of iovconf-parse.h fit their use."""
    cmd = [
        csource.CPP,
        "-fsyntax-only",
        *csource.PARSE_FLAGS,
        "-Wall",
        "-Werror",
        "-Doffsetof=__builtin_offsetof",
        *(f"-I{d}" for d in csource.INCLUDE_DIRS),
        str(rev.path),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
