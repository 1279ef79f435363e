"""A run's own split, saved when it starts: what every later reader of the run uses.

``RUN/split.tsv`` lists the run's train/val/test strains by gene name (the ``train --split-file``
format, ``split_file.py``), ``RUN/split.json`` its counts, a hash of the test strains (runs with
the same hash were scored on the same test set) and the store's state the run saw (its sources
and notes). The store may be re-ingested later (other alleles excluded, new screens): exporting
the split, counting a gene's training strains ("never seen") and resuming then read the saved
file instead of rebuilding the split from today's store. Runs made before splits were saved have
neither file: readers rebuild their split from the store and say so.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from cre_core.atomic import atomic_path, read_json, write_json_atomic
from cre_core.errors import CreError
from cre_core.train.split_file import PARTS, read_split_file, strain_genes, strain_keys, write_split_file
from cre_core.workspace import Workspace

SPLIT_NAME = "split.tsv"
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
               store: dict[str, Any]) -> dict[str, Any]:
    """Write split.tsv and split.json (atomically); returns split.json's content."""
    write_split_file(folder / SPLIT_NAME, genes, idx, parts)
    test = sorted(",".join(sorted(genes[i] for i in idx[row] if i >= 0)) for row in parts["test"])
    state = {"file": SPLIT_NAME, "saved": time.time(), **{f"n_{p}": int(len(parts[p])) for p in PARTS},
             "test_sha256": hashlib.sha256("\n".join(test).encode()).hexdigest(), "store": store}
    write_json_atomic(folder / STATE_NAME, state)
    return state


def saved_state(folder: Path) -> dict[str, Any] | None:
    """split.json of a run, None for runs that saved no split (CreError when it is unreadable)."""
    state = read_json(Path(folder) / STATE_NAME)
    if state is None:
        return None
    if not isinstance(state, dict) or not (Path(folder) / SPLIT_NAME).is_file():
        raise CreError(f"{Path(folder) / STATE_NAME}: not a saved split (or {SPLIT_NAME} is missing)")
    return state


def load_saved_split(folder: Path, genes: list[str]) -> dict[str, np.ndarray] | None:
    """The saved strains by part as gene indices (n, 3; -1 = none) into ``genes``, or None.

    CreError when a saved strain names a gene outside ``genes`` (the run's vocabulary).
    """
    if saved_state(folder) is None:
        return None
    keys, parts, unknown = read_split_file(Path(folder) / SPLIT_NAME, genes)
    if unknown:
        raise CreError(f"{Path(folder) / SPLIT_NAME}: {unknown:,} strains name genes outside the run's vocabulary")
    return {p: strain_genes(keys[parts == code]) for code, p in enumerate(PARTS)}


def training_support(folder: Path, genes: list[str]) -> tuple[np.ndarray, tuple[int, ...]] | None:
    """Training strains per gene of ``genes`` and the set sizes trained on, from the saved split."""
    saved = load_saved_split(folder, genes)
    if saved is None:
        return None
    train = saved["train"]
    counts = np.bincount(train[train >= 0], minlength=len(genes))
    return counts, tuple(int(n) for n in np.unique((train >= 0).sum(1)))


def export_saved(folder: Path, out: Path) -> dict[str, int] | None:
    """Copy the saved split to ``out`` (atomic); its part sizes, or None when the run saved none."""
    state = saved_state(folder)
    if state is None:
        return None
    try:
        with atomic_path(out) as tmp:
            shutil.copyfile(Path(folder) / SPLIT_NAME, tmp)
    except OSError as exc:
        raise CreError(f"cannot write {out}: {exc.strerror or exc}") from exc
    return {p: int(state[f"n_{p}"]) for p in PARTS}


def check_unchanged(folder: Path, genes: list[str], idx: np.ndarray, parts: dict[str, np.ndarray]) -> None:
    """CreError unless the split rebuilt now (``parts`` of ``idx``) is the run's saved one."""
    saved = load_saved_split(folder, genes)
    if saved is None:
        return
    for part in PARTS:
        now = np.sort(strain_keys(idx[parts[part]]))
        before = np.sort(strain_keys(saved[part]))
        if not np.array_equal(now, before):
            raise CreError(f"the store changed since run {Path(folder).name} started: its {part} part "
                           f"was {len(before):,} strains, the same split of the store now gives "
                           f"{len(now):,}; it cannot be resumed (start a new run)")



def copy_saved(source: Path, folder: Path) -> None:
    """Give ``folder`` the saved split of ``source`` (an ensemble's, from its first member)."""
    if saved_state(source) is None:
        return
    for name in (SPLIT_NAME, STATE_NAME):
        with atomic_path(Path(folder) / name) as tmp:
            shutil.copyfile(Path(source) / name, tmp)
