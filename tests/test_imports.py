"""The package imports one way: every module imports, and no chain of imports (at the
top of a file, inside a function, or only for type checking) leads back to its start.

A cycle works until someone reorders two lines; these tests read every file of
``crawler`` and fail naming the cycle.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "crawler"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
# Alembic runs its environment and migration scripts itself (they are not importable
# modules); they still count in the import graph.
IMPORTABLE = sorted(name for name in MODULES if not name.startswith("crawler.alembic"))


def imported(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The modules of ``modules`` that importing ``module`` (at ``path``) imports.

    ``from a.b import c`` imports ``a.b.c`` when that is a module, else ``a.b``; and
    importing ``a.b.c`` first runs the ``__init__`` of each package above it, unless
    that package is one of ``module``'s own (already being imported).
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([node.module] if node.module else [])])
            for alias in node.names:
                names.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    found = set()
    for name in names:
        parts = name.split(".")
        for end in range(1, len(parts) + 1):
            target = ".".join(parts[:end])
            own_package = module == target or module.startswith(target + ".")
            if target in modules and target != module and (target == name or not own_package):
                found.add(target)
    return found


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    return {name: imported(name, path, modules) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` (its modules in import order, the first one repeated at
    the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*path[path.index(target):], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


@pytest.mark.parametrize("name", IMPORTABLE)
def test_every_module_imports(name):
    importlib.import_module(name)


def test_no_module_imports_itself_through_others():
    cycle = find_cycle(import_graph(MODULES))

    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_check_finds_a_cycle_through_a_function_level_import(tmp_path):
    # The scan itself must be able to fail: a -> b at the top, b -> a inside a function.
    package = tmp_path / "crawler"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("from crawler.sub import b\n")
    (package / "sub" / "a.py").write_text("from crawler.sub.b import thing\n")
    (package / "sub" / "b.py").write_text("def thing():\n    from . import a\n")
    (package / "c.py").write_text("from typing import TYPE_CHECKING\n"
                                  "if TYPE_CHECKING:\n    from crawler.sub.a import x\n")
    modules = {".".join(p.relative_to(tmp_path).with_suffix("").parts).removesuffix(
        ".__init__"): p for p in sorted(package.rglob("*.py"))}

    graph = import_graph(modules)

    assert graph["crawler.sub.a"] == {"crawler.sub.b"}
    assert graph["crawler.sub.b"] == {"crawler.sub.a"}
    assert graph["crawler.c"] == {"crawler.sub", "crawler.sub.a"}  # sub's __init__ runs first
    cycle = find_cycle(graph)
    assert cycle is not None and cycle[0] == cycle[-1]
    assert set(cycle) == {"crawler.sub.a", "crawler.sub.b"}
    graph["crawler.sub.b"] = set()  # without the function-level import: no cycle
    assert find_cycle(graph) is None
