"""A seeded 2-d UMAP of any stored embedding, cached as Parquet next to the embeddings.

The features (``load_features``) are standardised per column, then reduced with umap-learn
(``random_state=seed``: the same input and seed give the same picture). The result is cached in
``embeddings/umap/`` under a key made of the exact feature matrix, the genes, the seed and the
parameters, so a changed embedding or genome gets a new UMAP and an unchanged one is instant.
umap-learn is imported only when a UMAP must be computed: its first import takes 10-30 s.
A cached file that cannot be read (truncated, not a UMAP) is an ``UnreadableUmap``: ``umap``
refuses with one line naming it; the app offers to compute it again (``replace=True``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from cre_core.embed.cache import write_table_atomic
from cre_core.embed.features import load_features
from cre_core.errors import CreError
from cre_core.workspace import Workspace

FRAME_COLUMNS = ["gene", "name", "x", "y", "smf", "chrom", "orf_class", "module"]
MIN_GENES = 5


class UnreadableUmap(CreError):
    """A cached UMAP file that cannot be read."""


def _read_cached(path: Path) -> pd.DataFrame | None:
    """gene, x, y of a cached UMAP; None when there is none; UnreadableUmap when it is broken."""
    if not path.exists():
        return None
    try:
        frame = pq.read_table(path).to_pandas()
        return frame[["gene", "x", "y"]]
    except Exception as exc:  # noqa: BLE001 - pyarrow raises ArrowInvalid, OSError, KeyError...
        raise UnreadableUmap(f"the cached UMAP {path} cannot be read ({type(exc).__name__}); "
                             "delete it (or press Compute on the Embeddings page) to compute it again") from exc


@dataclass
class UmapResult:
    frame: pd.DataFrame        # gene, x, y
    path: Path
    cached: bool


def umap_path(ws: Workspace, embedder: str, features: str, genes: list[str], x: np.ndarray,
              seed: int, params: dict) -> Path:
    digest = hashlib.sha1()
    digest.update("\n".join(genes).encode())
    digest.update(np.ascontiguousarray(x, dtype=np.float32).tobytes())
    digest.update(json.dumps({"seed": seed, **params}, sort_keys=True).encode())
    return ws.embeddings_dir / "umap" / f"{embedder}-{features}-{digest.hexdigest()[:16]}.parquet"


def compute_umap(ws: Workspace, embedder: str = "kmer", features: str = "both", seed: int = 0,
                 model: str | None = None, n_neighbors: int = 15,
                 min_dist: float = 0.1, replace: bool = False) -> UmapResult:
    """gene, x, y of the UMAP of ``features``; read from the cache when it is there (an
    unreadable cache file raises UnreadableUmap, or is computed again with ``replace``)."""
    genes, x, params, path = umap_input(ws, embedder, features, seed, model, n_neighbors, min_dist)
    if len(genes) < MIN_GENES:
        raise CreError(f"a UMAP needs at least {MIN_GENES} genes; this embedding has {len(genes)}")
    neighbors = params["n_neighbors"]
    try:
        cached = _read_cached(path)
    except UnreadableUmap:
        if not replace:
            raise
        cached = None
    if cached is not None:
        return UmapResult(cached, path, True)

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # n_jobs overridden by random_state; numba notes
        import umap

        z = (x - x.mean(0)) / np.where(x.std(0) > 1e-8, x.std(0), 1.0)
        reducer = umap.UMAP(n_components=2, n_neighbors=neighbors, min_dist=float(min_dist),
                            random_state=int(seed), metric="euclidean")
        xy = np.asarray(reducer.fit_transform(z.astype(np.float32)), dtype=np.float64)
    frame = pd.DataFrame({"gene": genes, "x": xy[:, 0], "y": xy[:, 1]})
    table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(
        {b"cre_umap": json.dumps({"embedder": embedder, "features": features, "seed": seed,
                                  **params}).encode()})
    write_table_atomic(table, path)
    return UmapResult(frame, path, False)


def cached_umap(ws: Workspace, embedder: str, features: str, seed: int = 0,
                model: str | None = None, n_neighbors: int = 15, min_dist: float = 0.1
                ) -> pd.DataFrame | None:
    """The cached UMAP frame (gene, x, y) if it exists, else None; never runs umap-learn."""
    return _read_cached(umap_input(ws, embedder, features, seed, model, n_neighbors, min_dist)[3])


def umap_input(ws: Workspace, embedder: str, features: str, seed: int, model: str | None,
               n_neighbors: int, min_dist: float) -> tuple[list[str], np.ndarray, dict, Path]:
    """(genes, features, UMAP parameters, cache file) of one UMAP."""
    genes, x = load_features(ws, features, embedder=embedder, model=model)
    neighbors = int(max(2, min(n_neighbors, len(genes) - 1)))
    params = {"n_neighbors": neighbors, "min_dist": float(min_dist), "standardise": True,
              "metric": "euclidean", "model": model}
    return genes, x, params, umap_path(ws, embedder, features, genes, x, seed, params)


def umap_frame(ws: Workspace, embedder: str = "kmer", features: str = "both", seed: int = 0,
               model: str | None = None, compute: bool = True, replace: bool = False,
               **params) -> pd.DataFrame | None:
    """gene, name, x, y, smf, chrom, orf_class, module: the UMAP with colour fields joined.

    ``smf`` is the single-mutant fitness (null when unmeasured); ``module`` the demo's planted
    module from table ``demo_truth`` (null for genes in no module, and for real data).
    With ``compute=False`` returns None instead of running umap-learn when nothing is cached.
    """
    if compute:
        xy = compute_umap(ws, embedder, features, seed=seed, model=model, replace=replace, **params).frame
    else:
        xy = cached_umap(ws, embedder, features, seed=seed, model=model, **params)
        if xy is None:
            return None
    return with_gene_fields(ws, xy)


def with_gene_fields(ws: Workspace, xy: pd.DataFrame) -> pd.DataFrame:
    """Join name, chromosome, orf class, SMF and demo module onto (gene, x, y)."""
    con = ws.connect(read_only=True)
    try:
        genes = con.execute("SELECT gene, name, chrom, orf_class FROM genes").df()
        smf = con.execute("SELECT gene, fitness AS smf FROM smf").df()
        has_truth = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'demo_truth'"
        ).fetchall()[0][0]
        truth = (con.execute("SELECT gene, module FROM demo_truth WHERE module >= 0").df()
                 if has_truth else pd.DataFrame({"gene": [], "module": []}))
    finally:
        con.close()
    frame = xy.merge(genes, on="gene", how="left").merge(smf, on="gene", how="left")
    frame = frame.merge(truth, on="gene", how="left")
    frame["module"] = frame["module"].astype("Int64")
    frame["name"] = frame["name"].fillna(frame["gene"])
    return frame[FRAME_COLUMNS]
