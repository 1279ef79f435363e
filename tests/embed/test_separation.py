"""kNN module accuracy: which representation separates the demo's planted modules."""

from __future__ import annotations

import numpy as np

from cre_core.embed.features import load_features
from cre_core.embed.separation import knn_accuracy, module_separation


def test_knn_accuracy_on_known_clusters():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 25)
    centres = rng.normal(size=(4, 16)) * 5
    clustered = centres[labels] + rng.normal(size=(100, 16))
    assert knn_accuracy(clustered, labels, k=5) == 1.0
    noise = rng.normal(size=(100, 16))
    assert knn_accuracy(noise, labels, k=5) < 0.5


def test_kmer_separates_modules_and_random_does_not(workspace_copy):
    ws = workspace_copy
    assert module_separation(ws).empty                      # nothing cached yet: nothing computed
    load_features(ws, "both", "kmer")
    load_features(ws, "both", "random")
    table = module_separation(ws).set_index(["embedder", "features"])
    assert set(table.index) == {(e, f) for e in ("kmer", "random")
                                for f in ("upstream", "downstream", "both")}
    kmer, random = table.loc[("kmer", "both")], table.loc[("random", "both")]
    assert kmer["knn_accuracy"] > 0.8 > 0.2 > random["knn_accuracy"]
    assert kmer["shuffled"] < 0.2 and kmer["genes"] == random["genes"] > 150
    assert " | " in kmer["model"]                            # both regions' models named


def test_listing_reads_caches_written_with_and_without_microseconds(workspace_copy):
    """An exported encoder run stamps microseconds, embed runs whole seconds: both list."""
    from cre_core.embed.cache import cache_path, write_cache

    ws = workspace_copy
    load_features(ws, "upstream", "kmer")
    meta = {"embedder": "encoder", "model": "run-1", "region": "upstream", "dim": 2, "n_genes": 1,
            "created": "2026-12-01T04:42:25.123456+00:00", "seconds": 0.0}
    write_cache(cache_path(ws, "encoder", "run-1", "upstream"), ["G"], ["G"], np.zeros((1, 2)), meta)
    from cre_core.embed.features import list_embeddings

    listed = list_embeddings(ws)
    assert sorted(listed["embedder"]) == ["encoder", "kmer"] and listed["created"].notna().all()
