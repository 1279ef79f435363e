"""Regression metrics on numpy arrays (no scipy): Pearson, Spearman, R², MSE, and ε scores.

Undefined values (fewer than two points, a constant input) are returned as NaN; the run files
write them as JSON null.
"""

from __future__ import annotations

import math

import numpy as np


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.size < 2:
        return math.nan
    dx, dy = x - x.mean(), y - y.mean()
    denom = math.sqrt(float(dx @ dx) * float(dy @ dy))
    return float(dx @ dy) / denom if denom > 0 else math.nan


def rankdata(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties given their average rank."""
    x = np.asarray(x, np.float64)
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    # start of each run of equal values
    new = np.concatenate([[True], sorted_x[1:] != sorted_x[:-1]])
    run_id = np.cumsum(new) - 1
    starts = np.flatnonzero(new)
    ends = np.concatenate([starts[1:], [x.size]])
    avg = (starts + ends + 1) / 2.0          # mean of ranks start+1..end
    ranks = np.empty(x.size)
    ranks[order] = avg[run_id]
    return ranks


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    if np.asarray(x).size < 2:
        return math.nan
    return pearson(rankdata(x), rankdata(y))


def mse(true: np.ndarray, pred: np.ndarray) -> float:
    true, pred = np.asarray(true, np.float64), np.asarray(pred, np.float64)
    return float(np.mean((true - pred) ** 2)) if true.size else math.nan


def r2(true: np.ndarray, pred: np.ndarray) -> float:
    """Coefficient of determination 1 − SS_res / SS_tot (variance explained; can be < 0)."""
    true, pred = np.asarray(true, np.float64), np.asarray(pred, np.float64)
    if true.size < 2:
        return math.nan
    ss_tot = float(((true - true.mean()) ** 2).sum())
    return 1.0 - float(((true - pred) ** 2).sum()) / ss_tot if ss_tot > 0 else math.nan


def regression_metrics(true: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """``{pearson, spearman, r2, mse, n}``."""
    return {"pearson": pearson(true, pred), "spearman": spearman(true, pred),
            "r2": r2(true, pred), "mse": mse(true, pred), "n": int(np.asarray(true).size)}


def epsilon_metrics(pred: np.ndarray, smf_a: np.ndarray, smf_b: np.ndarray, eps_true: np.ndarray) -> dict[str, float]:
    """Interaction scores: predicted ε = f̂_ij − f_i·f_j against measured ε.

    Only pairs with both single-mutant fitnesses and a measured ε count (``n_eps``).
    """
    mult = np.asarray(np.asarray(smf_a) * np.asarray(smf_b), np.float64)   # in the SMF's precision
    pred, eps = np.asarray(pred, np.float64), np.asarray(eps_true, np.float64)
    ok = np.isfinite(mult) & np.isfinite(eps) & np.isfinite(pred)
    eps_pred = pred[ok] - mult[ok]
    return {"eps_pearson": pearson(eps_pred, eps[ok]), "eps_spearman": spearman(eps_pred, eps[ok]),
            "n_eps": int(ok.sum())}


def fitness_bins(true: np.ndarray, pred: np.ndarray,
                 edges: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)) -> list[dict]:
    """Predicted fitness grouped by bins of true fitness (the seed's box plots): quartiles per bin."""
    true, pred = np.asarray(true, np.float64), np.asarray(pred, np.float64)
    bounds = [-np.inf, *edges[1:-1], np.inf]
    out = []
    for lo, hi, label_lo, label_hi in zip(bounds[:-1], bounds[1:], edges[:-1], edges[1:]):
        sel = pred[(true >= lo) & (true < hi)]
        q = np.percentile(sel, [5, 25, 50, 75, 95]) if sel.size else [math.nan] * 5
        out.append({"bin": f"{label_lo:.1f}-{label_hi:.1f}", "n": int(sel.size),
                    **dict(zip(("p05", "q1", "median", "q3", "p95"), map(float, q)))})
    return out
