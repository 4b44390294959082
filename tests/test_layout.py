"""The shape of the code: which package may import which."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from iovspec.ctable import TABLE

ROOT = Path(__file__).resolve().parent.parent


def test_import_reference_c_does_not_load_the_port() -> None:
    """The reference and the port share only the spec (``iovspec``): importing the compiled
    original must not import any module of the port."""
    probe = "import sys, reference_c; print(sorted(m for m in sys.modules if m.split('.')[0] == 'pyimpl'))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_the_port_reads_beside_iov_c() -> None:
    """pyimpl/iov.py holds one function per row of the table, in the table's order (iov.c's,
    then the header's inlines), each with a one-line docstring that opens with its C line; its
    other definitions are private helpers, and it takes the memory's shortcuts (live views of
    arrays, remembered regions) only through pyimpl.fastpaths."""
    text = (ROOT / "pyimpl" / "iov.py").read_text()
    tree = ast.parse(text)
    defined = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    ported = [node for node in defined if not node.name.startswith("_")]
    assert [node.name for node in ported] == [row.name for row in TABLE]
    for node, row in zip(ported, TABLE, strict=True):
        doc = ast.get_docstring(node) or ""
        file = "qemu/iov.h" if row.source == "qemu/iov.h" else "iov.c"
        assert "\n" not in doc and doc.startswith(f"{file}:{row.line} "), (row.name, doc)
    for shortcut in ("mem.iovecs(", "mem.pieces(", "mem._holding(", "mem._hit_"):
        assert shortcut not in text, shortcut


# -- the packages of harness/ and the directions they import in ---------------------------------

#: harness's packages from the bottom up: a package imports only packages of layers below its
#: own (the data flow: a case, its worlds, the verdict; generators and engines that drive them;
#: reports; the campaign pool; the gates, integrations and benchmarks on top; the commands, and
#: the CLI that only parses and dispatches)
LAYERS: tuple[tuple[str, ...], ...] = (
    ("model",),
    ("worlds", "generate"),
    ("verdict",),
    ("engines", "report"),
    ("review",),
    ("campaign",),
    ("gates", "integrations"),
    ("bench",),
    ("commands",),
    ("cli",),
    ("__main__",),
)
RANK = {package: rank for rank, layer in enumerate(LAYERS) for package in layer}
#: the top-level packages and the project packages each may import
OUTSIDE = {
    "iovspec": set(),
    "pyimpl": {"iovspec"},
    "reference_c": {"iovspec"},
    "harness": {"iovspec", "pyimpl", "reference_c"},
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every project module ``path`` imports, at module level or inside a function (absolute
    names; ``from X import Y`` counts as importing X.Y, which is X's package anyway)."""
    module = _module_name(path)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[: len(package) - node.level + 1], *([base] if base else [])])
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] in OUTSIDE}


def _unit(module: str) -> str:
    """What the rules speak of: a sub-package of harness (or cli, __main__), or a top-level package."""
    parts = module.split(".")
    return parts[1] if parts[0] == "harness" and len(parts) > 1 else parts[0]


def _edges() -> dict[str, dict[str, set[str]]]:
    """unit -> the units it imports -> the files that do."""
    edges: dict[str, dict[str, set[str]]] = {}
    for top in OUTSIDE:
        for path in sorted((ROOT / top).rglob("*.py")):
            source = _unit(_module_name(path))
            for name in _imports(path):
                target = _unit(name)
                if target != source:
                    edges.setdefault(source, {}).setdefault(target, set()).add(str(path.relative_to(ROOT)))
    return edges


def test_every_harness_package_has_a_layer() -> None:
    """A new sub-package of harness must be placed in LAYERS before it can pass the rules."""
    packages = {_unit(_module_name(p)) for p in (ROOT / "harness").rglob("*.py")} - {"harness"}
    assert packages == set(RANK), packages ^ set(RANK)


