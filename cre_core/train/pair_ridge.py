"""The interaction model's ε map refit in closed form after training: a training step.

With ``pair_from="features"`` ε̂_ab = x̃ₐᵀ W x̃_b is linear in W, so the ridge regression of
measured ε on it has one optimum (:mod:`cre_core.models.bilinear_ridge` solves it). SGD on a
low-rank factorisation of the same form stops far from that optimum when the genes are new,
which is why the run replaces its trained map by the optimum when that fits validation ε better
(bench/RESULTS.md, "Round 2, session 3: the ε map solved in closed form"). λ and the installed
rank are chosen by cross-validation over folds of the training pairs (whole genes held out on
the gene split), and ``--embedder auto`` picks its representation the same way.

A symmetric W is Σ_k λ_k v_k v_kᵀ, so the solution is installed into the model's own pair map as
its ``rank`` largest eigen-components: checkpoints, scans and ensembles are unchanged.

The columns are standardised over every gene before the solve (and the installed components
mapped back to the representation's units), so the penalty weighs each column alike. Feature
tables are z-scored already (a no-op for them); a sequence encoder's BatchNorm standardises by
the running statistics of training batches, which leaves its columns unevenly scaled over all
genes and the weak-penalty ones overfitting (bench/RESULTS.md, "Encoder ε on the gene split,
session 4").
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np
import torch

from cre_core.metrics import mse, pearson
from cre_core.models.bilinear_ridge import (
    LAMBDAS,
    Echo,
    PairData,
    PairMap,
    StopCheck,
    Stopped,
    augmented,
    components,
    in_units_of,
    one_thread,
    solve,
    standardise,
)

if TYPE_CHECKING:
    from cre_core.models.interaction import InteractionModel

FOLDS = 5                 # cross-validation folds of the training pairs (λ, rank, representation)
RANKS = (8, 16, 32)       # installed ranks tried besides the model's own --rank


def pairs_of(idx: np.ndarray, interaction: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The measured ε pairs among ``rows``: genes a, b and ε (float64)."""
    rows = rows[(idx[rows, 1] >= 0) & (idx[rows, 2] < 0) & np.isfinite(interaction[rows])]
    return idx[rows, 0], idx[rows, 1], interaction[rows].astype(np.float64)


def folds(a: np.ndarray, b: np.ndarray, by: str, seed: int = 0, k: int = FOLDS) -> list[tuple[np.ndarray, np.ndarray]]:
    """(fit, held-out) boolean masks over the pairs for ``k`` folds. ``by="genes"``: the genes
    are dealt into k groups; a fold holds out the pairs whose genes are both in its group and
    fits on the pairs with neither (the gene split's question: pairs of genes never seen).
    ``by="pairs"``: the pairs themselves are dealt (the random split's question)."""
    rng = np.random.default_rng(seed)
    if by == "genes":
        genes = np.unique(np.concatenate([a, b]))
        group = np.zeros(int(genes.max()) + 1, np.int64)
        group[genes] = rng.permutation(len(genes)) % k
        ga, gb = group[a], group[b]
        return [((ga != f) & (gb != f), (ga == f) & (gb == f)) for f in range(k)]
    group = rng.permutation(len(a)) % k
    return [(group != f, group == f) for f in range(k)]


def _ranked(x: torch.Tensor, w: PairMap, a: np.ndarray, b: np.ndarray, ranks: tuple[int, ...]) -> list[np.ndarray]:
    """ε̂ − mean of the pairs (a, b) from W's ``r`` eigen-components of largest |λ|, for each r."""
    values, vectors = torch.linalg.eigh(w.core)
    order = torch.argsort(values.abs(), descending=True)
    turn = w.basis @ vectors[:, order]
    pa = augmented(x[torch.from_numpy(a)]) @ turn
    pb = augmented(x[torch.from_numpy(b)]) @ turn
    cumulative = torch.cumsum(pa * pb * values[order], dim=1)
    return [cumulative[:, min(r, cumulative.shape[1]) - 1].numpy() for r in ranks]


@one_thread
def cross_validate(x: torch.Tensor, a: np.ndarray, b: np.ndarray, eps: np.ndarray, by: str,
                   ranks: tuple[int, ...], seed: int = 0, should_stop: StopCheck | None = None,
                   echo: Echo | None = None, label: str = "") -> dict:
    """Held-out ε MSE and r of the ridge map for every λ of ``LAMBDAS`` (strongest first, each
    fold warm-started from its last) and every installed rank of ``ranks``, over :func:`folds`;
    stops once the best mean MSE is one λ behind. Returns every fold's scores and the best
    (λ, rank), for the run's summary."""
    parts = [(PairData.build(a[fit], b[fit], eps[fit]), a[out], b[out], eps[out])
             for fit, out in folds(a, b, by, seed) if out.sum() >= 3 and fit.sum() >= 10]
    if not parts:
        raise ValueError("too few pairs for held-out folds")
    starts: list[PairMap | None] = [None] * len(parts)
    scores: list[dict] = []
    best: dict | None = None
    for lam in LAMBDAS:
        t0 = time.perf_counter()
        per_rank: list[dict] = [{"lambda": lam, "rank": r, "mse": [], "r": []} for r in ranks]
        for f, (data, ha, hb, he) in enumerate(parts):
            if should_stop is not None and should_stop():
                raise Stopped(f"stopped in the ridge cross-validation at λ {lam:g}, fold {f + 1}")
            starts[f] = w = solve(x, data, lam, starts[f], should_stop)
            for entry, pred in zip(per_rank, _ranked(x, w, ha, hb, ranks)):
                entry["mse"].append(mse(he, pred + data.mean))
                entry["r"].append(pearson(pred, he))
        for entry in per_rank:
            entry["mean_mse"] = float(np.mean(entry["mse"]))
            entry["mean_r"] = float(np.nanmean(entry["r"])) if np.isfinite(entry["r"]).any() else None
        scores += per_rank
        top = min(per_rank, key=lambda e: e["mean_mse"])
        if echo is not None:
            echo(f"pair ridge{label}: λ {lam:g}, {len(parts)} folds by {by}: held-out ε MSE "
                 f"{top['mean_mse']:.5f}, r {top['mean_r'] or 0:.3f} at rank {top['rank']} "
                 f"({time.perf_counter() - t0:.1f} s)")
        if best is None or top["mean_mse"] < best["mean_mse"]:
            best = top
        elif best["lambda"] != lam:          # past the best λ: weaker penalties only overfit more
            break
    assert best is not None
    return {"by": by, "folds": len(parts), "scores": scores,
            "best": {k: best[k] for k in ("lambda", "rank", "mean_mse", "mean_r")}}


