"""A trained sequence-encoder run's gene vectors as an embedding like any other.

``export_encoder(ws, run_id)`` writes ``embeddings/encoder/<run_id>/<region>.parquet`` in the
cache layout of cre_core.embed.cache (one file per region the run read, keyed by the window's
content address): each region's block of the encoder's output depends on that region's window
only, so the vectors are true per-window embeddings (with a sense view, the either-strand
blocks: one vector per region, as the motif report reads them). ``list_embeddings`` then lists them and
``load_features(ws, features, embedder="encoder", model=run_id)`` loads them (the UMAP, kNN and
any model can use them).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from cre_core.embed.base import read_windows, sequence_key
from cre_core.embed.cache import cache_path, write_cache
from cre_core.errors import CreError
from cre_core.interpret.motifs import run_encoder
from cre_core.workspace import Workspace

EXPORTED = "encoder"      # the embedder name of exported runs


def export_encoder(ws: Workspace, run_id: str) -> list[str]:
    """Write the run's per-region vectors; returns the files written (relative to embeddings/)."""
    t0 = time.perf_counter()
    loaded, encoder = run_encoder(ws, run_id)
    vectors = encoder.all().float().cpu().numpy()
    index = loaded.index
    stored = read_windows(ws, list(encoder.regions))
    block = 2 * encoder.filters
    written = []
    for r, region in enumerate(encoder.regions):
        windows = [w for w in stored[region] if w.gene in index]
        if not windows:
            raise CreError(f"no {region} window of run {loaded.run_id}'s genes is in the store")
        rows = [index[w.gene] for w in windows]
        path = cache_path(ws, EXPORTED, loaded.run_id, region)
        meta = {"embedder": EXPORTED, "model": f"{EXPORTED}:{loaded.run_id}", "region": region,
                "n_genes": len(windows), "dim": block, "created": datetime.now(UTC).isoformat(),
                "seconds": round(time.perf_counter() - t0, 3),
                "params": {"model_arg": loaded.run_id, "filters": encoder.filters, "width": encoder.width}}
        write_cache(path, [w.gene for w in windows], [sequence_key(w) for w in windows],
                    vectors[rows, r * block:(r + 1) * block], meta)
        written.append(str(path.relative_to(ws.embeddings_dir)))
    return written
