"""Gene sets as users type or upload them: ``TFC3, YBR001C`` or a CSV of deletion sets.

A CSV holds one set per row, either in a ``genes`` column (names separated by commas,
semicolons, ``+`` or spaces) or in columns whose names start with ``gene`` (``gene1``,
``gene2``, ``gene_a``...; empty cells ignored). A file without a header is read as one set
per line. Names resolve like everywhere else (systematic or standard, any case); unknown names
are reported with suggestions instead of failing the whole batch.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from cre_core.data.lookup import UnknownGeneError, gene_names, suggest
from cre_core.query.batch_csv import BatchRows, parse_names, read_batch

__all__ = ["MAX_SETS", "MAX_SET_SIZE", "check_sets", "parse_csv", "parse_names"]

MAX_SET_SIZE = 3
MAX_SETS = 200_000


def parse_csv(data: bytes | str, max_sets: int = MAX_SETS) -> BatchRows:
    """Gene sets from an uploaded CSV (layouts in the module doc; decoding and per-row
    problems in cre_core.query.batch_csv)."""
    return read_batch(data, max_sets)


def check_sets(con: duckdb.DuckDBPyConnection, sets: list[list[str]],
               max_size: int = MAX_SET_SIZE, rows: list[int] | None = None) -> tuple[list[list[str]], pd.DataFrame]:
    """Split sets into those that can be predicted and a table of the others (row, set, problem).

    A set is refused when it is too large, names a gene twice, or has a name that matches no
    gene (the problem then lists close matches). ``rows`` numbers the sets (their lines in the
    uploaded file); by default 1, 2, 3...
    """
    names = gene_names(con)
    good, problems = [], []
    for row, genes in zip(rows or range(1, len(sets) + 1), sets):
        unknown = [g for g in genes if g.strip().upper() not in names]
        resolved = [names.get(g.strip().upper()) for g in genes]
        if len(genes) > max_size:
            problem = f"{len(genes)} genes; at most {max_size} per set"
        elif unknown:
            problem = "; ".join(str(UnknownGeneError(g.strip(), suggest(g, names, 3))) for g in unknown)
        elif len(set(resolved)) != len(resolved):
            problem = "a gene is listed twice"
        else:
            good.append(genes)
            continue
        problems.append({"row": row, "genes": ", ".join(genes), "problem": problem})
    return good, pd.DataFrame(problems, columns=["row", "genes", "problem"])
