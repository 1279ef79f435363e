"""Which representation separates the demo's modules? A k-nearest-neighbour module accuracy.

For a demo workspace the store knows each gene's planted module (``demo_truth``). A
representation that reads the planted motifs puts a module's genes next to each other, so the
module of a gene's nearest neighbours predicts its own. The score: leave-one-out kNN accuracy
(cosine distance on standardised columns, k neighbours, majority vote) over the genes that belong
to a module, next to the same classifier on seeded shuffled labels (what no structure gives).
Read-only: it uses the embeddings already cached, never computes or writes any.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cre_core.embed.base import REGIONS
from cre_core.embed.cache import read_cache
from cre_core.embed.features import list_embeddings
from cre_core.workspace import Workspace

K = 10
COLUMNS = ["embedder", "model", "features", "genes", "knn_accuracy", "shuffled", "k"]


def knn_accuracy(x: np.ndarray, labels: np.ndarray, k: int = K) -> float:
    """Leave-one-out k-nearest-neighbour accuracy (cosine on z-scored columns, majority vote)."""
    z = (x - x.mean(0)) / np.where(x.std(0) > 1e-8, x.std(0), np.inf)
    z /= np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
    sim = z @ z.T
    np.fill_diagonal(sim, -np.inf)
    k = min(k, len(labels) - 1)
    neighbours = np.argpartition(-sim, k, axis=1)[:, :k]
    codes, inverse = np.unique(labels, return_inverse=True)
    votes = np.zeros((len(labels), len(codes)))
    np.add.at(votes, (np.repeat(np.arange(len(labels)), k), inverse[neighbours].ravel()), 1.0)
    return float((votes.argmax(1) == inverse).mean())


def demo_modules(ws: Workspace) -> dict[str, int] | None:
    """gene -> planted module for genes in a module; None when the store is not a demo's."""
    con = ws.connect(read_only=True)
    try:
        tables = {t for (t,) in con.execute(
            "SELECT table_name FROM information_schema.tables").fetchall()}
        if "demo_truth" not in tables:
            return None
        rows = con.execute("SELECT gene, module FROM demo_truth WHERE module >= 0").fetchall()
    finally:
        con.close()
    return {g: int(m) for g, m in rows}


def cached_feature_sets(ws: Workspace) -> list[tuple[str, str, str, list[str], np.ndarray]]:
    """(embedder, model, features, genes, X) for every cached embedding, per region and both."""
    listing = list_embeddings(ws)
    # one model's regions: model labels differ by region (SpeciesLM's 5' and 3' models), the
    # --model value that loads them does not
    listing["model_arg"] = listing["model_arg"].fillna("")
    out = []
    for (embedder, model_arg), group in listing.groupby(["embedder", "model_arg"], sort=True):
        parts: dict[str, dict[str, np.ndarray]] = {}
        labels: dict[str, str] = {}
        for _, row in group.iterrows():
            labels[row["region"]] = model_arg or str(row["model"])
            cache = read_cache(ws.embeddings_dir / row["path"])
            if cache is not None:
                parts[row["region"]] = {g: cache.vectors[i] for i, g in enumerate(cache.genes)
                                        if g is not None}
        for region in [r for r in REGIONS if r in parts]:
            genes = sorted(parts[region])
            out.append((embedder, labels[region], region, genes,
                        np.stack([parts[region][g] for g in genes])))
        if all(r in parts for r in REGIONS):
            genes = sorted(set(parts[REGIONS[0]]) & set(parts[REGIONS[1]]))
            x = np.hstack([np.stack([parts[r][g] for g in genes]) for r in REGIONS])
            both = " | ".join(dict.fromkeys(labels[r] for r in REGIONS))
            out.append((embedder, both, "both", genes, x))
    return out


def module_separation(ws: Workspace, k: int = K, seed: int = 0) -> pd.DataFrame:
    """One row per cached embedding and feature set: kNN module accuracy and its shuffled control.

    Empty (with the columns) when the workspace is not a demo or nothing is embedded.
    """
    modules = demo_modules(ws) or {}
    rows = []
    for embedder, model, features, genes, x in (cached_feature_sets(ws) if modules else []):
        keep = [i for i, g in enumerate(genes) if g in modules]
        if len(keep) <= k:
            continue
        labels = np.array([modules[genes[i]] for i in keep])
        shuffled = np.random.default_rng(seed).permutation(labels)
        rows.append({"embedder": embedder, "model": model, "features": features,
                     "genes": len(keep), "knn_accuracy": knn_accuracy(x[keep], labels, k),
                     "shuffled": knn_accuracy(x[keep], shuffled, k), "k": k})
    return pd.DataFrame(rows, columns=COLUMNS)
