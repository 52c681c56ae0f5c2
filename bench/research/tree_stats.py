"""Size and shape of a package tree: modules, lines, the largest modules, the longest functions.

Usage: python bench/research/tree_stats.py monitor [--top 3]
(alembic migration scripts are left out; function length counts its docstring)
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--top", type=int, default=3)
    args = parser.parse_args()
    files = sorted(p for p in args.root.rglob("*.py") if "migrations" not in p.parts)
    sizes = sorted((len(p.read_text(encoding="utf-8").splitlines()), str(p.relative_to(args.root))) for p in files)
    functions = sorted(
        (node.end_lineno - node.lineno + 1, f"{p.relative_to(args.root)}:{node.name}")
        for p in files
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno is not None
    )
    print(f"modules {len(files)}, lines {sum(n for n, _ in sizes)}")
    print("largest modules: " + ", ".join(f"{name} {n}" for n, name in reversed(sizes[-args.top :])))
    print("longest functions: " + ", ".join(f"{name} {n}" for n, name in reversed(functions[-args.top :])))
    print(f"functions over 60 lines: {sum(1 for n, _ in functions if n > 60)}")


if __name__ == "__main__":
    main()
