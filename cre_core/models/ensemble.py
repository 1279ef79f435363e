"""K trained members behind one model: the mean is the prediction, the spread feeds the interval.

``predict``/``scan`` give the member mean, so every caller of a single model (the query
service, ``predict_rows``) works unchanged; ``member_predict``/``member_scan`` return all K
rows at once, (K, B), for the interval (``cre_core.train.ensemble``).
"""

from __future__ import annotations

from typing import cast

import torch
from torch import nn

from cre_core.models.base import FitnessModel


class Ensemble(FitnessModel):
    """Members of one architecture, each trained from its own seed."""

    trainable = False

    def __init__(self, members: list[FitnessModel]) -> None:
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)

    def __len__(self) -> int:
        return len(self.members)

    def each(self) -> list[FitnessModel]:
        """The members, typed (nn.ModuleList yields plain modules)."""
        return [cast(FitnessModel, m) for m in self.members]

    def member_predict(self, idx: torch.Tensor) -> torch.Tensor:
        return torch.stack([m.predict(idx).float() for m in self.each()])

    def predict(self, idx: torch.Tensor) -> torch.Tensor:
        return self.member_predict(idx).mean(0)

    def eval_rows(self, default: int) -> int:
        return min(m.eval_rows(default) for m in self.each())

    @torch.no_grad()
    def member_scan(self, gene: int, n_genes: int) -> torch.Tensor:
        """(K, n_genes): every member's fast scan (DeepSets: φ of every gene once per member)."""
        return torch.stack([m.scan(gene, n_genes).float() for m in self.each()])

    @torch.no_grad()
    def scan(self, gene: int, n_genes: int, chunk: int = 0) -> torch.Tensor:
        return self.member_scan(gene, n_genes).mean(0)
