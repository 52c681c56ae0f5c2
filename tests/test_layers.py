"""The import graph of the `monitor` package has no cycle, counting imports inside functions.

The graph is read from the source with `ast`: every `import` and `from ... import` anywhere in a module (at the
top, inside functions, methods and `try` blocks) is an edge to the module it names, relative imports resolved
against the importing module's package. `from pkg import name` is an edge to `pkg.name` when that is a module,
else to `pkg` (its `__init__`); the parent packages that Python runs on the way are not counted, so a package's
`__init__` re-exporting its modules does not tie every importer of a sibling into one knot. Imports under
`if TYPE_CHECKING:` never run, so they are left out (their `else:` branch runs and is counted).
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = "monitor"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name, for its `__init__.py`)."""
    found: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """The import statements under `node` that can run, at any depth; `if TYPE_CHECKING:` bodies left out."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                yield from _imports(ast.Module(body=[other], type_ignores=[]))
        else:
            yield from _imports(child)


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The package module `name` names, or None when it lies outside the package."""
    if name == PACKAGE or name.startswith(PACKAGE + "."):
        while name not in modules and "." in name:
            name = name.rpartition(".")[0]
        return name if name in modules else None
    return None


def import_graph(modules: dict[str, Path] | None = None) -> dict[str, set[str]]:
    """Module -> the package modules it imports (at run time, anywhere in its code)."""
    modules = module_files() if modules is None else modules
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        targets: set[str] = set()
        for stmt in _imports(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(stmt, ast.Import):
                found = [_resolve(alias.name, modules) for alias in stmt.names]
            else:
                base = stmt.module or ""
                if stmt.level:
                    package = name if is_package else name.rpartition(".")[0]
                    for _ in range(stmt.level - 1):
                        package = package.rpartition(".")[0]
                    base = f"{package}.{base}" if base else package
                found = [
                    _resolve(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base, modules)
                    for alias in stmt.names
                ]
            targets.update(target for target in found if target and target != name)
        graph[name] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One shortest cycle per strongly connected group of modules, each as a path back to its start."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(start: str) -> None:  # Tarjan, iterative: the package is deep enough to matter
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group: set[str] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    found = []
    for group in groups:
        start = min(group)
        previous: dict[str, str] = {}
        queue = deque([start])
        while queue:
            node = queue.popleft()
            if start in graph[node]:
                path = [start]
                while node != start:
                    path.insert(1, node)
                    node = previous[node]
                found.append([*path, start] if len(path) > 1 else [start, path[0], start])
                break
            for child in sorted(graph[node] & group):
                if child not in previous and child != start:
                    previous[child] = node
                    queue.append(child)
        found[-1].append(f"({len(group)} modules in this knot)")
    return found


def test_the_monitor_package_has_no_import_cycle() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(cycle) for cycle in found)


LEAVES = [
    "monitor.stages",
    "monitor.choices",
    "monitor.locations",
    "monitor.numbers",
    "monitor.version",
    "monitor.report.common",
]


@pytest.mark.parametrize("module", LEAVES)
def test_what_many_layers_share_is_a_leaf(module: str) -> None:
    assert import_graph()[module] == set(), f"{module} must import nothing of monitor"


def test_the_pipeline_runs_the_stages_the_leaf_names_in_its_order() -> None:
    from monitor import pipeline, stages

    assert tuple(pipeline.STAGES) == stages.STAGE_NAMES


def _graph_of(tmp_path: Path, files: dict[str, str]) -> dict[str, set[str]]:
    for relative, text in files.items():
        path = tmp_path / PACKAGE / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return import_graph(module_files(tmp_path / PACKAGE))


def test_the_graph_counts_imports_inside_functions_and_resolves_relative_ones(tmp_path: Path) -> None:
    graph = _graph_of(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "def f():\n    from .sub import b\n    return b\n",
            "sub/__init__.py": "from monitor.sub.b import g\n",
            "sub/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from monitor import a\n"
            "else:\n    import monitor.c\nfrom .. import d\n",
            "c.py": "import os\n",
            "d.py": "from monitor.sub import g\n",
        },
    )
    assert graph["monitor.a"] == {"monitor.sub.b"}
    assert graph["monitor.sub"] == {"monitor.sub.b"}
    assert graph["monitor.sub.b"] == {"monitor.c", "monitor.d"}
    assert graph["monitor.d"] == {"monitor.sub"}
    assert cycles(graph) == [["monitor.d", "monitor.sub", "monitor.sub.b", "monitor.d", "(3 modules in this knot)"]]


@pytest.mark.parametrize("nested", [False, True], ids=["top level", "inside a function"])
def test_a_cycle_is_named(tmp_path: Path, nested: bool) -> None:
    imports = "def f():\n    from monitor import x\n" if nested else "from monitor import x\n"
    graph = _graph_of(tmp_path, {"__init__.py": "", "x.py": "import monitor.y\n", "y.py": imports})
    assert cycles(graph) == [["monitor.x", "monitor.y", "monitor.x", "(2 modules in this knot)"]]


#: Library modules whose strings are command lines, not errors: the crontab lines `emomon cron`
#: writes, and the generator of the command reference.
COMMAND_LINE_MODULES = {"monitor/schedule.py", "monitor/docs.py"}


def _cli_flags() -> set[str]:
    """Every ``--flag`` of every emomon command and group."""
    import click

    from monitor.cli import cli

    flags: set[str] = set()
    todo: list[click.Command] = [cli]
    while todo:
        command = todo.pop()
        for param in command.params:
            flags.update(o for o in (*param.opts, *param.secondary_opts) if o.startswith("--"))
        if isinstance(command, click.Group):
            todo.extend(command.commands.values())
    return flags


def test_library_strings_name_no_cli_flags() -> None:
    """Library code (outside ``monitor/cli``) names arguments in library terms: no string in it
    holds an emomon flag, except inside a quoted `emomon ...` command line; docstrings aside."""
    import re

    flags = _cli_flags()
    root = Path(__file__).resolve().parents[1]
    found = []
    for path in sorted((root / "monitor").rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel.startswith("monitor/cli/") or rel in COMMAND_LINE_MODULES:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                text = re.sub(r"`emomon [^`]*`", "", node.value)
                named = sorted(set(re.findall(r"--[a-z][a-z0-9-]*", text)) & flags)
                if named:
                    found.append(f"{rel}:{node.lineno}: {', '.join(named)}")
    assert not found, "library strings name CLI flags:\n" + "\n".join(found)
