"""A run's own split, saved when it starts: what every later reader of the run uses.

``RUN/split.npz`` holds the run's gene vocabulary and, per part (train, val, test), the sorted
strain keys of its strains (``split_file.strain_keys``, stored as differences: compact even for
millions of pairs). ``RUN/split.json`` holds the part sizes and the store's state the run saw
(its sources and notes). The store may be re-ingested later (other alleles excluded, new screens):
exporting the split (``runs --export-split``, the ``--split-file`` format), counting a gene's
training strains ("never seen") and resuming then read the saved split instead of rebuilding it
from today's store. Runs made before splits were saved have neither file: readers rebuild their
split from the store and say so (``NOT_SAVED``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from cre_core.atomic import atomic_path, read_json, write_json_atomic
from cre_core.data.split_file import PARTS, strain_genes, strain_keys, write_split_file
from cre_core.errors import CreError
from cre_core.workspace import Workspace

SPLIT_NAME = "split.npz"
STATE_NAME = "split.json"
NOT_SAVED = "made before runs saved their split: rebuilt from the current store, which must still hold its strains"


def store_state(ws: Workspace) -> dict[str, Any]:
    """What the store held: its sources (file, rows, when ingested) and notes (allele filter...)."""
    from cre_core.data.store import get_meta, list_sources

    con = ws.connect(read_only=True)
    try:
        sources = [[str(v) for v in row] for row in list_sources(con)]
        meta = get_meta(con)
    finally:
        con.close()
    return {"sources": sources, "meta": meta}


def save_split(folder: Path, genes: list[str], idx: np.ndarray, parts: dict[str, np.ndarray],
               store: dict[str, Any]) -> None:
    """Write split.npz and split.json (atomically) for row numbers ``parts`` of the table ``idx``."""
    keys = {p: np.sort(strain_keys(idx[parts[p]])) for p in PARTS}
    with atomic_path(Path(folder) / SPLIT_NAME) as tmp, open(tmp, "wb") as out:
        arrays: dict[str, Any] = {p: np.diff(keys[p], prepend=np.int64(0)) for p in PARTS}
        np.savez_compressed(out, genes=np.array(genes, dtype=str), **arrays)
    write_json_atomic(Path(folder) / STATE_NAME, {"file": SPLIT_NAME, "saved": time.time(),
                                                  **{f"n_{p}": int(len(keys[p])) for p in PARTS},
                                                  "store": store})


def load_saved_split(folder: Path) -> tuple[list[str], dict[str, np.ndarray]] | None:
    """(vocabulary, sorted strain keys per part) of the saved split; None for runs without one.

    CreError naming the file when it cannot be read.
    """
    path = Path(folder) / SPLIT_NAME
    state = read_json(Path(folder) / STATE_NAME)
    if state is None and not path.exists():
        return None
    if not isinstance(state, dict) or not path.is_file():
        raise CreError(f"{Path(folder) / STATE_NAME}: not a saved split (or {SPLIT_NAME} is missing)")
    try:
        with np.load(path, allow_pickle=False) as data:
            genes = [str(g) for g in data["genes"]]
            keys = {p: np.cumsum(data[p].astype(np.int64)) for p in PARTS}
    except Exception as exc:  # noqa: BLE001 - zipfile, zlib and numpy each raise their own
        raise CreError(f"{path} cannot be read ({type(exc).__name__}); the run's split is lost") from exc
    return genes, keys


def export_saved(folder: Path, out: Path) -> dict[str, int] | None:
    """Write the saved split as a split file (``--split-file`` format); its part sizes, or None."""
    saved = load_saved_split(folder)
    if saved is None:
        return None
    vocabulary, keys = saved
    idx = strain_genes(np.concatenate([keys[p] for p in PARTS]))
    if (idx[:, 2] < 0).all():
        idx = idx[:, :2]                  # no triples: gene_a, gene_b, split
    starts = np.cumsum([0, *(len(keys[p]) for p in PARTS)])
    write_split_file(out, vocabulary, idx, {p: np.arange(starts[i], starts[i + 1]) for i, p in enumerate(PARTS)})
    return {p: int(len(keys[p])) for p in PARTS}


def check_unchanged(folder: Path, genes: list[str], idx: np.ndarray, parts: dict[str, np.ndarray]) -> None:
    """CreError unless the split rebuilt now (``parts`` of ``idx``) is the run's saved one."""
    saved = load_saved_split(folder)
    if saved is None:
        return
    vocabulary, keys = saved
    for part in PARTS:
        now = np.sort(strain_keys(idx[parts[part]]))
        if vocabulary != list(genes) or not np.array_equal(now, keys[part]):
            raise CreError(f"the store changed since run {Path(folder).name} started: its {part} part "
                           f"was {len(keys[part]):,} strains, the same split of the store now gives "
                           f"{len(now):,}; it cannot be resumed (start a new run)")


def copy_saved(source: Path, folder: Path) -> None:
    """Give ``folder`` the saved split of ``source`` (an ensemble's, from its first member)."""
    if load_saved_split(source) is None:
        return
    for name in (SPLIT_NAME, STATE_NAME):
        with atomic_path(Path(folder) / name) as tmp:
            tmp.write_bytes((Path(source) / name).read_bytes())
