"""The interaction model's ε map in closed form: ridge regression of measured ε on x̃ₐᵀ W x̃_b.

With ``pair_from="features"`` ε̂_ab is a bilinear form of the two genes' representations
(x̃ = [x, 1], so linear and constant terms are in W). It is linear in W, so the ridge problem

    min_W  Σ_(a,b) measured (x̃ₐᵀ W x̃_b − ε_ab)²  +  λ · n_pairs · ‖W‖²

has one optimum, which conjugate gradients reach without forming the (D+1)² × (D+1)² normal
matrix: each step is two products with the gene-by-gene matrix of pairs (dense n × n; the
yeast genome's 6,000 genes make it 290 MB). SGD on a low-rank factorisation of the same form
stops far from that optimum when the genes are new: on the demo's gene split (small, seeds 0 / 1,
words features) ε r went from 0.49x / 0.34x the gene-level ceiling with the trained map to
0.64x / 0.53x with the ridge optimum (bench/RESULTS.md, "Round 2, session 3").

A symmetric W is Σ_k λ_k v_k v_kᵀ, so the solution is installed into the model's own pair map as
its ``rank`` largest eigen-components: checkpoints, scans and ensembles are unchanged.

The columns are standardised over every gene before the solve (and the installed components
mapped back to the representation's units), so the penalty weighs each column alike. Feature
tables are z-scored already (a no-op for them); a sequence encoder's BatchNorm standardises by
the running statistics of training batches, which left its columns at sd 0.8-3.5 over all genes
and the weak-penalty columns overfitting (gene split, seed 1: ε r 0.48x the ceiling offline,
0.55x standardised; bench/RESULTS.md, "Encoder ε on the gene split, session 4").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from cre_core.train.metrics import mse, pearson

if TYPE_CHECKING:
    from cre_core.models.interaction import InteractionModel

LAMBDAS = (300.0, 100.0, 30.0, 10.0, 3.0, 1.0)   # searched from the strongest, each solve
                                                  # starting from the last; stops once past the best
MAX_ITER = 100
TOL = 1e-3


@dataclass
class PairData:
    """Measured ε of gene pairs as a symmetric gene-by-gene matrix (0 where unmeasured)."""

    target: torch.Tensor      # (n, n) ε − mean at (a, b) and (b, a)
    mask: torch.Tensor        # (n, n) 1 where measured
    mean: float
    count: int                # measured pairs (each counted once)

    @classmethod
    def build(cls, n: int, a: np.ndarray, b: np.ndarray, eps: np.ndarray) -> PairData:
        mean = float(eps.mean())
        target = torch.zeros(n, n, dtype=torch.float64)
        mask = torch.zeros(n, n, dtype=torch.float64)
        ia, ib = torch.from_numpy(a), torch.from_numpy(b)
        for r, c in ((ia, ib), (ib, ia)):
            target[r, c] = torch.from_numpy(eps - mean)
            mask[r, c] = 1.0
        return cls(target, mask, mean, len(eps))


def solve(x: torch.Tensor, data: PairData, lam: float, start: torch.Tensor | None = None) -> torch.Tensor:
    """The ridge optimum W ((D+1) × (D+1), symmetric) for ``x`` (n, D) by preconditioned
    conjugate gradients.

    The preconditioner is the normal operator of a fully measured matrix of the same gene
    degrees, C W C / S (C = X̃ᵀ diag(degree) X̃, S = the degrees' sum), which its eigenbasis
    inverts exactly: tens of iterations instead of hundreds."""
    xt = _augmented(x)
    penalty = lam * 2 * data.count
    degree = data.mask.sum(1)
    values, basis = torch.linalg.eigh(xt.T @ (degree[:, None] * xt) / degree.sum().clamp(min=1).sqrt())
    scale = values[:, None] * values[None, :] + penalty

    def normal(w: torch.Tensor) -> torch.Tensor:      # X̃ᵀ (mask ∘ X̃ W X̃ᵀ) X̃ + penalty W
        return xt.T @ ((data.mask * (xt @ w @ xt.T)) @ xt) + penalty * w

    def precondition(r: torch.Tensor) -> torch.Tensor:
        return basis @ ((basis.T @ r @ basis) / scale) @ basis.T

    rhs = xt.T @ data.target @ xt
    w = torch.zeros_like(rhs) if start is None else start.clone()
    r = rhs - normal(w)
    z = precondition(r)
    p, rz = z.clone(), float((r * z).sum())
    stop = TOL**2 * rz                                  # in the preconditioned norm
    for _ in range(MAX_ITER):
        if rz <= stop:
            break
        q = normal(p)
        alpha = rz / float((p * q).sum())
        w, r = w + alpha * p, r - alpha * q
        z = precondition(r)
        rz_new = float((r * z).sum())
        p, rz = z + (rz_new / rz) * p, rz_new
    return (w + w.T) / 2


def _augmented(x: torch.Tensor) -> torch.Tensor:
    """x̃ = [x, 1] in float64: the constant column carries W's linear and constant terms."""
    return torch.cat([x.double(), torch.ones(len(x), 1, dtype=torch.float64)], dim=1)


def predict(x: torch.Tensor, w: torch.Tensor, mean: float, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    xt = _augmented(x)
    left = (xt @ w)[torch.from_numpy(a)]
    return ((left * xt[torch.from_numpy(b)]).sum(1) + mean).numpy()


def standardise(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(x - mean) / sd`` per column over the genes (a constant column is only centred), the
    means and the sds."""
    mean, sd = x.mean(0), x.std(0)
    sd = torch.where(sd > 1e-8, sd, torch.ones_like(sd))
    return (x - mean) / sd, mean, sd


def in_units_of(vectors: torch.Tensor, mean: torch.Tensor, sd: torch.Tensor) -> torch.Tensor:
    """Components over [z, 1] for z = (x - mean) / sd → the same components over [x, 1]."""
    linear = vectors[:-1] / sd[:, None]
    return torch.cat([linear, (vectors[-1] - (mean / sd) @ vectors[:-1]).unsqueeze(0)])


def components(w: torch.Tensor, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``rank`` eigen-components of largest |λ|: vectors (D+1, rank) and weights (rank,)."""
    values, vectors = torch.linalg.eigh(w)
    top = torch.argsort(values.abs(), descending=True)[:rank]
    return vectors[:, top], values[top]


def _pairs(idx: np.ndarray, interaction: np.ndarray, rows: np.ndarray):
    rows = rows[(idx[rows, 1] >= 0) & (idx[rows, 2] < 0) & np.isfinite(interaction[rows])]
    return idx[rows, 0], idx[rows, 1], interaction[rows].astype(np.float64)


def refit(model: InteractionModel, idx: np.ndarray, interaction: np.ndarray, train: np.ndarray,
          val: np.ndarray) -> dict:
    """Replace ``model``'s ε map by the ridge optimum with the λ of least validation ε MSE, if
    that beats the trained map there (else keep it). ``idx`` (n, 3) PAD-padded gene sets,
    ``interaction`` their measured ε/τ (NaN where none), ``train``/``val`` row numbers.
    Returns what was done, for the run's summary."""
    tr, va = _pairs(idx, interaction, train), _pairs(idx, interaction, val)
    if len(tr[2]) < 10 or len(va[2]) < 3:
        return {"used": False, "reason": "too few measured ε pairs to fit and choose λ"}
    model.eval()
    with torch.no_grad():
        x, mean, sd = standardise(model.pair_inputs().double().cpu())
        sets = torch.from_numpy(np.stack([va[0], va[1]], 1)).to(next(model.parameters()).device)
        trained = model.terms(sets)["interaction"].double().cpu().numpy()
    sgd = {"val_eps_mse": mse(va[2], trained), "val_eps_r": pearson(trained, va[2])}
    least = sgd["val_eps_mse"]
    best: dict = {"lambda": None, **sgd}
    data = PairData.build(len(x), *tr)
    w: torch.Tensor | None = None
    chosen: torch.Tensor | None = None
    tried = []
    for lam in LAMBDAS:
        w = solve(x, data, lam, w)
        pred = predict(x, w, data.mean, va[0], va[1])
        err = mse(va[2], pred)
        entry = {"lambda": lam, "val_eps_mse": err, "val_eps_r": pearson(pred, va[2])}
        tried.append(entry)
        if err < least:
            best, least, chosen = entry, err, w
        elif chosen is not None:     # past the best λ: weaker penalties only overfit more
            break
    out = {"used": chosen is not None, "chosen": best, "trained_map": sgd, "tried": tried,
           "n_pairs": data.count}
    if chosen is not None:
        vectors, weights = components(chosen, model.rank)
        model.install_pair_map(in_units_of(vectors, mean, sd), weights, data.mean)
    return out