def ranks_for(rank: int) -> tuple[int, ...]:
    """The installed ranks cross-validation tries for a model of ``--rank`` ``rank``."""
    return tuple(r for r in RANKS if r < rank) + (rank,)


def ranked_predict(x: torch.Tensor, w: PairMap, mean: float, rank: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """ε̂ of the pairs (a, b) from W's ``rank`` largest eigen-components: what the model installs."""
    return _ranked(x, w, a, b, (rank,))[0] + mean


@one_thread
def refit(model: InteractionModel, idx: np.ndarray, interaction: np.ndarray, train: np.ndarray,
          val: np.ndarray, by: str = "genes", seed: int = 0, should_stop: StopCheck | None = None,
          echo: Echo | None = None) -> dict:
    """Replace ``model``'s ε map by the ridge optimum over the training pairs, with λ and the
    installed rank chosen by :func:`cross_validate` over folds of the training pairs (``by``
    genes or pairs, as the run's split asks), if that beats the trained map on validation ε
    (else keep it). ``idx`` (n, 3) PAD-padded gene sets, ``interaction`` their measured ε/τ
    (NaN where none), ``train``/``val`` row numbers. ``should_stop`` is asked between λ
    candidates, folds and CG iterations (raises :class:`Stopped`); ``echo`` gets a line per λ.
    Returns what was done, for the run's summary."""
    tr, va = pairs_of(idx, interaction, train), pairs_of(idx, interaction, val)
    if len(tr[2]) < 10 or len(va[2]) < 3:
        return {"used": False, "reason": "too few measured ε pairs to fit and choose λ"}
    model.eval()
    with torch.no_grad():
        x, mean, sd = standardise(model.pair_inputs().double().cpu())
        sets = torch.from_numpy(np.stack([va[0], va[1]], 1)).to(next(model.parameters()).device)
        trained = model.terms(sets)["interaction"].double().cpu().numpy()
    sgd = {"val_eps_mse": mse(va[2], trained), "val_eps_r": pearson(trained, va[2])}
    try:
        cv = cross_validate(x, *tr, by, ranks_for(model.rank), seed, should_stop, echo)
    except ValueError as exc:
        return {"used": False, "reason": str(exc)}
    lam, rank = cv["best"]["lambda"], cv["best"]["rank"]
    data = PairData.build(*tr)
    w = solve(x, data, lam, None, should_stop, echo)
    pred = ranked_predict(x, w, data.mean, rank, va[0], va[1])
    chosen = {"lambda": lam, "rank": rank, "val_eps_mse": mse(va[2], pred), "val_eps_r": pearson(pred, va[2])}
    used = chosen["val_eps_mse"] < sgd["val_eps_mse"]
    if echo is not None:
        echo(f"pair ridge: λ {lam:g}, rank {rank} over {len(data.genes):,} genes with pairs: validation ε MSE "
             f"{chosen['val_eps_mse']:.5f}, r {chosen['val_eps_r']:.3f}")
    if used:
        vectors, weights = components(w, rank)
        model.install_pair_map(in_units_of(vectors, mean, sd), weights, data.mean)
    return {"used": used, "chosen": chosen if used else {"lambda": None, **sgd}, "ridge": chosen,
            "trained_map": sgd, "cv": cv, "n_pairs": data.count, "n_genes": len(data.genes)}


AUTO_EMBEDDERS = ("kmer", "words")    # --embedder auto's candidates: cached or cheap to compute on a CPU


def choose_representation(tables: dict[str, torch.Tensor], a: np.ndarray, b: np.ndarray, eps: np.ndarray,
                          by: str, ranks: tuple[int, ...], seed: int = 0, should_stop: StopCheck | None = None,
                          echo: Echo | None = None) -> dict:
    """--embedder auto: the representation whose ridge ε map has the least held-out ε MSE in
    :func:`cross_validate` over the training pairs (each at its own best λ and rank)."""
    runs = {name: cross_validate(standardise(x.double())[0], a, b, eps, by, ranks, seed, should_stop, echo,
                                 label=f" ({name})")
            for name, x in tables.items()}
    chosen = min(runs, key=lambda name: runs[name]["best"]["mean_mse"])
    if echo is not None:
        scores = ", ".join(f"{n} held-out ε r {c['best']['mean_r'] or 0:.3f}" for n, c in runs.items())
        echo(f"--embedder auto: {scores}: {chosen}")
    return {"chosen": chosen, "candidates": runs}
