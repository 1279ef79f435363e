"""DCell's training files as an interaction source: ``2 ORF1 ORF2 value`` per line.

DCell (Ma et al. 2018) trains on whitespace-separated lines: the number of deleted genes (2),
the two systematic names, and the Costanzo 2016 interaction score ε. The files carry no
double-mutant fitness, so ingest derives it under the multiplicative model the score is
defined by, DMF = ε + SMF_a·SMF_b, where both single-mutant fitnesses are known; pairs without
them keep ε with fitness NULL (not trained on, still counted and shown). Pairs an SGA file
also measured keep the SGA values. DCell's own train/test files also become a split file
(``dcell-split``) for ``train --split-file``.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from cre_core.data.split_file import PARTS, write_split_file
from cre_core.errors import InputError
from cre_core.textio import open_binary

_COLUMNS = ["n", "gene_a", "gene_b", "epsilon"]
_PANDAS_LINE = re.compile(r"line (\d+), saw (\d+)")


def read_dcell_pairs(path: str | Path) -> pd.DataFrame:
    """Columns gene_a, gene_b (upper case, file order) and epsilon, one row per line.

    Raises InputError (file, line, problem) for a line without four fields, a gene count other
    than 2, a value that is not a number, or a gene paired with itself; and for a file without
    any pair.
    """
    path = Path(path)
    with open_binary(path) as fh:
        try:
            frame = pd.read_csv(fh, sep=r"\s+", header=None, names=_COLUMNS, dtype=str,
                                skip_blank_lines=False, keep_default_na=False, na_values=[""],
                                encoding_errors="replace")
        except pd.errors.ParserError as exc:
            found = _PANDAS_LINE.search(str(exc))
            line = int(found.group(1)) if found else None
            fields = f"{found.group(2)} fields" if found else "too many fields"
            raise InputError(path, line, f"{fields}, expected 4 (2 ORF1 ORF2 value)") from None
        except pd.errors.EmptyDataError:
            frame = pd.DataFrame(columns=_COLUMNS)
    frame.index = np.arange(1, len(frame) + 1)  # 1-based line numbers
    frame = frame[frame.notna().any(axis=1)]     # blank lines
    if frame.empty:
        raise InputError(path, None, "no pairs (expected lines '2 ORF1 ORF2 value')")

    def first_bad(mask: pd.Series, problem) -> None:
        if mask.any():
            line = int(mask.idxmax())
            raise InputError(path, line, problem(frame.loc[line]))

    first_bad(frame["epsilon"].isna(), lambda r: f"{4 - int(r.isna().sum())} fields, expected 4 "
              "(2 ORF1 ORF2 value)")
    first_bad(frame["n"] != "2", lambda r: f"first field {r['n']!r}: DCell pair files start "
              "each line with 2 (the number of genes)")
    epsilon = pd.to_numeric(frame["epsilon"], errors="coerce")
    first_bad(epsilon.isna(), lambda r: f"value {r['epsilon']!r} is not a number")
    genes_a, genes_b = frame["gene_a"].str.upper(), frame["gene_b"].str.upper()
    first_bad(genes_a == genes_b, lambda r: f"gene {r['gene_a']} is paired with itself")
    return pd.DataFrame({"gene_a": genes_a.to_numpy(), "gene_b": genes_b.to_numpy(),
                         "epsilon": epsilon.to_numpy(dtype="float64")})


def load_dcell_pairs(con: duckdb.DuckDBPyConnection, path: Path, pairs: pd.DataFrame) -> int:
    """Replace this file's rows (keyed by file name) in ``dcell_pairs``; returns the row count."""
    con.execute("DELETE FROM dcell_pairs WHERE source = ?", [path.name])
    con.register("incoming", pairs)
    con.execute("INSERT INTO dcell_pairs SELECT ?, gene_a, gene_b, epsilon FROM incoming",
                [path.name])
    con.unregister("incoming")
    return len(pairs)


def add_dcell_dmf(con: duckdb.DuckDBPyConnection) -> int:
    """Add DCell pairs that ``dmf`` (rebuilt from SGA) lacks: DMF = ε + SMF_a·SMF_b, or NULL.

    Call after ``dmf`` and ``smf`` are final. Repeats of a pair are averaged. Returns the number
    of pairs added.
    """
    before = con.execute("SELECT count(*) FROM dmf").fetchall()[0][0]
    con.execute(
        """INSERT INTO dmf
        SELECT d.a, d.b,
               CASE WHEN sa.fitness IS NOT NULL AND sb.fitness IS NOT NULL
                    THEN d.eps + sa.fitness * sb.fitness END,
               NULL, d.n, d.eps
        FROM (SELECT least(gene_a, gene_b) AS a, greatest(gene_a, gene_b) AS b,
                     avg(epsilon) AS eps, count(*) AS n
              FROM dcell_pairs GROUP BY a, b) d
        LEFT JOIN smf sa ON sa.gene = d.a LEFT JOIN smf sb ON sb.gene = d.b
        WHERE NOT EXISTS (SELECT 1 FROM dmf x WHERE x.gene_a = d.a AND x.gene_b = d.b)
        ORDER BY d.a, d.b"""
    )
    return con.execute("SELECT count(*) FROM dmf").fetchall()[0][0] - before


def dcell_split(files: dict[str, list[Path]], out: str | Path) -> dict[str, int]:
    """Write a split file (train/val/test) from DCell pair files per part; returns the counts.

    A pair listed in two parts is an error (the split would leak); repeats within a part count
    once.
    """
    frames = []
    for part in PARTS:
        for path in files.get(part, []):
            pairs = read_dcell_pairs(path)
            frames.append(pairs.assign(part=part, path=str(path)))
    pairs = pd.concat(frames, ignore_index=True)
    a = np.minimum(pairs["gene_a"].to_numpy(), pairs["gene_b"].to_numpy())
    b = np.maximum(pairs["gene_a"].to_numpy(), pairs["gene_b"].to_numpy())
    pairs = pairs.assign(a=a, b=b).drop_duplicates(["a", "b", "part"])
    clash = pairs.duplicated(["a", "b"], keep=False)
    if clash.any():
        first = pairs[clash].iloc[0]
        same = clash & (pairs["a"] == first["a"]) & (pairs["b"] == first["b"])
        where = sorted(pairs.loc[same, "part"])
        raise InputError(first["path"], None,
                         f"pair {first['a']}/{first['b']} is in both {' and '.join(where)}")
    genes = sorted(set(pairs["a"]) | set(pairs["b"]))
    position = {gene: i for i, gene in enumerate(genes)}
    idx = np.stack([pairs["a"].map(position).to_numpy(), pairs["b"].map(position).to_numpy()], 1)
    parts = {part: np.flatnonzero(pairs["part"].to_numpy() == part) for part in PARTS}
    write_split_file(out, genes, idx, parts)
    return {part: len(rows) for part, rows in parts.items()}
