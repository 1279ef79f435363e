"""Encoder pretraining walks the single mutants of the genes the run can learn pairs from."""

from __future__ import annotations

from types import SimpleNamespace

import torch

from cre_core.models.base import PAD
from cre_core.train.loop import _Run


def test_pretraining_singles_are_those_of_genes_with_training_pairs():
    run = object.__new__(_Run)
    # singles of genes 0..5; pairs (0, 1) and (2, 3) train, (4, 5) is a test pair
    run.idx = torch.tensor([[g, PAD, PAD] for g in range(6)] + [[0, 1, PAD], [2, 3, PAD], [4, 5, PAD]])
    run.rows = {"train": torch.tensor([0, 1, 2, 3, 4, 5, 6, 7])}
    run.table = SimpleNamespace(n_genes=6)
    assert run._learnable_singles().tolist() == [0, 1, 2, 3]
