"""Hand-written run folders in the real layout (cre_core.train.runs), for page tests that need
runs without training one: known metrics, known wt_mean spikes."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from cre_core.atomic import atomic_path, write_json_atomic
from cre_core.train.config import TrainConfig
from cre_core.train.runs import JsonlWriter, write_status
from cre_core.workspace import Workspace


def write_fake_run(
    ws: Workspace, run_id: str, model: str = "wt-diff", status: str = "done",
    wt_mean: list[float] | None = None, n_test: int = 200, seed: int = 0, **config,
) -> dict:
    """A finished (or ``status``) run with epochs, steps (from ``wt_mean``), predictions, summary."""
    folder = ws.runs_dir / run_id
    folder.mkdir(parents=True)
    cfg = TrainConfig.of(model=model, **config)
    write_json_atomic(folder / "config.json", cfg.to_dict())
    write_status(folder, status, created=time.time(), epoch=3, step=len(wt_mean or []))
    epochs = JsonlWriter(folder / "epochs.jsonl")
    for e in range(1, 4):
        epochs.write({"epoch": e, "train_loss": 0.05 / e, "val_loss": 0.06 / e, "val_pearson": 0.2 * e,
                      "val_spearman": 0.18 * e, "val_r2": 0.1 * e})
    epochs.close()
    if wt_mean is not None:
        steps = JsonlWriter(folder / "steps.jsonl")
        for i, w in enumerate(wt_mean):
            steps.write({"step": i, "epoch": 1 + i * 3 // len(wt_mean), "loss": 0.05 + 0.01 * abs(w - 1),
                         "wt_mean": w, "wt_loss": (w - 1) ** 2, "grad_norm": 1.0 + 5 * abs(w - 1)})
        steps.close()
    rng = np.random.default_rng(seed)
    true = np.clip(rng.normal(0.8, 0.2, n_test), 0, 1.2)
    pred = true + rng.normal(0, 0.1, n_test)
    with atomic_path(folder / "predictions.parquet") as tmp:
        pd.DataFrame({
            "genes": [f"G{i}A,G{i}B" for i in range(n_test)], "n_genes": 2, "true": true, "predicted": pred,
        }).to_parquet(tmp, index=False)
    summary = {"pearson": float(np.corrcoef(true, pred)[0, 1]), "spearman": 0.5,
               "r2": float(1 - ((true - pred) ** 2).sum() / ((true - true.mean()) ** 2).sum()),
               "mse": float(((true - pred) ** 2).mean()), "n_test": n_test,
               "wt_pred": wt_mean[-1] if wt_mean else None}
    if status == "done":
        write_json_atomic(folder / "summary.json", summary)
    return summary
