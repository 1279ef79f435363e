"""Embed a workspace's windows through the cache: compute only what is missing, write atomically.

For each region: read the current windows, look their keys up in the region's cache file,
embed the windows whose key is missing (sharded over ranks under torchrun), and rewrite the file
when anything changed. A rerun with unchanged inputs computes nothing; a changed genome computes
only the changed windows. A stop request (SIGTERM, ``runtime.check_stop``) is honoured after each
batch of windows: regions already written stay, so a rerun computes only what is left.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import numpy as np

from cre_core.embed.base import REGIONS, Embedder, Window, check_regions, read_windows
from cre_core.embed.cache import cache_path, read_cache, remove_stale_tmp, write_cache
from cre_core.errors import CreError
from cre_core.runtime import DistContext, check_stop
from cre_core.workspace import Workspace

# progress(region, done, total)
RegionProgress = Callable[[str, int, int], None]


@dataclass
class RegionResult:
    """What one region's run did: the JSON line of ``embed``."""

    embedder: str
    model: str
    region: str
    n_genes: int
    dim: int
    seconds: float
    computed: int
    cached: int
    local: int = field(default=0, compare=False)   # windows this rank embedded (torchrun)

    def as_json(self) -> dict:
        out = asdict(self)
        out.pop("local")
        return out


def embed_workspace(ws: Workspace, embedder: Embedder, regions: Sequence[str] = REGIONS,
                    progress: RegionProgress | None = None,
                    dist: DistContext | None = None) -> list[RegionResult]:
    """Bring the caches of ``regions`` up to date with the store's windows; one result each."""
    regions = check_regions(list(regions))
    dist = dist or DistContext()
    windows = read_windows(ws, regions)
    embedder.prepare(windows)
    return [embed_region(ws, embedder, region, windows[region], progress, dist)
            for region in regions]


def embed_region(ws: Workspace, embedder: Embedder, region: str, windows: list[Window],
                 progress: RegionProgress | None, dist: DistContext) -> RegionResult:
    started = time.perf_counter()
    path = cache_path(ws, embedder.name, embedder.cache_id(region), region)
    cache = read_cache(path)
    index = cache.index() if cache else {}
    keys = [embedder.key(w) for w in windows]
    todo: dict[str, int] = {}                 # missing key -> first window with it
    for i, key in enumerate(keys):
        if key not in index and key not in todo:
            todo[key] = i
    computed = sum(key not in index for key in keys)
    dim = embedder.dim(region)

    mine = dist.shard(list(todo.values()))
    def report(done: int, total: int) -> None:
        if progress and dist.is_main:
            progress(region, done, total)
        check_stop()                          # between batches: a long region stops promptly

    if mine:
        report(0, len(mine))
    vectors = (embedder.embed([windows[i] for i in mine], region, report) if mine
               else np.zeros((0, dim), dtype=np.float32))
    if vectors.shape[1:] != (dim,):
        raise CreError(f"{embedder.name} returned vectors of shape {vectors.shape[1:]}, expected ({dim},)")
    if todo and dist.active:
        pieces = dist.gather((mine, vectors))
        positions = [p for part, _ in pieces for p in part]
        vectors = np.concatenate([v for _, v in pieces]) if pieces else vectors
    else:
        positions = mine
    fresh = {keys[p]: vectors[j] for j, p in enumerate(positions)}

    mapping = dict(zip((w.gene for w in windows), keys))
    changed = bool(fresh) or cache is None or cache.mapping() != mapping
    seconds = time.perf_counter() - started
    if dist.is_main:
        remove_stale_tmp(path.parent)         # left by a write that was killed
    if changed and dist.is_main:
        _write(path, embedder, region, windows, keys, fresh, cache, dim, seconds, computed)
    return RegionResult(embedder.name, embedder.model_label(region), region, len(windows), dim,
                        round(time.perf_counter() - started, 3), computed, len(windows) - computed,
                        local=len(mine))


def _write(path, embedder: Embedder, region: str, windows: list[Window], keys: list[str],
           fresh: dict[str, np.ndarray], cache, dim: int, seconds: float, computed: int) -> None:
    """Current genes' rows, then the older vectors no current gene uses (kept, gene null)."""
    index = cache.index() if cache else {}
    rows = np.empty((len(windows), dim), dtype=np.float32)
    for i, key in enumerate(keys):
        rows[i] = fresh[key] if key in fresh else cache.vectors[index[key]]
    used = set(keys)
    orphans = [k for k in index if k not in used] if cache else []
    genes: list[str | None] = [w.gene for w in windows] + [None] * len(orphans)
    all_rows = np.concatenate([rows, cache.vectors[[index[k] for k in orphans]]]) if orphans else rows
    old = cache.meta if cache else {}
    meta = {
        "embedder": embedder.name, "model": embedder.model_label(region), "region": region,
        "cache_id": embedder.cache_id(region), "dim": dim, "n_genes": len(windows),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        # time spent computing vectors: this run's when it computed any, else the last one's
        "seconds": round(seconds, 3) if computed or not old else old.get("seconds", 0.0),
        "computed": computed, "params": embedder.describe(region),
    }
    write_cache(path, genes, keys + orphans, all_rows, meta)
