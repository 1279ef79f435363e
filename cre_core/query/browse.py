"""Read-only queries behind the Datasets page: paged tables, histograms, gene detail.

Everything here runs inside DuckDB and returns at most one page (or one histogram) to pandas,
so browsing the 1.3e7 raw SGA rows never pulls them into memory. What a user types reaches
SQL only as a bound parameter; table and column names come from the fixed ``TABLES`` specs.
The one exception is the power-user SQL box (:mod:`cre_core.query.sql_box`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import duckdb
import pandas as pd

from cre_core.data.lookup import resolve_genes
from cre_core.errors import CreError

# Costanzo 2016's "intermediate" cut-off for a significant interaction: p < 0.05 and |ε| > 0.08.
SIGNIFICANT_P = 0.05
SIGNIFICANT_EPSILON = 0.08
MAX_PAGE_SIZE = 1000
MAX_SEARCH_GENES = 500
FEW_GENES = 10           # searches matching at most this many genes page and count in one scan


@dataclass(frozen=True)
class TableSpec:
    """How one browsable table is searched and filtered (names are trusted constants)."""

    label: str
    source: str                       # table name in the store
    columns: tuple[str, ...]          # shown columns, in order
    gene_columns: tuple[str, ...]     # columns holding systematic names (search, names shown)
    fitness: str | None = None        # column the fitness range applies to
    epsilon: str | None = None        # column of ε
    pvalue: str | None = None         # column of the ε p-value
    kinds: tuple[str, ...] = ()       # allele-kind columns (all must be in the chosen kinds)
    temperature: str | None = None
    sortable: tuple[str, ...] = ()
    histograms: tuple[str, ...] = ()  # numeric columns offered as histograms
    join_smf: bool = False            # genes: show each gene's SMF (and filter on it)


TABLES: dict[str, TableSpec] = {
    "genes": TableSpec(
        label="Genes", source="genes",
        columns=("gene", "name", "chrom", "start", "stop", "strand", "orf_class", "smf"),
        gene_columns=("gene",), fitness="smf", join_smf=True,
        sortable=("gene", "name", "chrom", "start", "smf"), histograms=("smf",),
    ),
    "smf": TableSpec(
        label="Single-mutant fitness (per gene)", source="smf",
        columns=("gene", "fitness", "std", "n"), gene_columns=("gene",), fitness="fitness",
        sortable=("gene", "fitness", "std", "n"), histograms=("fitness",),
    ),
    "smf_raw": TableSpec(
        label="Single-mutant fitness (per strain and temperature)", source="smf_raw",
        columns=("gene", "strain", "allele", "allele_kind", "temperature", "fitness", "std", "source"),
        gene_columns=("gene",), fitness="fitness", kinds=("allele_kind",), temperature="temperature",
        sortable=("gene", "fitness", "temperature"), histograms=("fitness",),
    ),
    "dmf": TableSpec(
        label="Double-mutant fitness (per gene pair)", source="dmf",
        columns=("gene_a", "gene_b", "fitness", "std", "n", "epsilon"),
        gene_columns=("gene_a", "gene_b"), fitness="fitness", epsilon="epsilon",
        sortable=("gene_a", "gene_b", "fitness", "epsilon", "n"), histograms=("fitness", "epsilon"),
    ),
    "sga": TableSpec(
        label="Raw SGA measurements", source="sga",
        columns=(
            "query_gene", "array_gene", "query_allele", "array_allele", "query_kind", "array_kind",
            "temperature", "dmf", "dmf_std", "epsilon", "pvalue", "query_smf", "array_smf", "source",
        ),
        gene_columns=("query_gene", "array_gene"), fitness="dmf", epsilon="epsilon",
        pvalue="pvalue", kinds=("query_kind", "array_kind"), temperature="temperature",
        sortable=("query_gene", "array_gene", "dmf", "epsilon", "pvalue"),
        histograms=("dmf", "epsilon"),
    ),
}


@dataclass(frozen=True)
class Filters:
    """What the user chose on the Datasets page. Empty means "no filter"."""

    search: str = ""                    # a systematic or standard name (or a prefix of one)
    fitness_min: float | None = None
    fitness_max: float | None = None
    kinds: tuple[str, ...] = ()         # allele kinds to keep (deletion, ts, damp, other)
    temperatures: tuple[int, ...] = ()
    significant: bool = False           # only significant interactions


@dataclass
class Page:
    """One page of a filtered table."""

    rows: pd.DataFrame
    total: int                          # rows matching the filters
    page: int                           # 1-based
    page_size: int
    matched_genes: list[str] = field(default_factory=list)   # what the search resolved to

    @property
    def n_pages(self) -> int:
        return max(1, math.ceil(self.total / self.page_size))


@dataclass
class GeneDetail:
    """Everything the store knows about one gene."""

    gene: str
    info: dict
    windows: pd.DataFrame       # region, length, padded, pad_len, gc, sequence
    smf: dict | None            # fitness, std, n (aggregated), or None when unmeasured
    smf_raw: pd.DataFrame       # per strain and temperature
    partners: pd.DataFrame      # strongest interactions: partner, name, fitness, epsilon, n
    n_pairs: int
    go: pd.DataFrame            # go_id, term, aspect, evidence


def spec(table: str) -> TableSpec:
    """The spec of a browsable table; CreError for an unknown name."""
    try:
        return TABLES[table]
    except KeyError:
        raise CreError(f"unknown table '{table}'; choose one of {', '.join(TABLES)}") from None


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_genes(con: duckdb.DuckDBPyConnection, text: str, limit: int = MAX_SEARCH_GENES) -> list[str]:
    """Systematic names matching ``text``: an exact systematic/standard name (any case) wins,
    otherwise every gene whose systematic or standard name starts with it."""
    text = text.strip()
    if not text:
        return []
    exact = con.execute(
        "SELECT gene FROM genes WHERE upper(gene) = upper(?) OR upper(name) = upper(?) ORDER BY gene",
        [text, text],
    ).fetchall()
    if exact:
        return [g for (g,) in exact]
    pattern = _escape_like(text) + "%"
    rows = con.execute(
        "SELECT gene FROM genes WHERE gene ILIKE ? ESCAPE '\\' OR name ILIKE ? ESCAPE '\\' "
        "ORDER BY gene LIMIT ?",
        [pattern, pattern, limit],
    ).fetchall()
    return [g for (g,) in rows]


def _source_sql(s: TableSpec) -> str:
    if s.join_smf:
        return ("(SELECT g.gene, g.name, g.chrom, g.start, g.stop, g.strand, g.orf_class, "
                "s.fitness AS smf FROM genes g LEFT JOIN smf s USING (gene))")
    return s.source


def _in(column: str, values: list) -> tuple[str, list]:
    """``column IN (?, ?, ...)``: one bound parameter per value. Constant IN lists are pushed
    into DuckDB's scan (zone maps skip row groups), unlike ``IN (SELECT unnest(?))``."""
    return f"{column} IN ({', '.join('?' * len(values))})", list(values)


