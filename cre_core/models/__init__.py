"""Fitness models: plain torch modules, no I/O.

Each model is built by its spec (``cre_core.train.specs``) from values (sizes, a feature
width, an ontology, an SMF tensor, a gene representation such as the sequence encoder), never
a path.
"""

from __future__ import annotations

from cre_core.embed.genes import FeatureTable, GeneRepresentation, LearnedGenes
from cre_core.embed.seq_encoder import SeqEncoder
from cre_core.models.base import PAD, FitnessModel
from cre_core.models.baselines import MeanModel, Multiplicative
from cre_core.models.dcell import DCell, Ontology
from cre_core.models.deepset import DeepSet
from cre_core.models.identity import IdentityModel
from cre_core.models.interaction import InteractionModel
from cre_core.models.wt_anchored import WtAnchored
from cre_core.models.wt_diff import WtDiff

__all__ = [
    "PAD", "FitnessModel", "DeepSet", "WtAnchored",
    "WtDiff", "InteractionModel", "DCell", "Ontology", "MeanModel", "Multiplicative",
    "GeneRepresentation", "FeatureTable", "LearnedGenes", "SeqEncoder", "IdentityModel",
]
