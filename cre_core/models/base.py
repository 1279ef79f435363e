"""What every fitness model shares: the batch format, the output dict, MLP blocks.

A batch is a padded matrix of gene indices ``idx`` of shape (B, K): row b lists the genes
deleted in strain b, padded with ``PAD`` (-1); K is the largest set in the batch (1, 2, 3...).
An all-``PAD`` row is the wild type (nothing deleted).

``forward(idx, target=None)`` returns a dict: ``pred`` (B,) always; ``loss`` (a scalar) when
``target`` is given, plus model-specific statistics (``wt_mean``, ``wt_loss``...). The loss is
computed inside ``forward`` so DistributedDataParallel sees the whole step.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

PAD = -1
NORMS = ("none", "batch", "layer")
POOLINGS = ("sum", "mean")


class FitnessModel(nn.Module):
    """Base class: ``predict`` maps a padded index batch to fitness; ``forward`` adds the loss.

    Subclasses implement ``predict``; models with extra losses override ``forward``.
    ``trainable`` is False for baselines that are fitted in closed form (no optimiser steps).
    """

    trainable = True
    wt_model = False
    uses_interaction = False      # forward takes ``interaction=`` (measured ε/τ) for its loss
    reads_measured_smf = False    # single mutants are predicted by their measured SMF

    def fit(self, idx: np.ndarray, interaction: np.ndarray, train: np.ndarray, val: np.ndarray,
            echo: Callable[[str], None]) -> dict | None:
        """Closed-form models (``trainable`` False) that learn from data solve themselves here
        from the set table's ``idx``, measured ``interaction`` and the train/val row numbers
        (settings chosen on val); returns what was fitted, for the run's summary (None: nothing)."""
        return None

    def predict(self, idx: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, idx: torch.Tensor, target: torch.Tensor | None = None) -> dict:
        pred = self.predict(idx).float()
        out = {"pred": pred}
        if target is not None:
            out["loss"] = F.mse_loss(pred, target)
        return out

    def set_features(self, features: torch.Tensor) -> None:
        """Install the (n_genes, in_dim) feature table; models without one refuse."""
        raise ValueError(f"{type(self).__name__} takes no feature table")

    def representation(self) -> nn.Module | None:
        """The model's gene representation (cre_core.embed.genes), None for models without one."""
        return None

    def set_windows(self, windows: dict) -> None:
        """Install the genes' window codes in a sequence-encoder representation; others refuse."""
        install = getattr(self.representation(), "set_windows", None)
        if install is None:
            raise ValueError(f"{type(self).__name__} has no sequence encoder")
        install(windows)

    def init_output(self, mean: float) -> None:
        """Start the output at the training mean (saves the first epochs of every run)."""

    def param_groups(self, weight_decay: float) -> list[dict]:
        """AdamW parameter groups; models whose parts need their own decay split them."""
        return [{"params": [p for p in self.parameters() if p.requires_grad],
                 "weight_decay": weight_decay}]

    def eval_rows(self, default: int) -> int:
        """Rows per prediction batch (models with wide per-row state lower it)."""
        return default

    def wt_prediction(self) -> float | None:
        """The model's prediction for wild type (nothing deleted), for wt models; else None."""
        return None

    @torch.no_grad()
    def scan(self, gene: int, n_genes: int, chunk: int = 4096) -> torch.Tensor:
        """Predicted fitness of the pairs (gene, p) for every p in 0..n_genes-1 (eval mode).

        The generic path runs ``predict`` on chunks of pairs; models with a cheaper exact
        route (DeepSets: φ of every gene once, one batched ρ) override it.
        """
        partners = torch.arange(n_genes)
        out = []
        for start in range(0, n_genes, chunk):
            part = partners[start:start + chunk]
            idx = torch.stack([torch.full_like(part, gene), part], dim=1)
            out.append(self.predict(idx).float())
        return torch.cat(out)


def set_mask(idx: torch.Tensor) -> torch.Tensor:
    """True where ``idx`` holds a gene (not padding)."""
    return idx >= 0


class Norm(nn.Module):
    """BatchNorm / LayerNorm / identity over the last dimension of any-rank input."""

    def __init__(self, kind: str, dim: int) -> None:
        super().__init__()
        if kind not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {kind!r}")
        self.kind = kind
        self.norm = {"batch": nn.BatchNorm1d, "layer": nn.LayerNorm}.get(kind, lambda d: nn.Identity())(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind != "batch" or x.dim() == 2:
            return self.norm(x)
        shape = x.shape
        return self.norm(x.reshape(-1, shape[-1])).reshape(shape)


def block(in_dim: int, out_dim: int, norm: str, dropout: float) -> list[nn.Module]:
    """Linear → Norm → ReLU (→ Dropout)."""
    layers: list[nn.Module] = [nn.Linear(in_dim, out_dim), Norm(norm, out_dim), nn.ReLU()]
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    return layers


def phi_net(in_dim: int, hidden: int, layers: int, norm: str, dropout: float) -> nn.Sequential:
    """φ: ``layers`` blocks, in_dim → hidden, ending in a non-linearity."""
    mods: list[nn.Module] = []
    for i in range(max(1, layers)):
        mods += block(in_dim if i == 0 else hidden, hidden, norm, dropout)
    return nn.Sequential(*mods)


def rho_net(hidden: int, layers: int, norm: str, dropout: float) -> nn.Sequential:
    """ρ: ``layers - 1`` blocks then Linear(hidden → 1)."""
    mods: list[nn.Module] = []
    for _ in range(max(1, layers) - 1):
        mods += block(hidden, hidden, norm, dropout)
    mods.append(nn.Linear(hidden, 1))
    return nn.Sequential(*mods)


def pool(nodes: torch.Tensor, mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """Sum or mean of (B, K, H) node vectors over the genes present in each row."""
    summed = (nodes * mask.unsqueeze(-1).to(nodes.dtype)).sum(1)
    if pooling == "sum":
        return summed
    return summed / mask.sum(1, keepdim=True).clamp(min=1).to(summed.dtype)
