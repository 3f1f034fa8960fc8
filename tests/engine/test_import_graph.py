"""The engine and sandbox import graph has no circles (checked statically with grimp; nothing is
run)."""

from __future__ import annotations

import grimp

LAYERS = ("grader.engine", "grader.sandbox")


def strongly_connected(graph: grimp.ImportGraph) -> list[set[str]]:
    """Tarjan's algorithm over the direct imports: each set is modules that import each other in a
    circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            module, imported = work[-1]
            target = next(imported, None)
            if target is not None:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append(
                        (target, iter(sorted(graph.find_modules_directly_imported_by(target))))
                    )
                elif target in on_stack:
                    low[module] = min(low[module], index[target])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[module])
            if low[module] == index[module]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == module:
                        break
                components.append(component)
    return components


def test_engine_and_sandbox_modules_import_each_other_in_no_circle():
    # Imports made only for type checking count too: a circle hidden behind TYPE_CHECKING is still
    # one.
    graph = grimp.build_graph("grader", cache_dir=None)
    circles = [
        sorted(component)
        for component in strongly_connected(graph)
        if len(component) > 1 and any(module.startswith(LAYERS) for module in component)
    ]
    assert circles == []


def test_the_rubric_module_knows_no_check_kinds():
    graph = grimp.build_graph("grader", cache_dir=None)
    assert not graph.chain_exists("grader.engine.rubric", "grader.engine.checks", as_packages=True)
    assert graph.find_modules_directly_imported_by("grader.engine.rubric") <= {"grader.sandbox"}


def test_the_circle_finder_finds_a_circle():
    graph = grimp.ImportGraph()
    for module in ("a", "b", "c"):
        graph.add_module(module)
    graph.add_import(importer="a", imported="b")
    graph.add_import(importer="b", imported="a")
    graph.add_import(importer="b", imported="c")
    assert sorted(map(sorted, strongly_connected(graph))) == [["a", "b"], ["c"]]
