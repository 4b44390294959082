"""``python -m harness mutate``: the mutants, the equivalents file and the gate."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.gates import mutate
from harness.gates.mutate import Mutant, Verdict, gate, load_equivalents

ROOT = Path(__file__).resolve().parent.parent


def fake(status: str, func: str = "iov_size", mutated: str = "len = 1;") -> Verdict:
    return Verdict(Mutant("c", 87, func, "    len = 0;", f"    {mutated}"), status)


def test_the_gate_fails_on_an_unlisted_survivor_only() -> None:
    listed = fake("survived", mutated="")  # 'len = 0;' deleted: in the equivalents file
    equivalents = load_equivalents()
    assert listed.mutant.identity in equivalents
    g = gate([fake("killed"), listed, fake("does-not-build", mutated="len = 0")], equivalents)
    assert g.exit_status == 0 and g.score == 1.0 and len(g.equivalent) == 1
    survivor = fake("survived", mutated="len = 2;")
    g = gate([fake("killed"), listed, survivor], equivalents)
    assert g.exit_status == 1 and g.unlisted == [survivor] and g.score == 0.5
    g = gate([fake("killed"), fake("error")], equivalents)
    assert g.exit_status == 2


def test_mutants_are_named_without_line_numbers() -> None:
    a = Mutant("c", 87, "iov_size", "    len = 0;", "")
    b = Mutant("c", 99, "iov_size", "len = 0;", "   ")
    assert a.identity == b.identity == ("c", "iov_size", "len = 0;", "<deleted>")


def test_every_listed_equivalent_is_a_mutant_of_the_current_sources() -> None:
    generated = {m.identity for m in mutate.c_mutants()} | {m.identity for m in mutate.py_mutants()}
    for identity, eq in load_equivalents().items():
        assert identity in generated, f"stale entry: {eq}"
        assert len(eq.reason) > 40, f"give a reason: {eq}"


def test_a_malformed_equivalents_file_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "eq.toml"
    bad.write_text('[[c]]\nfunction = "iov_size"\noriginal = "len = 0;"\nmutated = "<deleted>"\n')
    with pytest.raises(ValueError, match="reason"):
        load_equivalents(bad)
    assert main(["mutate", "--equivalents", str(bad), "--list"]) == 2


def test_the_command_gates_on_a_fake_survivor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The whole command, with each mutant's check replaced: one mutant 'survives'."""

    def checked(m: Mutant, examples: int, seed: int, timeout: float, profile: str | None) -> Verdict:
        return Verdict(m, "survived" if m.shown == "len = 1;" else "killed", tried=["iov_size"])

    monkeypatch.setattr(mutate, "isolated", checked)
    empty = tmp_path / "none.toml"
    empty.write_text("")
    args = ["mutate", "--side", "c", "--func", "iov_size", "--jobs", "1"]
    assert main([*args, "--equivalents", str(empty)]) == 1
    out = capsys.readouterr().out
    assert "1 SURVIVING mutant(s) not listed" in out
    assert 'original = "len = 0;"\nmutated = "len = 1;"\nkind = "equivalent"' in out  # the entry to paste
    listing = tmp_path / "listed.toml"
    listing.write_text(
        '[[c]]\nfunction = "iov_size"\noriginal = "len = 0;"\nmutated = "len = 1;"\n'
        'reason = "a fake equivalent, for this test"\n'
    )
    assert main([*args, "--equivalents", str(listing), "--out", str(tmp_path / "v.json")]) == 0
    assert "1 survived as listed equivalents" in capsys.readouterr().out
    assert (tmp_path / "v.json").is_file()


def test_the_command_on_a_tiny_sample(tmp_path: Path) -> None:
    """Three real mutants of iov_size (seed 1: one killed by its campaign, one that does not
    build, one more killed), each built and checked in a process of its own."""
    r = subprocess.run(
        [
            *(sys.executable, "-m", "harness", "mutate", "--side", "c", "--func", "iov_size"),
            *("--limit", "3", "--seed", "1", "--examples", "100", "--jobs", "2"),
            *("--out", str(tmp_path / "v.json")),
        ],
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "3 mutants in" in r.stdout and "2 killed" in r.stdout and "1 did not build" in r.stdout
    assert "mutation score 100.0%" in r.stdout


def test_ci_mutants_is_a_thin_wrapper() -> None:
    sys.path.insert(0, str(ROOT / "ci"))
    try:
        import mutants  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)
    assert mutants.translate(["--target", "port", "--limit", "2"]) == [
        "mutate",
        "--side",
        "py",
        "--limit",
        "2",
    ]
    assert mutants.translate(["--target=c"]) == ["mutate", "--side", "c"]


def test_a_profile_judges_a_mutant_by_every_engine_of_that_run() -> None:
    """The deleted assert(!mid_niov == !mid_len) of qemu_iovec_init_extended is reached by the
    quick profile's engines (its exhaustive bound enumerates the zero-length slices of an
    element), so `mutate --profile quick` kills it, and says which engine did."""
    assert mutate.engines_of(None, "iov_size") == ["hypothesis"]
    assert mutate.engines_of("quick", "iov_size") == ["batched", "hypothesis", "exhaustive"]
    assert mutate.engines_of("quick", "iov_hexdump") == ["hypothesis"]  # no family to enumerate
    m = next(
        m
        for m in mutate.c_mutants()
        if m.identity == ("c", "qemu_iovec_init_extended", "assert(!mid_niov == !mid_len);", "<deleted>")
    )
    v = mutate.isolated(m, 0, 1, 600, "quick")
    assert v.status == "killed", v
    assert v.by.split()[0] in ("batched", "hypothesis", "exhaustive"), v


@pytest.mark.parametrize(("option", "value"), [("--timeout", "nan"), ("--timeout", "0"), ("--limit", "0")])
def test_a_budget_that_is_not_a_positive_number_is_a_usage_error(
    option: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A time-out of nan would never end a hung mutant; 0 mutants is no sample: both are
    refused before any mutant is made, naming the option."""
    assert main(["mutate", "--side", "c", option, value]) == 2
    assert f"{option}: expected a positive number, got" in capsys.readouterr().err
