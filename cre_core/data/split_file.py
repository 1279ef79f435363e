"""Published splits: ``train --split-file F`` reads which strains are train, val or test.

The file is CSV or TSV (the header's separator decides) with a header naming ``gene_a``,
``gene_b``, an optional ``gene_c`` and ``split``; each row is one strain (2 or 3 deleted genes,
systematic names, in any order) and its part: ``train``, ``val`` or ``test``. Strains of the
store that the file does not list are left out of training and evaluation; rows naming a gene or
a strain the store lacks are counted (``file_rows_not_in_store``) and reported, not guessed at.
The split's name (file name and content hash) goes into the split info, so the run's summary
says which split it used.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from cre_core.atomic import write_text_atomic
from cre_core.errors import CreError, InputError
from cre_core.textio import check_readable, iter_lines

PARTS = ("train", "val", "test")
_BITS = 21  # gene index + 1 per slot: vocabularies up to 2 million genes


def split_name(path: str | Path) -> str:
    """``name.tsv (sha256 0123456789ab)``: which file, and which content of it."""
    path = check_readable(path)
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    except OSError as exc:
        raise CreError(f"cannot read split file {path}: {exc.strerror or exc}") from exc
    return f"{path.name} (sha256 {digest})"


def strain_keys(idx: np.ndarray) -> np.ndarray:
    """One int64 per row of gene indices (n, k ≤ 3; -1 = no gene), the same for any order."""
    idx = np.asarray(idx, dtype=np.int64)
    if idx.ndim != 2 or idx.shape[1] > 3:
        raise CreError(f"strains of {idx.shape[1] if idx.ndim == 2 else '?'} genes: at most 3")
    padded = np.full((len(idx), 3), -1, dtype=np.int64)
    padded[:, : idx.shape[1]] = idx
    ordered = np.sort(padded, axis=1) + 1
    return (ordered[:, 0] << (2 * _BITS)) | (ordered[:, 1] << _BITS) | ordered[:, 2]


def strain_genes(keys: np.ndarray) -> np.ndarray:
    """The gene indices (n, 3) of strain keys, ``strain_keys`` undone: ascending, -1 (no gene) last."""
    keys = np.asarray(keys, dtype=np.int64)
    mask = (1 << _BITS) - 1
    a, b, c = ((keys >> (2 * _BITS)) & mask) - 1, ((keys >> _BITS) & mask) - 1, (keys & mask) - 1
    pair, single = (a < 0) & (b >= 0), b < 0         # a key puts its -1 slots first: shift them
    return np.stack([np.where(single, c, np.where(pair, b, a)),
                     np.where(single, -1, np.where(pair, c, b)),
                     np.where(single | pair, -1, c)], axis=1)


def read_split_file(path: str | Path, genes: list[str]) -> tuple[np.ndarray, np.ndarray, int]:
    """(strain keys, part codes 0/1/2 for train/val/test, rows whose genes the store lacks).

    Raises InputError (file, line, problem) for a missing column, a part other than
    train/val/test, a row without two genes, or one strain listed in two parts.
    """
    path = Path(path)
    index = {gene.upper(): i for i, gene in enumerate(genes)}
    lines = iter_lines(path)
    header = next(((n, t) for n, t in lines if t.strip()), None)
    if header is None:
        raise InputError(path, None, "empty split file")
    sep = "\t" if "\t" in header[1] else ","
    columns = [c.strip().lower() for c in header[1].split(sep)]
    missing = [c for c in ("gene_a", "gene_b", "split") if c not in columns]
    if missing:
        problem = f"header lacks {', '.join(missing)} (expected gene_a, gene_b[, gene_c], split)"
        raise InputError(path, header[0], problem)
    gene_cols = [columns.index(c) for c in ("gene_a", "gene_b", "gene_c") if c in columns]
    split_col = columns.index("split")
    keys: list[int] = []
    parts: list[int] = []
    lines_of: dict[int, int] = {}
    unknown = 0
    for number, text in lines:
        if not text.strip():
            continue
        cells = [c.strip() for c in text.split(sep)]
        if len(cells) < len(columns):
            problem = f"{len(cells)} columns, expected {len(columns)}"
            raise InputError(path, number, problem)
        part = cells[split_col].lower()
        if part not in PARTS:
            problem = f"split {cells[split_col]!r}, expected train, val or test"
            raise InputError(path, number, problem)
        names = [cells[c] for c in gene_cols if cells[c]]
        if not names:
            raise InputError(path, number, "no gene: a strain needs gene_a (single mutants leave gene_b empty)")
        found = [index.get(name.upper(), -1) for name in names]
        if min(found) < 0:
            unknown += 1
            continue
        key = int(strain_keys(np.array([found]))[0])
        if key in lines_of:
            previous = parts[lines_of[key]]
            if previous != PARTS.index(part):
                problem = f"{'/'.join(names)} is already in {PARTS[previous]} (an earlier line)"
                raise InputError(path, number, problem)
            continue
        lines_of[key] = len(keys)
        keys.append(key)
        parts.append(PARTS.index(part))
    return np.array(keys, dtype=np.int64), np.array(parts, dtype=np.int8), unknown


def split_from_file(
    path: str | Path, idx: np.ndarray, rows: np.ndarray, genes: list[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """(train, val, test, info): ``rows`` of the strain table ``idx`` by the file's parts."""
    keys, parts, unknown_genes = read_split_file(path, genes)
    order = np.argsort(keys)
    keys, parts = keys[order], parts[order]
    row_keys = strain_keys(idx[rows])
    at = np.searchsorted(keys, row_keys).clip(max=max(len(keys) - 1, 0))
    listed = (keys[at] == row_keys) if len(keys) else np.zeros(len(rows), dtype=bool)
    row_part = np.where(listed, parts[at] if len(keys) else -1, -1)
    in_store = np.isin(keys, strain_keys(idx))
    info = {
        "kind": "file",
        "split_file": split_name(path),
        "dropped": int((~listed).sum()),  # strains of the store the file does not list
        "file_rows": int(len(keys) + unknown_genes),
        "file_rows_not_in_store": int(unknown_genes + (~in_store).sum()),
    }
    train, val, test = (rows[row_part == code] for code in range(3))
    return train, val, test, info


def write_split_file(
    out: str | Path, genes: list[str], idx: np.ndarray, parts: dict[str, np.ndarray]
) -> int:
    """Write ``gene_a gene_b [gene_c] split`` rows (TSV, atomic) for row numbers by part."""
    width = idx.shape[1]
    header = ["gene_a", "gene_b", "gene_c"][:width] + ["split"]
    lines = ["\t".join(header)]
    for part in PARTS:
        for row in np.sort(parts[part]):
            names = [genes[i] if i >= 0 else "" for i in idx[row]]
            lines.append("\t".join([*names, part]))
    try:
        write_text_atomic(Path(out), "\n".join(lines) + "\n")
    except OSError as exc:
        raise CreError(f"cannot write {out}: {exc.strerror or exc}") from exc
    return len(lines) - 1
