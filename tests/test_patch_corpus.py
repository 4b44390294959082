"""The patch-review corpus (tests/patches) and the judging of ci/review_patches.py.

The corpus is test data for the harness: each patch must apply to the original, touch
exactly the functions its manifest entry names, and (refactors) build.  The runner's
verdicts are checked on synthetic records; no campaign runs here (the runner does that).
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pycparser import c_ast, c_generator, c_parser  # type: ignore[import-untyped]

import reference_c
from harness.campaign.pool import CAMPAIGNS
from harness.model.outcome import KINDS
from reference_c import csource

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "ci"))
#: ci/review_patches.py, the runner (a script, not a package: imported by path)
rp: Any = importlib.import_module("review_patches")
sys.path.remove(str(ROOT / "ci"))

PATCHES = rp.load_manifest()
BY_CLASS = {k: [p for p in PATCHES if p.klass == k] for k in rp.CLASSES}


class _ForgetAssertLines(c_ast.NodeVisitor):  # type: ignore[misc]
    """The parse-mode assert passes its __LINE__ (include/iovconf-parse.h): a line number only."""

    def visit_FuncCall(self, node: Any) -> None:
        if isinstance(node.name, c_ast.ID) and node.name.name == csource.ASSERT_SITE:
            node.args.exprs[1] = c_ast.Constant("int", "0")
        self.generic_visit(node)


def function_texts(path: Path) -> dict[str, str]:
    """Each function the C file itself defines, as pycparser regenerates it from the parse
    (comments, layout and line numbers gone): two texts differ only if the code does."""
    tree = c_parser.CParser().parse(csource.preprocess(path), path.name)
    _ForgetAssertLines().visit(tree)
    gen = c_generator.CGenerator()
    return {
        str(ext.decl.name): str(gen.visit(ext))
        for ext in tree.ext
        if isinstance(ext, c_ast.FuncDef) and ext.decl.coord.file == path.name
    }


ORIGINAL_TEXTS = function_texts(rp.ORIGINAL)


@pytest.fixture(params=PATCHES, ids=lambda p: p.name)
def applied(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Any, Path]]:
    patch = request.param
    yield patch, rp.apply(patch.path, tmp_path / patch.name)


# -- the manifest -----------------------------------------------------------------------


def test_the_manifest_lists_every_patch_file_and_nothing_else() -> None:
    assert {p.name for p in PATCHES} == {f.stem for f in rp.PATCHES.glob("*.patch")}


def test_the_corpus_has_refactors_bugs_and_upstream_changes_of_every_sort() -> None:
    """What issue 15 asks of the corpus: 12+ refactors, 12+ bugs, 2+ upstream changes;
    the bugs' real causes cover the behaviour kinds a patch to iov.c can have."""
    assert len(BY_CLASS["refactor"]) >= 12
    assert len(BY_CLASS["bug"]) >= 12
    assert len(BY_CLASS["upstream"]) >= 2
    kinds = {k for p in BY_CLASS["bug"] for c in p.causes for k in c.kinds}
    assert {
        "a different value",
        "different memory",
        "different heap use",
        "an assert became a return",
        "a return became an assert",
        "a crash",
    } <= kinds


def test_every_cause_kind_is_a_harness_kind() -> None:
    for p in PATCHES:
        for c in p.causes:
            assert set(c.kinds) <= set(KINDS), p.name


