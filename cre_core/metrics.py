"""Regression metrics on numpy arrays (no scipy): Pearson, Spearman, R², MSE, ε/τ scores per set size.

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


def interaction_metrics(pred: np.ndarray, expected: np.ndarray, measured: np.ndarray) -> dict[str, float]:
    """Interaction scores: predicted interaction = f̂(D) − ``expected`` against ``measured``.

    ``expected`` is the fitness the set would have without its own interaction, from measured
    values (``null_expectation``); only sets with it and a measured score count (``n``).
    """
    expected = np.asarray(expected, np.float64)
    pred, measured = np.asarray(pred, np.float64), np.asarray(measured, np.float64)
    ok = np.isfinite(expected) & np.isfinite(measured) & np.isfinite(pred)
    inter = pred[ok] - expected[ok]
    return {"pearson": pearson(inter, measured[ok]), "spearman": spearman(inter, measured[ok]),
            "n": int(ok.sum())}


def null_expectation(idx: np.ndarray, smf: np.ndarray, pairs: np.ndarray, pair_eps: np.ndarray) -> np.ndarray:
    """Fitness of each set without its own interaction term, from measured values (float64).

    Doubles: f_a·f_b (so f_ab − this is ε). Triples: f_a f_b f_c + ε_ab f_c + ε_ac f_b +
    ε_bc f_a with the measured ε of the three pairs (Kuzmin et al. 2018; f_abc − this is τ).
    NaN for single mutants and wherever a needed SMF or ε is not measured. ``idx`` (n, K) is
    PAD-padded; ``pairs`` (m, 2) ascending gene pairs with their measured ``pair_eps``.
    """
    idx = np.asarray(idx, np.int64)
    present = idx >= 0
    size = present.sum(1)
    smf = np.asarray(smf)
    # the product in the SMF's own precision, as the multiplicative model computes it
    f = np.where(present, smf[idx.clip(min=0)], smf.dtype.type(1))
    out = np.where(size >= 2, f.prod(1).astype(np.float64), np.nan)
    f = f.astype(np.float64)
    triple = np.flatnonzero(size == 3)
    if len(triple) and not len(pairs):
        out[triple] = np.nan
    elif len(triple):
        width = int(max(idx.max(), pairs.max())) + 1
        keys = pairs[:, 0].astype(np.int64) * width + pairs[:, 1]
        order = np.argsort(keys)
        keys, eps = keys[order], np.asarray(pair_eps, np.float64)[order]
        tri = np.sort(idx[triple, :3], 1)
        ft = np.take_along_axis(f[triple, :3], np.argsort(idx[triple, :3], 1), 1)
        for a, b, c in ((0, 1, 2), (0, 2, 1), (1, 2, 0)):
            want = tri[:, a] * width + tri[:, b]
            at = np.searchsorted(keys, want).clip(max=len(keys) - 1)
            out[triple] += np.where(keys[at] == want, eps[at], np.nan) * ft[:, c]
    return out


def set_size_metrics(size: np.ndarray, true: np.ndarray, pred: np.ndarray, expected: np.ndarray,
                     measured: np.ndarray) -> dict[str, dict]:
    """Per set size (keys "1", "2", "3"): fitness metrics and the interaction's (ε, τ) r.

    Each entry: ``pearson spearman r2 mse n`` of fitness, and for sizes ≥ 2
    ``interaction_pearson interaction_spearman n_interaction`` (``interaction_metrics``).
    """
    out = {}
    for k in np.unique(size):
        sel = size == k
        entry = regression_metrics(true[sel], pred[sel])
        if k >= 2:
            inter = interaction_metrics(pred[sel], expected[sel], measured[sel])
            entry.update(interaction_pearson=inter["pearson"], interaction_spearman=inter["spearman"],
                         n_interaction=inter["n"])
        out[str(int(k))] = entry
    return out


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
