"""Gene feature tables from the embedding caches: what models train on, and what is embedded.

``load_features(ws, "both")`` is the concatenation ``[upstream | downstream]`` per gene: the
first ``dim(upstream)`` columns are the upstream window's vector, the rest the downstream one's.
(The seed report's bug was a "both" that silently held only the first part; tests check that
every part is there.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cre_core.embed.base import REGIONS, feature_regions, read_windows, sequence_key
from cre_core.embed.cache import cache_files, cache_path, read_cache, read_meta
from cre_core.embed.registry import EMBEDDERS, ON_DEMAND, make_embedder
from cre_core.embed.runner import embed_workspace
from cre_core.errors import CreError
from cre_core.runtime import DistContext
from cre_core.workspace import Workspace

EXPORTED_ENCODER = "encoder"     # vectors exported from a trained sequence-encoder run
LIST_COLUMNS = ["embedder", "model", "region", "n_genes", "dim", "created", "seconds"]


def load_features(ws: Workspace, features: str, embedder: str = "kmer",
                  model: str | None = None, compute: bool = True) -> tuple[list[str], np.ndarray]:
    """(genes, X): sorted systematic names of the genes with windows, float32 (n_genes, dim).

    ``features``: upstream | downstream | both (= [upstream | downstream], concatenated).
    kmer and random are computed and cached when missing, unless ``compute`` is False (read
    paths such as queries: they never write a cache and refuse with the ``embed`` command to
    run instead); specieslm must have been embedded with the ``embed`` command (it needs the
    model and, in practice, a GPU).
    """
    regions = feature_regions(features)
    if embedder not in (*EMBEDDERS, EXPORTED_ENCODER):
        raise CreError(f"unknown embedder '{embedder}': choose one of {', '.join(EMBEDDERS)}")
    windows = read_windows(ws, regions)
    if embedder == EXPORTED_ENCODER:    # a trained encoder run's vectors (cre_core.interpret.export)
        if not model:
            raise CreError("--embedder encoder features need the run id as --model")
        paths, key = {r: cache_path(ws, embedder, model, r) for r in regions}, sequence_key
    elif embedder in ON_DEMAND:
        emb = make_embedder(embedder, model, regions=regions, device="cpu")
        if compute:
            # one process, no collectives: every caller (e.g. each training rank) stands alone
            embed_workspace(ws, emb, regions, dist=DistContext())
        else:
            emb.prepare(windows)                 # the kmer vocabulary names its cache
        paths = {r: cache_path(ws, emb.name, emb.cache_id(r), r) for r in regions}
        key = emb.key
    else:
        paths, key = specieslm_caches(ws, model, regions), sequence_key
    parts: dict[str, dict[str, np.ndarray]] = {}
    for region in regions:
        cache = read_cache(paths[region])
        index = cache.index() if cache else {}
        missing = [w.gene for w in windows[region] if key(w) not in index]
        if missing:
            model_arg = f" --model {model}" if model else ""
            command = (f"export-encoder --workspace {ws.root} --run {model}" if embedder == EXPORTED_ENCODER
                       else f"embed --workspace {ws.root} --embedder {embedder}{model_arg} --regions {region}")
            raise CreError(
                f"{len(missing):,} of {len(windows[region]):,} {region} windows have no "
                f"{embedder} embedding (e.g. {missing[0]}): run `python -m cre_core {command}` first"
            )
        # no cache here means no windows either (else ``missing`` raised above)
        parts[region] = {} if cache is None else {
            w.gene: cache.vectors[index[key(w)]] for w in windows[region]}
    genes = sorted(set.intersection(*(set(p) for p in parts.values())))
    if not genes:
        raise CreError(f"no gene has every window of '{features}'")
    matrix = np.concatenate(
        [np.stack([parts[region][g] for g in genes]) for region in regions], axis=1)
    return genes, np.ascontiguousarray(matrix, dtype=np.float32)


def specieslm_caches(ws: Workspace, model: str | None, regions: list[str]) -> dict[str, Path]:
    """The SpeciesLM cache file of each region for ``model``.

    Normally from the model itself (its id and weight fingerprint). When the weights are not on
    this machine (embedded on a GPU box, trained elsewhere), the caches that were written with
    the same ``--model`` value (or the only SpeciesLM caches there, when ``model`` is None).
    """
    try:
        emb = make_embedder("specieslm", model, regions=regions, device="cpu")
        return {r: cache_path(ws, emb.name, emb.cache_id(r), r) for r in regions}
    except CreError as exc:
        found: dict[str, list[Path]] = {}
        for path in cache_files(ws):
            meta = read_meta(path) or {}
            region = meta.get("region")
            if meta.get("embedder") != "specieslm" or not isinstance(region, str):
                continue
            given = (meta.get("params") or {}).get("model_arg")
            if model is None or str(model) in (given, meta.get("model")):
                found.setdefault(region, []).append(path)
        if all(len(found.get(r, [])) == 1 for r in regions):
            return {r: found[r][0] for r in regions}
        hint = ("several SpeciesLM caches match; name one with --model"
                if any(len(found.get(r, [])) > 1 for r in regions)
                else f"no SpeciesLM embedding of it in {ws.embeddings_dir} either: run `python -m "
                     f"cre_core embed --workspace {ws.root} --embedder specieslm` first")
        raise CreError(f"{exc}; {hint}") from exc


def list_embeddings(ws: Workspace) -> pd.DataFrame:
    """What is embedded: embedder, model, region, n_genes, dim, created, seconds.

    Also ``model_arg`` (the ``--model`` value that loads these features again; None for kmer
    and random) and ``path`` (the cache file, relative to ``embeddings/``).
    """
    rows = []
    for path in cache_files(ws):
        meta = read_meta(path)
        if not meta:
            continue
        rows.append({
            "embedder": meta.get("embedder", path.parts[-3]), "model": meta.get("model", path.parts[-2]),
            "region": meta.get("region", path.stem), "n_genes": int(meta.get("n_genes", 0)),
            "dim": int(meta.get("dim", 0)), "created": meta.get("created"),
            "seconds": float(meta.get("seconds", 0.0)),
            "model_arg": (meta.get("params") or {}).get("model_arg"),
            "path": str(path.relative_to(ws.embeddings_dir)),
        })
    frame = pd.DataFrame(rows, columns=[*LIST_COLUMNS, "model_arg", "path"])
    frame["created"] = pd.to_datetime(frame["created"], utc=True, format="ISO8601")
    frame = frame.astype({"n_genes": "int64", "dim": "int64", "seconds": "float64"})
    order = frame["region"].map({r: i for i, r in enumerate(REGIONS)}).fillna(len(REGIONS))
    frame = frame.assign(_order=order).sort_values(["embedder", "model", "_order"], ignore_index=True)
    return frame.drop(columns="_order")
