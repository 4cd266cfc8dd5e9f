"""The layers import one way (services -> projections -> domain), the projections import no cycle, and each read
model is defined in one module: what the live projector and the bulk rebuild both apply."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("domain", "projections", "services")


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def imports() -> dict[str, set[str]]:
    """Each module's imports of the project's modules, at any depth of the file (a function's own imports too)."""
    known = modules()

    def resolve(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for module, path in known.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            targets.update(t for t in map(resolve, names) if t is not None and t != module)
        graph[module] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The graph's strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_the_imports_it_checks():
    graph = imports()
    assert "projections.base" in graph["projections.units"]
    assert "domain.units" in graph["projections.units"]
    assert "projections.registry" in graph["services.cli"]  # a function's own import counts too
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize(("layer", "below"), [("domain", ("domain",)), ("projections", ("domain", "projections"))])
def test_no_layer_imports_the_layers_above_it(layer, below):
    graph = imports()
    upward = sorted((module, target) for module, targets in graph.items() if module.split(".")[0] == layer
                    for target in targets if target.split(".")[0] not in below)
    assert upward == []


def test_no_import_cycle_runs_through_the_projections():
    through = [cycle for cycle in cycles(imports()) if any(m.split(".")[0] == "projections" for m in cycle)]
    assert through == []


def test_each_read_model_is_defined_in_one_module_and_listed_once():
    from projections import bulk, registry

    for name, read_model in registry.READ_MODELS.items():
        handlers = [*read_model.handlers.values(), *([read_model.fallback] if read_model.fallback else [])]
        assert handlers, name
        assert {handler.__module__ for handler in handlers} == {f"projections.{name}"}, name
        assert all(table in read_model.tables for table in read_model.appended), name
    assert len({id(rm) for rm in registry.READ_MODELS.values()}) == len(registry.READ_MODELS)
    # The bulk rebuild applies those handlers; it defines none of its own.
    assert not any(isinstance(node, ast.ClassDef) for node in ast.parse(Path(bulk.__file__).read_text()).body)


def test_the_chain_names_the_application_the_services_run():
    from projections.chain import APPLICATION_NAME, EVENTS_TABLE
    from services import config, database

    assert APPLICATION_NAME == config.APPLICATION_NAME
    assert EVENTS_TABLE == database.EVENTS
