"""Gene representations from the CRE windows (docs/design.md section 2) and everything around them.

- ``registry``: every embedder by name (kmer, words, random, specieslm; the trained encoder and
  ``id``), what it is and where it lives; ``make_embedder`` builds a cached one;
- ``base``: the Embedder interface, windows read from the store, regions and feature sets;
- ``kmer`` (kmer, words), ``random``, ``specieslm``: the cached embedders;
- ``genes``: gene representations as torch modules (a feature table, learned per-gene vectors),
  ``seq_encoder`` and ``word_seeds``: the trained sequence encoder and its filters' start;
- ``cache``: content-addressed Parquet caches under ``WORKSPACE/embeddings``;
- ``runner``: bring the caches up to date (only missing windows are computed);
- ``features``: ``load_features`` (what models train on) and ``list_embeddings``;
- ``umap_view``: seeded, cached UMAP (the chart is in the app's dashboard.charts);
- ``separation``: kNN module accuracy of an embedding;
- ``jobs``: background ``embed`` runs started from the app;
- ``commands``: the ``embed`` and ``umap`` CLI commands.

Those modules are private; this is the surface pages and benchmarks use. It imports no torch:
the torch modules (``genes``, ``seq_encoder``) are imported by the models that use them.
"""

from cre_core.embed import jobs
from cre_core.embed.base import FEATURES, REGIONS, Embedder, Window, feature_regions, read_windows
from cre_core.embed.cache import unreadable_caches
from cre_core.embed.features import list_embeddings, load_features
from cre_core.embed.registry import EMBEDDERS, REGISTRY, EmbedderInfo, make_embedder
from cre_core.embed.runner import embed_workspace
from cre_core.embed.separation import module_separation
from cre_core.embed.specieslm import DEFAULT_MODEL, DEFAULT_SPECIES, device_note
from cre_core.embed.umap_view import UnreadableUmap, compute_umap, umap_frame

__all__ = [
    "DEFAULT_MODEL", "DEFAULT_SPECIES", "EMBEDDERS", "FEATURES", "REGIONS", "REGISTRY", "Embedder",
    "EmbedderInfo", "UnreadableUmap", "Window", "compute_umap", "device_note", "embed_workspace",
    "feature_regions", "jobs", "list_embeddings", "load_features", "make_embedder", "module_separation",
    "read_windows", "umap_frame", "unreadable_caches",
]
