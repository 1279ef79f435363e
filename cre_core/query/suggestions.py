"""Pairs to measure next (``cre suggest``, the Query page's Plan tab): unmeasured pairs ranked by
an ensemble run's predicted |ε̂| and by how much its members disagree.

Candidates are every pair among a gene list, or a gene with each of its possible partners (the
run's whole vocabulary), less the pairs the store has measured (the ``dmf`` table). Each pair gets
two scores from the K members' predicted pair fitness f̂_k:

- ``abs_epsilon``: |ε̂| = |mean_k f̂_k − f_a·f_b| (measured SMF; NaN when a gene has none), how
  strong an interaction the run expects: worth measuring to find one;
- ``disagreement``: the members' sd of f̂ (= the sd of ε̂, the product being shared), how little
  the run knows the pair: worth measuring to teach it.

``rank_epsilon`` and ``rank_disagreement`` order the pairs by each (1 = first to measure);
``rank_combined`` orders them by the mean of the two ranks (ties by |ε̂|), so a pair ranks high
only when both scores are high. Pairs without ε̂ rank last on |ε̂|.

``rank`` is the order to measure in, set by the policy (:mod:`cre_core.query.first_interactions`):
``rank`` (the default) is the combined rank, among a gene list in rounds of at most ``per_gene``
pairs per gene (:func:`cap_per_gene`) so that a few genes the run is unsure of do not fill the
top; ``first-interactions`` puts first the pairs likeliest to give a gene without a strong
measured interaction among the run's training pairs its first one (``p_interaction``,
``first_interactions``), then the rest as ``rank`` does. What each order finds, and whether it
teaches a retrained run more than random picks (none does on the demo), is measured by
``bench/suggest.py`` (bench/RESULTS.md, "Pairs to measure next").
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cre_core.data.lookup import resolve_genes
from cre_core.errors import CreError
from cre_core.query.browse import SIGNIFICANT_EPSILON
from cre_core.query.first_interactions import interaction_chance, order_pairs
from cre_core.query.service import LoadedRun, load_model
from cre_core.query.spread import PER_GENE, POLICIES, POLICY
from cre_core.train.ensemble import LEVEL, spread
from cre_core.workspace import Workspace

MAX_PAIRS = 2_000_000      # ~2,000 listed genes; a gene's partners are always allowed
COLUMNS = ["rank", "gene_a", "name_a", "gene_b", "name_b", "predicted", "multiplicative", "epsilon_pred",
           "epsilon_lo", "epsilon_hi", "abs_epsilon", "disagreement", "p_interaction", "first_interactions",
           "rank_combined", "rank_epsilon", "rank_disagreement"]


def score_pairs(loaded: LoadedRun, pairs: np.ndarray, members: np.ndarray | None = None) -> pd.DataFrame:
    """Both scores, ``p_interaction`` and the three score ranks (module docstring) for ``pairs``
    (n, 2) of the run's gene indices, best combined rank first (``rank`` = ``rank_combined`` until
    :func:`order_pairs` orders them). ``members``: the (K, n) member predictions when already computed."""
    if loaded.members < 2:
        raise CreError(f"run {loaded.run_id} is a single model: suggestions need the members' disagreement; "
                       "train an ensemble (train --ensemble K)")
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if members is None:
        members = loaded.member_sets(pairs.tolist()) if len(pairs) else np.zeros((loaded.members, 0))
    mult = loaded.smf[pairs[:, 0]] * loaded.smf[pairs[:, 1]]
    values = loaded.values(members, mult)
    names = np.asarray(loaded.names, dtype=object)
    genes = np.asarray(loaded.genes, dtype=object)
    frame = pd.DataFrame({
        "gene_a": genes[pairs[:, 0]], "name_a": names[pairs[:, 0]],
        "gene_b": genes[pairs[:, 1]], "name_b": names[pairs[:, 1]],
        **{k: values[k] for k in ("predicted", "multiplicative", "epsilon_pred", "epsilon_lo", "epsilon_hi")},
        "abs_epsilon": np.abs(values["epsilon_pred"]), "disagreement": spread(members),
    })
    calibration = (loaded.calibration or {}).get("epsilon")
    frame["p_interaction"] = interaction_chance(values["epsilon_pred"], values["epsilon_lo"], values["epsilon_hi"],
                                                calibration.level if calibration else LEVEL)
    frame["rank_epsilon"] = frame["abs_epsilon"].rank(ascending=False, method="first", na_option="bottom")
    frame["rank_disagreement"] = frame["disagreement"].rank(ascending=False, method="first")
    mean_rank = (frame["rank_epsilon"] + frame["rank_disagreement"]) / 2
    order = np.lexsort((-frame["abs_epsilon"].fillna(-1).to_numpy(), mean_rank.to_numpy()))
    frame["rank_combined"] = 0
    frame.loc[frame.index[order], "rank_combined"] = np.arange(1, len(frame) + 1)
    for col in ("rank_combined", "rank_epsilon", "rank_disagreement"):
        frame[col] = frame[col].astype(int)
    frame["rank"], frame["first_interactions"] = frame["rank_combined"], 0.0
    return frame.sort_values("rank").reset_index(drop=True)[COLUMNS]


def unexplored_genes(ws: Workspace, loaded: LoadedRun) -> set[str]:
    """The run's genes with no strong measured interaction (|ε| > SIGNIFICANT_EPSILON, the store's
    ε) among its training pairs (:meth:`LoadedRun.training_strains`)."""
    vocabulary, idx = loaded.training_strains(ws)
    idx = idx[(idx[:, 1] >= 0) & (idx[:, 2] < 0)]                  # pairs
    names = np.asarray(vocabulary, dtype=object)
    a, b = names[idx[:, 0]], names[idx[:, 1]]
    train = pd.DataFrame({"gene_a": np.minimum(a, b), "gene_b": np.maximum(a, b)})
    con = ws.connect(read_only=True)
    try:
        con.register("plan_train", train)
        rows = con.execute("SELECT d.gene_a, d.gene_b FROM dmf d JOIN plan_train t USING (gene_a, gene_b) "
                           "WHERE abs(d.epsilon) > ?", [SIGNIFICANT_EPSILON]).fetchall()
        con.unregister("plan_train")
    finally:
        con.close()
    return set(loaded.genes) - {g for row in rows for g in row}


def _measured(ws: Workspace, genes: list[str]) -> set[tuple[str, str]]:
    """Measured pairs (gene_a < gene_b) with both genes in ``genes``."""
    con = ws.connect(read_only=True)
    try:
        con.register("plan_genes", pd.DataFrame({"gene": genes}))
        rows = con.execute("SELECT d.gene_a, d.gene_b FROM dmf d JOIN plan_genes a ON d.gene_a = a.gene "
                           "JOIN plan_genes b ON d.gene_b = b.gene").fetchall()
        con.unregister("plan_genes")
    finally:
        con.close()
    return {(a, b) for a, b in rows}


def _partners_measured(ws: Workspace, gene: str) -> set[str]:
    con = ws.connect(read_only=True)
    try:
        rows = con.execute(       # two pushed-down filters (as the partner scan)
            "SELECT gene_b FROM dmf WHERE gene_a = ? UNION SELECT gene_a FROM dmf WHERE gene_b = ?",
            [gene, gene]).fetchall()
    finally:
        con.close()
    return {r[0] for r in rows}


def _resolve(ws: Workspace, loaded: LoadedRun, names: list[str]) -> list[str]:
    con = ws.connect(read_only=True)
    try:
        genes = list(dict.fromkeys(resolve_genes(con, names)))       # a gene listed twice counts once
    finally:
        con.close()
    missing = [g for g in genes if g not in loaded.index]
    if missing:
        raise CreError(f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''} not in the gene set "
                       f"of run {loaded.run_id}")
    return genes


def suggest(ws: Workspace, run_id: str, genes: list[str] | None = None, gene: str | None = None,
            per_gene: int = PER_GENE, policy: str = POLICY) -> tuple[pd.DataFrame, dict]:
    """Every unmeasured candidate pair in the ``policy``'s order (module docstring; the combined
    rank among ``genes`` in rounds of at most ``per_gene`` pairs per gene, 0 = no cap), and what
    was left out.

    Give ``genes`` (pairs among them; at least 2) or ``gene`` (its pairs with every other gene of
    the run: each partner is in one pair, so no cap applies). Returns (frame, info) with info =
    {run_id, members, mode, policy, candidates, measured (pairs skipped as measured), no_epsilon
    (pairs without ε̂: a gene lacks SMF), unexplored (candidate genes without a strong training
    interaction; null for policy ``rank``), first_pairs (pairs put first by ``first_interactions``;
    0 for policy ``rank``), per_gene (the cap applied, null for a gene's partners), deferred (combined-rank
    pairs after the cap's first round)}.
    """
    if (genes is None) == (gene is None):
        raise CreError("give a gene list or one gene (not both)")
    if per_gene < 0:
        raise CreError(f"the cap per gene must be 0 (no cap) or more, not {per_gene}")
    if policy not in POLICIES:
        raise CreError(f"unknown policy {policy!r}: one of {', '.join(POLICIES)}")
    loaded = load_model(ws, run_id)
    if loaded.members < 2:
        score_pairs(loaded, np.zeros((0, 2)))                  # raises the single-model message
    if gene is not None:
        g = _resolve(ws, loaded, [gene])[0]
        done = _partners_measured(ws, g)
        i = loaded.index[g]
        partners = np.array([j for j, p in enumerate(loaded.genes) if j != i and p not in done], dtype=np.int64)
        pairs = np.stack([np.full(len(partners), i), partners], 1)
        members = loaded.member_scan(i)[:, partners]
        measured, mode = len(done), "partners"
    else:
        listed = _resolve(ws, loaded, list(genes or []))
        if len(listed) < 2:
            raise CreError("give at least two different genes to pair")
        n_pairs = len(listed) * (len(listed) - 1) // 2
        if n_pairs > MAX_PAIRS:
            raise CreError(f"{len(listed):,} genes make {n_pairs:,} pairs; at most {MAX_PAIRS:,} "
                           "(split the list, or ask for one gene's partners)")
        done_pairs = _measured(ws, listed)
        idx = np.array([loaded.index[g] for g in listed], dtype=np.int64)
        a, b = np.triu_indices(len(listed), 1)
        keep = np.array([(min(listed[i], listed[j]), max(listed[i], listed[j])) not in done_pairs
                         for i, j in zip(a, b)], dtype=bool)
        pairs = np.stack([idx[a[keep]], idx[b[keep]]], 1)
        members, measured, mode = None, int((~keep).sum()), "list"
    frame = score_pairs(loaded, pairs, members)
    cap = per_gene if mode == "list" else None
    first = policy == "first-interactions"             # reads the run's training pairs: only when asked
    unexplored = unexplored_genes(ws, loaded) & (set(frame["gene_a"]) | set(frame["gene_b"])) if first else set()
    frame, deferred = order_pairs(frame, policy, cap, unexplored)
    info = {"run_id": loaded.run_id, "members": loaded.members, "mode": mode, "policy": policy,
            "candidates": len(frame), "measured": measured, "no_epsilon": int(frame["epsilon_pred"].isna().sum()),
            "unexplored": len(unexplored) if first else None,
            "first_pairs": int((frame["first_interactions"] > 0).sum()), "per_gene": cap, "deferred": deferred}
    return frame, info
