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
