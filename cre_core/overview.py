"""What a workspace holds, in one read: the Home page's numbers and the ``info`` command."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field

import pandas as pd

from cre_core.data.store import counts, demo_origin, get_meta, list_sources
from cre_core.embed.cache import cache_files, unreadable_caches
from cre_core.train.runs import list_runs
from cre_core.workspace import Workspace, resolve_workspace


@dataclass
class Overview:
    """Counts of the store plus the embedding caches and training runs beside it."""

    root: str
    exists: bool
    counts: dict[str, int] = field(default_factory=dict)   # table -> rows
    meta: dict[str, str] = field(default_factory=dict)
    sources: pd.DataFrame = field(default_factory=pd.DataFrame)
    embeddings: list[str] = field(default_factory=list)     # cache files, relative to embeddings/
    unreadable_embeddings: list[str] = field(default_factory=list)   # cache files that cannot be read
    runs: dict[str, int] = field(default_factory=dict)      # status -> number of runs
    demo: dict[str, str] | None = None     # demo preset and seed while the store holds the demo's data

    @property
    def n_runs(self) -> int:
        return sum(self.runs.values())


def overview(ws: Workspace) -> Overview:
    """Read counts, meta and sources from the store (read-only, briefly) and list the files."""
    if not ws.exists():
        return Overview(root=str(ws.root), exists=False)
    con = ws.connect(read_only=True)
    try:
        table_counts = counts(con)
        meta = get_meta(con)
        sources = pd.DataFrame(list_sources(con), columns=["kind", "path", "rows", "ingested_at"])
        demo = demo_origin(con)
    finally:
        con.close()
    return Overview(
        root=str(ws.root), exists=True, counts=table_counts, meta=meta, sources=sources,
        embeddings=list_embedding_files(ws), runs=count_runs(ws), demo=demo,
        unreadable_embeddings=[f for f, _ in unreadable_caches(ws)],
    )


def list_embedding_files(ws: Workspace) -> list[str]:
    """Readable embedding cache files (one per embedder, model and region), relative to
    embeddings/: the ones the Embeddings table lists (unreadable ones: ``unreadable_caches``)."""
    broken = {f for f, _ in unreadable_caches(ws)}
    return [f for p in cache_files(ws) if (f := str(p.relative_to(ws.embeddings_dir))) not in broken]


def count_runs(ws: Workspace) -> dict[str, int]:
    """Number of training runs per status."""
    frame = list_runs(ws)
    if frame.empty:
        return {}
    return {str(k): int(v) for k, v in frame["status"].value_counts().items()}


def embedding_table(ws: Workspace) -> pd.DataFrame:
    """Embedder, model, region, genes and width of each cache."""
    from cre_core.embed.features import list_embeddings  # imports the embedders (torch): lazily

    return list_embeddings(ws).drop(columns=["path"], errors="ignore")


def _info(args: argparse.Namespace) -> int:
    ws = resolve_workspace(args.workspace)
    info = overview(ws)
    if not info.exists:
        ws.connect(read_only=True)        # raises the usual one-line "no workspace at ..." error
    for table, n in info.counts.items():
        print(f"{table:>15}: {n:,}")
    print(json.dumps({"workspace": info.root, **info.counts, "meta": info.meta, "demo": info.demo,
                      "embedding_caches": len(info.embeddings), "runs": info.runs}))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``info``."""
    info = subparsers.add_parser("info", help="counts of what a workspace holds")
    info.add_argument("--workspace")
    info.set_defaults(func=_info)
