"""Profile similarity: the genes whose ε profiles correlate most with a gene's, and a UMAP map
of all profiles.

A profile is a gene's row of the symmetric gene × gene ε matrix: measured (``dmf``'s pair-level
means; most entries unmeasured) or predicted by a run (ε̂ = f̂ − f_a·f_b for every pair among
the genes with a measured ε, or among all the run's genes when the store has none). Two genes
are compared, when they share at least ``min_overlap`` partners with a value, by two scores:

- ``r``: Pearson r over the partners both have a value for (TheCellMap's profile similarity);
- ``overlap``: the topological overlap of the two genes in the interaction network (Ravasz et
  al. 2002; WGCNA's TOM, Zhang & Horvath 2005) with edge weights w = min(|ε|, 1)²:
  (Σ_u w_au·w_ub + w_ab) / (min(k_a, k_b) + 1 − w_ab), k the sum of a gene's weights. It asks
  whether the two genes interact strongly with the same partners, and with each other. Where
  few pairs are measured, r over the few dozen shared partners is mostly noise from weak
  interactions; the squared weights let the strong ones speak, and the direct link counts (genes
  of one module or complex often interact). So ``overlap`` is the better guide to shared function
  in a sparse screen (bench/RESULTS.md, "Genes page"), r the better one where profiles are
  nearly complete and the sign pattern matters; ``similar`` ranks by either.

For one gene against all others each score is a few matrix–vector products, not a loop over genes.

The map (:func:`profile_map`) reduces the profiles of genes with at least ``min_partners``
values: each row is centred and scaled over its own values (unmeasured entries then count 0,
so a dot product is a correlation over shared partners), projected on its leading principal
components, and laid out by umap-learn (seeded). Maps are cached under ``WORKSPACE/explore/``
keyed by the exact matrix and parameters.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from cre_core.data.lookup import resolve_genes
from cre_core.embed.cache import write_table_atomic
from cre_core.errors import CreError
from cre_core.workspace import Workspace

MIN_OVERLAP = 10
MIN_PARTNERS = 5
OVERLAP_POWER = 2            # w = |ε|^2: chosen among 1-3 at demo seeds 0-1 (bench/explore.py)
SCORES = ("r", "overlap")
MAP_COMPONENTS = 30
MAP_LABELS = 12              # GO colour: the commonest direct terms; the rest are "other"
_LOCK = threading.Lock()
_CACHE: dict[tuple, Profiles] = {}


@dataclass
class Profiles:
    """ε profiles: ``values[i, j]`` is ε of genes i and j (NaN where there is none)."""

    genes: list[str]
    values: np.ndarray            # (n, n) float32, symmetric
    source: str                   # "measured" or the run id

    def __post_init__(self) -> None:
        self.index = {g: i for i, g in enumerate(self.genes)}
        self.mask = np.isfinite(self.values)
        self.filled = np.where(self.mask, self.values, 0).astype(np.float32)
        self.weights = self.mask.astype(np.float32)          # the mask as numbers, for products
        self.squares = self.filled * self.filled
        self.counts = self.mask.sum(1)

    @cached_property
    def strength(self) -> np.ndarray:
        """Topological overlap's weights (n, n): built on first use, only ``similar(by="overlap")``
        reads them."""
        return np.minimum(np.abs(self.filled), 1) ** OVERLAP_POWER

    @cached_property
    def degree(self) -> np.ndarray:
        return self.strength.sum(1)

    def digest(self) -> str:
        h = hashlib.sha1("\n".join(self.genes).encode())
        h.update(np.ascontiguousarray(self.filled).tobytes())
        h.update(self.mask.tobytes())
        return h.hexdigest()[:16]


def _store_key(ws: Workspace, *extra) -> tuple:
    st = ws.db_path.stat()
    return (str(ws.db_path.resolve()), st.st_mtime_ns, st.st_size, *extra)


def _cached(key: tuple, build) -> Profiles:
    with _LOCK:
        if key not in _CACHE:
            if len(_CACHE) >= 4:
                _CACHE.pop(next(iter(_CACHE)))
            _CACHE[key] = build()
        return _CACHE[key]


def measured_genes(ws: Workspace) -> list[str]:
    """Genes with at least one measured ε, sorted."""
    con = ws.connect(read_only=True)
    try:
        return [g for (g,) in con.execute(
            "SELECT gene_a FROM dmf WHERE epsilon IS NOT NULL UNION "
            "SELECT gene_b FROM dmf WHERE epsilon IS NOT NULL ORDER BY 1").fetchall()]
    finally:
        con.close()


def measured_profiles(ws: Workspace) -> Profiles:
    """Measured profiles of every gene with an ε (cached per store file)."""
    def build() -> Profiles:
        con = ws.connect(read_only=True)
        try:
            pairs = con.execute("SELECT gene_a, gene_b, epsilon FROM dmf WHERE epsilon IS NOT NULL "
                                "AND gene_a <> gene_b").df()
        finally:
            con.close()
        genes = sorted(set(pairs["gene_a"]) | set(pairs["gene_b"]))
        pos = {g: i for i, g in enumerate(genes)}
        a = pairs["gene_a"].map(pos).to_numpy()
        b = pairs["gene_b"].map(pos).to_numpy()
        values = np.full((len(genes), len(genes)), np.nan, dtype=np.float32)
        values[a, b] = values[b, a] = pairs["epsilon"].to_numpy(dtype=np.float32)
        return Profiles(genes, values, "measured")

    return _cached(_store_key(ws, "measured"), build)


def predicted_profiles(ws: Workspace, run_id: str) -> Profiles:
    """A run's ε̂ among the genes with a measured ε that the run knows (all its genes when the
    store has no ε). One partner scan per gene; cached per run checkpoint."""
    from cre_core.query.service import load_model

    loaded = load_model(ws, run_id)

    def build() -> Profiles:
        measured = set(measured_genes(ws))
        keep = [i for i, g in enumerate(loaded.genes) if g in measured] if measured else list(range(len(loaded.genes)))
        if len(keep) < 2:
            raise CreError(f"run {loaded.run_id} knows fewer than two genes with a measured ε")
        cols = np.array(keep)
        values = np.empty((len(keep), len(keep)), dtype=np.float32)
        for row, i in enumerate(keep):
            fitness = loaded.member_scan(i).mean(0)[cols]
            values[row] = fitness - loaded.smf[i] * loaded.smf[cols]
        values[np.arange(len(keep)), np.arange(len(keep))] = np.nan
        values = ((values + values.T) / 2).astype(np.float32)         # ε̂ of (a, b) and (b, a) may differ slightly
        return Profiles([loaded.genes[i] for i in keep], values, loaded.run_id)

    return _cached(_store_key(ws, "run", str(loaded.folder), loaded.stamp), build)


def profiles(ws: Workspace, run_id: str | None = None) -> Profiles:
    """Measured profiles, or ``run_id``'s predicted ones."""
    return predicted_profiles(ws, run_id) if run_id else measured_profiles(ws)


