"""The structure drawn from the imports (docs/architecture.md): no circles, and every room imports
only the rooms below it.

Read from the source with ``ast``, so it holds for imports made inside functions too; an import
under ``if TYPE_CHECKING:`` (annotations only) is not a dependency.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "pipeline"

# The rooms of ``pipeline``, lowest first: a room may import only rooms before it in this list. The
# stages follow the data (plan and collect, extract, classify, load, publish, alert) except that
# extract sits below collect: collect drives the extraction workers, extract knows nothing of fetching.
LAYERS = (
    # what every stage uses
    "errors",
    "urls",
    "text",
    "records",
    "leftovers",
    "registry",
    "settings",
    "sql",
    "store",
    # the stages
    "extract",
    "collect",
    "classify",
    "load",
    "publish",
    "alerts",
    # the entry points that wire them (the DAG files in dags/ import these)
    "staging",
    "tasks",
    "backfill",
    "demo",
    "schedule",
    "cli",
    "__main__",
)


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ["pipeline", *path.relative_to(PACKAGE).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _type_checking_only(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The modules of ``pipeline`` that ``path`` imports (``from pkg import module`` is the module)."""
    found: set[str] = set()
    pending: list[ast.AST] = [ast.parse(path.read_text(encoding="utf-8"))]
    while pending:
        node = pending.pop()
        if _type_checking_only(node):
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in modules)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            inner = [f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in modules]
            found.update(inner)
            if len(inner) < len(node.names) and node.module in modules:
                found.add(node.module)
        pending.extend(ast.iter_child_nodes(node))
    return found


@functools.cache  # the tests below read it 25 times: 0.15 s of parsing each
def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, modules) - {name} for name, path in modules.items()}


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "pipeline"


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return circles


def test_no_module_imports_itself_back_through_others():
    assert _circles(_graph()) == []


def test_every_room_is_placed_in_the_layers():
    rooms = {_room(m) for m in _graph()} - {"pipeline"}
    assert rooms <= set(LAYERS), f"place these in LAYERS: {sorted(rooms - set(LAYERS))}"


@pytest.mark.parametrize("room", LAYERS)
def test_a_room_imports_only_the_rooms_below_it(room):
    below = set(LAYERS[: LAYERS.index(room)])
    upward = sorted(
        f"{module} -> {target}"
        for module, targets in _graph().items()
        if _room(module) == room
        for target in targets
        if _room(target) not in below | {room, "pipeline"}
    )
    assert upward == []


def test_the_checks_see_imports_inside_functions():
    """The graph is not vacuous: a lazy import (the CLI's) is an edge."""
    graph = _graph()
    assert "pipeline.tasks" in graph["pipeline.cli"]
    assert "pipeline.store" in graph["pipeline.load.transaction"]
