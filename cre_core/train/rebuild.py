"""Rebuild a trained run's model from a checkpoint: what resume and the query service share.

A checkpoint's ``meta`` holds everything the model needs besides its weights: the config, the
gene vocabulary, the feature width and standardisation, the DCell ontology and the training
mean. Resuming a run and predicting with it both go through ``rebuild_model``, so a model is
put back together in exactly one way.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from cre_core.data.go import Ontology
from cre_core.models import FitnessModel
from cre_core.train import data as D
from cre_core.train.config import TrainConfig
from cre_core.workspace import Workspace


def run_meta(config: TrainConfig, genes: list[str], in_dim: int, features: D.Features | None,
             ontology: Ontology | None, train_mean: float) -> dict[str, Any]:
    """What ``rebuild_model`` needs besides the weights (saved in every checkpoint)."""
    return {
        "config": config.to_dict(), "genes": list(genes), "n_genes": len(genes), "in_dim": in_dim,
        "train_mean": train_mean,
        "feature_mean": torch.from_numpy(features.mean) if features is not None else None,
        "feature_std": torch.from_numpy(features.std) if features is not None else None,
        "ontology": ontology.to_dict() if ontology is not None else None,
    }


def rebuild_model(ws: Workspace, checkpoint: dict[str, Any], smf: np.ndarray | None = None,
                  device: str | torch.device = "cpu", compute: bool = False) -> FitnessModel:
    """The checkpoint's model with its weights, on ``device``.

    ``smf`` is the store's single-mutant fitness (training passes it; a query needs none: the
    weights of a model that reads it hold it). Features are standardised with the run's own statistics; with
    ``compute=False`` (queries) missing embeddings are refused, never computed and cached.
    """
    meta = checkpoint["meta"]
    config = TrainConfig.from_dict(meta["config"])
    genes = list(meta["genes"])
    ontology = Ontology.from_dict(meta["ontology"]) if meta.get("ontology") else None
    model = D.model_from_config(config, len(genes), meta["in_dim"], ontology, smf)
    if config.uses_table:
        stats = (meta["feature_mean"].cpu().numpy(), meta["feature_std"].cpu().numpy())
        table = D.gene_features(ws, config, genes, stats=stats, compute=compute).table
        model.set_features(torch.from_numpy(table))
    if config.uses_windows:
        model.set_windows(D.gene_windows(ws, config.features, genes).codes)
    model.load_state_dict(checkpoint["model"])
    return model.to(device)
