"""Kuzmin et al. 2018 trigenic screens (Data S1; Kuzmin 2020 Tables S1/S3 share the layout).

The two releases name the last two columns differently: 2018's Data S1 says "Combined mutant
fitness (standard deviation)", 2020's tables "Double/triple mutant fitness (...)"; both are read.

A trigenic query strain is a double mutant, ``YAL015C+YDL227C_tm461`` (``ntg1Δ+hoΔ``): the genes
before the ``_`` joined by ``+``. HO (YDL227C) is Kuzmin's neutral marker, so a query ``X+HO``
is effectively the single mutant X: its rows are digenic measurements of (X, array gene).

Rows go to ``trigenic_raw`` with the genotype they measure: its distinct genes other than HO,
sorted (``gene_a < gene_b < gene_c``; ``gene_c`` NULL for a pair), whatever the row's
"Combined mutant type" says, so a "trigenic" row whose query carries HO is a digenic
measurement. Rows naming a gene twice keep NULL genes. Rows of three genes are aggregated
into ``tmf``; digenic rows stay in ``trigenic_raw`` and do not feed ``dmf`` (Kuzmin measured
them in another background, the HO-marked query strains, against a different array; ``dmf``
stays Costanzo's).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb

from cre_core.data import sga as sga_files
from cre_core.data.alleles import gene_sql, kind_sql, strain_gene
from cre_core.data.smf import _rows as xlsx_rows
from cre_core.errors import InputError
from cre_core.textio import is_gzip, iter_lines

HO_MARKER = "YDL227C"

COLUMNS = (
    ("query_strain", "Query strain ID", "VARCHAR"),
    ("query_allele", "Query allele name", "VARCHAR"),
    ("array_strain", "Array strain ID", "VARCHAR"),
    ("array_allele", "Array allele name", "VARCHAR"),
    ("mutant_type", "Combined mutant type", "VARCHAR"),
    ("raw_score", "Raw genetic interaction score (epsilon)", "DOUBLE"),
    ("adjusted_score", "Adjusted genetic interaction score (epsilon or tau)", "DOUBLE"),
    ("pvalue", "P-value", "DOUBLE"),
    ("query_fitness", "Query single/double mutant fitness", "DOUBLE"),
    ("array_smf", "Array single mutant fitness", "DOUBLE"),
    ("fitness", "Double/triple mutant fitness", "DOUBLE"),
    ("fitness_std", "Double/triple mutant fitness standard deviation", "DOUBLE"),
)
MUTANT_TYPES = ("digenic", "trigenic")
# Kuzmin 2018 Data S1's names of the columns 2020 calls "Double/triple mutant fitness (...)"
ALIASES = {10: "Combined mutant fitness", 11: "Combined mutant fitness standard deviation"}


def check_header(path: Path) -> None:
    """Reject a text file whose header is not Kuzmin's 12 columns (an XLSX is checked on load)."""
    if not _is_xlsx(path):
        sga_files.check_header(Path(path), COLUMNS, loose=None, aliases=ALIASES)


def load_kuzmin(con: duckdb.DuckDBPyConnection, path: Path) -> int:
    """Replace this file's rows in ``trigenic_raw`` (keyed by file name); returns rows loaded.

    Tab-separated text (gzip ok) or XLSX (first sheet; written to a temporary TSV first, so
    errors name the sheet's row). Runs inside the caller's transaction, like SGA files.
    """
    path = Path(path)
    if not _is_xlsx(path):
        return _load_text(con, path, path.name)
    with tempfile.TemporaryDirectory() as tmp:
        text = Path(tmp) / f"{path.stem}.tsv"
        text.write_text("".join("\t".join(map(str, cells)) + "\n" for _, cells in xlsx_rows(path)),
                        encoding="utf-8")
        try:
            return _load_text(con, text, path.name)
        except InputError as err:
            raise InputError(path, err.line, err.problem) from None


def _is_xlsx(path: Path) -> bool:
    return Path(path).suffix.lower() in (".xlsx", ".xlsm") and not is_gzip(Path(path))


def _query_gene_sql(part: int) -> str:
    gene = f"upper(trim(split_part(split_part(query_strain, '_', 1), '+', {part})))"
    return f"nullif({gene}, '')"


