"""A ridge regression of measured ε on a bilinear map of gene representations, x̃ₐᵀ W x̃_b, in closed form.

With x̃ = [x, 1] (so linear and constant terms are in W), ε̂ is linear in W, so the ridge problem

    min_W  Σ_(a,b) measured (x̃ₐᵀ W x̃_b − ε_ab)²  +  λ · n_pairs · ‖W‖²

has one optimum, which conjugate gradients reach without forming the (D+1)² × (D+1)² normal
matrix: each step is two products with the gene-by-gene matrix of pairs (dense n × n). A gene
without a measured training pair has an all-zero row and column there, so it adds nothing to the
normal operator or the right-hand side: the solve runs over the genes that have pairs (a few
hundred on real screens, not every gene with windows), in the row space of their features
(``solve``). A symmetric W is Σ_k λ_k v_k v_kᵀ (``components``), so a solution fits a model's
low-rank pair map. The interaction model's refit (:mod:`cre_core.train.pair_ridge`) and the
identity model's sequence term (:mod:`cre_core.models.identity`) both solve through here.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

import numpy as np
import torch

LAMBDAS = (300.0, 100.0, 30.0, 10.0, 3.0, 1.0)   # searched from the strongest, each solve
                                                  # starting from the last; stops once past the best
MAX_ITER = 100
TOL = 1e-3
PROGRESS_EVERY = 10.0     # seconds between progress lines inside one solve
MAX_DIMS = 256            # principal directions of the fitted genes' x̃ the map lives in


class Stopped(Exception):
    """The caller's stop check said stop (between CG iterations or λ candidates)."""


Params = ParamSpec("Params")
Result = TypeVar("Result")
StopCheck = Callable[[], bool]
Echo = Callable[[str], None]


@dataclass
class PairData:
    """Measured ε of gene pairs as a symmetric matrix over the genes that have pairs (0 where
    unmeasured); ``genes`` are those genes' row numbers in the full representation."""

    target: torch.Tensor      # (m, m) ε − mean at (a, b) and (b, a)
    mask: torch.Tensor        # (m, m) 1 where measured
    mean: float
    count: int                # measured pairs (each counted once)
    genes: torch.Tensor       # (m,) gene numbers of the rows

    @classmethod
    def build(cls, a: np.ndarray, b: np.ndarray, eps: np.ndarray) -> PairData:
        genes, local = np.unique(np.concatenate([a, b]), return_inverse=True)
        ia, ib = torch.from_numpy(local[:len(a)]), torch.from_numpy(local[len(a):])
        m, mean = len(genes), float(eps.mean())
        target = torch.zeros(m, m, dtype=torch.float64)
        mask = torch.zeros(m, m, dtype=torch.float64)
        for r, c in ((ia, ib), (ib, ia)):
            target[r, c] = torch.from_numpy(eps - mean)
            mask[r, c] = 1.0
        return cls(target, mask, mean, len(eps), torch.from_numpy(genes))


@dataclass
class PairMap:
    """A symmetric W = V B Vᵀ over x̃: ``core`` B (r × r) in the orthonormal ``basis`` V
    ((D+1) × r) of the row space of the fitted genes' x̃ (r ≤ their number)."""

    basis: torch.Tensor
    core: torch.Tensor

    def matrix(self) -> torch.Tensor:
        return self.basis @ self.core @ self.basis.T


def one_thread(fn: Callable[Params, Result]) -> Callable[Params, Result]:
    """Run ``fn`` on one torch thread. The ridge's matrices are at most a few hundred wide: one
    thread spares the pool's synchronisation, which on a shared CPU made a real screen's solve
    many times slower (bench/RESULTS.md, "The default interaction run on the real workspace")."""
    @functools.wraps(fn)
    def wrapper(*args: Params.args, **kwargs: Params.kwargs) -> Result:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return fn(*args, **kwargs)
        finally:
            torch.set_num_threads(threads)

    return wrapper