def correlations(p: Profiles, gene: str, min_overlap: int = MIN_OVERLAP) -> pd.DataFrame:
    """gene, r, overlap, n_shared for every other gene sharing at least ``min_overlap`` partners
    with ``gene`` (r NaN where either side has no spread; module docstring), unsorted."""
    if gene not in p.index:
        what = "measured ε" if p.source == "measured" else f"predicted ε̂ in run {p.source}"
        raise CreError(f"{gene} has no {what} profile (no interaction values)")
    q = p.index[gene]
    x, m = p.filled[q], p.weights[q]        # float32 throughout: a float64 vector would copy the matrix
    n = (p.weights @ m).astype(np.float64)
    sx, sxx = (p.weights @ (m * x)).astype(np.float64), (p.weights @ (m * x * x)).astype(np.float64)
    sy, syy = (p.filled @ m).astype(np.float64), (p.squares @ m).astype(np.float64)
    sxy = (p.filled @ x).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (n * sxy - sx * sy) / np.sqrt((n * sxx - sx * sx) * (n * syy - sy * sy))
    w = p.strength[q]
    overlap = (p.strength @ w + w) / (np.minimum(p.degree, p.degree[q]) + 1 - w)
    keep = (n >= max(min_overlap, 3)) & (np.arange(len(p.genes)) != q)
    return pd.DataFrame({"gene": np.array(p.genes)[keep], "r": np.clip(r[keep], -1, 1),
                         "overlap": overlap[keep].astype(np.float64), "n_shared": n[keep].astype(int)})


def similar(ws: Workspace, gene: str, top: int = 10, min_overlap: int = MIN_OVERLAP,
            run_id: str | None = None, by: str = "r") -> pd.DataFrame:
    """The ``top`` genes whose profiles are most like ``gene``'s by ``by`` (``r`` or ``overlap``,
    module docstring): gene, name, r, overlap, n_shared."""
    if by not in SCORES:
        raise CreError(f"similarity by {by!r}: use one of {', '.join(SCORES)}")
    con = ws.connect(read_only=True)
    try:
        g = resolve_genes(con, [gene])[0]
        names = dict(con.execute("SELECT gene, coalesce(name, gene) FROM genes").fetchall())
    finally:
        con.close()
    frame = correlations(profiles(ws, run_id), g, min_overlap).dropna(subset=[by])
    frame = frame.sort_values([by, "gene"], ascending=[False, True], kind="stable").head(top)
    frame.insert(1, "name", frame["gene"].map(names))
    return frame.reset_index(drop=True)


