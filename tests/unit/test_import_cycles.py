"""The import graph of the project's own modules, read from the source (issue 18).

Every ``import`` statement is counted wherever it stands — at the top, inside a function,
under ``TYPE_CHECKING`` — because an import moved into a function still ties the two modules
together: it only postpones the cycle to the first call. The graph is built with ``ast``
(nothing is imported), and its strongly connected components are the cycles.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("services", "benchmarks")


def module_files() -> dict[str, Path]:
    """Dotted module name -> file, for every module of ``PACKAGES``."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imported_modules(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules that ``name`` imports anywhere in its body."""
    is_package = path.name == "__init__.py"
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            for alias in node.names:
                # ``from package import module`` imports the module; ``from module import name`` the module
                candidate = f"{module}.{alias.name}"
                targets.add(candidate if candidate in known else module)
    return {target for target in targets if target in known and target != name}


def import_graph() -> dict[str, set[str]]:
    files = module_files()
    known = set(files)
    return {name: imported_modules(name, path, known) for name, path in files.items()}


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(component)
    return found


def component_of(name: str, graph: dict[str, set[str]]) -> set[str]:
    return next((c for c in cycles(graph) if name in c), {name})


def test_the_graph_sees_imports_of_every_kind() -> None:
    """Top-level, in-function and TYPE_CHECKING imports are all edges (else the checks below prove nothing)."""
    graph = import_graph()
    assert "services.core.keyformat" in graph["services.core.settings"]  # top level
    assert "services.core.settings" in graph["services.core.crypto"]  # under TYPE_CHECKING
    assert "services.core.migrate" in graph["benchmarks.__main__"]  # inside a function
    assert "benchmarks.harness" in graph["benchmarks.sync_pipeline"]


def test_cycle_detection_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [{"a", "b", "c"}]
    assert component_of("d", graph) == {"d"}


def test_crypto_and_settings_do_not_import_each_other() -> None:
    graph = import_graph()
    assert "services.core.settings" not in component_of("services.core.crypto", graph)
    assert "services.core.crypto" not in component_of("services.core.settings", graph)


def test_the_benchmarks_have_no_import_cycle() -> None:
    graph = import_graph()
    among = [c for c in cycles(graph) if any(m.startswith("benchmarks") for m in c)]
    assert among == []


def test_core_does_not_import_the_tooling() -> None:
    """The demo generator and the command line sit on top of core; core imports neither."""
    graph = import_graph()
    offending = {
        (name, target)
        for name, targets in graph.items()
        if name.startswith("services.core")
        for target in targets
        if target.startswith(("services.demo", "services.cli"))
    }
    assert offending == set()


def test_the_demo_and_the_command_line_have_no_import_cycle() -> None:
    """Their modules were split by what they do (issue 18); each stands on the ones below it."""
    graph = import_graph()
    among = [c for c in cycles(graph) if any(m.startswith(("services.demo", "services.cli")) for m in c)]
    assert among == []