def _load_text(con: duckdb.DuckDBPyConnection, path: Path, source: str) -> int:
    check_header(path)
    con.execute("DELETE FROM trigenic_raw WHERE source = ?", [source])
    names = ", ".join(name for name, _, _ in COLUMNS)
    try:
        con.execute(
            f"""INSERT INTO trigenic_raw
            SELECT ?, {names}, q1, q2, array_gene, array_kind,
                   genes[1], genes[2], genes[3]
            FROM (SELECT *, CASE WHEN len(list_distinct(listed)) = len(listed)
                                 THEN list_sort(listed) END AS genes
                  FROM (SELECT *, list_filter([q1, q2, array_gene],
                                              lambda g: g IS NOT NULL AND g <> '{HO_MARKER}') AS listed
                        FROM (SELECT *, {_query_gene_sql(1)} AS q1, {_query_gene_sql(2)} AS q2,
                                     {gene_sql('array_strain')} AS array_gene,
                                     {kind_sql('array_strain')} AS array_kind
                              FROM {sga_files._reader(path, columns=COLUMNS)})))""",
            [source, str(path)],
        ).fetchall()
    except (duckdb.InvalidInputException, duckdb.ConversionException) as exc:
        raise sga_files._explain_failure(path, exc, COLUMNS) from None
    rows, bad = con.execute(
        """SELECT count(*), count(*) FILTER (WHERE
                coalesce(strpos(query_strain, '_'), 0) < 2 OR coalesce(strpos(array_strain, '_'), 0) < 2
                OR query_gene1 IS NULL OR array_gene = ''
                OR lower(trim(mutant_type)) NOT IN ('digenic', 'trigenic')
                OR (lower(trim(mutant_type)) = 'digenic' AND gene_c IS NOT NULL))
            FROM trigenic_raw WHERE source = ?""",
        [source],
    ).fetchall()[0]
    if bad:
        raise _locate_bad_row(path) or InputError(path, None, f"{bad:,} rows are malformed")
    return int(rows)


def _locate_bad_row(path: Path) -> InputError | None:
    """The first line whose strain IDs or mutant type are malformed (failure path only)."""
    for number, text in iter_lines(path):
        if number == 1:
            continue
        fields = text.split("\t")
        query, array, kind = fields[0].strip(), fields[2].strip(), fields[4].strip().lower()
        genes = [g.strip().upper() for g in query.split("_", 1)[0].split("+")]
        if "_" not in query or not genes[0]:
            return InputError(path, number, f"Query strain ID '{fields[0]}' is not GENE[+GENE]_allele")
        if "_" not in array or not strain_gene(array):
            return InputError(path, number, f"Array strain ID '{fields[2]}' is not GENE_allele")
        if kind not in MUTANT_TYPES:
            return InputError(path, number, f"Combined mutant type '{fields[4]}' is not "
                                            "digenic or trigenic")
        named = {g for g in genes + [strain_gene(array)] if g and g != HO_MARKER}
        if kind == "digenic" and len(named) == 3:
            return InputError(path, number, f"a digenic row names three genes ({query} x {array})")
    return None


def rebuild_tmf(con: duckdb.DuckDBPyConnection, kinds: tuple[str, ...]) -> int:
    """Aggregate raw rows of three distinct genes into canonical triples (a < b < c).

    Repeats (the same triple from another query strain or another query pair) become mean,
    std (the reported std when measured once) and count; ``tau`` is the mean adjusted score.
    Arrays of an excluded allele kind are left out, as for ``dmf``.
    """
    con.execute("DELETE FROM tmf")
    marks = ", ".join("?" for _ in kinds) or "NULL"
    con.execute(
        f"""INSERT INTO tmf
        SELECT gene_a, gene_b, gene_c, avg(fitness), coalesce(stddev_samp(fitness), avg(fitness_std)),
               count(*), avg(adjusted_score)
        FROM trigenic_raw
        WHERE gene_c IS NOT NULL AND fitness IS NOT NULL AND array_kind IN ({marks})
        GROUP BY gene_a, gene_b, gene_c ORDER BY gene_a, gene_b, gene_c""",
        list(kinds),
    )
    return con.execute("SELECT count(*) FROM tmf").fetchall()[0][0]
