"""Predictions of a trained model on rows of the pair table, and the test report of a run.

The test report scores the held-out pairs (Pearson, Spearman, R², MSE, and the interaction ε
against the multiplicative expectation) and writes ``predictions.parquet`` beside it.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from cre_core.atomic import atomic_path
from cre_core.models import FitnessModel
from cre_core.train import data as D
from cre_core.train.metrics import epsilon_metrics, regression_metrics


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


def score_test(model: FitnessModel, table: D.PairTable, test_rows: np.ndarray, idx: torch.Tensor,
                rows: torch.Tensor, batch: int, amp: bool, out: Path) -> dict[str, Any]:
    """Metrics of ``model`` on the test pairs; their predictions go to ``out`` (Parquet)."""
    pred = predict_rows(model, idx, rows, batch, amp)
    true = table.fitness[test_rows].astype(np.float64)
    pairs = table.idx[test_rows]
    smf_a, smf_b = table.smf[pairs[:, 0]], table.smf[pairs[:, 1]]
    eps_true = table.epsilon[test_rows]
    metrics = regression_metrics(true, pred)
    genes = np.asarray(table.genes, dtype=object)
    mult = (smf_a * smf_b).astype(np.float64)      # float32, as the multiplicative model
    frame = pd.DataFrame({
        "genes": pd.Series(genes[pairs[:, 0]]) + "," + pd.Series(genes[pairs[:, 1]]),
        "n_genes": 2, "true": true, "predicted": pred,
        "gene_a": genes[pairs[:, 0]], "gene_b": genes[pairs[:, 1]],
        "smf_a": smf_a, "smf_b": smf_b, "multiplicative": mult,
        "epsilon_pred": pred - mult, "epsilon_true": eps_true,
    })
    with atomic_path(out) as tmp:
        frame.to_parquet(tmp, index=False)
    report = {"pearson": metrics["pearson"], "spearman": metrics["spearman"], "r2": metrics["r2"],
              "mse": metrics["mse"], "n_test": metrics["n"]}
    report.update(epsilon_metrics(pred, smf_a, smf_b, eps_true))
    report["wt_pred"] = model.wt_prediction() if model.wt_model else None
    return report
