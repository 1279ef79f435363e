"""A small synthetic workspace for the training, model and query tests (no tests here).

Written straight into the store schema, seconds to build, and independent of the demo
generator: genes in modules, SMF with a left tail, DMF = f_i·f_j + ε (negative within modules)
+ noise, a GO tree that mirrors the modules, and a fake feature matrix in which each gene's
vector carries its SMF and its module (so a DeepSet can learn, and unseen genes generalise).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cre_core.data.store import create_schema
from cre_core.workspace import Workspace

MODULE_SIZE = 8


def gene_names(n: int) -> tuple[list[str], list[str]]:
    arms = "ABCDEFGHIJKLMNOP"
    genes = [f"Y{arms[i // 1000 % 16]}L{i % 1000:03d}W" for i in range(n)]
    names = [f"GEN{i}" if i % 5 else None for i in range(n)]
    return genes, names


def build_workspace(root, n_genes: int = 64, seed: int = 0, pairs: str = "all",
                    n_pairs: int | None = None) -> Workspace:
    """Create a synthetic workspace at ``root``; returns it."""
    rng = np.random.default_rng(seed)
    ws = Workspace(Path(root))
    ws.root.mkdir(parents=True, exist_ok=True)
    genes, names = gene_names(n_genes)
    module = np.arange(n_genes) // MODULE_SIZE
    f = np.clip(1.0 - rng.gamma(1.0, 0.12, n_genes), 0.05, 1.1)
    if pairs == "all":
        a, b = np.triu_indices(n_genes, 1)
    else:
        a = rng.integers(0, n_genes, n_pairs)
        b = rng.integers(0, n_genes, n_pairs)
        keep = a < b
        a, b = a[keep], b[keep]
        ab = np.unique(np.stack([a, b], 1), axis=0)
        a, b = ab[:, 0], ab[:, 1]
    eps = np.where(module[a] == module[b], -0.15, 0.0) + rng.normal(0, 0.01, len(a))
    fit = f[a] * f[b] + eps + rng.normal(0, 0.01, len(a))
    con = ws.connect(read_only=False)
    try:
        create_schema(con)
        con.register("g", pd.DataFrame({"gene": genes, "name": names}))
        con.execute("INSERT INTO genes(gene, name) SELECT gene, name FROM g")
        has_smf = rng.random(n_genes) > 0.1
        smf = pd.DataFrame({"gene": np.array(genes)[has_smf], "fitness": f[has_smf],
                            "std": 0.02, "n": 2})
        con.register("s", smf)
        con.execute("INSERT INTO smf SELECT gene, fitness, std, n FROM s")
        dmf = pd.DataFrame({"gene_a": np.array(genes)[a], "gene_b": np.array(genes)[b],
                            "fitness": fit, "std": 0.02, "n": 1, "epsilon": fit - f[a] * f[b]})
        con.register("d", dmf)
        con.execute("INSERT INTO dmf SELECT gene_a, gene_b, fitness, std, n, epsilon FROM d")
        n_mod = int(module.max()) + 1
        terms = ["GO:0000000"] + [f"GO:1{m:06d}" for m in range(n_mod)] + [f"GO:2{p:06d}" for p in range(2)]
        con.register("t", pd.DataFrame({"go_id": terms, "name": terms, "namespace": "biological_process",
                                        "is_obsolete": False}))
        con.execute("INSERT INTO go_terms SELECT * FROM t")
        edges = [(f"GO:1{m:06d}", f"GO:2{m % 2:06d}", "is_a") for m in range(n_mod)]
        edges += [(f"GO:2{p:06d}", "GO:0000000", "part_of") for p in range(2)]
        con.register("e", pd.DataFrame(edges, columns=["child", "parent", "relation"]))
        con.execute("INSERT INTO go_edges SELECT * FROM e")
        ann = pd.DataFrame({"gene": genes, "go_id": [f"GO:1{m:06d}" for m in module],
                            "aspect": "P", "evidence": "IMP"})
        con.register("an", ann)
        con.execute("INSERT INTO go_annotations SELECT * FROM an")
    finally:
        con.close()
    return ws


def fake_features(genes: list[str], dim: int = 12, seed: int = 0) -> np.ndarray:
    """Feature rows that encode each gene's (hidden) SMF and module, plus noise columns."""
    idx = np.array([int(g[3:6]) + 1000 * "ABCDEFGHIJKLMNOP".index(g[1]) for g in genes])
    rng = np.random.default_rng(seed)
    n = idx.max() + 1
    f = np.clip(1.0 - np.random.default_rng(0).gamma(1.0, 0.12, n), 0.05, 1.1)
    module = idx // MODULE_SIZE
    x = rng.normal(0, 1, (len(genes), dim)).astype(np.float32)
    x[:, 0] = f[idx] * 5
    x[:, 1] = np.sin(module)
    x[:, 2] = np.cos(module)
    return x


def install_fake_features(monkeypatch: pytest.MonkeyPatch, dim: int = 12) -> list:
    """Replace the embeddings layer with ``fake_features``; returns a log of the calls."""
    from cre_core.train import data

    calls = []

    def source(ws, features, embedder, model, compute=True):
        con = ws.connect(read_only=True)
        try:
            genes = [r[0] for r in con.execute("SELECT gene FROM genes ORDER BY gene").fetchall()]
        finally:
            con.close()
        calls.append((features, embedder))
        return genes, fake_features(genes, dim)

    monkeypatch.setattr(data, "feature_source", source)
    return calls