def _filters(s: TableSpec, f: Filters) -> tuple[list[str], list]:
    """Conditions and parameters of every filter but the gene search."""
    clauses: list[str] = []
    params: list = []

    def add(clause: str, values: list) -> None:
        clauses.append(clause)
        params.extend(values)

    if s.fitness and f.fitness_min is not None:
        add(f"{s.fitness} >= ?", [float(f.fitness_min)])
    if s.fitness and f.fitness_max is not None:
        add(f"{s.fitness} <= ?", [float(f.fitness_max)])
    if s.kinds and f.kinds:
        for col in s.kinds:
            add(*_in(col, [str(k) for k in f.kinds]))
    if s.temperature and f.temperatures:
        add(*_in(s.temperature, [int(t) for t in f.temperatures]))
    if s.epsilon and f.significant:
        add(f"abs({s.epsilon}) > ?", [SIGNIFICANT_EPSILON])
        if s.pvalue:
            add(f"{s.pvalue} < ?", [SIGNIFICANT_P])
    return clauses, params


def _where_sql(clauses: list[str]) -> str:
    return (" WHERE " + " AND ".join(clauses)) if clauses else ""


@dataclass(frozen=True)
class _Matching:
    """The rows matching a filter set, as a SQL relation with its bound parameters."""

    sql: str                  # "(SELECT ...)" usable after FROM
    params: list
    ordered_by_row: bool      # rows carry _row (their place in the table) and must be sorted by it


