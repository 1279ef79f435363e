"""Build a model as a run does (its spec, from a config) with test-sized options."""

from __future__ import annotations

from typing import Any

from cre_core.models import FitnessModel
from cre_core.train.config import TrainConfig
from cre_core.train.data import model_from_config


def build_model(name: str, n_genes: int, *, in_dim: int = 0, ontology: Any = None, smf: Any = None,
                genes: Any = None, **options: Any) -> FitnessModel:
    """A fresh ``name`` model over ``n_genes`` genes; ``options`` are TrainConfig options."""
    return model_from_config(TrainConfig.of(model=name, **options), n_genes, in_dim, ontology, smf, genes)
