"""``wt-diff``: the seed's wildtype-difference DeepSet, reproduced faithfully (unstable on purpose).

Each strain is the whole genome minus its deleted genes, encoded as a set: φ runs over every
gene still present in every set of the batch (a node-level pass of size ~(B + W)·G), with the
chosen normalisation (``batch`` normalises over all nodes of the batch, as a graph library's
BatchNorm does; ``layer`` per node; ``none``). The wild type (nothing deleted) rides along in
every batch as W extra sets with target 1.0. With z = pool(φ(set)) the prediction is::

    f(D) = ρ(z_D − z_wt)          z_wt from the wild-type sets of the same batch

so the wild type's own prediction is ρ(0), pinned to 1.0 only by its share of the loss. The
same ``norm`` is used in ρ's hidden layers: under ``batch`` the wild type's ρ(0) is normalised
with statistics of the samples it is batched with, which is how ``wt_mean`` wanders from 1.0.
Options reproduce the seed's attempted fixes: gradient clipping and ``wt_warmup`` (fit the
wild type alone to 1.0 for N steps first; see the training loop).

Only φ's first Linear layer (per node, no normalisation before it) is computed once on the
genome and gathered per node; it is the same arithmetic as applying it per node. Everything
after it (normalisation, deeper φ layers, pooling) runs per node per set, so the step cost
grows linearly with the genome, as in the seed.
"""

from __future__ import annotations

from typing import cast

import torch
from torch import nn
from torch.nn import functional as F

from cre_core.embed.genes import FeatureTable, GeneRepresentation
from cre_core.models.base import PAD, FitnessModel, Norm, block, rho_net, set_mask


class WtDiff(FitnessModel):
    """The seed's wildtype-difference model; ``wt_copies`` wild-type sets per batch."""

    wt_model = True

    def __init__(
        self, n_genes: int, in_dim: int, hidden: int = 128, phi_layers: int = 2,
        rho_layers: int = 2, norm: str = "none", dropout: float = 0.0, pooling: str = "sum",
        wt_copies: int = 1, genes: GeneRepresentation | None = None,
    ) -> None:
        super().__init__()
        # the genes' inputs: a feature table, or any representation (its ``all()`` runs per step)
        self.encoder = FeatureTable(n_genes, in_dim) if genes is None else genes
        in_dim = self.encoder.out_dim
        self.n_genes, self.in_dim, self.pooling, self.wt_copies = n_genes, in_dim, pooling, wt_copies
        self.phi_in = nn.Linear(in_dim, hidden)
        rest: list[nn.Module] = [Norm(norm, hidden), nn.ReLU()]
        if dropout > 0:
            rest.append(nn.Dropout(dropout))
        for _ in range(max(1, phi_layers) - 1):
            rest += block(hidden, hidden, norm, dropout)
        self.phi_rest = nn.Sequential(*rest)
        self.rho = rho_net(hidden, rho_layers, norm, dropout)

    def representation(self) -> nn.Module:
        return self.encoder

    def set_features(self, features: torch.Tensor) -> None:
        if not isinstance(self.encoder, FeatureTable):
            raise ValueError(f"{type(self.encoder).__name__} genes have no feature table")
        self.encoder.set_features(features)

    def init_output(self, mean: float) -> None:
        with torch.no_grad():
            cast(nn.Linear, self.rho[-1]).bias.fill_(mean)

    def set_embeddings(self, idx: torch.Tensor) -> torch.Tensor:
        """z for each row of ``idx``: pool of φ over the whole genome minus the row's genes."""
        rows, g = idx.shape[0], self.n_genes
        present = torch.ones(rows, g, dtype=torch.bool, device=idx.device)
        mask = set_mask(idx)
        r = torch.arange(rows, device=idx.device).unsqueeze(1).expand_as(idx)
        present[r[mask], idx[mask]] = False
        set_id, gene_id = present.nonzero(as_tuple=True)
        first = self.phi_in(self.encoder.all())             # per-node linear, once per gene
        nodes = self.phi_rest(first[gene_id]).float()       # (M, H): every node of every set
        z = torch.zeros(rows, nodes.shape[1], dtype=torch.float32, device=nodes.device)
        z = z.index_add(0, set_id, nodes)                   # fp32 sum over the genome, also under bf16
        if self.pooling == "mean":
            z = z / present.sum(1, keepdim=True).clamp(min=1).to(z.dtype)
        return z

    def forward(self, idx: torch.Tensor, target: torch.Tensor | None = None, wt_only: bool = False) -> dict:
        if not self.training and target is None:
            return self._eval_forward(idx)
        w = max(2, self.wt_copies) if wt_only else self.wt_copies   # BatchNorm needs two rows
        wt_rows = torch.full((w, idx.shape[1]), PAD, dtype=idx.dtype, device=idx.device)
        sets = wt_rows if wt_only else torch.cat([idx, wt_rows])
        z = self.set_embeddings(sets)
        z_wt = z[-w:].mean(0, keepdim=True)
        pred_all = self.rho(z - z_wt).squeeze(-1).float()
        wt = pred_all[-w:]
        out = {"pred": pred_all[:-w], "wt_mean": wt.detach().mean()}
        out["wt_loss"] = F.mse_loss(wt.detach(), torch.ones_like(wt))
        if target is not None:
            if wt_only:
                out["loss"] = F.mse_loss(wt, torch.ones_like(wt))
            else:
                full = torch.cat([target.float(), torch.ones(w, device=target.device)])
                out["loss"] = F.mse_loss(pred_all, full)
        return out

    def _eval_forward(self, idx: torch.Tensor) -> dict:
        """Eval mode: every norm is per node, so z_D − z_wt needs φ of the genome once and of D.

        Sum pooling: z_D − z_wt = −Σ_{g∈D} φ(x_g); mean: (S − Σφ_D)/(G − |D|) − S/G. The same
        numbers as the whole-genome pass up to float rounding (tests check it), at a cost that
        does not grow with the batch times the genome.
        """
        phi = self.phi_rest(self.phi_in(self.encoder.all())).float()
        mask = set_mask(idx)
        deleted = (phi[idx.clamp(min=0)] * mask.unsqueeze(-1).to(phi.dtype)).sum(1)
        if self.pooling == "sum":
            d = -deleted
        else:
            g, s = float(self.n_genes), phi.sum(0, keepdim=True)
            d = (s - deleted) / (g - mask.sum(1, keepdim=True)).clamp(min=1).to(phi.dtype) - s / g
        out = self.rho(torch.cat([d, torch.zeros_like(d[:1])])).squeeze(-1).float()
        return {"pred": out[:-1], "wt_mean": out[-1:].mean(), "wt_loss": (out[-1:] - 1.0).pow(2).mean()}

    def predict(self, idx: torch.Tensor) -> torch.Tensor:
        return self.forward(idx)["pred"]

    @torch.no_grad()
    def wt_prediction(self) -> float:
        idx = torch.full((1, 1), PAD, dtype=torch.long, device=cast(nn.Linear, self.rho[-1]).bias.device)
        return float(self.forward(idx)["pred"][0])
