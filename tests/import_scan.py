"""Every module a source file imports, as the import-graph tests read it (test_layers, test_surfaces)."""

from __future__ import annotations

import ast


def imported_modules(source: str) -> list[tuple[int, str]]:
    """(line, dotted name) of every absolute import anywhere in ``source``, lazy ones included;
    ``from cre_core import runtime`` also yields ``cre_core.runtime``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
            if node.module == "cre_core":
                found += [(node.lineno, f"cre_core.{alias.name}") for alias in node.names]
    return found
