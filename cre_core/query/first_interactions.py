"""The orders of ``cre suggest`` (and the Plan tab): ``rank``, the combined rank, and
``first-interactions``: first the pairs likeliest to give a gene without a strong measured
interaction its first one, then the rest as ``rank`` orders them.

Why the second: a screen often aims at genes nobody has seen interact, and a run that learns genes
by identity places a gene in the interaction map only through such an interaction. On the demo
this order gives about twice as many such genes a strong interaction as random picks and the
combined rank, but a run retrained on its picks predicts held-out ε no better than one retrained
on random picks (bench/RESULTS.md, "Pairs to measure next: first interactions"), so ``rank``
stays the default.

A gene is *unexplored* when none of the run's training pairs with it has a measured |ε| above
``SIGNIFICANT_EPSILON`` (0.08, Costanzo's intermediate cut-off). Each pair gets

- ``p_interaction``: the chance that its measured |ε| exceeds the cut-off, reading the run's
  calibrated ε̂ interval as a normal distribution (NaN without one: no SMF, or a run without
  validation ε);
- ``first_interactions``: the number of unexplored genes the pair is expected to give a first
  strong interaction when each gene's likelier pairs are measured before it: p × Σ over the
  pair's unexplored genes of Π (1 − p) over that gene's likelier pairs (0 without one).

Policy ``first-interactions`` orders by ``first_interactions`` (ties by the combined rank) and
puts the pairs without an unexplored gene (or without a chance) after them, in the ``rank``
policy's order: the combined rank, in rounds of at most ``per_gene`` pairs per gene
(:func:`cap_per_gene`).
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from cre_core.query.browse import SIGNIFICANT_EPSILON
from cre_core.query.spread import POLICIES, cap_per_gene


def interaction_chance(epsilon: np.ndarray, lo: np.ndarray, hi: np.ndarray, level: float) -> np.ndarray:
    """P(|ε| > SIGNIFICANT_EPSILON) when ε ~ Normal(ε̂, σ), σ read from the central ``level``
    interval [lo, hi] (NaN where ε̂ or the interval is missing)."""
    sigma = (np.asarray(hi, dtype=float) - np.asarray(lo, dtype=float)) / (2 * ndtri(0.5 + level / 2))
    eps = np.asarray(epsilon, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        chance = ndtr((-SIGNIFICANT_EPSILON - eps) / sigma) + ndtr((eps - SIGNIFICANT_EPSILON) / sigma)
    return np.where(np.isfinite(chance), chance, np.nan)


def first_interactions(frame: pd.DataFrame, unexplored: Collection[str]) -> np.ndarray:
    """Each pair's expected first interactions (module docstring) from its ``p_interaction``."""
    chance = np.nan_to_num(frame["p_interaction"].to_numpy(dtype=float), nan=0.0).clip(0.0, 1 - 1e-12)
    genes = np.concatenate([frame["gene_a"].to_numpy(dtype=object), frame["gene_b"].to_numpy(dtype=object)])
    slots = np.flatnonzero(pd.Series(genes).isin(list(unexplored)).to_numpy())   # (pair, gene) slots
    value = np.zeros(len(frame))
    if not len(slots):
        return value
    rows = slots % len(frame)
    order = np.argsort(-chance[rows], kind="stable")            # likeliest pair first
    rows, gene = rows[order], genes[slots][order]
    log_miss = pd.Series(np.log1p(-chance[rows]))
    before = log_miss.groupby(gene).cumsum() - log_miss         # Σ log(1 − p) over the gene's likelier pairs
    np.add.at(value, rows, chance[rows] * np.exp(before.to_numpy()))
    return value


def order_pairs(frame: pd.DataFrame, policy: str, per_gene: int | None,
                unexplored: Collection[str]) -> tuple[pd.DataFrame, int]:
    """``frame`` (best combined rank first, with ``p_interaction``) in the ``policy``'s order with
    ``first_interactions`` added and ``rank`` renumbered; also how many of the combined-rank pairs
    fell after the first round of the cap (``per_gene`` None or 0: no cap)."""
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}")
    frame = frame.assign(first_interactions=first_interactions(frame, unexplored))
    first = frame.iloc[0:0]
    if policy == "first-interactions":
        chosen = frame["first_interactions"].to_numpy() > 0
        first = frame[chosen]
        first = first.iloc[np.lexsort((first["rank_combined"].to_numpy(), -first["first_interactions"].to_numpy()))]
        frame = frame[~chosen]
    rest, deferred = cap_per_gene(frame, per_gene or 0)
    out = pd.concat([first, rest]).reset_index(drop=True)
    out["rank"] = np.arange(1, len(out) + 1)
    return out, deferred
