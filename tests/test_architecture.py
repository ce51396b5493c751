"""The architecture you can see, checked: the dependency contract of pyproject.toml's
[tool.importlinter] (the same one `make lint` runs) holds, and no production module takes part in
an import cycle. Imports inside functions and under TYPE_CHECKING count for both."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import grimp

from testkit.paths import ROOT

CONFIG = ROOT / "pyproject.toml"
PACKAGES: list[str] = tomllib.loads(CONFIG.read_text())["tool"]["importlinter"]["root_packages"]


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The groups of modules that import each other in a circle (strongly connected components of
    more than one module), each sorted, found with Tarjan's algorithm."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        # Iterative, so deep import chains do not hit the recursion limit.
        work = [(module, iter(sorted(graph.find_modules_directly_imported_by(module))))]
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        while work:
            node, targets = work[-1]
            for target in targets:
                if target not in graph.modules:
                    continue
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph.find_modules_directly_imported_by(target)))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        cycles.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return cycles


def test_the_import_cycle_finder_finds_a_cycle_and_nothing_else() -> None:
    graph = grimp.ImportGraph()
    for importer, imported in [("a.x", "a.y"), ("a.y", "a.z"), ("a.z", "a.x"), ("a.z", "a.w"), ("a.w", "a.v")]:
        graph.add_import(importer=importer, imported=imported)
    assert import_cycles(graph) == [["a.x", "a.y", "a.z"]]


def test_the_dependency_contract_holds() -> None:
    # A separate process, as `make lint` runs it: import-linter's command configures logging
    # (disabling every logger that exists), which must not happen inside the test run.
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint_imports), "--no-cache", "--no-logo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_production_module_is_in_an_import_cycle() -> None:
    # Until `common` is merged in, the packages that exist.
    graph = grimp.build_graph(*(name for name in PACKAGES if (ROOT / name).is_dir()), cache_dir=None)
    assert import_cycles(graph) == []


def test_tests_and_benchmarks_share_helpers_only_through_testkit() -> None:
    graph = grimp.build_graph("tests", "bench", "testkit", cache_dir=None)
    into_tests = sorted(
        (importer, imported)
        for imported in graph.find_descendants("tests") | {"tests"}
        for importer in graph.find_modules_that_directly_import(imported)
    )
    assert into_tests == [], "move what others need of a test module into testkit/"
    bench_into_tests = graph.find_modules_that_directly_import("bench") | {
        importer
        for imported in graph.find_descendants("bench")
        for importer in graph.find_modules_that_directly_import(imported)
        if not importer.startswith("bench")
    }
    assert sorted(bench_into_tests) == [], "tests and testkit do not import bench"