def _matching(s: TableSpec, f: Filters, genes: list[str] | None, extra: Sequence[str] = ()) -> _Matching:
    """Rows of ``s`` matching the filters (plus ``extra`` conditions on trusted columns).

    A gene search on a pair table (gene in either column) is a UNION ALL of two branches, each
    with a plain ``IN`` filter that DuckDB pushes into its scan: an OR across two columns is
    not pushed down and would decompress every column of every row before filtering.
    """
    clauses, params = _filters(s, f)
    clauses = clauses + list(extra)
    if genes is None or len(s.gene_columns) == 1:
        if genes is not None:
            cond, vals = _in(s.gene_columns[0], genes)
            clauses, params = [cond, *clauses], [*vals, *params]
        return _Matching(f"(SELECT * FROM {_source_sql(s)}{_where_sql(clauses)})", params, False)
    first, second = s.gene_columns
    in_first, vals = _in(first, genes)
    in_second, _ = _in(second, genes)
    branch_a = f"SELECT rowid AS _row, * FROM {s.source}{_where_sql([in_first, *clauses])}"
    branch_b = (f"SELECT rowid AS _row, * FROM {s.source}"
                f"{_where_sql([in_second, f'({first} IS NULL OR NOT {in_first})', *clauses])}")
    return _Matching(f"({branch_a} UNION ALL {branch_b})",
                     [*vals, *params, *vals, *vals, *params], True)


def _resolve_search(con: duckdb.DuckDBPyConnection, f: Filters) -> list[str] | None:
    return search_genes(con, f.search) if f.search.strip() else None


def count_rows(con: duckdb.DuckDBPyConnection, table: str, filters: Filters = Filters()) -> int:
    """Rows of ``table`` matching ``filters``."""
    s = spec(table)
    genes = _resolve_search(con, filters)
    if genes == []:
        return 0
    m = _matching(s, filters, genes)
    return con.execute(f"SELECT count(*) FROM {m.sql}", m.params).fetchall()[0][0]


def browse(
    con: duckdb.DuckDBPyConnection,
    table: str,
    filters: Filters = Filters(),
    page: int = 1,
    page_size: int = 50,
    sort: str | None = None,
    descending: bool = False,
    total: int | None = None,
) -> Page:
    """One page of ``table`` under ``filters``, with standard names added for gene columns.

    Paging is LIMIT/OFFSET inside DuckDB; without a sort the store's insertion order is used
    (stable in DuckDB), which needs no sort at all and stops scanning at the page. Pass
    ``total`` (from :func:`count_rows` with the same filters) to skip counting again.
    """
    s = spec(table)
    page_size = max(1, min(int(page_size), MAX_PAGE_SIZE))
    genes = _resolve_search(con, filters)
    if genes == []:
        return Page(pd.DataFrame(columns=list(s.columns)), 0, 1, page_size, [])
    m = _matching(s, filters, genes)
    order = ""
    if sort:
        if sort not in s.sortable:
            raise CreError(f"cannot sort {table} by '{sort}'; choose one of {', '.join(s.sortable)}")
        direction = "DESC" if descending else "ASC"
        ties = [c for c in s.gene_columns if c != sort] + (["_row"] if m.ordered_by_row else [])
        order = f" ORDER BY {sort} {direction} NULLS LAST" + "".join(f", {t}" for t in ties)
    elif m.ordered_by_row:
        order = " ORDER BY _row"
    cols = ", ".join(s.columns)

    def fetch(number: int, counted: bool) -> pd.DataFrame:
        window = ", count(*) OVER () AS _total" if counted else ""
        return con.execute(
            f"SELECT {cols}{window} FROM {m.sql}{order} LIMIT ? OFFSET ?",
            m.params + [page_size, (number - 1) * page_size],
        ).df()

    page = max(1, int(page))
    rows = None
    if total is None and genes is not None and len(genes) <= FEW_GENES:
        # A search for a few genes matches few rows: count them in the same scan as the page.
        rows = fetch(page, counted=True)
        if len(rows):
            total = int(rows.pop("_total").iloc[0])
        else:
            rows = None
    if total is None:
        total = con.execute(f"SELECT count(*) FROM {m.sql}", m.params).fetchall()[0][0]
    n_pages = max(1, math.ceil(total / page_size))
    if rows is None or page > n_pages:
        page = min(page, n_pages)
        rows = fetch(page, counted=False)
    rows = _add_names(con, rows, s)
    return Page(rows, int(total), page, page_size, genes or [])


