"""Prediction service for the CLI and the app: any gene set with any trained run, and scans.

Loaded models are cached per run folder (keyed by the best checkpoint's mtime and size, so a
run that is still improving is reloaded when its checkpoint changes) behind a lock: the app's
pages share this cache across sessions. Models run on CPU in eval mode.

For each gene set: the run's predicted fitness, the multiplicative expectation Π f_g from
measured single-mutant fitness (None when a gene has no SMF), the predicted interaction
ε̂ = f̂ − Π f_g, and the measured fitness / ε when the dataset has them (SMF for one gene, the
dmf table for a pair). A partner scan predicts (g, p) for every other gene p at once: DeepSet
models compute φ of every gene once per loaded model and run one batched ρ.
"""

from __future__ import annotations

import math
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from cre_core.data.lookup import resolve_genes
from cre_core.errors import CreError
from cre_core.models import FitnessModel
from cre_core.models.base import PAD
from cre_core.train import runs as R
from cre_core.train.checkpoint import load_checkpoint
from cre_core.train.config import TrainConfig
from cre_core.train.rebuild import rebuild_model
from cre_core.workspace import Workspace

ORDERS = ("fitness", "epsilon")
_LOCK = threading.Lock()
_CACHE: dict[str, "LoadedRun"] = {}


@dataclass
class LoadedRun:
    """A trained model ready to predict, with the run's gene vocabulary and the store's SMF."""

    run_id: str
    folder: Path
    config: TrainConfig
    model: FitnessModel
    genes: list[str]
    index: dict[str, int]
    names: list[str]
    smf: np.ndarray            # measured SMF per vocabulary gene (NaN when not measured)
    stamp: tuple[int, int]

    @torch.no_grad()
    def predict_sets(self, sets: list[list[int]], chunk: int = 8192) -> np.ndarray:
        width = max(len(s) for s in sets)
        idx = torch.full((len(sets), width), PAD, dtype=torch.long)
        for i, s in enumerate(sets):
            idx[i, :len(s)] = torch.tensor(s, dtype=torch.long)
        out = [self.model(idx[i:i + chunk])["pred"].float() for i in range(0, len(sets), chunk)]
        return torch.cat(out).double().numpy()


def load_model(ws: Workspace, run_id: str) -> LoadedRun:
    """The run's best model (cached; reloaded when the checkpoint file changes)."""
    folder = R.run_dir(ws, run_id)
    path = folder / "checkpoints" / "best.pt"
    if not path.exists():
        state = R.load_run(ws, run_id)["status"]
        raise CreError(f"run {folder.name} has no trained model yet (status: {state})")
    st = os.stat(path)
    stamp = (st.st_mtime_ns, st.st_size)
    key = str(folder.resolve())
    with _LOCK:
        cached = _CACHE.get(key)
        if cached is not None and cached.stamp == stamp:
            return cached
        loaded = _load(ws, folder, path, stamp)
        _CACHE[key] = loaded
        return loaded


def clear_cache() -> None:
    with _LOCK:
        _CACHE.clear()


def _load(ws: Workspace, folder: Path, path: Path, stamp: tuple[int, int]) -> LoadedRun:
    ckpt = load_checkpoint(path)
    config = TrainConfig.from_dict(ckpt["meta"]["config"])
    genes = list(ckpt["meta"]["genes"])
    model = rebuild_model(ws, ckpt)                      # never computes or caches embeddings
    model.eval()
    con = ws.connect(read_only=True)
    try:
        names = dict(con.execute("SELECT gene, coalesce(name, gene) FROM genes").fetchall())
        smf_map = dict(con.execute("SELECT gene, fitness FROM smf WHERE fitness IS NOT NULL").fetchall())
    finally:
        con.close()
    smf = np.array([smf_map.get(g, np.nan) for g in genes], dtype=np.float64)
    return LoadedRun(folder.name, folder, config, model, genes, {g: i for i, g in enumerate(genes)},
                     [names.get(g, g) for g in genes], smf, stamp)


def _indices(loaded: LoadedRun, genes: list[str]) -> list[int]:
    missing = [g for g in genes if g not in loaded.index]
    if missing:
        raise CreError(f"{', '.join(missing)} not in the gene set of run {loaded.run_id}")
    return [loaded.index[g] for g in genes]


def _resolve_sets(ws: Workspace, gene_sets: list[list[str]]) -> tuple[list[list[str]], pd.DataFrame]:
    """Systematic names of every set (UnknownGeneError with suggestions) and measured values."""
    if not gene_sets or any(not s for s in gene_sets):
        raise CreError("give at least one gene per set")
    con = ws.connect(read_only=True)
    try:
        flat = resolve_genes(con, [g for s in gene_sets for g in s])
        resolved, pos = [], 0
        for s in gene_sets:
            resolved.append(flat[pos:pos + len(s)])
            pos += len(s)
        for original, s in zip(gene_sets, resolved):
            if len(set(s)) != len(s):
                raise CreError(f"a gene is listed twice in {', '.join(original)}")
        keys = pd.DataFrame({
            "i": range(len(resolved)),
            "a": [min(s[:2]) if len(s) == 2 else s[0] for s in resolved],
            "b": [max(s[:2]) if len(s) == 2 else None for s in resolved],
            "n": [len(s) for s in resolved],
        })
        con.register("query_sets", keys)
        measured = con.execute(
            """
            SELECT q.i,
                   CASE WHEN q.n = 1 THEN s.fitness WHEN q.n = 2 THEN d.fitness END AS measured_fitness,
                   CASE WHEN q.n = 2 THEN d.epsilon END AS measured_epsilon
            FROM query_sets q
            LEFT JOIN smf s ON q.n = 1 AND s.gene = q.a
            LEFT JOIN dmf d ON q.n = 2 AND d.gene_a = q.a AND d.gene_b = q.b
            ORDER BY q.i
            """
        ).df()
        con.unregister("query_sets")
    finally:
        con.close()
    return resolved, measured


