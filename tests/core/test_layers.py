"""The host package's layers (docs/architecture.md): no module imports a higher layer, and
no import cycle exists, counting imports inside functions too."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "packaging"
#: Each subpackage's layer, lowest first, as docs/architecture.md draws them.
LAYERS = {"core": 0, "project": 1, "image": 2, "aws": 2, "transform": 3, "listing": 3,
          "local": 4, "emulators": 4, "preflight": 4, "buyer": 5, "demo": 6, "cli": 7}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in ROOT.rglob("*.py")}


def imports(name: str) -> set[str]:
    """The smkit modules ``name`` imports (``from smkit.x import y`` counts y when it is a
    module, else x)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in MODULES}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*up, *([node.module] if node.module else [])])
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in MODULES else base)
    return {m for m in found if m in MODULES and m != name and m != "smkit"}


GRAPH = {name: imports(name) for name in MODULES}


def layer(name: str) -> int | None:
    parts = name.split(".")
    return LAYERS.get(parts[1]) if len(parts) > 1 else None


def test_every_subpackage_has_a_layer() -> None:
    subpackages = {p.parent.name for p in (ROOT / "smkit").glob("*/__init__.py")}
    modules = {p.stem for p in (ROOT / "smkit").glob("*.py")} - {"__init__"}
    assert subpackages | modules == set(LAYERS)


def test_no_import_points_up_a_layer() -> None:
    upward = sorted(f"{a} -> {b}" for a, targets in GRAPH.items() for b in targets
                    if (la := layer(a)) is not None and (lb := layer(b)) is not None and lb > la)
    assert upward == []


def test_no_import_cycle() -> None:
    try:
        tuple(TopologicalSorter(GRAPH).static_order())
    except CycleError as e:  # pragma: no cover - the message is the point
        pytest.fail(f"import cycle: {' -> '.join(e.args[1])}")


def test_the_walk_sees_the_imports() -> None:
    """The graph is not empty by accident: the CLI reaches every layer."""
    assert {layer(m) for m in GRAPH["smkit.cli"] | set().union(
        *(GRAPH[m] for m in GRAPH["smkit.cli"]))} >= {0, 1, 2}
