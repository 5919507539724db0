"""No import cycle anywhere in the product package (issue 12 item 5).

The layers contract of pyproject.toml (tests/test_import_contracts.py) forbids upward imports
between sge_recon's layers; this test forbids cycles everywhere, also inside one layer or one
subpackage (``alerts.channels`` <-> ``alerts.hooks`` was one). The graph is grimp's (the library
under import-linter): every ``import`` statement of every module, those inside functions and
under ``if TYPE_CHECKING:`` included. A cycle is a strongly connected component of more than one
module; the failure names its modules and the line of each import that closes it.

How to break a cycle: move what both sides need (a data class, a constant) into a module that
imports neither; or hand a function the collaborator it calls instead of importing it (the
composition root, sge_recon/context.py, is the one place that wires services together)."""

from __future__ import annotations

import grimp

PACKAGE = "sge_recon"


def import_graph() -> grimp.ImportGraph:
    return grimp.build_graph(PACKAGE, cache_dir=None, exclude_type_checking_imports=False)


def cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), sorted."""
    modules = sorted(graph.modules)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in modules:
        if module not in index:
            visit(module)
    return sorted(found)


def describe(graph: grimp.ImportGraph, component: list[str]) -> str:
    members = set(component)
    lines = [f"cycle of {len(component)} modules: {', '.join(component)}"]
    for importer in component:
        for imported in sorted(graph.find_modules_directly_imported_by(importer) & members):
            where = ", ".join(f"line {d['line_number']}" for d in
                              graph.get_import_details(importer=importer, imported=imported))
            lines.append(f"  {importer} -> {imported} ({where})")
    return "\n".join(lines)


def test_the_package_has_no_import_cycle():
    graph = import_graph()
    found = cycles(graph)
    assert not found, "\n".join(describe(graph, c) for c in found)


def test_the_graph_sees_imports_inside_functions_and_type_checking_blocks():
    """Guards the test above against a graph that would miss the imports that make cycles."""
    graph = import_graph()
    # inside a method of the composition root
    assert graph.direct_import_exists(importer="sge_recon.context", imported="sge_recon.checks")
    # only under `if TYPE_CHECKING:` in the composition root
    assert graph.direct_import_exists(importer="sge_recon.context",
                                      imported="sge_recon.metrics.collector")


def test_a_cycle_is_found_and_named():
    graph = grimp.ImportGraph()
    for importer, imported in [("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a"), ("p.c", "p.d"),
                               ("p.e", "p.f"), ("p.f", "p.e")]:
        graph.add_import(importer=importer, imported=imported, line_number=1,
                         line_contents=f"import {imported}")
    assert cycles(graph) == [["p.a", "p.b", "p.c"], ["p.e", "p.f"]]
    assert "p.c -> p.a (line 1)" in describe(graph, ["p.a", "p.b", "p.c"])