@one_thread
def solve(x: torch.Tensor, data: PairData, lam: float, start: PairMap | None = None,
          should_stop: StopCheck | None = None, echo: Echo | None = None) -> PairMap:
    """The ridge optimum W for ``x`` (n_genes, D) by preconditioned conjugate gradients over
    ``data.genes``.

    The optimum lies in the row space of those genes' x̃ (the gradient of the loss is
    X̃ᵀ (…) X̃ and the penalty only shrinks), so with X̃ = U S Vᵀ the same problem is solved for
    B over the reduced features Z = U S (m × r, r ≤ m genes), W = V B Vᵀ: an m × m problem, not
    (D+1) × (D+1) (on a real screen a few hundred genes against kmer's 1,537 columns). Past
    ``MAX_DIMS`` genes only the leading principal directions are kept (a principal-component
    ridge: exact below it; it bounds the cost of every CG step).
    The preconditioner is the normal operator of a fully measured matrix of the same gene
    degrees, C B C / S (C = Zᵀ diag(degree) Z, S = the degrees' sum), which its eigenbasis
    inverts exactly: tens of iterations instead of hundreds. ``should_stop`` is asked between
    iterations (raises :class:`Stopped`); ``echo`` gets a progress line every
    ``PROGRESS_EVERY`` seconds of a long solve."""
    u, s, vh = torch.linalg.svd(augmented(x[data.genes]), full_matrices=False)
    keep = (s > s[0] * 1e-10) & (torch.arange(len(s)) < MAX_DIMS)
    z, basis = u[:, keep] * s[keep], vh[keep].T
    penalty = lam * 2 * data.count
    degree = data.mask.sum(1)
    values, eig = torch.linalg.eigh(z.T @ (degree[:, None] * z) / degree.sum().clamp(min=1).sqrt())
    scale = values[:, None] * values[None, :] + penalty

    def normal(w: torch.Tensor) -> torch.Tensor:      # Zᵀ (mask ∘ Z B Zᵀ) Z + penalty B
        return z.T @ ((data.mask * (z @ w @ z.T)) @ z) + penalty * w

    def precondition(r: torch.Tensor) -> torch.Tensor:
        return eig @ ((eig.T @ r @ eig) / scale) @ eig.T

    rhs = z.T @ data.target @ z
    w = torch.zeros_like(rhs)
    if start is not None:                               # the last λ's optimum, in this basis
        turn = basis.T @ start.basis
        w = turn @ start.core @ turn.T
    r = rhs - normal(w)
    zr = precondition(r)
    p, rz = zr.clone(), float((r * zr).sum())
    stop, first = TOL**2 * rz, rz                       # in the preconditioned norm
    t0 = last = time.perf_counter()
    for it in range(MAX_ITER):
        if rz <= stop:
            break
        if should_stop is not None and should_stop():
            raise Stopped(f"stopped in the ridge solve at λ {lam:g}, iteration {it}")
        if echo is not None and time.perf_counter() - last > PROGRESS_EVERY:
            last = time.perf_counter()
            echo(f"pair ridge: λ {lam:g} iteration {it}, residual {(rz / first) ** 0.5:.2e} "
                 f"(target {TOL:g}), {last - t0:.0f} s")
        q = normal(p)
        alpha = rz / float((p * q).sum())
        w, r = w + alpha * p, r - alpha * q
        zr = precondition(r)
        rz_new = float((r * zr).sum())
        p, rz = zr + (rz_new / rz) * p, rz_new
    return PairMap(basis, (w + w.T) / 2)


def augmented(x: torch.Tensor) -> torch.Tensor:
    """x̃ = [x, 1] in float64: the constant column carries W's linear and constant terms."""
    return torch.cat([x.double(), torch.ones(len(x), 1, dtype=torch.float64)], dim=1)


def predict(x: torch.Tensor, w: PairMap, mean: float, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """ε̂ of the pairs (a, b): x̃ₐᵀ W x̃_b + mean."""
    za = augmented(x[torch.from_numpy(a)]) @ w.basis
    zb = augmented(x[torch.from_numpy(b)]) @ w.basis
    return (((za @ w.core) * zb).sum(1) + mean).numpy()


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


def components(w: PairMap, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``rank`` eigen-components of largest |λ|: vectors (D+1, rank) and weights (rank,)."""
    values, vectors = torch.linalg.eigh(w.core)
    top = torch.argsort(values.abs(), descending=True)[:rank]
    return w.basis @ vectors[:, top], values[top]
