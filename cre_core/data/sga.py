"""Costanzo et al. 2016 SGA files (Data File S1) into the ``sga`` table, with DuckDB's reader.

No row-by-row Python: DuckDB parses, converts and inserts. Structural CSV errors come back from
DuckDB's reject table with their line number (a second, tolerant read on the error path only);
content errors (an empty strain ID) are located by one scan of the file, also only on failure.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from cre_core.data import values
from cre_core.data.alleles import gene_sql, kind_sql, strain_gene
from cre_core.errors import InputError
from cre_core.textio import decode_line, first_line, is_gzip, iter_raw_lines

COLUMNS = (
    ("query_strain", "Query Strain ID", "VARCHAR"),
    ("query_allele", "Query allele name", "VARCHAR"),
    ("array_strain", "Array Strain ID", "VARCHAR"),
    ("array_allele", "Array allele name", "VARCHAR"),
    ("arraytype_temp", "Arraytype/Temp", "VARCHAR"),
    ("epsilon", "Genetic interaction score (ε)", "DOUBLE"),
    ("pvalue", "P-value", "DOUBLE"),
    ("query_smf", "Query single mutant fitness (SMF)", "DOUBLE"),
    ("array_smf", "Array SMF", "DOUBLE"),
    ("dmf", "Double mutant fitness", "DOUBLE"),
    ("dmf_std", "Double mutant fitness standard deviation", "DOUBLE"),
)
EPSILON_INDEX = 5


def _normal(name: str) -> str:
    return " ".join(name.strip().strip('"').lower().split())


def check_header(path: Path, columns: tuple = COLUMNS, loose: int | None = EPSILON_INDEX,
                 aliases: dict[int, str] | None = None) -> None:
    """Reject a file whose header is not Costanzo's 11 columns (ε may be in any encoding);
    ``columns`` / ``loose`` (the ε column's index) serve other layouts (Kuzmin's), whose
    releases may name a column otherwise (``aliases``: index -> the other accepted name)."""
    header = first_line(path).split("\t")
    if len(header) != len(columns):
        raise InputError(
            path, 1, f"header has {len(header)} columns, expected {len(columns)} "
            f"({', '.join(c[1] for c in columns)})"
        )
    for index, (found, (_, expected, _)) in enumerate(zip(header, columns)):
        if index == loose:
            ok = _normal(found).startswith("genetic interaction score")
        else:
            ok = _normal(found) in {_normal(expected), _normal((aliases or {}).get(index, expected))}
        if not ok:
            raise InputError(path, 1, f"column {index + 1} is '{found.strip()}', expected '{expected}'")


def _reader(path: Path, rejects: bool = False, columns: tuple = COLUMNS) -> str:
    """A read_csv call with explicit columns: the header line is skipped, never interpreted.

    The fast path parses strictly; ``rejects`` re-reads a failing file to learn the bad line.
    """
    spec = ", ".join(f"'{name}': '{kind}'" for name, _, kind in columns)
    compression = "gzip" if is_gzip(path) else "none"
    errors = ", ignore_errors=true, store_rejects=true" if rejects else ""
    return (
        f"read_csv(?, delim='\t', header=true, columns={{{spec}}}, quote='', escape='', "
        f"compression='{compression}', nullstr=['', 'NA', 'NaN', 'nan'], auto_detect=false{errors})"
    )


def _explain_failure(path: Path, error: duckdb.Error, columns: tuple = COLUMNS) -> InputError:
    """Name the first bad line of a file DuckDB refused: its reject table when the tolerant
    re-read works (on a scratch connection: the load's transaction is aborted), else one
    Python scan of an SGA file (binary bytes, a truncated gzip make even the tolerant reader
    fail)."""
    try:
        with duckdb.connect() as scratch:
            scratch.execute(f"SELECT count(COLUMNS(*)) FROM {_reader(path, True, columns)}",
                            [str(path)]).fetchall()
            rows = scratch.execute(
                "SELECT line, error_type, column_name, error_message, csv_line FROM reject_errors "
                "ORDER BY line LIMIT 1"
            ).fetchall()
    except duckdb.Error:
        rows = []
    if not rows:
        return _scan_for_problem(path) or InputError(path, None, str(error).splitlines()[0])
    line, error_type, column, message, csv_line = rows[0]
    if str(error_type) in ("MISSING COLUMNS", "TOO MANY COLUMNS"):
        problem = f"{len(csv_line.split(chr(9)))} columns, expected {len(columns)}"
    elif column is None:
        problem = message.splitlines()[0]
    else:
        problem = f"column '{column}': {message.splitlines()[0]}"
    return InputError(path, int(line), problem)


_NUMBERS = [(i, name) for i, (name, _, kind) in enumerate(COLUMNS) if kind == "DOUBLE"]
_NULLS = ("", "NA", "NaN", "nan")
_CONTROL = bytes(range(9)) + bytes(range(14, 32))


def _line_problem(fields: list[str]) -> str | None:
    """What is wrong with one data line, in the order a reader meets it; None when it is fine."""
    if len(fields) != len(COLUMNS):
        return f"{len(fields)} columns, expected {len(COLUMNS)}"
    for index, label in ((0, "Query Strain ID"), (2, "Array Strain ID")):
        if "_" not in fields[index] or not strain_gene(fields[index]):
            return f"{label} '{fields[index]}' is not GENE_allele (the gene part is missing)"
    for index, name in _NUMBERS:
        text = fields[index].strip()
        if text in _NULLS:
            continue
        try:
            number = float(text)
        except ValueError:
            return f"column '{name}': '{text}' is not a number"
        if values.implausible(number):
            return values.problem(name, text)
    return None


def _scan_for_problem(path: Path) -> InputError | None:
    """The first line that is binary, misshapen, names no gene or holds an implausible number."""
    for number, raw in iter_raw_lines(path):
        if number == 1:
            continue
        if any(byte in _CONTROL for byte in raw[:4096]):
            bad = next(b for b in raw if b in _CONTROL)
            return InputError(path, number, f"binary data (byte 0x{bad:02x}): not tab-separated text")
        problem = _line_problem(decode_line(raw).split("\t"))
        if problem:
            return InputError(path, number, problem)
    return None


def _content_check_sql() -> str:
    """Rows of one source whose strain IDs name no gene or whose numbers are implausible."""
    no_gene = " OR ".join(f"coalesce(strpos({c}, '_'), 0) = 0 OR {g} = ''" for c, g in
                          (("query_strain", "query_gene"), ("array_strain", "array_gene")))
    numbers = " OR ".join(values.implausible_sql(name) for _, name in _NUMBERS)
    return f"SELECT count(*), count(*) FILTER (WHERE {no_gene} OR {numbers}) FROM sga WHERE source = ?"


def load_sga(con: duckdb.DuckDBPyConnection, path: Path) -> int:
    """Replace this file's rows in ``sga`` (keyed by file name); returns rows loaded.

    Runs inside the caller's transaction, so a bad file leaves the table as it was. A file
    with a header but no rows is refused: loading it would silently delete the file's rows.
    """
    path = Path(path)
    check_header(path)
    source = path.name
    con.execute("DELETE FROM sga WHERE source = ?", [source])
    try:
        con.execute(
            f"""INSERT INTO sga SELECT ?, query_strain, query_allele, array_strain, array_allele,
                arraytype_temp, {gene_sql('query_strain')}, {gene_sql('array_strain')},
                {kind_sql('query_strain')}, {kind_sql('array_strain')},
                TRY_CAST(regexp_extract(arraytype_temp, '(\\d+)\\D*$', 1) AS INTEGER),
                epsilon, pvalue, query_smf, array_smf, dmf, dmf_std
            FROM {_reader(path)}""",
            [source, str(path)],
        ).fetchall()
    except (duckdb.InvalidInputException, duckdb.ConversionException, duckdb.IOException) as exc:
        raise _explain_failure(path, exc) from None
    rows, bad = con.execute(_content_check_sql(), [source]).fetchall()[0]
    if bad:
        problem = f"{bad:,} rows name no gene or hold an implausible number"
        raise _scan_for_problem(path) or InputError(path, None, problem)
    if not rows:
        raise InputError(path, None, "header only, no data rows")
    return int(rows)


def rebuild_dmf(con: duckdb.DuckDBPyConnection, kinds: tuple[str, ...]) -> int:
    """Aggregate raw rows into canonical pairs (gene_a < gene_b) using alleles of ``kinds``.

    Repeats (both orientations, alleles, temperatures) become mean, std and count; the std is
    the spread of the repeats, or the reported std when a pair was measured once. Rows are
    stored sorted, so lookups by ``gene_a`` skip row groups by their min/max; a primary-key
    index would double the ingest time (bench/RESULTS.md) and serve no query the app runs.
    """
    con.execute("DELETE FROM dmf")
    marks = ", ".join("?" for _ in kinds)
    con.execute(
        f"""INSERT INTO dmf
        SELECT least(query_gene, array_gene) AS a, greatest(query_gene, array_gene) AS b,
               avg(dmf), coalesce(stddev_samp(dmf), avg(dmf_std)), count(*), avg(epsilon)
        FROM sga
        WHERE dmf IS NOT NULL AND query_gene <> array_gene
          AND query_kind IN ({marks}) AND array_kind IN ({marks})
        GROUP BY a, b ORDER BY a, b""",
        list(kinds) * 2,
    )
    return con.execute("SELECT count(*) FROM dmf").fetchall()[0][0]


def smf_from_sga(con: duckdb.DuckDBPyConnection, kinds: tuple[str, ...]) -> int:
    """Fill ``smf`` from the SMF columns of the SGA rows (used when no SMF file was given)."""
    con.execute("DELETE FROM smf")
    marks = ", ".join("?" for _ in kinds)
    con.execute(
        f"""INSERT INTO smf
        SELECT gene, avg(f), stddev_samp(f), count(*) FROM (
            SELECT query_gene AS gene, query_smf AS f, query_kind AS k FROM sga
            UNION ALL SELECT array_gene, array_smf, array_kind FROM sga)
        WHERE f IS NOT NULL AND k IN ({marks}) GROUP BY gene ORDER BY gene""",
        list(kinds),
    )
    return con.execute("SELECT count(*) FROM smf").fetchall()[0][0]
