"""pyproject's dependencies say what rvqvae/ imports: every import declared, nothing extra.

The AST of every ``rvqvae/**/*.py`` gives the top-level modules it imports (standard library
and ``rvqvae`` itself aside); ``importlib.metadata.packages_distributions()`` maps them to the
installed distributions that provide them, which must be in ``[project].dependencies``. A lazy
import (inside a function, ``try`` or ``if``) may instead come from a non-dev extra, as
``wandb_workspaces`` does for the W&B reports. Conversely each core dependency must be imported
by rvqvae/ somewhere: packages only tests or benchmarks use belong in the ``dev`` extra.
"""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")

REPO = Path(__file__).resolve().parents[2]


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _names(requirements: list[str]) -> set[str]:
    return {
        _norm(re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", r.strip()).group(0)) for r in requirements
    }


def _imports() -> dict[str, tuple[bool, str]]:
    """Top-level module -> (imported eagerly somewhere, first place it is imported)."""
    found: dict[str, tuple[bool, str]] = {}
    for path in sorted((REPO / "rvqvae").rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        eager_nodes = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top in sys.stdlib_module_names or top in ("rvqvae", "__future__"):
                    continue
                eager = id(node) in eager_nodes
                where = f"{path.relative_to(REPO)}:{node.lineno}"
                was_eager, first = found.get(top, (False, where))
                found[top] = (was_eager or eager, where if eager and not was_eager else first)
    return found


def _project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def test_every_import_is_declared() -> None:
    project = _project()
    core = _names(project["dependencies"])
    extras = set().union(
        *(_names(reqs) for name, reqs in project["optional-dependencies"].items() if name != "dev")
    )
    dists = packages_distributions()
    undeclared = []
    for module, (eager, where) in sorted(_imports().items()):
        provided_by = {_norm(d) for d in dists.get(module, [])}
        allowed = core if eager else core | extras
        if not provided_by & allowed:
            undeclared.append(f"{module} ({where}; provided by {sorted(provided_by) or '?'})")
    assert not undeclared, f"imported by rvqvae/ but not declared: {undeclared}"


def test_every_core_dependency_is_imported() -> None:
    dists = packages_distributions()
    imported = {_norm(d) for module in _imports() for d in dists.get(module, [])}
    unused = sorted(_names(_project()["dependencies"]) - imported)
    assert not unused, f"declared in [project].dependencies but not imported by rvqvae/: {unused}"
