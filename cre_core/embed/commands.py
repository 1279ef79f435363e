"""CLI: ``python -m cre_core embed`` and ``python -m cre_core umap``.

``embed`` prints a progress bar on stderr and ends with one JSON line per region on stdout::

    {"embedder": "kmer", "model": "...", "region": "upstream", "n_genes": 6000, "dim": 768,
     "seconds": 1.2, "computed": 6000, "cached": 0}

Under ``torchrun`` the windows are sharded over the ranks and only rank 0 writes and prints.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from cre_core.embed.base import FEATURES, REGIONS, check_regions
from cre_core.embed.registry import EMBEDDERS
from cre_core.errors import CreError
from cre_core.workspace import resolve_workspace

if TYPE_CHECKING:
    from tqdm import tqdm


def register(subparsers: argparse._SubParsersAction) -> None:
    emb = subparsers.add_parser(
        "embed",
        help="embed the CRE windows of a workspace (kmer on any CPU, specieslm on a GPU)",
        description="Embed every gene's upstream/downstream window into the workspace's "
        "embedding cache (embeddings/*.parquet). Only windows whose sequence is not cached yet "
        "are computed. Run it under torchrun to shard the windows over GPUs or machines.",
    )
    emb.add_argument("--workspace", help="workspace folder (default $CRE_WORKSPACE or workspace/demo)")
    emb.add_argument("--embedder", choices=EMBEDDERS, default="kmer")
    emb.add_argument("--model", help="SpeciesLM: a model folder, a folder holding "
                     "upstream_species_lm/ and downstream_species_lm/, or a hub id in the local "
                     "hub cache such as gagneurlab/SpeciesLM@upstream_species_lm "
                     "(default gagneurlab/SpeciesLM: each region its own revision)")
    emb.add_argument("--regions", default=",".join(REGIONS), help="upstream,downstream (default both)")
    emb.add_argument("--species", help="SpeciesLM species proxy token (default candida_glabrata)")
    emb.add_argument("--device", default="auto", help="auto | cpu | cuda (specieslm)")
    emb.add_argument("--batch-size", type=int, help="windows per batch (specieslm; default 64 on "
                     "CUDA, 8 on CPU)")
    emb.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"],
                     help="specieslm: auto = bf16 autocast on CUDA, fp32 on CPU")
    emb.add_argument("--out", type=Path, help="also write gene, region, embedding (list of "
                     "floats) to this Parquet file")
    emb.add_argument("--progress-file", type=Path, help=argparse.SUPPRESS)
    emb.set_defaults(func=run_embed)

    um = subparsers.add_parser(
        "umap",
        help="compute (and cache) a seeded 2-d UMAP of a stored embedding",
        description="UMAP of the gene features (columns standardised) with umap-learn, cached "
        "under embeddings/umap/. The first import of umap-learn takes 10-30 s.",
    )
    um.add_argument("--workspace")
    um.add_argument("--embedder", choices=EMBEDDERS, default="kmer")
    um.add_argument("--features", choices=FEATURES, default="both")
    um.add_argument("--model", help="SpeciesLM model, as for embed")
    um.add_argument("--seed", type=int, default=0)
    um.add_argument("--n-neighbors", type=int, default=15)
    um.add_argument("--min-dist", type=float, default=0.1)
    um.set_defaults(func=run_umap)


class _Progress:
    """tqdm on stderr (rank 0) plus an optional JSON progress file for the app."""

    def __init__(self, file: Path | None) -> None:
        self.file = file
        self.bar: tqdm | None = None
        self.region: str | None = None
        self.results: list[dict] = []
        self._last_write = 0.0

    def __call__(self, region: str, done: int, total: int) -> None:
        from tqdm import tqdm

        if region != self.region:
            self.close_bar()
            self.region = region
            self.bar = tqdm(total=total, desc=f"embed {region}", unit="win", file=sys.stderr,
                            mininterval=1.0, dynamic_ncols=True)
        assert self.bar is not None, "the bar is open while its region runs"
        self.bar.update(done - self.bar.n)
        now = time.monotonic()
        if now - self._last_write > 0.5 or done == total:
            self._last_write = now
            self.write("running", region=region, done=done, total=total)

    def close_bar(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def write(self, state: str, **extra) -> None:
        if self.file is None:
            return
        from cre_core.atomic import write_json_atomic

        write_json_atomic(self.file, {"state": state, "results": self.results, **extra,
                                      "updated": time.time()})


def run_embed(args: argparse.Namespace) -> int:
    from cre_core import runtime
    from cre_core.embed.registry import make_embedder
    from cre_core.embed.runner import embed_workspace

    ws = resolve_workspace(args.workspace)
    regions = check_regions(args.regions)
    if args.batch_size is not None and args.batch_size < 1:
        raise CreError("--batch-size must be at least 1")
    device = args.device
    if args.embedder == "specieslm":
        device = runtime.resolve_device(args.device)
    ctx = runtime.setup(device)
    progress = _Progress(args.progress_file if ctx.is_main else None)
    try:
        progress.write("running")
        embedder = make_embedder(args.embedder, args.model, regions, species=args.species,
                                 device=runtime.device_for_rank(device, ctx),
                                 batch_size=args.batch_size, precision=args.precision)
        with runtime.stop_on_signals():          # SIGTERM: stop after the current batch
            results = embed_workspace(ws, embedder, regions, progress=progress, dist=ctx)
        progress.close_bar()
        if ctx.active:
            for r in results:
                print(f"rank {ctx.rank}/{ctx.world}: embedded {r.local} of the {r.computed} "
                      f"missing {r.region} windows", file=sys.stderr, flush=True)
        if ctx.is_main:
            if args.out:
                n = export_parquet(ws, embedder, regions, args.out)
                print(f"{n:,} rows -> {args.out}", file=sys.stderr)
            progress.results = [r.as_json() for r in results]
            progress.write("done")
            for result in results:
                print(json.dumps(result.as_json()), flush=True)
        ctx.barrier()
    except runtime.StopRequested:
        progress.close_bar()
        progress.write("stopped", error="stopped by signal; run embed again to compute what is left")
        raise CreError("embed stopped by signal: the regions finished are cached; run it again "
                       "to compute what is left") from None
    except BaseException as exc:
        progress.close_bar()
        progress.write("failed", error=str(exc) if isinstance(exc, CreError)
                       else f"{type(exc).__name__}: {exc}")
        raise
    finally:
        ctx.close()
    return 0


def export_parquet(ws, embedder, regions: list[str], out: Path) -> int:
    """Write gene, region, embedding (list<float>) for every gene of ``regions``."""
    import numpy as np
    import pyarrow as pa

    from cre_core.embed.base import read_windows
    from cre_core.embed.cache import cache_path, read_cache, write_table_atomic

    windows = read_windows(ws, regions)
    genes, region_col, blocks = [], [], []
    for region in regions:
        cache = read_cache(cache_path(ws, embedder.name, embedder.cache_id(region), region))
        if cache is None:
            raise CreError(f"no {embedder.name} embeddings cached for the {region} windows: run embed first")
        index = cache.index()
        rows = [index[embedder.key(w)] for w in windows[region]]
        genes += [w.gene for w in windows[region]]
        region_col += [region] * len(rows)
        blocks.append(cache.vectors[rows])
    sizes = np.concatenate([np.full(len(b), b.shape[1], dtype=np.int32) for b in blocks])
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int32)
    values = np.concatenate([b.reshape(-1) for b in blocks]).astype(np.float32)
    table = pa.table({"gene": pa.array(genes, pa.string()),
                      "region": pa.array(region_col, pa.string()),
                      "embedding": pa.ListArray.from_arrays(pa.array(offsets), pa.array(values))})
    write_table_atomic(table, Path(out))
    return len(genes)


def run_umap(args: argparse.Namespace) -> int:
    from cre_core.embed.umap_view import compute_umap

    ws = resolve_workspace(args.workspace)
    started = time.perf_counter()
    result = compute_umap(ws, args.embedder, args.features, seed=args.seed, model=args.model,
                          n_neighbors=args.n_neighbors, min_dist=args.min_dist)
    print(json.dumps({"embedder": args.embedder, "model": args.model, "features": args.features,
                      "seed": args.seed, "n_genes": len(result.frame),
                      "seconds": round(time.perf_counter() - started, 2), "cached": result.cached,
                      "path": str(result.path)}))
    return 0