def _standardised(p: Profiles, rows: np.ndarray) -> np.ndarray:
    """Rows centred and scaled over their own values; unmeasured entries 0."""
    x, m = p.filled[rows].astype(np.float64), p.mask[rows]
    count = np.maximum(m.sum(1, keepdims=True), 1)
    mean = x.sum(1, keepdims=True) / count
    centred = np.where(m, x - mean, 0.0)
    sd = np.sqrt((centred ** 2).sum(1, keepdims=True) / count)
    return centred / np.where(sd > 0, sd, 1.0)


def map_path(ws: Workspace, p: Profiles, params: dict):
    key = hashlib.sha1((p.digest() + json.dumps(params, sort_keys=True)).encode()).hexdigest()[:16]
    return ws.root / "explore" / f"map-{key}.parquet"


def profile_map(ws: Workspace, run_id: str | None = None, min_partners: int = MIN_PARTNERS,
                seed: int = 0, n_neighbors: int = 15, compute: bool = True) -> pd.DataFrame | None:
    """gene, name, x, y, smf, chrom, orf_class, module, go_term, n_partners: the UMAP of the
    profiles of genes with at least ``min_partners`` values, coloured by demo module (null on real
    stores) or by the gene's commonest direct GO term. None when ``compute`` is False and no map
    is cached (umap-learn's first import takes 10-30 s)."""
    p = profiles(ws, run_id)
    rows = np.flatnonzero(p.counts >= min_partners)
    if len(rows) < 5:
        raise CreError(f"a map needs at least 5 genes with {min_partners} or more partners; "
                       f"{len(rows)} have them")
    neighbors = int(max(2, min(n_neighbors, len(rows) - 1)))
    params = {"min_partners": min_partners, "seed": seed, "n_neighbors": neighbors,
              "components": MAP_COMPONENTS, "metric": "cosine"}
    path = map_path(ws, p, params)
    if path.exists():
        xy = pd.read_parquet(path)
    elif not compute:
        return None
    else:
        xy = _layout(p, rows, params)
        import pyarrow as pa

        write_table_atomic(pa.Table.from_pandas(xy, preserve_index=False), path)
    from cre_core.embed.umap_view import with_gene_fields

    frame = with_gene_fields(ws, xy[["gene", "x", "y"]])
    frame["n_partners"] = xy["n_partners"].to_numpy()
    frame["go_term"] = go_labels(ws, frame["gene"].tolist())
    return frame


def _layout(p: Profiles, rows: np.ndarray, params: dict) -> pd.DataFrame:
    import warnings

    z = _standardised(p, rows)
    k = min(MAP_COMPONENTS, len(rows) - 1, z.shape[1])
    u, s, _ = np.linalg.svd(z - z.mean(0), full_matrices=False)
    reduced = (u[:, :k] * s[:k]).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # n_jobs overridden by random_state; numba notes
        import umap

        reducer = umap.UMAP(n_components=2, n_neighbors=params["n_neighbors"], metric=params["metric"],
                            random_state=int(params["seed"]), init="spectral" if len(rows) > 10 else "random")
        xy = np.asarray(reducer.fit_transform(reduced), dtype=np.float64)
    return pd.DataFrame({"gene": [p.genes[i] for i in rows], "x": xy[:, 0], "y": xy[:, 1],
                         "n_partners": p.counts[rows].astype(int)})


def go_labels(ws: Workspace, genes: list[str], top: int = MAP_LABELS) -> list[str]:
    """Each gene's direct biological-process term that is commonest among ``genes`` (names; the
    ``top`` commonest are kept, others read "other", unannotated genes "none")."""
    from cre_core.explore.enrichment import go_index

    go = go_index(ws)
    counts: dict[str, int] = {}
    for g in genes:
        for t in go.direct.get(g, ()):
            if go.namespace.get(t) == "biological_process":
                counts[t] = counts.get(t, 0) + 1
    best = []
    for g in genes:
        terms = [t for t in go.direct.get(g, ()) if t in counts]
        best.append(max(terms, key=lambda t: (counts[t], t)) if terms else None)
    kept = set(sorted(counts, key=lambda t: (-counts[t], t))[:top])
    return [go.names[t] if t in kept else ("other" if t else "none") for t in best]
