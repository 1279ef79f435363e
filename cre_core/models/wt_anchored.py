"""``wt-anchored``: the wildtype-difference idea, stable by construction.

With sum pooling the perturbed genome's set embedding is exactly the wild-type sum minus the
deleted genes' terms: S_D = S_wt − Σ_{g∈D} φ(x_g). The prediction is anchored at wild type::

    f(D) = 1 + ρ(S_wt − Σ_{g∈D} φ(x_g)) − ρ(S_wt)          (f(∅) = 1.0 exactly)

The anchor is applied as ``1 + where(D non-empty, ρ(S_D) − ρ(S_wt), 0)``, so wild type is 1.0
bit for bit, in any precision, in train and eval mode alike.

S_wt is a learned vector (the ``s_wt`` parameter), so no whole-genome pass is needed per step
and the step cost does not grow with the genome. This loses nothing: ρ starts with a Linear
layer, and W·(S_wt − Σφ_D) + b = W·(−Σφ_D) + (W·S_wt + b), so any S_wt = Σ_g φ(x_g) the
genome could give is absorbed by that layer's free bias; the family of functions is the same.
With mean pooling S_D = (G·S_wt − Σφ_D) / (G − |D|) for a genome of G genes.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from cre_core.models.base import set_mask
from cre_core.models.deepset import DeepSet, empty_sets


class WtAnchored(DeepSet):
    """DeepSet on the perturbed genome, anchored so the wild type predicts exactly 1.0."""

    wt_model = True

    def __init__(self, n_genes: int, in_dim: int, hidden: int = 128, **kwargs) -> None:
        super().__init__(n_genes, in_dim, hidden, **kwargs)
        self.s_wt = nn.Parameter(torch.zeros(hidden))

    def _anchored(self, nodes: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """f(D) from φ of each slot (B, K, H) and the slots that hold a gene."""
        deleted = (nodes * mask.unsqueeze(-1).to(self.s_wt.dtype)).sum(1)
        if self.pooling == "sum":
            z = self.s_wt - deleted
        else:
            g = float(self.n_genes)
            z = (g * self.s_wt - deleted) / (g - mask.sum(1, keepdim=True)).clamp(min=1)
        out = self.rho(torch.cat([z, self.s_wt.unsqueeze(0).to(z.dtype)])).squeeze(-1).float()
        diff = out[:-1] - out[-1]
        return 1.0 + torch.where(mask.any(1), diff, torch.zeros_like(diff))

    def predict(self, idx: torch.Tensor) -> torch.Tensor:
        return self._anchored(self.node_embeddings(idx), set_mask(idx))

    def predict_features(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The anchored prediction from raw per-gene inputs (B, K, in_dim) (attribution's path)."""
        return self._anchored(self.phi(x), mask)

    def forward(self, idx: torch.Tensor, target: torch.Tensor | None = None) -> dict:
        """Also reports the wild type's prediction, run as one extra row of the same batch."""
        pred_all = self.predict(torch.cat([idx, empty_sets(1, idx.shape[1], idx.device)]))
        pred, wt = pred_all[:-1], pred_all[-1:].detach()
        out = {"pred": pred, "wt_mean": wt.mean(), "wt_loss": ((wt - 1.0) ** 2).mean()}
        if target is not None:
            out["loss"] = F.mse_loss(pred, target)
        return out

    def init_output(self, mean: float) -> None:
        """The anchor fixes the level; start ρ's last bias at 0 (it cancels anyway)."""

    @torch.no_grad()
    def wt_prediction(self) -> float:
        return float(self.predict(empty_sets(1, device=self.s_wt.device))[0])

    @torch.no_grad()
    def scan(self, gene: int, n_genes: int, chunk: int = 0) -> torch.Tensor:
        phi = self.cached_phi()
        deleted = phi[gene] + phi
        if self.pooling == "sum":
            z = self.s_wt - deleted
        else:
            g = float(self.n_genes)
            z = (g * self.s_wt - deleted) / (g - 2)
        out = self.rho(torch.cat([z, self.s_wt.unsqueeze(0)])).squeeze(-1).float()
        return 1.0 + (out[:-1] - out[-1])
