"""Gene sets as users type or upload them: ``TFC3, YBR001C`` or a CSV of deletion sets.

A CSV holds one set per row, either in a ``genes`` column (names separated by commas,
semicolons, ``+`` or spaces) or in columns whose names start with ``gene`` (``gene1``,
``gene2``, ``gene_a``...; empty cells ignored). A file without a header is read as one set
per line. Names resolve like everywhere else (systematic or standard, any case); unknown names
are reported with suggestions instead of failing the whole batch.
"""

from __future__ import annotations

import csv
import io
import re

import duckdb
import pandas as pd

from cre_core.data.lookup import gene_names, suggest
from cre_core.errors import CreError

MAX_SET_SIZE = 3
MAX_SETS = 200_000
_SEPARATORS = re.compile(r"[\s,;+\"']+")


def parse_names(text: str) -> list[str]:
    """Names from one line of text: ``"tfc3, YBR001C"`` → ``["tfc3", "YBR001C"]``."""
    return [t for t in _SEPARATORS.split(text.strip()) if t]


def parse_csv(data: bytes | str, max_sets: int = MAX_SETS) -> list[list[str]]:
    """Gene sets from an uploaded CSV (see the module doc for the accepted layouts)."""
    text = data.decode("utf-8-sig", errors="replace") if isinstance(data, bytes) else data
    text = text.replace("\r\n", "\n").strip()
    if not text:
        raise CreError("the file is empty: one gene set per row, e.g. a 'genes' column with TFC3,YBR001C")
    first = text.split("\n", 1)[0]
    try:
        dialect = csv.Sniffer().sniff(first, delimiters=",;\t")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    header = [h.strip().lower() for h in next(csv.reader([first], delimiter=delimiter))]
    if header == ["genes"]:          # one column: the rest of each line is the set, quoted or not
        sets = [parse_names(line) for line in text.split("\n")[1:]]
    elif "genes" in header or any(h.startswith("gene") for h in header):
        frame = pd.read_csv(io.StringIO(text), sep=delimiter, dtype=str, keep_default_na=False)
        frame.columns = [c.strip().lower() for c in frame.columns]
        if "genes" in frame.columns:
            sets = [parse_names(v) for v in frame["genes"]]
        else:
            cols = [c for c in frame.columns if c.startswith("gene")]
            sets = [[v.strip() for v in row if v.strip()] for row in frame[cols].itertuples(index=False)]
    else:
        sets = [parse_names(line) for line in text.split("\n")]
    sets = [s for s in sets if s]
    if not sets:
        raise CreError("no gene sets found: put names in a 'genes' column or in gene1, gene2... columns")
    if len(sets) > max_sets:
        raise CreError(f"{len(sets):,} gene sets: at most {max_sets:,} per file")
    return sets


def check_sets(con: duckdb.DuckDBPyConnection, sets: list[list[str]],
               max_size: int = MAX_SET_SIZE) -> tuple[list[list[str]], pd.DataFrame]:
    """Split sets into those that can be predicted and a table of the others (row, set, problem).

    A set is refused when it is too large, names a gene twice, or has a name that matches no
    gene (the problem then lists close matches).
    """
    names = gene_names(con)
    good, problems = [], []
    for row, genes in enumerate(sets, start=1):
        unknown = [g for g in genes if g.strip().upper() not in names]
        resolved = [names.get(g.strip().upper()) for g in genes]
        if len(genes) > max_size:
            problem = f"{len(genes)} genes; at most {max_size} per set"
        elif unknown:
            problem = "; ".join(_unknown(g, suggest(g, names, 3)) for g in unknown)
        elif len(set(resolved)) != len(resolved):
            problem = "a gene is listed twice"
        else:
            good.append(genes)
            continue
        problems.append({"row": row, "genes": ", ".join(genes), "problem": problem})
    return good, pd.DataFrame(problems, columns=["row", "genes", "problem"])


def _unknown(name: str, close: list[str]) -> str:
    return f"unknown '{name}'" + (f" (did you mean {', '.join(close)}?)" if close else "")
