"""The package's imports run one way: no module imports (directly or not) one that imports it.

A static check over ``tornadohub/``: every ``import`` of a package module counts, at module
level or inside a function, and so does the implicit import of each parent package
(``import tornadohub.mcp.server`` runs ``tornadohub/mcp/__init__.py`` first). Imports under
``if TYPE_CHECKING:`` are left out: they never run, so they cannot form a cycle at import
time (a type may name the module above it, as ``upstreams/eras.py`` names the ``Upstream``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "tornadohub"
#: Modules longer than this say at the top of their docstring why they are not split.
MAX_LINES = 500
LONG_MODULE_MARK = "Why this module is long:"


def module_names() -> dict[str, Path]:
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _runtime_nodes(tree: ast.Module) -> Iterator[ast.AST]:
    """Every node but those under ``if TYPE_CHECKING:``."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            stack.extend(node.orelse)
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def _with_parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def import_graph() -> dict[str, set[str]]:
    modules = module_names()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in _runtime_nodes(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parts, base] if base else parts)
                targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
            for target in targets:
                for imported in _with_parents(target):
                    if imported in modules and imported != name:
                        graph[name].add(imported)
    # A package's own __init__ running first is not an edge back into it.
    for name in graph:
        graph[name] -= {p for p in _with_parents(name)[:-1]}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of *graph* as a path that ends where it starts, or None."""
    done: set[str] = set()
    path: list[str] = []
    on_path: set[str] = set()

    def visit(node: str) -> list[str] | None:
        path.append(node)
        on_path.add(node)
        for nxt in sorted(graph[node]):
            if nxt in on_path:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in done:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        on_path.discard(node)
        done.add(node)
        return None

    for start in sorted(graph):
        if start not in done:
            found = visit(start)
            if found:
                return found
    return None


def test_the_package_has_no_import_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_checker_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize(
    ("leaf", "allowed"),
    [
        ("tornadohub.clock", set()),
        ("tornadohub.state", set()),
        ("tornadohub.errors", set()),
        ("tornadohub.jsontext", set()),
        ("tornadohub.policy", {"tornadohub.jsontext"}),
        ("tornadohub.options", {"tornadohub.policy"}),
        ("tornadohub.events", {"tornadohub.clock"}),
        ("tornadohub.log", {"tornadohub.clock"}),
    ],
)
def test_leaf_modules_stay_leaves(leaf: str, allowed: set[str]) -> None:
    """Time, state names, errors, JSON text, options, events and logging import (almost) nothing of
    the package: everything else may import them."""
    graph = import_graph()
    assert graph[leaf] - {"tornadohub"} == allowed


def test_the_hub_imports_no_metrics_logging_or_handlers() -> None:
    """Metrics and handlers depend on the hub, never the reverse."""
    graph = import_graph()
    below = {"tornadohub.metrics", "tornadohub.appstate", "tornadohub.app"}
    for name in ("tornadohub.hub", "tornadohub.hub_core", "tornadohub.reload"):
        reached = _reachable(graph, name)
        assert not reached & below, (name, reached & below)
        assert not {m for m in reached if m.startswith("tornadohub.handlers")}, name


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    stack = [start]
    while stack:
        for nxt in graph[stack.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def test_long_modules_say_why() -> None:
    """No module over ~500 lines without the reason at its top."""
    unexplained = []
    for name, path in module_names().items():
        text = path.read_text()
        if text.count("\n") > MAX_LINES:
            docstring = ast.get_docstring(ast.parse(text)) or ""
            if LONG_MODULE_MARK not in docstring:
                unexplained.append(f"{name} ({text.count(chr(10))} lines)")
    assert not unexplained, f"split these or say '{LONG_MODULE_MARK}' at the top: {unexplained}"
