"""The layers of the engine, as import-linter contracts in pyproject.toml: checked here, so CI keeps them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_import_contracts_hold() -> None:
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    if lint is None:
        pytest.fail("lint-imports is not installed: pip install -e '.[test]'")
    result = subprocess.run(
        [lint, "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "broken" in result.stdout and " 0 broken" in result.stdout


def test_no_import_cycle_also_through_imports_inside_functions() -> None:
    """No module of coopy_core or coopy_tui reaches itself through imports, counting the imports inside functions
    too: grimp, import-linter's own library, sees them. Imports under `if TYPE_CHECKING:` are left out: they never
    run (a widget may name the app it belongs to in its annotations). A cycle fails the test naming its modules
    in order."""
    import grimp

    graph = grimp.build_graph("coopy_core", "coopy_tui", cache_dir=None, exclude_type_checking_imports=True)
    cycles = [_one_cycle(graph, component) for component in _strongly_connected(graph)]
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(cycle) for cycle in cycles)


def _strongly_connected(graph: Any) -> list[set[str]]:
    """The groups of modules that import each other (Tarjan's algorithm, without recursion); only those of
    two or more modules, or of one that imports itself."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            module, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[module] = min(low[module], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[module])
            if low[module] == index[module]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == module:
                        break
                if len(component) > 1 or graph.direct_import_exists(importer=module, imported=module):
                    found.append(component)
    return found


def _one_cycle(graph: Any, component: set[str]) -> list[str]:
    """A cycle through the first module of the group: its shortest way to a module that imports it, and back."""
    first = min(component)
    if len(component) == 1:
        return [first, first]
    back = min(m for m in component if graph.direct_import_exists(importer=m, imported=first))
    chain = graph.find_shortest_chain(importer=first, imported=back) or (first, back)
    return [*chain, first]
