"""Figures of the code's shape: lines per package of `src/propbridge`, and the longest functions.

    python scripts/shape_figures.py [SOURCE_DIR]
"""

from __future__ import annotations

import ast
import sys
from collections import Counter
from pathlib import Path

LONG = 60


def main() -> None:
    source = Path(sys.argv[1] if len(sys.argv) > 1 else "src/propbridge")
    lines: Counter[str] = Counter()
    functions: list[tuple[int, str]] = []
    for path in sorted(source.rglob("*.py")):
        relative = path.relative_to(source)
        package = relative.parts[0] if len(relative.parts) > 1 else "(root modules)"
        if "migrations" in relative.parts:
            package = "db/migrations"
        text = path.read_text()
        lines[package] += len(text.splitlines())
        if "migrations" in relative.parts:
            continue
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                functions.append((length, f"{relative}:{node.lineno} {node.name}"))
    print("| package | lines |\n|---|---|")
    for package, count in sorted(lines.items()):
        print(f"| {package} | {count} |")
    print(f"| total | {sum(lines.values())} |\n")
    functions.sort(reverse=True)
    over = [f for f in functions if f[0] > LONG]
    print(f"functions over {LONG} lines: {len(over)}")
    for length, name in functions[:15]:
        print(f"  {length:4d}  {name}")


if __name__ == "__main__":
    main()
