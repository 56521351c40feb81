"""The two halves meet only in smkit_contract: the server never imports the host's
libraries or the host package, and the host never imports the server."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
#: Host-only libraries the image does not install, and the host package itself.
NOT_IN_THE_IMAGE = {"boto3", "botocore", "sagemaker", "sagemaker_core", "moto", "smkit"}


def imported_roots(path: Path) -> set[str]:
    """The top-level names every import statement in ``path`` reaches."""
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_the_server_and_contract_import_nothing_of_the_host() -> None:
    found = {str(p.relative_to(REPO)): sorted(imported_roots(p) & NOT_IN_THE_IMAGE)
             for p in (REPO / "container").rglob("*.py")}
    assert len(found) > 10  # the walk saw the server's modules
    assert {k: v for k, v in found.items() if v} == {}


def test_the_host_never_imports_the_server() -> None:
    found = {str(p.relative_to(REPO)) for p in (REPO / "packaging" / "smkit").rglob("*.py")
             if "smkit_serve" in imported_roots(p)}
    assert found == set()
