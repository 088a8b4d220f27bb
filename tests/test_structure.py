"""The package's shape: imports point one way (no cycle, lazy imports inside functions
included; down the layers of docs/ARCHITECTURE.md) and no module grows past 450 lines.

Imports under ``if TYPE_CHECKING:`` are left out: they never run, so they cannot form a cycle
at run time (they only name types for annotations)."""

from __future__ import annotations

import ast
from pathlib import Path

import hairedit

PACKAGE = Path(hairedit.__file__).parent
MAX_LINES = 450
# docs/ARCHITECTURE.md's layers, top first: a module (or every module of a package) may import
# from its own layer and those below it only. A new module gets its place here.
LAYERS = (
    ("commands and interfaces", "hairedit cli commands demo samples bench ui batch evaluate serve client weights.commands "
                                "weights.verify face.commands"),
    ("the edit", "pipeline edit_run every_face strategies weight_needs components"),
    ("stages and losses", "stages inpaint photo_cache losses latent_pca conditions result progress seeding"),
    ("networks, faces", "networks face resample"),
    ("files and basics", "weights checkpoints imageio atomic output_paths cache config errors labels devices memory "
                         "allocator _requirements"),
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.AST):
    """Every import statement, at any depth, except those under ``if TYPE_CHECKING:``."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def imported_modules(path: Path, modules: set[str]) -> set[str]:
    """The hairedit modules ``path`` imports (``from .x import y`` counts ``x.y`` when that is a
    module, else ``x``)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in _import_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            base = (f"{base}.{node.module}" if node.module else base) if node.level else node.module
            targets = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in modules] or [base]
        found.update(target for target in targets if target in modules and target != name)
    return found


def import_graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(path) for path in paths}
    return {module_name(path): imported_modules(path, modules) for path in paths}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each strongly connected group of more than one module (Tarjan), sorted."""
    index, low, on_stack, stack, groups = {}, {}, set(), [], []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_the_checker_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_sees_lazy_imports():
    graph = import_graph()
    # commands imports the pipeline only inside a function, and only a package's parent.
    assert "hairedit.pipeline" in graph["hairedit.commands"]


def test_no_import_cycle():
    groups = cycles(import_graph())
    assert not groups, "import cycles (imports must point down, see docs/ARCHITECTURE.md): " + "; ".join(
        " <-> ".join(group) for group in groups
    )


def test_no_module_is_too_long():
    long = {module_name(path): n for path in PACKAGE.rglob("*.py") if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines (split them by responsibility): {long}"


def layer_of(module: str) -> int | None:
    """The index in LAYERS of ``module`` (its most specific entry: ``weights.verify`` before ``weights``)."""
    places = {}
    for index, (_, names) in enumerate(LAYERS):
        for name in names.split():
            places["hairedit" if name == "hairedit" else f"hairedit.{name}"] = index
    parts = module.split(".")
    for end in range(len(parts), 1 if len(parts) > 1 else 0, -1):  # the package itself only by its own name
        if ".".join(parts[:end]) in places:
            return places[".".join(parts[:end])]
    return None


def test_layers_are_found_most_specific_first():
    assert layer_of("hairedit.weights.verify") == 0 and layer_of("hairedit.weights.lock") == len(LAYERS) - 1
    assert layer_of("hairedit.stages.text") == 2 and layer_of("hairedit.not_placed_yet") is None


def test_every_module_has_a_layer_and_imports_point_down():
    graph = import_graph()
    unplaced = sorted(module for module in graph if layer_of(module) is None)
    assert not unplaced, f"give these modules a layer in LAYERS (and docs/ARCHITECTURE.md): {unplaced}"
    upward = [f"{module} -> {target} ({LAYERS[layer_of(target)][0]})" for module, targets in sorted(graph.items())
              for target in sorted(targets) if layer_of(target) < layer_of(module)]
    assert not upward, "imports that point up a layer: " + "; ".join(upward)
