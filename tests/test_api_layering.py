"""Route modules only parse, call a service and shape the answer: they import no other route
module and nothing of archive.catalog (the services read it)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import archive.api.routes

ROUTES = sorted(p for p in Path(archive.api.routes.__file__).parent.glob("*.py") if p.name != "__init__.py")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_there_are_route_modules() -> None:
    assert {p.stem for p in ROUTES} >= {"audits", "files", "health", "packages", "stats"}


@pytest.mark.parametrize("path", ROUTES, ids=lambda p: p.stem)
def test_a_route_module_imports_no_other_route_module(path: Path) -> None:
    assert not [n for n in _imports(path) if n == "archive.api.routes" or n.startswith("archive.api.routes.")]


@pytest.mark.parametrize("path", ROUTES, ids=lambda p: p.stem)
def test_a_route_module_reads_the_catalog_only_through_services(path: Path) -> None:
    assert not [n for n in _imports(path) if n == "archive.catalog" or n.startswith("archive.catalog.")]
