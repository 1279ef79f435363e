"""The perturbation DeepSet (the seed's benchmark) over any gene representation.

fitness(D) = ρ(pool_{g ∈ D} φ(x_g)) for the set D of deleted genes (1, 2, 3... genes).

``x_g`` comes from the model's gene representation (cre_core.embed.genes), held as
``encoder``: a row of a fixed feature table (CRE embeddings: downstream, upstream or both),
held as a non-persistent buffer so it lives on the device once and is not copied into every
checkpoint; with ``--embedder id``, a learned per-gene vector that cannot generalise to genes never
seen in training; or the trainable sequence encoder over the gene's CRE windows.

φ runs once per unique gene of a batch: either on ``torch.unique`` of the batch's indices, or,
when a batch holds enough gene slots that nearly every gene occurs and the representation is a
table (``cheap_all``), on the whole table (one fixed-shape matmul, no host sync on CUDA).
Neither path builds per-sample Python objects.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import torch
from torch import nn
from torch.nn import functional as F

from cre_core.embed.genes import FeatureTable, GeneRepresentation, LearnedGenes
from cre_core.models.base import PAD, FitnessModel, phi_net, pool, rho_net, set_mask

# On the CPU, φ runs on the whole table once a batch holds this many gene slots per gene (then
# ~86% of genes occur in it, and one plain matmul beats unique + gather + scatter-add); below
# that, φ on the unique genes is less work (bench/RESULTS.md, "Training engine throughput").
# On CUDA the whole table is used from
# one slot per gene: it also saves torch.unique's host sync.
WHOLE_TABLE_SLOTS = 2


class DeepSet(FitnessModel):
    """φ over each deleted gene, sum/mean pooling, ρ → fitness.

    Args:
        n_genes: vocabulary size (gene indices are 0..n_genes-1).
        in_dim: width of the feature table; ignored when ``learned``.
        hidden: width of φ's output and ρ's hidden layers.
        phi_layers / rho_layers: depth of φ and ρ (ρ ends in Linear(hidden → 1)).
        norm: ``none`` | ``batch`` | ``layer`` inside φ and ρ.
        pooling: ``sum`` | ``mean``.
        learned: ``--embedder id`` (the identity control): learned per-gene vectors of width ``gene_dim``.
        genes: any other gene representation (the sequence encoder); overrides the above.
    """

    def __init__(
        self, n_genes: int, in_dim: int = 0, hidden: int = 128, phi_layers: int = 2,
        rho_layers: int = 2, norm: str = "none", dropout: float = 0.0, pooling: str = "sum",
        learned: bool = False, gene_dim: int = 64, genes: GeneRepresentation | None = None,
    ) -> None:
        super().__init__()
        self.n_genes, self.pooling, self.learned = n_genes, pooling, learned
        if genes is None:
            genes = LearnedGenes(n_genes, gene_dim) if learned else FeatureTable(n_genes, in_dim)
        self.encoder = genes
        in_dim = genes.out_dim
        self.in_dim = in_dim
        self.phi = phi_net(in_dim, hidden, phi_layers, norm, dropout)
        self.rho = rho_net(hidden, rho_layers, norm, dropout)
        self._phi_cache: torch.Tensor | None = None

    # --- features ------------------------------------------------------------------------
    def set_features(self, features: torch.Tensor) -> None:
        """Install the (n_genes, in_dim) feature table (moved to the module's device)."""
        if not isinstance(self.encoder, FeatureTable):
            raise ValueError(f"{type(self.encoder).__name__} genes have no feature table")
        self.encoder.set_features(features)
        self._phi_cache = None

    def representation(self) -> nn.Module:
        return self.encoder

    def encode(self, genes: torch.Tensor) -> torch.Tensor:
        return self.encoder(genes)

    def phi_all(self) -> torch.Tensor:
        """φ of every gene, (n_genes, hidden)."""
        return self.phi(self.encoder.all())

    def train(self, mode: bool = True) -> DeepSet:
        self._phi_cache = None
        return super().train(mode)

    # --- forward -------------------------------------------------------------------------
    def node_embeddings(self, idx: torch.Tensor) -> torch.Tensor:
        """φ(x_g) for every slot of ``idx`` (B, K, H); padding slots hold φ of gene 0."""
        # eval: the encoder's cache makes the whole table cheap too
        whole = self.encoder.cheap_all or not self.training
        return per_slot(idx, self.n_genes, lambda genes: self.phi(self.encode(genes)), self.phi_all,
                        whole=whole)

    def pooled(self, idx: torch.Tensor) -> torch.Tensor:
        return pool(self.node_embeddings(idx), set_mask(idx), self.pooling)

    def predict(self, idx: torch.Tensor) -> torch.Tensor:
        return self.rho(self.pooled(idx)).squeeze(-1)

    def predict_features(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The same model on raw per-sample features (B, K, in_dim): the naive bench path."""
        return self.rho(pool(self.phi(x), mask, self.pooling)).squeeze(-1)

    def init_output(self, mean: float) -> None:
        with torch.no_grad():
            cast(nn.Linear, self.rho[-1]).bias.fill_(mean)

    @torch.no_grad()
    def cached_phi(self) -> torch.Tensor:
        """φ of every gene, computed once per eval-mode model (the query service's scans)."""
        if self._phi_cache is None or self.training:
            self._phi_cache = self.phi_all().float()
        return self._phi_cache

    @torch.no_grad()
    def scan(self, gene: int, n_genes: int, chunk: int = 0) -> torch.Tensor:
        phi = self.cached_phi()
        pooled = phi[gene] + phi          # ``pool`` of the two slots, without building (n, 2, H)
        if self.pooling == "mean":
            pooled = pooled / 2
        return self.rho(pooled).squeeze(-1).float()


def per_slot(idx: torch.Tensor, n_genes: int, some: Callable[[torch.Tensor], torch.Tensor],
             every: Callable[[], torch.Tensor], whole: bool = True) -> torch.Tensor:
    """A per-gene function at every slot of ``idx`` (B, K, ...), computed once per unique gene.

    ``some(genes)`` computes it for a 1-d tensor of genes, ``every()`` for the whole vocabulary;
    the whole table is used once the batch holds ``WHOLE_TABLE_SLOTS`` slots per gene (one on
    CUDA), unless ``whole`` is False (a costly representation in training: the sequence
    encoder). Padding slots hold gene 0's value: callers mask them.
    """
    safe = idx.clamp(min=0)
    # F.embedding rather than ``[]``: on the CPU its gather and its backward (a scatter-add)
    # are 2-4x faster than advanced indexing's, a third of a training step (bench/train.py)
    if whole and safe.numel() >= n_genes * (1 if safe.is_cuda else WHOLE_TABLE_SLOTS):
        return F.embedding(safe, every())
    uniq, inverse = torch.unique(safe, return_inverse=True)
    return F.embedding(inverse, some(uniq))


def empty_sets(n: int, k: int = 1, device: torch.device | str | None = None) -> torch.Tensor:
    """``n`` wild-type rows (nothing deleted) in the padded index format."""
    return torch.full((n, k), PAD, dtype=torch.long, device=device)