def _none(x: float | None) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def predict(ws: Workspace, run_id: str, genes: list[str]) -> dict:
    """Predicted fitness of deleting ``genes`` (systematic or standard names, any case).

    Returns ``{run_id, genes, names, predicted, multiplicative, epsilon_pred,
    measured_fitness, measured_epsilon}`` (None where a value does not exist).
    """
    frame = predict_table(ws, [run_id], [genes])
    row = frame.iloc[0]
    return {
        "run_id": row["run_id"], "genes": row["genes"].split(","), "names": row["names"].split(","),
        "predicted": float(row["predicted"]), "multiplicative": _none(row["multiplicative"]),
        "epsilon_pred": _none(row["epsilon_pred"]), "measured_fitness": _none(row["measured_fitness"]),
        "measured_epsilon": _none(row["measured_epsilon"]),
    }


def predict_table(ws: Workspace, run_ids: list[str], gene_sets: list[list[str]]) -> pd.DataFrame:
    """Batch mode: one row per (gene set, run), each run's sets in one batched forward."""
    resolved, measured = _resolve_sets(ws, gene_sets)
    frames = []
    for run_id in run_ids:
        loaded = load_model(ws, run_id)
        sets = [_indices(loaded, s) for s in resolved]
        pred = loaded.predict_sets(sets)
        mult = np.array([np.prod(loaded.smf[s]) for s in sets])
        frames.append(pd.DataFrame({
            "run_id": loaded.run_id, "model": loaded.config.model,
            "genes": [",".join(s) for s in resolved],
            "names": [",".join(loaded.names[i] for i in s) for s in sets],
            "n_genes": [len(s) for s in sets], "predicted": pred, "multiplicative": mult,
            "epsilon_pred": pred - mult,
            "measured_fitness": measured["measured_fitness"].to_numpy(dtype=float, na_value=np.nan),
            "measured_epsilon": measured["measured_epsilon"].to_numpy(dtype=float, na_value=np.nan),
        }))
    return pd.concat(frames, ignore_index=True)


def scan(ws: Workspace, run_id: str, gene: str, top_k: int | None = 20, order: str = "fitness",
         descending: bool = False) -> pd.DataFrame:
    """Every partner p of ``gene``: predicted fitness of the pair, Π SMF, ε̂ and measured values.

    ``order``: ``fitness`` sorts by predicted pair fitness, ``epsilon`` by predicted ε̂; lowest
    first (the sickest pairs, the most negative interactions) unless ``descending``. Returns
    the first ``top_k`` rows (all when None or 0) with columns partner, name, predicted,
    multiplicative, epsilon_pred, measured, measured_epsilon.
    """
    if order not in ORDERS:
        raise CreError(f"order must be one of {', '.join(ORDERS)}")
    con = ws.connect(read_only=True)
    try:
        g_name = resolve_genes(con, [gene])[0]
        rows = con.execute(       # two pushed-down filters (an OR of the columns scans everything)
            "SELECT gene_b, fitness, epsilon FROM dmf WHERE gene_a = ? "
            "UNION ALL SELECT gene_a, fitness, epsilon FROM dmf WHERE gene_b = ?", [g_name, g_name]).fetchall()
    finally:
        con.close()
    loaded = load_model(ws, run_id)
    g = _indices(loaded, [g_name])[0]
    n = len(loaded.genes)
    pred = loaded.model.scan(g, n).double().numpy()
    keep = np.arange(n) != g
    measured = {p: (f, e) for p, f, e in rows}
    partners = [loaded.genes[i] for i in np.flatnonzero(keep)]
    mult = loaded.smf[g] * loaded.smf[keep]
    frame = pd.DataFrame({
        "partner": partners, "name": [loaded.names[i] for i in np.flatnonzero(keep)],
        "predicted": pred[keep], "multiplicative": mult, "epsilon_pred": pred[keep] - mult,
        "measured": [measured.get(p, (np.nan, np.nan))[0] for p in partners],
        "measured_epsilon": [measured.get(p, (np.nan, np.nan))[1] for p in partners],
    })
    frame["measured"] = frame["measured"].astype(float)
    frame["measured_epsilon"] = frame["measured_epsilon"].astype(float)
    key = "predicted" if order == "fitness" else "epsilon_pred"
    frame = frame.sort_values(key, ascending=not descending, na_position="last", kind="stable")
    if top_k:
        frame = frame.head(top_k)
    return frame.reset_index(drop=True)