def test_imports_go_down_the_layers_only() -> None:
    """Every import of a harness module (module-level or inside a function) names a package of
    a lower layer, or the spec, the port or the reference; nothing imports the CLI or a command
    but the layers above them."""
    wrong = []
    for source, targets in _edges().items():
        for target, files in targets.items():
            if source in RANK and target in RANK:
                ok = RANK[target] < RANK[source]
            elif source in RANK:
                ok = target in OUTSIDE["harness"]
            else:  # a top-level package: the spec, the port, the reference, or harness/__init__
                ok = target in OUTSIDE.get(source, set()) or (source == "harness" and target in RANK)
            if not ok:
                wrong.append(f"{source} -> {target} ({', '.join(sorted(files))})")
    assert not wrong, "\n".join(wrong)


def test_no_cycle_between_packages() -> None:
    """The package graph has no cycle (the layers imply it; this says so even if a rule above is
    loosened)."""
    edges = {source: set(targets) for source, targets in _edges().items()}
    done: set[str] = set()

    def visit(unit: str, path: tuple[str, ...]) -> None:
        assert unit not in path, " -> ".join((*path, unit))
        if unit in done:
            return
        for target in edges.get(unit, ()):
            visit(target, (*path, unit))
        done.add(unit)

    for unit in edges:
        visit(unit, ())


def test_the_spec_and_the_reference_stand_alone() -> None:
    """iovspec imports no other project package; reference_c imports the spec, never the port."""
    edges = _edges()
    assert set(edges.get("iovspec", {})) == set()
    assert "pyimpl" not in edges.get("reference_c", {})
    assert "harness" not in edges.get("reference_c", {}) and "harness" not in edges.get("pyimpl", {})


# -- a C function is judged, and checked on strict memories ---------------------------------------


def test_every_row_has_a_case_family_or_is_judged_through_one() -> None:
    """A row without a family would never be judged: each row has one, or names (``via``) the
    function whose cases run it, and that one has a family."""
    from harness.generate.families import FAMILIES

    for row in TABLE:
        judged = row.name if row.via is None else row.via
        assert judged in FAMILIES, (row.name, row.via)


def test_every_public_function_has_a_strict_checker() -> None:
    """Every function a library user can call (public and header inline rows) has its argument
    checker for strict memories; a static one has none."""
    from pyimpl.checks import CHECKS

    assert set(CHECKS) == {row.name for row in TABLE if row.kind != "static"}


def test_mutate_finds_callers_in_the_parsed_source() -> None:
    """A mutant of a function is judged by the campaigns of every function that reaches it in
    iov.c (its parsed call graph), so the gate cannot miss a caller a new row adds; the extra
    campaigns whose cases call it are named in the family's own code."""
    from harness.campaign.pool import CAMPAIGNS
    from harness.gates import mutate
    from reference_c.csource import read_source

    source = read_source(ROOT / "reference_c" / "iov.c")
    for name in source.functions:
        reach = source.callers(name)
        assert reach <= set(mutate.callers(name)), name
        assert {n for n in reach if n in CAMPAIGNS} <= set(mutate.targets(name)), name
    families = (ROOT / "harness" / "generate" / "families.py").read_text()
    for func, campaigns in mutate.CALLED_BY_CASES_OF.items():
        assert f'"{func}"' in families and all(c in CAMPAIGNS for c in campaigns), func


def test_the_facade_names_what_its_modules_define() -> None:
    """``from harness import NAME`` gives the object of the module the facade names, and the
    type checker's view (the TYPE_CHECKING imports) lists the same names from the same modules."""
    import importlib

    import harness

    for name, module in harness.PUBLIC.items():
        assert getattr(harness, name) is getattr(importlib.import_module(module), name), name
    tree = ast.parse((ROOT / "harness" / "__init__.py").read_text())
    typed = {
        alias.name: node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("harness.")
        for alias in node.names
    }
    assert typed == harness.PUBLIC