def _add_names(con: duckdb.DuckDBPyConnection, rows: pd.DataFrame, s: TableSpec) -> pd.DataFrame:
    """Insert the standard name after each gene column (one small lookup for the page)."""
    if rows.empty or s.join_smf:
        return rows
    wanted = sorted({g for c in s.gene_columns for g in rows[c].dropna().unique()})
    names = dict(con.execute(
        "SELECT gene, name FROM genes WHERE gene IN (SELECT unnest(?::VARCHAR[]))", [wanted]
    ).fetchall())
    out = rows.copy()
    for col in s.gene_columns:
        label = "name" if col == "gene" else col.replace("_gene", "").replace("gene_", "") + "_name"
        out.insert(out.columns.get_loc(col) + 1, label, out[col].map(names))
    return out


def histogram(
    con: duckdb.DuckDBPyConnection,
    table: str,
    column: str,
    filters: Filters = Filters(),
    bins: int = 40,
) -> pd.DataFrame:
    """Equal-width histogram computed in SQL: columns ``start``, ``end``, ``count``."""
    s = spec(table)
    if column not in s.histograms:
        raise CreError(f"no histogram of {table}.{column}; choose one of {', '.join(s.histograms)}")
    bins = max(1, min(int(bins), 200))
    empty = pd.DataFrame({"start": pd.Series(dtype=float), "end": pd.Series(dtype=float),
                          "count": pd.Series(dtype="int64")})
    genes = _resolve_search(con, filters)
    if genes == []:
        return empty
    # Bins are floor((x − lo) · bins / (hi − lo)) as plain integers (DuckDB then uses a perfect
    # hash aggregate); the maximum lands in bin ``bins`` and is folded into the last bin below.
    if genes:
        # A gene search keeps few rows: scan the table once, into memory, for range and bins.
        m = _matching(s, filters, genes, extra=[f"{column} IS NOT NULL AND isfinite({column})"])
        frame = con.execute(
            f"WITH v AS MATERIALIZED (SELECT {column} AS x FROM {m.sql}), "
            "r AS (SELECT min(x) AS lo, max(x) AS hi FROM v) "
            "SELECT floor((x - lo) * CASE WHEN hi > lo THEN ? / (hi - lo) ELSE 0 END)::INTEGER AS bin, "
            "count(*) AS count, any_value(lo) AS lo, any_value(hi) AS hi FROM v, r "
            "GROUP BY bin ORDER BY bin",
            m.params + [bins],
        ).df()
        if frame.empty:
            return empty
        lo, hi = float(frame["lo"].iloc[0]), float(frame["hi"].iloc[0])
    else:
        # Otherwise the range comes from column statistics when unfiltered, then one pass.
        # NaN/inf are filtered only when the range shows some (the filter defeats statistics).
        m = _matching(s, filters, None)
        lo, hi = con.execute(f"SELECT min({column}), max({column}) FROM {m.sql}", m.params).fetchall()[0]
        if lo is not None and not (math.isfinite(lo) and math.isfinite(hi)):
            m = _matching(s, filters, None, extra=[f"isfinite({column})"])
            lo, hi = con.execute(f"SELECT min({column}), max({column}) FROM {m.sql}", m.params).fetchall()[0]
        if lo is None:
            return empty
        frame = con.execute(
            f"SELECT floor(({column} - ?) * ?)::INTEGER AS bin, count(*) AS count "
            f"FROM {m.sql} GROUP BY bin ORDER BY bin",
            [lo, bins / (hi - lo) if hi > lo else 0.0] + m.params,
        ).df().dropna(subset=["bin"])
    width = (hi - lo) / bins if hi > lo else 1.0
    frame["bin"] = frame["bin"].clip(upper=bins - 1)
    frame = frame.groupby("bin", as_index=False)["count"].sum()
    frame["start"] = lo + frame["bin"] * width
    frame["end"] = frame["start"] + width
    return frame[["start", "end", "count"]]


