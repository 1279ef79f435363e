"""Embedding caches: Parquet files under ``WORKSPACE/embeddings``, never inside cre.duckdb.

Layout, one file per (embedder, model, region)::

    embeddings/<embedder>/<cache_id>/<region>.parquet     columns gene, key, embedding
    embeddings/umap/<embedder>-<features>-<hash>.parquet   UMAP coordinates (umap_view.py)
    embeddings/jobs/<job>/                                 background runs started by the app

``cache_id`` names the model (for SpeciesLM: its id or folder, species token and a fingerprint of
its weights), so different models never share a file. Rows are content-addressed: ``key`` is the
SHA-1 of the window's ``pad_len:sequence`` (the random control keys by gene), ``gene`` the gene
that has this window now (null for a vector no current gene uses: kept so that switching back to
an earlier genome recomputes nothing). ``embedding`` is a fixed-size list of float32. The file's
Parquet metadata (key ``cre_embed``) says which model, when, how long, and how many genes.
Writes are atomic (``cre_core.atomic``): readers never see half a file; the temporary file
of a write that was killed is removed by the next write into that folder (``remove_stale_tmp``).
A cache file that cannot be read (truncated, no metadata) is listed by ``unreadable_caches``
with the reason, so pages show it as unreadable instead of dropping it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from cre_core.atomic import atomic_path
from cre_core.errors import CreError
from cre_core.workspace import Workspace

META_KEY = b"cre_embed"
SPECIAL_DIRS = ("umap", "jobs")


def cache_path(ws: Workspace, embedder: str, cache_id: str, region: str) -> Path:
    return ws.embeddings_dir / embedder / cache_id / f"{region}.parquet"


@dataclass
class RegionCache:
    """One cache file in memory: row i is (genes[i], keys[i], vectors[i])."""

    path: Path
    genes: list[str | None]
    keys: list[str]
    vectors: np.ndarray
    meta: dict = field(default_factory=dict)

    def index(self) -> dict[str, int]:
        """key -> a row holding that key's vector."""
        return {k: i for i, k in enumerate(self.keys)}

    def mapping(self) -> dict[str, str]:
        """gene -> key, for the genes the file was last written with."""
        return {g: k for g, k in zip(self.genes, self.keys) if g is not None}


def read_cache(path: Path) -> RegionCache | None:
    """The cache at ``path``, or None when there is none yet."""
    if not path.exists():
        return None
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise CreError(f"cannot read the embedding cache {path}: {exc}; delete it to recompute") from exc
    meta = read_meta(path) or {}
    column = table.column("embedding").combine_chunks()
    dim = column.type.list_size
    values = column.values.to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    return RegionCache(path, table.column("gene").to_pylist(), table.column("key").to_pylist(),
                       values.reshape(len(table), dim), meta)


def read_meta(path: Path) -> dict | None:
    """The ``cre_embed`` metadata of a cache file (cheap: reads the footer only)."""
    return None if cache_problem(path) else json.loads((pq.read_schema(path).metadata or {})[META_KEY])


def cache_problem(path: Path) -> str | None:
    """Why the cache file cannot be used (None when its footer and metadata read)."""
    try:
        raw = (pq.read_schema(path).metadata or {}).get(META_KEY)
    except (OSError, pa.ArrowException) as exc:
        return f"cannot be read ({type(exc).__name__}): truncated or not Parquet"
    if not raw:
        return "has no cre_embed metadata: not an embedding cache"
    try:
        meta = json.loads(raw)
    except ValueError:
        return "its cre_embed metadata is not JSON"
    return None if isinstance(meta, dict) else "its cre_embed metadata is not an object"


def unreadable_caches(ws: Workspace) -> list[tuple[str, str]]:
    """(file relative to embeddings/, problem) of every cache file that cannot be used."""
    found = ((p, cache_problem(p)) for p in cache_files(ws))
    return [(str(p.relative_to(ws.embeddings_dir)), why) for p, why in found if why]


def remove_stale_tmp(folder: Path) -> int:
    """Delete the temporary files (``.NAME.PID.TAG.tmp``, cre_core.atomic) of writers that
    are gone (killed mid-write); returns how many. A live writer's file is left alone."""
    removed = 0
    for tmp in Path(folder).glob(".*.tmp") if Path(folder).is_dir() else []:
        try:
            os.kill(int(tmp.name.split(".")[-3]), 0)
            continue                      # its writer still runs
        except (ValueError, IndexError, ProcessLookupError):
            pass
        except PermissionError:
            continue
        tmp.unlink(missing_ok=True)
        removed += 1
    return removed


def write_cache(path: Path, genes: list[str | None], keys: list[str], vectors: np.ndarray,
                meta: dict) -> None:
    """Write a cache file atomically."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = vectors.shape
    embedding = pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), dim)
    table = pa.table({"gene": pa.array(genes, pa.string()), "key": pa.array(keys, pa.string()),
                      "embedding": embedding})
    table = table.replace_schema_metadata({META_KEY: json.dumps(meta).encode()})
    write_table_atomic(table, path)


def write_table_atomic(table: pa.Table, path: Path) -> None:
    """``pq.write_table``, atomically; a disk error becomes a one-line CreError."""
    try:
        with atomic_path(path) as tmp:
            pq.write_table(table, tmp)
    except OSError as exc:
        raise CreError(f"cannot write {path}: {exc.strerror or exc}") from exc


def cache_files(ws: Workspace) -> list[Path]:
    """Every embedding cache file of the workspace (not UMAPs, not job folders)."""
    root = ws.embeddings_dir
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob("*/*/*.parquet") if p.parts[-3] not in SPECIAL_DIRS)
