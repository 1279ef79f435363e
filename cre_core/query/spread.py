"""Spreading a ranked pair list over its genes (``cre suggest --per-gene``): without it, a few
genes with many candidate pairs can fill the top of a ranking, and a screen of those pairs
teaches a model about few genes. Kept apart from :mod:`cre_core.query.suggestions` (with the
names of the orders, :mod:`cre_core.query.first_interactions`) so the CLI can read the defaults
without loading torch or scipy.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PER_GENE = 8       # default cap, chosen at demo seeds 0-1 (bench/RESULTS.md, "Pairs to measure next")
POLICIES = ("rank", "first-interactions")    # the orders of cre suggest (cre_core.query.first_interactions)
POLICY = "rank"        # no order taught a retrained run more than random picks (bench/RESULTS.md, same section)


def cap_per_gene(frame: pd.DataFrame, per_gene: int) -> tuple[pd.DataFrame, int]:
    """Re-rank ``frame`` (best first) in rounds, so that no gene fills the top: a pair's round
    is set by its place among each of its two genes' pairs (round 1: among the first
    ``per_gene`` of both genes' pairs, round 2: among the first 2·``per_gene``, ...), and the rank
    orders pairs within a round. The first j rounds hold at most j·``per_gene`` pairs of any gene.
    Returns the frame with ``rank`` renumbered, and how many pairs fell after the first round.
    ``per_gene`` 0 leaves it as it is."""
    if per_gene <= 0 or frame.empty:
        return frame, 0
    n = len(frame)
    codes, _ = pd.factorize(pd.concat([frame["gene_a"], frame["gene_b"]], ignore_index=True))
    position = np.tile(np.arange(n), 2)
    order = np.lexsort((position, codes))                  # by gene, then by rank
    starts = np.flatnonzero(np.r_[True, codes[order][1:] != codes[order][:-1]])
    place = np.empty(2 * n, dtype=np.int64)
    place[order] = np.arange(2 * n) - np.repeat(starts, np.diff(np.r_[starts, 2 * n]))
    rounds = np.maximum(place[:n], place[n:]) // per_gene
    out = frame.iloc[np.lexsort((np.arange(n), rounds))].reset_index(drop=True)
    out["rank"] = np.arange(1, n + 1)
    return out, int((rounds > 0).sum())
