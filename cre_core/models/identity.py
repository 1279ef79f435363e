"""The identity model: ε as a ridge-solved low-rank factorisation of the gene-by-gene ε matrix,
and the same with a sequence term beneath it (``identity-seq``).

On real screens most of what is predictable about a pair is who its genes are: how often each
interacts (its propensity) and with whom (its partners). For a set D (sizes 1-3)::

    f̂(D) = Π_{g∈D} s_g + Σ_{a<b ∈ D} ε̂_ab · Π_{c∈D∖{a,b}} s_c
    ε̂_ab = μ + seq(a, b) + ½ (p_a + q_b + u_a·v_b  +  p_b + q_a + u_b·v_a)

s_g is the measured single-mutant fitness (the store's mean where unmeasured, as the
multiplicative baseline); τ̂ is 0. ``p, q`` (propensities) and ``u, v`` (partner factors, rank r)
are solved by alternating ridge regressions (each gene's row in closed form given the others,
penalty λ · its number of pairs) on ε standardised by its training sd; r and λ are chosen by
validation ε MSE from ``RANKS`` × ``LAMBDAS`` (rank 0 is the additive propensity model). A gene
without training pairs keeps zeros, so its ε̂ is μ (+ the sequence term): identity cannot speak
for genes never screened.

``identity-seq`` first fits seq(a, b) = x̃ₐᵀ W x̃_b, the interaction model's features pair map in
closed form (:mod:`cre_core.models.bilinear_ridge`, its λ chosen on validation ε, or no term when
none beats μ there), on the genes of the training pairs; the identity factors are then solved on
what it leaves. So a screened gene's propensity is shrunk towards what its sequence says rather
than towards 0, and a gene never screened still gets the sequence's prediction.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import torch

from cre_core.embed.genes import FeatureTable
from cre_core.metrics import mse, pearson
from cre_core.models import bilinear_ridge as ridge
from cre_core.models.base import FitnessModel, set_mask

MAX_RANK = 32               # the checkpoint's width per gene; the grid stays within it
RANKS = (0, 2, 4, 8, 16, 32)
LAMBDAS = (10.0, 3.0, 1.0, 0.3, 0.1, 0.03)   # per rank from the strongest; stops once past the best
SWEEPS = 25                  # alternating row/column solves per fit
SEQ_RANK = 64                # eigen-components of the sequence term's W that are kept


@dataclass
class Pairs:
    """Measured ε of gene pairs: gene indices ``a``, ``b`` and the values."""

    a: np.ndarray
    b: np.ndarray
    eps: np.ndarray

    @classmethod
    def of_rows(cls, idx: np.ndarray, interaction: np.ndarray, rows: np.ndarray) -> Pairs:
        """The double mutants among ``rows`` of the set table with a measured ε."""
        rows = rows[(idx[rows, 1] >= 0) & (idx[rows, 2] < 0) & np.isfinite(interaction[rows])]
        return cls(idx[rows, 0], idx[rows, 1], interaction[rows].astype(np.float64))

    def __len__(self) -> int:
        return len(self.eps)


@dataclass
class Factors:
    """One fitted identity term over ``genes`` (global indices): rows [u, p], columns [v, q]."""

    genes: np.ndarray
    rows: torch.Tensor       # (m, r + 1): u_a then p_a
    cols: torch.Tensor       # (m, r + 1): v_b then q_b

    def predict(self, local_a: np.ndarray, local_b: np.ndarray) -> np.ndarray:
        """½ (row_a · [v_b, 1] + [u_a, 1] · ... ) symmetrised, in standardised units; 0 for genes
        outside ``genes`` (local index -1)."""
        zero = torch.zeros(1, self.rows.shape[1], dtype=torch.float64)
        rows, cols = torch.cat([self.rows, zero]), torch.cat([self.cols, zero])
        a, b = torch.from_numpy(local_a), torch.from_numpy(local_b)

        def half(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            r = rows[x]
            c = cols[y]
            return (r[:, :-1] * c[:, :-1]).sum(1) + r[:, -1] + c[:, -1]

        return (0.5 * (half(a, b) + half(b, a))).numpy()


def fit_factors(pairs: Pairs, genes: np.ndarray, rank: int, lam: float, sweeps: int = SWEEPS,
                seed: int = 0) -> Factors:
    """Alternating ridge solves of t_ab ≈ u_a·v_b + p_a + q_b over both orders of every pair
    (``pairs.eps`` already centred and scaled); ``genes`` are the genes the pairs use.

    The pairs are held as a dense (m, m) mask and target over those m genes: every gene's
    normal equations are then one matmul of the mask with the other side's outer products."""
    local = np.full(int(genes.max()) + 1, -1, dtype=np.int64)
    local[genes] = np.arange(len(genes))
    m = len(genes)
    mask = torch.zeros(m, m, dtype=torch.float64)
    target = torch.zeros(m, m, dtype=torch.float64)
    a, b = torch.from_numpy(local[pairs.a]), torch.from_numpy(local[pairs.b])
    values = torch.from_numpy(pairs.eps)
    for r, c in ((a, b), (b, a)):
        mask[r, c] = 1.0
        target[r, c] = values
    penalty = lam * mask.sum(1).clamp(min=1)[:, None, None] * torch.eye(rank + 1, dtype=torch.float64)
    gen = torch.Generator().manual_seed(seed)
    rows = torch.zeros(m, rank + 1, dtype=torch.float64)
    cols = torch.cat([torch.randn(m, rank, generator=gen, dtype=torch.float64) * 0.1,
                      torch.zeros(m, 1, dtype=torch.float64)], 1)
    ones = torch.ones(m, 1, dtype=torch.float64)

    def solve(other: torch.Tensor) -> torch.Tensor:
        # design [v_b, 1] for the row (u_a, p_a); the other side's offset q_b is a known shift
        z = torch.cat([other[:, :-1], ones], 1)
        outer = (z[:, :, None] * z[:, None, :]).reshape(m, -1)
        gram = (mask @ outer).reshape(m, rank + 1, rank + 1) + penalty
        rhs = (mask * (target - other[:, -1][None, :])) @ z
        return torch.linalg.solve(gram, rhs)

    for _ in range(sweeps):
        rows = solve(cols)
        cols = solve(rows)
    return Factors(genes, rows, cols)