def gene_detail(con: duckdb.DuckDBPyConnection, gene: str, top_k: int = 15) -> GeneDetail:
    """A gene's record, CRE windows, SMF, strongest partners and GO annotations.

    ``gene`` is a systematic or standard name; UnknownGeneError (with suggestions) otherwise.
    """
    g = resolve_genes(con, [gene])[0]
    info_frame = con.execute("SELECT * FROM genes WHERE gene = ?", [g]).df()
    info = info_frame.iloc[0].to_dict()
    windows = con.execute(
        "SELECT region, length(sequence) AS length, padded, pad_len, "
        "round(100.0 * (length(sequence) - length(replace(replace(sequence, 'G', ''), 'C', ''))) "
        "/ nullif(length(sequence) - coalesce(pad_len, 0), 0), 1) AS gc_percent, sequence "
        "FROM windows WHERE gene = ? ORDER BY region DESC",
        [g],
    ).df()
    smf_row = con.execute("SELECT fitness, std, n FROM smf WHERE gene = ?", [g]).fetchone()
    smf = dict(zip(("fitness", "std", "n"), smf_row)) if smf_row else None
    smf_raw = con.execute(
        "SELECT strain, allele, allele_kind, temperature, fitness, std, source FROM smf_raw "
        "WHERE gene = ? ORDER BY temperature, strain",
        [g],
    ).df()
    partners = con.execute(     # two pushed-down scans (gene as a, gene as b), not an OR
        "SELECT partner, fitness, epsilon, n, count(*) OVER () AS n_pairs FROM ("
        "SELECT gene_b AS partner, fitness, epsilon, n FROM dmf WHERE gene_a = ? UNION ALL "
        "SELECT gene_a AS partner, fitness, epsilon, n FROM dmf WHERE gene_b = ?) "
        "ORDER BY abs(epsilon) DESC NULLS LAST, partner LIMIT ?",
        [g, g, int(top_k)],
    ).df()
    n_pairs = int(partners["n_pairs"].iloc[0]) if len(partners) else 0
    partners = partners.drop(columns="n_pairs")
    if not partners.empty:
        names = dict(con.execute(
            "SELECT gene, name FROM genes WHERE gene IN (SELECT unnest(?::VARCHAR[]))",
            [partners["partner"].tolist()],
        ).fetchall())
        partners.insert(1, "name", partners["partner"].map(names))
    go = con.execute(
        "SELECT a.go_id, t.name AS term, a.aspect, a.evidence FROM go_annotations a "
        "LEFT JOIN go_terms t USING (go_id) WHERE a.gene = ? ORDER BY a.aspect, a.go_id",
        [g],
    ).df()
    return GeneDetail(g, info, windows, smf, smf_raw, partners, int(n_pairs), go)


def distinct_values(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, list]:
    """Choices for the allele-kind and temperature filters of ``table``."""
    s = spec(table)
    out: dict[str, list] = {"kinds": [], "temperatures": []}
    if s.kinds:
        union = " UNION ".join(f"SELECT DISTINCT {c} AS k FROM {s.source}" for c in s.kinds)
        out["kinds"] = [k for (k,) in con.execute(f"SELECT k FROM ({union}) WHERE k IS NOT NULL ORDER BY k").fetchall()]
    if s.temperature:
        out["temperatures"] = [t for (t,) in con.execute(
            f"SELECT DISTINCT {s.temperature} FROM {s.source} WHERE {s.temperature} IS NOT NULL ORDER BY 1"
        ).fetchall()]
    return out
