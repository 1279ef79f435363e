"""Prediction service for the CLI and the app: any gene set with any trained run, and scans.

Loaded models are cached per run folder, keyed by the best checkpoint's mtime and size (a run
that is still improving is reloaded when its checkpoint changes) and by the store's version
(``Workspace.store_stamp``: a re-ingest changes the SMF, names and measured values a loaded run
carries), behind a lock: the app's pages share this cache across sessions. Models run on CPU in eval mode.

For each gene set: the run's predicted fitness, the multiplicative expectation Π f_g from
measured single-mutant fitness (None when a gene has no SMF), the predicted interaction
ε̂ = f̂ − Π f_g, and the measured fitness / ε when the dataset has them (SMF for one gene, the
dmf table for a pair). A partner scan predicts (g, p) for every other gene p at once: DeepSet
models compute φ of every gene once per loaded model and run one batched ρ.

Ensemble runs (``train --ensemble K``) predict the member mean with an 80% interval for fitness
and ε̂ (``predicted_lo/hi``, ``epsilon_lo/hi``: the run's validation-calibrated interval,
``cre_core.train.ensemble``); single-model runs leave those columns empty (no interval rather
than a made-up one). ``training_support`` says how often each gene occurred in the run's
training strains and which set sizes it trained on (from the split the run saved when it
started, ``cre_core.train.saved_split``; older runs rebuild it from the store and say so).

A run whose checkpoint is truncated, empty or not a checkpoint is unreadable (CreError naming
the file); ``predict_table`` with ``problems=[]`` leaves such a run, or one whose vocabulary
lacks a gene, out of the table and says why in ``problems``, so the other runs still answer.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from cre_core.atomic import clean_json
from cre_core.data.lookup import resolve_genes
from cre_core.data.split_file import strain_genes
from cre_core.errors import CreError
from cre_core.models import FitnessModel
from cre_core.models.base import PAD
from cre_core.models.ensemble import Ensemble
from cre_core.query.gene_sets import MAX_SET_SIZE
from cre_core.train import data as D
from cre_core.train import runs as R
from cre_core.train import saved_split
from cre_core.train.checkpoint import load_checkpoint
from cre_core.train.config import TrainConfig
from cre_core.train.ensemble import Calibration, members_from_states, spread
from cre_core.train.rebuild import rebuild_model
from cre_core.workspace import Workspace

ORDERS = ("fitness", "epsilon")
_LOCK = threading.Lock()
_CACHE: dict[str, LoadedRun] = {}


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
    stamp: tuple[int, ...]     # checkpoint mtime and size, then the store's stamp
    calibration: dict[str, Calibration | None] | None = None   # ensembles only
    _support: tuple[np.ndarray, tuple[int, ...]] | None = None
    split_saved: bool = True     # False: the support was rebuilt from today's store (an old run)

    @property
    def members(self) -> int:
        return len(self.model) if isinstance(self.model, Ensemble) else 1

    @torch.no_grad()
    def member_sets(self, sets: list[list[int]], chunk: int = 8192) -> np.ndarray:
        """(K, n) predictions of every member (K = 1 for a single model)."""
        width = max(len(s) for s in sets)
        idx = torch.full((len(sets), width), PAD, dtype=torch.long)
        for i, s in enumerate(sets):
            idx[i, :len(s)] = torch.tensor(s, dtype=torch.long)
        one = self.model.member_predict if isinstance(self.model, Ensemble) else (
            lambda x: self.model(x)["pred"].float().unsqueeze(0))
        return torch.cat([one(idx[i:i + chunk]) for i in range(0, len(sets), chunk)], dim=1).double().numpy()

    @torch.no_grad()
    def member_scan(self, gene: int) -> np.ndarray:
        """(K, n_genes) predicted pair fitness of (gene, p) for every p, per member."""
        if isinstance(self.model, Ensemble):
            return self.model.member_scan(gene, len(self.genes)).double().numpy()
        return self.model.scan(gene, len(self.genes)).double().numpy()[None]

    def values(self, members: np.ndarray, mult: np.ndarray) -> dict[str, np.ndarray]:
        """Mean prediction, ε̂, and their 80% intervals (NaN for a single model)."""
        pred = members.mean(0)
        out = {"predicted": pred, "predicted_lo": np.full_like(pred, np.nan),
               "predicted_hi": np.full_like(pred, np.nan), "multiplicative": mult,
               "epsilon_pred": pred - mult, "epsilon_lo": np.full_like(pred, np.nan),
               "epsilon_hi": np.full_like(pred, np.nan)}
        fit, eps = (self.calibration or {}).get("fitness"), (self.calibration or {}).get("epsilon")
        if fit is not None:
            sd = spread(members)
            out["predicted_lo"], out["predicted_hi"] = fit.bounds(pred, sd)
            if eps is not None:
                out["epsilon_lo"], out["epsilon_hi"] = eps.bounds(pred - mult, sd)
        return out

    def training_strains(self, ws: Workspace) -> tuple[list[str], np.ndarray]:
        """(vocabulary, the run's training strains as its gene indices (n, 3), -1 = no gene): the
        saved split, or for a run made before splits were saved the split rebuilt from today's
        store (``split_saved`` then turns False)."""
        saved = saved_split.load_saved_split(self.folder)
        if saved is not None:
            vocabulary, keys = saved
            return vocabulary, strain_genes(keys["train"])
        self.split_saved = False
        table, split = D.training_rows(ws, self.config)
        return table.genes, table.idx[split.train]

    def training_support(self, ws: Workspace) -> tuple[np.ndarray, tuple[int, ...]]:
        """Training strains per vocabulary gene and the set sizes trained on (run's split)."""
        with _LOCK:
            if self._support is None:
                vocabulary, idx = self.training_strains(ws)
                counts = np.bincount(idx[idx >= 0], minlength=len(vocabulary))
                by_gene = dict(zip(vocabulary, counts.tolist()))
                sizes = tuple(int(n) for n in np.unique((idx >= 0).sum(1)))
                self._support = (np.array([by_gene.get(g, 0) for g in self.genes], dtype=np.int64), sizes)
            return self._support


def load_model(ws: Workspace, run_id: str) -> LoadedRun:
    """The run's best model (cached; reloaded when the checkpoint file or the store changes)."""
    folder = R.run_dir(ws, run_id)
    path = folder / "checkpoints" / "best.pt"
    if not path.exists():
        state = R.load_run(ws, run_id)["status"]
        raise CreError(f"run {folder.name} has no trained model yet (status: {state})")
    st = os.stat(path)
    stamp = (st.st_mtime_ns, st.st_size, *ws.store_stamp())
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


def _load(ws: Workspace, folder: Path, path: Path, stamp: tuple[int, ...]) -> LoadedRun:
    ckpt = load_checkpoint(path)
    calibration = None
    model: FitnessModel
    try:
        meta = ckpt["meta"]
        config = TrainConfig.from_dict(meta["config"])
        genes = list(meta["genes"])
        if "members" in ckpt:            # an ensemble run (cre_core.train.ensemble)
            model = members_from_states(ws, meta, ckpt["members"])
            calibration = {k: Calibration.from_dict(v) if v else None for k, v in ckpt["calibration"].items()}
        else:
            model = rebuild_model(ws, ckpt)                  # never computes or caches embeddings
    except CreError:
        raise
    except Exception as exc:  # noqa: BLE001 - a checkpoint torch reads but whose content does not fit
        raise CreError(f"{path} does not hold a model this version can rebuild "
                       f"({type(exc).__name__}: {exc})") from exc
    model.eval()
    con = ws.connect(read_only=True)
    try:
        names = dict(con.execute("SELECT gene, coalesce(name, gene) FROM genes").fetchall())
        smf_map = dict(con.execute("SELECT gene, fitness FROM smf WHERE fitness IS NOT NULL").fetchall())
    finally:
        con.close()
    smf = np.array([smf_map.get(g, np.nan) for g in genes], dtype=np.float64)
    return LoadedRun(folder.name, folder, config, model, genes, {g: i for i, g in enumerate(genes)},
                     [names.get(g, g) for g in genes], smf, stamp, calibration)


def _indices(loaded: LoadedRun, genes: list[str]) -> list[int]:
    missing = [g for g in genes if g not in loaded.index]
    if missing:
        raise CreError(f"{', '.join(missing)} not in the gene set of run {loaded.run_id}")
    return [loaded.index[g] for g in genes]


def _resolve_sets(ws: Workspace, gene_sets: list[list[str]]) -> tuple[list[list[str]], pd.DataFrame]:
    """Systematic names of every set (UnknownGeneError with suggestions) and measured values."""
    if not gene_sets or any(not s for s in gene_sets):
        raise CreError("give at least one gene per set")
    too_many = next((s for s in gene_sets if len(s) > MAX_SET_SIZE), None)
    if too_many:
        raise CreError(f"{len(too_many)} genes in one set ({', '.join(too_many[:5])}"
                       f"{'…' if len(too_many) > 5 else ''}): at most {MAX_SET_SIZE} per set")
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


def resolve_set(ws: Workspace, loaded: LoadedRun, genes: list[str]) -> tuple[list[str], list[int]]:
    """One gene set (1 to MAX_SET_SIZE genes) as systematic names and the run's gene indices."""
    if len(genes) > MAX_SET_SIZE:
        raise CreError(f"{len(genes)} genes given: at most {MAX_SET_SIZE} per set")
    resolved = _resolve_sets(ws, [genes])[0][0]
    return resolved, _indices(loaded, resolved)


INTERVAL_COLUMNS = ("predicted_lo", "predicted_hi", "epsilon_lo", "epsilon_hi")
PREDICT_COLUMNS = ["run_id", "model", "members", "genes", "names", "n_genes", "predicted", "predicted_lo",
                   "predicted_hi", "multiplicative", "epsilon_pred", "epsilon_lo", "epsilon_hi",
                   "measured_fitness", "measured_epsilon", "train_counts", "size_in_training"]


def predict(ws: Workspace, run_id: str, genes: list[str]) -> dict:
    """Predicted fitness of deleting ``genes`` (systematic or standard names, any case).

    Returns ``{run_id, genes, names, members, predicted, predicted_lo, predicted_hi,
    multiplicative, epsilon_pred, epsilon_lo, epsilon_hi, measured_fitness, measured_epsilon,
    train_counts, size_in_training}`` (None where a value does not exist: the interval bounds of
    a single-model run, ε̂ without SMF...). ``train_counts``: training strains per gene.
    """
    frame = predict_table(ws, [run_id], [genes])
    row = frame.iloc[0]
    values = ("predicted", "multiplicative", "epsilon_pred", "measured_fitness", "measured_epsilon",
              *INTERVAL_COLUMNS)
    return {
        "run_id": row["run_id"], "genes": row["genes"].split(","), "names": row["names"].split(","),
        "members": int(row["members"]), **{k: clean_json(row[k]) for k in values},
        "train_counts": [int(c) for c in row["train_counts"].split(",")],
        "size_in_training": bool(row["size_in_training"]),
        "split_saved": load_model(ws, run_id).split_saved,
    }


def _no_single_epsilon(values: dict[str, np.ndarray], sizes: np.ndarray) -> dict[str, np.ndarray]:
    """A single deletion has no interaction: its ε̂ and ε̂ interval are NaN, never a fake 0."""
    for key in ("epsilon_pred", "epsilon_lo", "epsilon_hi"):
        values[key] = np.where(sizes == 1, np.nan, values[key])
    return values


def predict_table(ws: Workspace, run_ids: list[str], gene_sets: list[list[str]],
                  problems: list[str] | None = None) -> pd.DataFrame:
    """Batch mode: one row per (gene set, run), each run's sets in one batched forward.

    Columns: run_id, model, members, genes, names, n_genes, the predicted values with their
    intervals (``LoadedRun.values``), measured values, ``train_counts`` ("312,0": training
    strains per gene) and ``size_in_training`` (whether the run trained on sets of this size).
    With a ``problems`` list, a run that cannot answer (unreadable model, a gene outside its
    vocabulary) is left out and its reason appended; without one it raises CreError.
    """
    resolved, measured = _resolve_sets(ws, gene_sets)
    frames = []
    for run_id in run_ids:
        try:
            loaded = load_model(ws, run_id)
            sets = [_indices(loaded, s) for s in resolved]
            counts, sizes = loaded.training_support(ws)
        except CreError as exc:
            if problems is None:
                raise
            problems.append(f"run {run_id}: {exc}")
            continue
        mult = np.array([np.prod(loaded.smf[s]) for s in sets])
        frames.append(pd.DataFrame({
            "run_id": loaded.run_id, "model": loaded.config.model, "members": loaded.members,
            "genes": [",".join(s) for s in resolved],
            "names": [",".join(loaded.names[i] for i in s) for s in sets],
            "n_genes": [len(s) for s in sets], **_no_single_epsilon(loaded.values(loaded.member_sets(sets), mult),
                                                                    np.array([len(s) for s in sets])),
            "measured_fitness": measured["measured_fitness"].to_numpy(dtype=float, na_value=np.nan),
            "measured_epsilon": measured["measured_epsilon"].to_numpy(dtype=float, na_value=np.nan),
            "train_counts": [",".join(str(int(counts[i])) for i in s) for s in sets],
            "size_in_training": [len(s) in sizes for s in sets],
        }))
    if not frames:
        return pd.DataFrame(columns=PREDICT_COLUMNS)
    return pd.concat(frames, ignore_index=True)


def scan(ws: Workspace, run_id: str, gene: str, top_k: int | None = 20, order: str = "fitness",
         descending: bool = False) -> pd.DataFrame:
    """Every partner p of ``gene``: predicted fitness of the pair, Π SMF, ε̂ and measured values.

    ``order``: ``fitness`` sorts by predicted pair fitness, ``epsilon`` by predicted ε̂; lowest
    first (the sickest pairs, the most negative interactions) unless ``descending``. Returns
    the first ``top_k`` rows (all when None or 0) with columns partner, name, predicted,
    multiplicative, epsilon_pred, measured, measured_epsilon, then the 80% interval bounds
    (``INTERVAL_COLUMNS``; empty for a single-model run) and ``train_count`` (the partner's
    training strains).
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
    keep = np.flatnonzero(np.arange(len(loaded.genes)) != g)
    values = loaded.values(loaded.member_scan(g)[:, keep], loaded.smf[g] * loaded.smf[keep])
    measured = {p: (f, e) for p, f, e in rows}
    partners = [loaded.genes[i] for i in keep]
    frame = pd.DataFrame({
        "partner": partners, "name": [loaded.names[i] for i in keep],
        **{k: values[k] for k in ("predicted", "multiplicative", "epsilon_pred")},
        "measured": [measured.get(p, (np.nan, np.nan))[0] for p in partners],
        "measured_epsilon": [measured.get(p, (np.nan, np.nan))[1] for p in partners],
        **{k: values[k] for k in INTERVAL_COLUMNS},
        "train_count": loaded.training_support(ws)[0][keep],
    })
    frame["measured"] = frame["measured"].astype(float)
    frame["measured_epsilon"] = frame["measured_epsilon"].astype(float)
    key = "predicted" if order == "fitness" else "epsilon_pred"
    frame = frame.sort_values(key, ascending=not descending, na_position="last", kind="stable")
    if top_k:
        frame = frame.head(top_k)
    return frame.reset_index(drop=True)