def _manifest(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "patches.toml"
    path.write_text(body)
    return path


GOOD_BUG = """
[[patch]]
name = "x"
class = "bug"
functions = ["iov_size"]
description = "util/iov: something"
bug = "wrong"
causes = [{ function = "iov_size", kinds = ["a different value"] }]
"""


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('class = "bug"', 'class = "feature"'), "class must be one of"),
        (('"a different value"', '"a wrong value"'), "not among harness.model.outcome.KINDS"),
        (('function = "iov_size"', 'function = "iov_copy"'), "not among the functions it touches"),
        (('class = "bug"', 'class = "refactor"'), "has no causes"),
        (
            ('bug = "wrong"\ncauses = [{ function = "iov_size", kinds = ["a different value"] }]', ""),
            "needs causes",
        ),
        (('bug = "wrong"\n', ""), "bug (what is wrong)"),
        (('functions = ["iov_size"]', 'functions = ["iov_size", "iov_size"]'), "names a function twice"),
        (('description = "util/iov: something"', 'subject = "x"'), "unknown keys"),
    ],
)
def test_a_manifest_that_cannot_be_trusted_is_refused_with_where(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    assert rp.load_manifest(_manifest(tmp_path, GOOD_BUG))[0].is_cause("iov_size", "a different value")
    with pytest.raises(rp.ManifestError, match="patch 1 \\(x\\)") as exc:
        rp.load_manifest(_manifest(tmp_path, GOOD_BUG.replace(*change)))
    assert message in str(exc.value)


def test_a_patch_name_listed_twice_is_refused(tmp_path: Path) -> None:
    with pytest.raises(rp.ManifestError, match="listed twice"):
        rp.load_manifest(_manifest(tmp_path, GOOD_BUG + GOOD_BUG))


# -- the patches against the sources ---------------------------------------------------------


def _without_comments(text: str) -> str:
    return re.sub(r"/\*.*?\*/|//[^\n]*", " ", text, flags=re.S)


def source_texts(path: Path) -> dict[str, str]:
    """Each function of the file as written (from the line of its name to its closing brace),
    comments dropped and blanks squeezed: what a patch changes that the parse mode expands
    away (``unlikely(x)`` is ``(x)`` there) still shows."""
    lines = path.read_text().splitlines(keepends=True)
    texts = {}
    for f in csource.read_source(path).functions.values():
        if f.origin != csource.SOURCE_ORIGIN:
            continue
        rest = _without_comments("".join(lines[f.line - 1 :]))
        depth, end = 0, len(rest)
        for m in re.finditer(r"[{}]", rest):
            depth += 1 if m.group() == "{" else -1
            if depth == 0:
                end = m.end()
                break
        texts[f.name] = " ".join(rest[:end].split())
    return texts


ORIGINAL_SOURCE_TEXTS = source_texts(rp.ORIGINAL)


def _differ(before: dict[str, str], after: dict[str, str]) -> set[str]:
    return {f for f in before.keys() | after.keys() if before.get(f) != after.get(f)}


def test_each_patch_applies_and_changes_exactly_the_functions_it_names(applied: tuple[Any, Path]) -> None:
    """A function differs when the patch adds it, removes it or changes its code as the
    parser sees it (a comment or a blank line is no change): every such function is named.
    And every function named differs, in its code or, for what the parse mode cannot see
    (likely/unlikely), in its text without comments."""
    patch, patched = applied
    code = _differ(ORIGINAL_TEXTS, function_texts(patched))
    text = _differ(ORIGINAL_SOURCE_TEXTS, source_texts(patched))
    assert code <= set(patch.functions)
    assert set(patch.functions) <= code | text


def test_each_patch_leaves_a_source_the_harness_can_read(applied: tuple[Any, Path]) -> None:
    """read_source parses it; a refactor keeps every function (and its callers' campaigns run)."""
    patch, patched = applied
    info = csource.read_source(patched)
    if patch.klass == "refactor":
        assert set(ORIGINAL_TEXTS) <= set(info.functions)
    assert rp.functions_to_run(patch, [csource.read_source(rp.ORIGINAL), info])


@pytest.mark.parametrize("patch", BY_CLASS["refactor"], ids=lambda p: p.name)
def test_each_refactor_builds_with_the_shims(patch: Any, tmp_path: Path) -> None:
    ref = reference_c.load(str(rp.apply(patch.path, tmp_path)))
    assert ref is not None


def test_a_patch_that_does_not_apply_exactly_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.patch"
    text = (rp.PATCHES / "compare-hoist-len.patch").read_text()
    bad.write_text(text.replace("uint8_t *q", "uint8_t *r", 1))
    with pytest.raises(RuntimeError, match="does not apply"):
        rp.apply(bad, tmp_path / "work")


# -- which functions the runner selects ----------------------------------------------------------


def test_the_runner_runs_touched_functions_and_a_static_helpers_callers() -> None:
    """A qsort comparator has no campaign: its caller qemu_iovec_clone runs instead; touched
    functions with campaigns are run as they are, in campaign order."""
    original = csource.read_source(rp.ORIGINAL)
    comparator = rp.Patch("p", "refactor", ("sortelem_cmp_src_index",), "d")
    assert rp.functions_to_run(comparator, [original]) == ["qemu_iovec_clone"]
    both = rp.Patch("p", "refactor", ("qemu_iovec_compare", "iov_size"), "d")
    assert rp.functions_to_run(both, [original]) == [f for f in CAMPAIGNS if f in both.functions]


# -- judging a command's record ------------------------------------------------------------------

BUG = rp.Patch(
    "b",
    "bug",
    ("qemu_iovec_compare",),
    "d",
    "wrong offset",
    (rp.Cause("qemu_iovec_compare", ("a different value",)),),
)
REFACTOR = rp.Patch("r", "refactor", ("qemu_iovec_compare",), "d")


def row(function: str, verdict: str, kind: str = "", **extra: Any) -> dict[str, Any]:
    return {"function": function, "verdict": verdict, "kind": kind, "difference": f"{kind} here", **extra}


def record(*rows: dict[str, Any]) -> dict[str, Any]:
    return {"command": "run", "seed": 7, "seconds": 1.5, "rows": list(rows), "a field of tomorrow": 1}


AGREE = row("qemu_iovec_compare", "agree", red=False)
VALUE = row("qemu_iovec_compare", "differs", "a different value", red=True)
ASSERT = row("qemu_iovec_compare", "differs", "a different assert", red=True)


def test_a_refactor_is_ok_when_green_and_a_false_red_with_its_first_difference_otherwise() -> None:
    assert rp.judge(REFACTOR, "run", 0, record(AGREE)).verdict == "ok"
    j = rp.judge(REFACTOR, "run", 1, record(AGREE, ASSERT))
    assert (j.verdict, j.first_red and j.first_red["kind"]) == ("false red", "a different assert")
    assert "a different assert here" in j.why


def test_a_bug_is_ok_only_when_red_with_a_real_cause_in_its_first_red_row() -> None:
    assert rp.judge(BUG, "run", 0, record(AGREE)).verdict == "missed"
    assert rp.judge(BUG, "run", 1, record(AGREE, VALUE, ASSERT)).verdict == "ok"
    assert rp.judge(BUG, "run", 1, record(ASSERT, VALUE)).verdict == "cause not first"
    assert rp.judge(BUG, "run", 1, record(ASSERT)).verdict == "cause not shown"
    other = row("iov_size", "differs", "a different value", red=True)
    assert rp.judge(BUG, "diff", 1, record(other)).verdict == "cause not shown"


def test_any_other_exit_status_or_no_record_is_an_error() -> None:
    assert rp.judge(REFACTOR, "run", 2, record(AGREE)).verdict == "error"
    assert rp.judge(BUG, "run", 1, None).verdict == "error"
    assert rp.judge(BUG, "run", None, None).verdict == "error"


def test_rows_are_read_generically() -> None:
    """A row without ``red`` is red unless its verdict is green ("not judged" is red); a kind
    may be a row's verdict ("missing"); the record's seed and time are kept."""
    not_judged = {"function": "qemu_iovec_compare", "verdict": "not judged"}
    same = {"function": "qemu_iovec_compare", "verdict": "same"}
    assert rp.is_red(not_judged) and not rp.is_red(same)
    j = rp.judge(REFACTOR, "diff", 1, record(same, not_judged))
    assert j.verdict == "false red" and j.first_red == rp._brief(not_judged)
    removed = rp.Patch(
        "u",
        "upstream",
        ("qemu_iovec_init_extended",),
        "d",
        "gone",
        (rp.Cause("qemu_iovec_init_extended", ("missing",)),),
    )
    missing = {"function": "qemu_iovec_init_extended", "verdict": "missing", "red": True, "kind": ""}
    j = rp.judge(removed, "run", 1, record(missing))
    assert (j.verdict, j.seed, j.harness_seconds) == ("ok", 7, 1.5)


def test_the_counts_follow_the_verdicts() -> None:
    def result(
        name: str, klass: str, expect_red: bool, status: int, verdict: str, t: float
    ) -> dict[str, Any]:
        j = {"exit_status": status, "verdict": verdict, "seconds": t}
        return {
            "name": name,
            "class": klass,
            "expect_red": expect_red,
            "modes": {"run": j, "diff": j},
            "diff/run": 1.0,
        }

    results = [
        result("a", "refactor", False, 0, "ok", 10),
        result("b", "refactor", False, 1, "false red", 20),
        result("c", "bug", True, 1, "ok", 30),
        result("d", "bug", True, 1, "cause not first", 40),
        result("e", "bug", True, 0, "missed", 50),
    ]
    counts = rp.summarise(results, rp.MODES)
    assert counts["run"]["refactors green"] == "1/2"
    assert counts["run"]["bugs red"] == "2/3, real cause first 1/3"
    assert counts["run"]["met expectation"] == "2/5"
    assert (counts["run"]["median seconds"], counts["run"]["total seconds"]) == (30, 150)


def test_the_runner_refuses_an_unknown_patch_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert rp.main(["--only", "no-such-patch"]) == 2
    assert "no-such-patch" in capsys.readouterr().err
