"""Resolve what users type (systematic or standard name, any case) to systematic names."""

from __future__ import annotations

import difflib

import duckdb

from cre_core.errors import CreError


class UnknownGeneError(CreError):
    """A gene name that matches nothing; carries close matches as suggestions."""

    def __init__(self, name: str, suggestions: list[str]) -> None:
        self.name = name
        self.suggestions = suggestions
        hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"unknown gene '{name}'{hint}")


def gene_names(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Map of upper-cased systematic and standard names to the systematic name."""
    rows = con.execute("SELECT gene, name FROM genes").fetchall()
    names: dict[str, str] = {}
    for gene, name in rows:
        if name:
            names.setdefault(name.upper(), gene)
    for gene, _ in rows:
        names[gene.upper()] = gene
    return names


def suggest(name: str, names: dict[str, str], n: int = 5) -> list[str]:
    """Close matches for a mistyped name, shown as ``NAME (SYSTEMATIC)`` where they differ."""
    close = difflib.get_close_matches(name.strip().upper(), list(names), n=n, cutoff=0.6)
    return [c if names[c] == c else f"{c} ({names[c]})" for c in close]


def resolve_genes(con: duckdb.DuckDBPyConnection, queries: list[str]) -> list[str]:
    """Systematic names for ``queries``; raises UnknownGeneError with suggestions."""
    names = gene_names(con)
    resolved = []
    for query in queries:
        key = query.strip().upper()
        if key not in names:
            raise UnknownGeneError(query.strip(), suggest(query, names))
        resolved.append(names[key])
    return resolved
