"""Embeddings of CRE windows (DESIGN.md section 2) and everything around them.

- ``base``: the Embedder interface, windows read from the store, regions and feature sets;
- ``kmer``: the default, weight-free k-mer spectrum embedder (any CPU);
- ``random``: the seeded per-gene Gaussian control;
- ``specieslm``: SpeciesLM (local folder or hub cache, never downloaded), batched fast path;
- ``cache``: content-addressed Parquet caches under ``WORKSPACE/embeddings``;
- ``runner``: bring the caches up to date (only missing windows are computed);
- ``features``: ``load_features`` (what models train on) and ``list_embeddings``;
- ``umap_view``: seeded, cached UMAP (the chart is in the app's dashboard.charts);
- ``jobs``: background ``embed`` runs started from the app;
- ``commands``: the ``embed`` and ``umap`` CLI commands.
"""
