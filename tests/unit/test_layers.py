"""Layers depend one way: schemas <- plumbing <- stages <- CLI. A static check over imports keeps it so."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from socpipe.paths import REPO_DIR

OURS = {"schemas", "socpipe", "ingest", "detectors", "responders", "devtools", "cli"}

# package -> what of ours it may import. The CLI (cli/) sits on top and may import anything; the local
# dev servers (devtools/) are a tool beside the stages, on the plumbing only.
ALLOWED = {
    "schemas": {"schemas"},
    "socpipe": {"schemas", "socpipe"},
    "ingest": {"schemas", "socpipe", "ingest"},
    "detectors": {"schemas", "socpipe", "detectors", "ingest"},
    "responders": {"schemas", "socpipe", "responders"},
    "devtools": {"schemas", "socpipe", "devtools"},
    "cli": OURS,
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & OURS


def _modules() -> list[tuple[str, Path]]:
    out = []
    for package in ALLOWED:
        for path in sorted((REPO_DIR / package).rglob("*.py")):
            out.append((package, path))
    return out


@pytest.mark.parametrize(
    ("package", "path"), _modules(), ids=lambda v: str(v) if isinstance(v, str) else v.name
)
def test_module_imports_only_lower_layers(package: str, path: Path) -> None:
    """A module imports only the layers beneath its own (responders never import detectors, etc.)."""
    forbidden = _imports(path) - ALLOWED[package]
    assert not forbidden, f"{path.relative_to(REPO_DIR)} imports {sorted(forbidden)}"
