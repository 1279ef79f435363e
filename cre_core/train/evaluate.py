"""Predictions of a trained model on rows of the set table, and the test report of a run.

The test report scores the held-out sets (Pearson, Spearman, R², MSE, and the interaction ε/τ
against the expectation without it), overall and per set size, with the noise ceilings beside
them, and writes ``predictions.parquet``.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from cre_core.atomic import atomic_path
from cre_core.metrics import null_expectation, regression_metrics, set_size_metrics
from cre_core.models import FitnessModel
from cre_core.train import data as D
from cre_core.workspace import Workspace


@torch.no_grad()
def predict_rows(model: FitnessModel, idx: torch.Tensor, rows: torch.Tensor, batch: int,
                 amp: bool = False) -> np.ndarray:
    """Eval-mode predictions for ``idx[rows]`` in batches, as float64 numpy."""
    model.eval()
    batch = model.eval_rows(batch)
    out = []
    ctx = torch.autocast("cuda", dtype=torch.bfloat16) if amp else contextlib.nullcontext()
    with ctx:
        for s in range(0, len(rows), batch):
            out.append(model(idx[rows[s:s + batch]])["pred"].float())
    return torch.cat(out).cpu().double().numpy() if out else np.zeros(0)


def score_test(model: FitnessModel, table: D.SetTable, test_rows: np.ndarray, idx: torch.Tensor,
               rows: torch.Tensor, batch: int, amp: bool, out: Path, smf_input: bool = False) -> dict[str, Any]:
    """Metrics of ``model`` on the test sets; their predictions go to ``out`` (Parquet).

    Summary keys: ``pearson spearman r2 mse n_test`` over every test set; ``eps_pearson
    eps_spearman n_eps`` (doubles) and ``tau_pearson n_tau`` (triples): the predicted
    interaction f̂ − ``null_expectation`` against the measured one; ``by_size``: the same per
    set size ("1", "2", "3"; ``set_size_metrics``). ``smf_input``: the model reads the measured
    SMF, so its single-mutant "predictions" are the measurement (flagged in ``by_size["1"]``).
    """
    pred = predict_rows(model, idx, rows, batch, amp)
    true = table.fitness[test_rows].astype(np.float64)
    doubles = table.size == 2
    expected = null_expectation(table.idx[test_rows], table.smf, table.idx[doubles, :2], table.interaction[doubles])
    with atomic_path(out) as tmp:
        prediction_frame(table, test_rows, true, pred, expected).to_parquet(tmp, index=False)
    metrics = regression_metrics(true, pred)
    by_size = set_size_metrics(table.size[test_rows], true, pred, expected, table.interaction[test_rows])
    if smf_input and "1" in by_size:
        by_size["1"]["smf_input"] = True
    pairs, triples = by_size.get("2", {}), by_size.get("3", {})
    return {"pearson": metrics["pearson"], "spearman": metrics["spearman"], "r2": metrics["r2"],
            "mse": metrics["mse"], "n_test": metrics["n"],
            "eps_pearson": pairs.get("interaction_pearson"), "eps_spearman": pairs.get("interaction_spearman"),
            "n_eps": pairs.get("n_interaction", 0),
            "tau_pearson": triples.get("interaction_pearson"), "n_tau": triples.get("n_interaction", 0),
            "by_size": by_size, "wt_pred": model.wt_prediction() if model.wt_model else None}


def prediction_frame(table: D.SetTable, rows: np.ndarray, true: np.ndarray, pred: np.ndarray,
                     expected: np.ndarray) -> pd.DataFrame:
    """One row per test set: genes ("A,B[,C]"), n_genes, true, predicted, gene_a..c, smf_a..c,
    multiplicative (Π SMF), epsilon_pred / epsilon_true: the set's own interaction (ε for doubles,
    τ for triples; predicted = f̂ − ``null_expectation``), NaN for single mutants."""
    sets = table.idx[rows]
    genes = np.asarray(table.genes + [None], dtype=object)          # PAD (-1) reads None
    smf = np.append(table.smf, np.float32(np.nan))
    names = pd.DataFrame({c: pd.array(genes[sets[:, j]], dtype="string")
                          for j, c in enumerate(("gene_a", "gene_b", "gene_c"))})
    mult = np.where(sets >= 0, smf[sets], np.float32(1)).prod(1).astype(np.float64)
    return pd.DataFrame({
        "genes": names["gene_a"] + ("," + names["gene_b"]).fillna("") + ("," + names["gene_c"]).fillna(""),
        "n_genes": table.size[rows].astype(np.int64), "true": true, "predicted": pred,
        **{c: names[c] for c in names},
        **{f"smf_{c}": smf[sets[:, j]] for j, c in enumerate("abc")},
        "multiplicative": mult, "epsilon_pred": pred - expected, "epsilon_true": table.interaction[rows],
    })


def ceiling_summary(ws: Workspace, table: D.SetTable, test_rows: np.ndarray, by_size: dict) -> dict[str, Any]:
    """The noise ceilings of the test sets and each r as a fraction of its ceiling.

    ``ceilings``: ``truth`` (demo workspaces: the gene-level ceiling of these test sets,
    :func:`cre_core.demo.ceiling.truth_ceiling`; None elsewhere) and ``replicate`` (the store's
    split-half ceiling, :func:`~cre_core.data.ceilings.replicate_ceiling`). ``ceiling_source``
    names the one fractions use: the truth ceiling when there is one (it bounds a model of
    per-gene facts on exactly these sets), else the replicate ceiling. ``by_size[k]`` gains
    ``fitness_ceiling``, ``interaction_ceiling``, ``fitness_fraction`` and
    ``interaction_fraction`` (r / ceiling; None where either is undefined); ``ceiling_fraction``
    holds the doubles' and triples' fractions: ``fitness``, ``epsilon`` (pairs), ``tau``.
    """
    from cre_core.data.ceilings import replicate_ceiling
    from cre_core.demo.ceiling import truth_ceiling

    truth = truth_ceiling(ws, table.genes, table.idx[test_rows], table.fitness[test_rows],
                          table.interaction[test_rows])
    replicate = replicate_ceiling(ws)
    source, chosen = ("truth", truth) if truth is not None else ("replicate", replicate)
    for key, entry in by_size.items():
        ceiling = chosen["by_size"].get(int(key)) or {}
        entry["fitness_ceiling"], entry["interaction_ceiling"] = ceiling.get("fitness_r"), ceiling.get("epsilon_r")
        entry["fitness_fraction"] = _fraction(entry.get("pearson"), entry["fitness_ceiling"])
        entry["interaction_fraction"] = _fraction(entry.get("interaction_pearson"), entry["interaction_ceiling"])
    pairs, triples = by_size.get("2", {}), by_size.get("3", {})
    return {"ceilings": {"truth": truth, "replicate": replicate}, "ceiling_source": source,
            "ceiling_fraction": {"fitness": pairs.get("fitness_fraction"),
                                 "epsilon": pairs.get("interaction_fraction"),
                                 "tau": triples.get("interaction_fraction")}}


def _fraction(r: float | None, ceiling: float | None) -> float | None:
    if r is None or ceiling is None or not np.isfinite(r) or ceiling <= 0:
        return None
    return float(r) / float(ceiling)