class IdentityModel(FitnessModel):
    """Π s_g + pairwise ε̂ from gene identity (and, with ``genes``, a sequence term): fitted in
    closed form by :meth:`fit` (module docstring)."""

    trainable = False
    reads_measured_smf = True
    smf: torch.Tensor
    mu: torch.Tensor
    scale: torch.Tensor
    factors: torch.Tensor
    seq_vectors: torch.Tensor
    seq_weights: torch.Tensor

    def __init__(self, n_genes: int, smf: torch.Tensor | None = None,
                 genes: FeatureTable | None = None) -> None:
        super().__init__()
        self.n_genes = n_genes
        self.genes = genes
        smf = torch.full((n_genes,), math.nan) if smf is None else smf.float().clone()
        measured = torch.isfinite(smf)
        fallback = float(smf[measured].mean()) if measured.any() else 1.0
        self.register_buffer("smf", torch.where(measured, smf, torch.full_like(smf, fallback)))
        self.register_buffer("mu", torch.zeros(()))
        self.register_buffer("scale", torch.ones(()))
        # per gene: u (max rank) | p | v (max rank) | q, in standardised ε units
        self.register_buffer("factors", torch.zeros(n_genes, 2 * (MAX_RANK + 1)))
        dim = genes.out_dim + 1 if genes is not None else 0
        self.register_buffer("seq_vectors", torch.zeros(dim, SEQ_RANK if genes is not None else 0))
        self.register_buffer("seq_weights", torch.zeros(SEQ_RANK if genes is not None else 0))

    def representation(self) -> FeatureTable | None:
        return self.genes

    def set_features(self, features: torch.Tensor) -> None:
        if self.genes is None:
            super().set_features(features)
            return
        self.genes.set_features(features)

    # --- prediction ------------------------------------------------------------------------
    def pair_epsilon(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """ε̂ for gene index tensors ``a``, ``b`` of one shape."""
        half = self.factors.shape[1] // 2
        fa, fb = self.factors[a], self.factors[b]
        ua, pa, va, qa = fa[..., :half - 1], fa[..., half - 1], fa[..., half:-1], fa[..., -1]
        ub, pb, vb, qb = fb[..., :half - 1], fb[..., half - 1], fb[..., half:-1], fb[..., -1]
        ident = 0.5 * ((ua * vb).sum(-1) + (ub * va).sum(-1) + pa + pb + qa + qb)
        eps = self.mu + self.scale * ident
        if self.genes is not None and self.seq_vectors.shape[1]:
            xa, xb = _augmented(self.genes(a)), _augmented(self.genes(b))
            eps = eps + ((xa @ self.seq_vectors) * (xb @ self.seq_vectors) * self.seq_weights).sum(-1)
        return eps

    def predict(self, idx: torch.Tensor) -> torch.Tensor:
        present = set_mask(idx)
        safe = idx.clamp(min=0)
        s = torch.where(present, self.smf[safe], torch.ones_like(self.smf[safe]))
        pred = s.prod(1)
        for i, j in combinations(range(idx.shape[1]), 2):
            both = present[:, i] & present[:, j]
            rest = torch.ones_like(pred)
            for k in range(idx.shape[1]):
                if k not in (i, j):
                    rest = rest * s[:, k]
            eps = self.pair_epsilon(safe[:, i], safe[:, j])
            pred = pred + torch.where(both, eps * rest, torch.zeros_like(pred))
        return pred

    # --- fitting ---------------------------------------------------------------------------
    @torch.no_grad()
    def fit(self, idx: np.ndarray, interaction: np.ndarray, train: np.ndarray, val: np.ndarray,
            echo: Callable[[str], None] = lambda _m: None) -> dict | None:
        """Solve the sequence term (identity-seq) and the identity factors on the training
        pairs, choosing each one's settings by validation ε MSE; returns what was chosen."""
        tr, va = Pairs.of_rows(idx, interaction, train), Pairs.of_rows(idx, interaction, val)
        if len(tr) < 10 or len(va) < 3:
            return {"used": False, "reason": "too few measured ε pairs to fit and choose λ"}
        mu = float(tr.eps.mean())
        report: dict = {"used": True, "n_pairs": len(tr), "mean_only": _scores(va.eps, np.full(len(va), mu))}
        seq_tr, seq_va = np.zeros(len(tr)), np.zeros(len(va))
        if self.genes is not None:
            with _one_thread():
                seq_tr, seq_va, report["sequence"] = self._fit_sequence(tr, va, mu, echo)
        scale = float(np.std(tr.eps - mu - seq_tr)) or 1.0
        target = Pairs(tr.a, tr.b, (tr.eps - mu - seq_tr) / scale)
        genes = np.unique(np.concatenate([tr.a, tr.b]))
        local = np.full(self.n_genes, -1, dtype=np.int64)
        local[genes] = np.arange(len(genes))
        best: tuple[float, Factors | None, dict] = (math.inf, None, {})
        tried = []
        for rank in RANKS:
            least = math.inf
            for lam in LAMBDAS:
                with _one_thread():
                    factors = fit_factors(target, genes, rank, lam)
                pred = mu + seq_va + scale * factors.predict(local[va.a], local[va.b])
                entry = {"rank": rank, "lambda": lam, **_scores(va.eps, pred)}
                tried.append(entry)
                if entry["val_eps_mse"] < best[0]:
                    best = (entry["val_eps_mse"], factors, entry)
                if entry["val_eps_mse"] > least:     # past this rank's best λ
                    break
                least = entry["val_eps_mse"]
            echo(f"identity: rank {rank}: best validation ε r so far {best[2]['val_eps_r']:.3f} "
                 f"(rank {best[2]['rank']}, λ {best[2]['lambda']:g})")
        chosen = best[1]
        assert chosen is not None
        self._install(chosen, mu, scale)
        report.update(chosen=best[2], tried=tried)
        return report

    def _fit_sequence(self, tr: Pairs, va: Pairs, mu: float,
                      echo: Callable[[str], None]) -> tuple[np.ndarray, np.ndarray, dict]:
        """The sequence term x̃ₐᵀ W x̃_b on the training pairs' genes (λ by validation ε MSE);
        its predictions on the training and validation pairs, and what was tried."""
        assert self.genes is not None
        x, mean, sd = ridge.standardise(self.genes.all().double().cpu())
        data = ridge.PairData.build(tr.a, tr.b, tr.eps)       # over the genes with pairs
        least, chosen, tried = mse(va.eps, np.full(len(va), mu)), None, []
        w: ridge.PairMap | None = None
        for lam in ridge.LAMBDAS:
            w = ridge.solve(x, data, lam, w, echo=echo)
            pred = ridge.predict(x, w, data.mean, va.a, va.b)
            entry = {"lambda": lam, **_scores(va.eps, pred)}
            tried.append(entry)
            echo(f"identity-seq: sequence term λ {lam:g}: validation ε r {entry['val_eps_r']:.3f}")
            if entry["val_eps_mse"] < least:
                least, chosen = entry["val_eps_mse"], (lam, w)
            elif chosen is not None:
                break
        if chosen is None:
            return np.zeros(len(tr)), np.zeros(len(va)), {"used": False, "tried": tried}
        lam, w = chosen
        vectors, weights = ridge.components(w, SEQ_RANK)
        vectors = ridge.in_units_of(vectors, mean, sd)
        k = vectors.shape[1]
        self.seq_vectors.zero_()
        self.seq_weights.zero_()
        self.seq_vectors[:, :k] = vectors.float()
        self.seq_weights[:k] = weights.float()
        x_raw = self.genes.all().double().cpu()      # (the term's own mean is μ, data.mean)
        seq_tr, seq_va = self._seq_values(x_raw, tr), self._seq_values(x_raw, va)
        return seq_tr, seq_va, {"used": True, "lambda": lam, "tried": tried}

    def _seq_values(self, x: torch.Tensor, pairs: Pairs) -> np.ndarray:
        proj = _augmented(x) @ self.seq_vectors.double()
        return ((proj[torch.from_numpy(pairs.a)] * proj[torch.from_numpy(pairs.b)])
                @ self.seq_weights.double()).numpy()

    def _install(self, factors: Factors, mu: float, scale: float) -> None:
        half = self.factors.shape[1] // 2
        rank = factors.rows.shape[1] - 1
        self.factors.zero_()
        at = torch.from_numpy(factors.genes)
        self.factors[at, :rank] = factors.rows[:, :rank].float()
        self.factors[at, half - 1] = factors.rows[:, -1].float()
        self.factors[at, half:half + rank] = factors.cols[:, :rank].float()
        self.factors[at, -1] = factors.cols[:, -1].float()
        self.mu.fill_(mu)
        self.scale.fill_(scale)


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """The factor solves are batches of tiny matrices: one thread is several times faster than
    torch's pool (tens of times on a loaded 2-core machine), so they run on one."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _augmented(x: torch.Tensor) -> torch.Tensor:
    return torch.cat([x, torch.ones(*x.shape[:-1], 1, dtype=x.dtype, device=x.device)], -1)


def _scores(true: np.ndarray, pred: np.ndarray) -> dict:
    return {"val_eps_mse": mse(true, pred), "val_eps_r": pearson(pred, true)}
