"""Costanzo's ``strain_ids_and_single_mutant_fitness`` table (CSV or XLSX) -> ``smf_raw`` rows.

Columns: ``Strain ID``, ``Allele/Gene name``, then ``Single mutant fitness (26°)`` and its
``stddev``, and the same at 30°. The degree sign is matched loosely (exports mangle it).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pandas as pd

from cre_core.data import values
from cre_core.data.alleles import allele_kind, strain_gene
from cre_core.errors import InputError
from cre_core.textio import is_gzip, iter_lines

RAW_COLUMNS = ["strain", "gene", "allele", "allele_kind", "temperature", "fitness", "std"]
_FITNESS = re.compile(r"^single mutant fitness \((\d+)\D*\)$")
_STD = re.compile(r"^single mutant fitness \((\d+)\D*\) ?(stddev|std|sd)$")


def _rows(path: Path) -> list[tuple[int, list[str]]]:
    """(line number, cells) for every row, header first, from CSV, TSV or XLSX."""
    if path.suffix.lower() in (".xlsx", ".xlsm") and not is_gzip(path):
        try:
            frame = pd.read_excel(path, header=None, dtype=str, engine="openpyxl")
        except Exception as exc:  # openpyxl raises many types for a corrupt workbook
            raise InputError(path, None, f"not a readable XLSX workbook ({exc})") from exc
        frame = frame.fillna("")
        return [(i + 1, list(row)) for i, row in enumerate(frame.itertuples(index=False))]
    lines = list(iter_lines(path))
    delimiter = "\t" if lines and "\t" in lines[0][1] else ","
    out = []
    for number, text in lines:
        try:
            out.append((number, next(csv.reader([text], delimiter=delimiter), [])))
        except csv.Error as exc:
            raise InputError(path, number, f"not readable as CSV ({exc})") from None
    return out


def _number(path: Path, line: int, text: str, column: str) -> float | None:
    text = str(text).strip()
    if text in ("", "NA", "NaN", "nan"):
        return None
    try:
        number = float(text)
    except ValueError:
        raise InputError(path, line, f"column '{column}': '{text}' is not a number") from None
    if values.implausible(number):
        raise InputError(path, line, values.problem(column, text))
    return number


def read_smf(path: str | Path) -> pd.DataFrame:
    """One row per strain and temperature with a measured fitness."""
    path = Path(path)
    rows = _rows(path)
    if not rows:
        raise InputError(path, 1, "empty file")
    header = [" ".join(str(h).lower().split()) for h in rows[0][1]]
    if len(header) < 3 or header[0] != "strain id":
        raise InputError(path, 1, "expected a header starting with 'Strain ID', 'Allele/Gene name'")
    fitness_cols = {int(m.group(1)): i for i, h in enumerate(header) if (m := _FITNESS.match(h))}
    std_cols = {int(m.group(1)): i for i, h in enumerate(header) if (m := _STD.match(h))}
    if not fitness_cols:
        raise InputError(path, 1, "no 'Single mutant fitness (26°/30°)' column")
    out = []
    for line, cells in rows[1:]:
        if not any(str(c).strip() for c in cells):
            continue
        if len(cells) != len(header):
            raise InputError(path, line, f"{len(cells)} columns, expected {len(header)}")
        strain = str(cells[0]).strip()
        if "_" not in strain or not strain_gene(strain):
            problem = f"Strain ID '{strain}' is not GENE_allele (the gene part is missing)"
            raise InputError(path, line, problem)
        for temp, col in sorted(fitness_cols.items()):
            fitness = _number(path, line, cells[col], rows[0][1][col])
            if fitness is None:
                continue
            std_col = std_cols.get(temp)
            std = _number(path, line, cells[std_col], rows[0][1][std_col]) if std_col else None
            out.append((strain, strain_gene(strain), str(cells[1]).strip(),
                        allele_kind(strain), temp, fitness, std))
    if not out:
        problem = "header only, no data rows" if len(rows) == 1 else "no fitness values in any row"
        raise InputError(path, None, problem)
    return pd.DataFrame(out, columns=RAW_COLUMNS)


def rebuild_smf(con, kinds: tuple[str, ...]) -> int:
    """Per-gene SMF: mean over strains and temperatures of alleles of ``kinds``.

    std is the spread of those values, or the reported std when only one was measured.
    """
    con.execute("DELETE FROM smf")
    marks = ", ".join("?" for _ in kinds)
    con.execute(
        f"""INSERT INTO smf SELECT gene, avg(fitness), coalesce(stddev_samp(fitness), avg(std)),
            count(*) FROM smf_raw WHERE allele_kind IN ({marks}) GROUP BY gene ORDER BY gene""",
        list(kinds),
    )
    return con.execute("SELECT count(*) FROM smf").fetchall()[0][0]


