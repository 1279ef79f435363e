"""Fitness models: plain torch modules, no I/O.

``build_model`` is the one registry the training loop and the query service share; it takes
what a model needs as values (sizes, a feature width, an ontology, SMF tensor, a gene
representation such as the sequence encoder), never a path.
"""

from __future__ import annotations

from typing import NotRequired, TypedDict

import torch

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

MODELS = ("deepset", "wt-diff", "wt-anchored", "dcell", "mean", "multiplicative", "gene-id", "interaction",
          "identity", "identity-seq")
# models that read CRE embeddings
FEATURE_MODELS = ("deepset", "wt-diff", "wt-anchored", "interaction", "identity-seq")


class _SetArgs(TypedDict):
    """The keyword arguments the set models (DeepSet, WtAnchored, WtDiff) share."""

    hidden: int
    phi_layers: int
    rho_layers: int
    norm: str
    dropout: float
    pooling: str
    genes: NotRequired[GeneRepresentation]


def build_model(
    name: str, n_genes: int, *, in_dim: int = 0, hidden: int = 128, phi_layers: int = 2,
    rho_layers: int = 2, norm: str = "none", dropout: float = 0.0, pooling: str = "sum",
    gene_dim: int = 64, wt_copies: int = 1, ontology: Ontology | None = None,
    dcell_alpha: float = 0.3, dcell_precision: str = "fp32", smf: torch.Tensor | None = None,
    learned_genes: bool = False,
    rank: int = 32, smf_aware: bool = True, interaction_weight: float = 5.0,
    pair_from: str = "features", pair_decay: float = 1.0, genes: GeneRepresentation | None = None,
) -> FitnessModel:
    """A fresh model by name (see ``MODELS``).

    ``genes`` replaces the feature table of the FEATURE_MODELS (e.g. a SeqEncoder).
    ``interaction`` reads a feature table of width ``in_dim``, or, with ``learned_genes``,
    learned per-gene vectors of width ``gene_dim`` (gene-id as its representation).
    """
    common = _SetArgs(hidden=hidden, phi_layers=phi_layers, rho_layers=rho_layers, norm=norm,
                      dropout=dropout, pooling=pooling)
    if name in FEATURE_MODELS and genes is not None:
        common["genes"] = genes
    if name == "deepset":
        return DeepSet(n_genes, in_dim, **common)
    if name == "gene-id":
        return DeepSet(n_genes, learned=True, gene_dim=gene_dim, **common)
    if name == "wt-anchored":
        return WtAnchored(n_genes, in_dim, **common)
    if name == "wt-diff":
        return WtDiff(n_genes, in_dim, wt_copies=wt_copies, **common)
    if name == "dcell":
        if ontology is None:
            raise ValueError("dcell needs an ontology")
        return DCell(n_genes, ontology, alpha=dcell_alpha, precision=dcell_precision)
    if name == "interaction":
        if genes is None:
            genes = LearnedGenes(n_genes, gene_dim) if learned_genes else FeatureTable(n_genes, in_dim)
        return InteractionModel(genes, hidden=hidden, phi_layers=phi_layers, rank=rank, norm=norm,
                                dropout=dropout, smf=smf, smf_aware=smf_aware,
                                interaction_weight=interaction_weight, pair_from=pair_from,
                                pair_decay=pair_decay)
    if name in ("identity", "identity-seq"):
        table = None
        if name == "identity-seq":
            if genes is not None and not isinstance(genes, FeatureTable):
                raise ValueError("identity-seq reads a feature table (kmer, words, random, specieslm)")
            table = genes if genes is not None else FeatureTable(n_genes, in_dim)
        return IdentityModel(n_genes, smf, table)
    if name == "mean":
        return MeanModel()
    if name == "multiplicative":
        if smf is None:
            raise ValueError("multiplicative needs the SMF table")
        return Multiplicative(smf)
    raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")


__all__ = [
    "MODELS", "FEATURE_MODELS", "PAD", "FitnessModel", "build_model", "DeepSet", "WtAnchored",
    "WtDiff", "InteractionModel", "DCell", "Ontology", "MeanModel", "Multiplicative",
    "GeneRepresentation", "FeatureTable", "LearnedGenes", "SeqEncoder", "IdentityModel",
]
