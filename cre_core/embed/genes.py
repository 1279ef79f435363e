"""Gene representations: what a model knows about each gene before it sees a set.

Every model that reads per-gene input takes one ``GeneRepresentation``: a module mapping a
1-d tensor of gene indices to a (len, out_dim) float tensor. Models call it on the unique
genes of a batch only, so a costly representation (a sequence encoder) runs once per gene.

- ``FeatureTable``: a frozen table of embeddings (kmer, SpeciesLM, the random control), held
  as a non-persistent buffer so it lives on the device once and is not copied into checkpoints.
- ``LearnedGenes``: a learned vector per gene (the gene-identity baseline); it cannot
  generalise to genes never seen in training.
- ``SeqEncoder`` (cre_core.embed.seq_encoder): a CNN over the genes' one-hot CRE windows,
  trained end to end; its ``all()`` is a pass over every window, so models call it only on the
  genes a batch holds (``cheap_all`` is False).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class GeneRepresentation(nn.Module):
    """Gene indices (u,) → vectors (u, out_dim)."""

    out_dim: int
    n_genes: int
    # True when ``all()`` costs no more than a gather (a table): models may then run φ on
    # every gene at once instead of on a batch's unique genes
    cheap_all = True
    # the columns the interaction model's fitness trunk and its ε map read (a SeqEncoder with
    # a sense view: its first and second half; else all of them)
    trunk_columns = pair_columns = slice(None)

    @property
    def trunk_dim(self) -> int:
        return len(range(self.out_dim)[self.trunk_columns])

    @property
    def pair_dim(self) -> int:
        return len(range(self.out_dim)[self.pair_columns])

    def forward(self, genes: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def all(self) -> torch.Tensor:
        """The representation of every gene, (n_genes, out_dim)."""
        return self(torch.arange(self.n_genes, device=self.device))

    @property
    def device(self) -> torch.device:
        for t in self.parameters():
            return t.device
        for b in self.buffers():
            return b.device
        return torch.device("cpu")


class FeatureTable(GeneRepresentation):
    """A fixed (n_genes, in_dim) feature table; install it with ``set_features``."""

    table: torch.Tensor                      # buffer, declared for the type checker

    def __init__(self, n_genes: int, in_dim: int) -> None:
        super().__init__()
        self.n_genes, self.out_dim = n_genes, in_dim
        self.register_buffer("table", torch.zeros(n_genes, in_dim), persistent=False)

    def set_features(self, features: torch.Tensor) -> None:
        """Install the table (moved to the module's device)."""
        if tuple(features.shape) != (self.n_genes, self.out_dim):
            raise ValueError(
                f"feature table is {tuple(features.shape)}, model expects {(self.n_genes, self.out_dim)}"
            )
        self.table = features.to(self.table.device, torch.float32)

    def forward(self, genes: torch.Tensor) -> torch.Tensor:
        return F.embedding(genes, self.table)

    def all(self) -> torch.Tensor:
        return self.table


class LearnedGenes(GeneRepresentation):
    """One learned vector per gene, initialised at scale 1/sqrt(dim).

    A bare parameter named ``weight`` (as nn.Embedding's), so a model holding it as
    ``encoder`` keeps the checkpoint key ``encoder.weight`` of runs saved before this class.
    """

    def __init__(self, n_genes: int, dim: int) -> None:
        super().__init__()
        self.n_genes, self.out_dim = n_genes, dim
        self.weight = nn.Parameter(torch.randn(n_genes, dim) * dim ** -0.5)

    def forward(self, genes: torch.Tensor) -> torch.Tensor:
        return F.embedding(genes, self.weight)

    def all(self) -> torch.Tensor:
        return self.weight
