"""wt_mean stability: find and count the steps where the wild-type prediction leaves 1.0.

A *spike step* is a training step with |wt_mean − 1| above a threshold; a *spike* is a run of
consecutive spike steps (one excursion). The wt_mean stability page compares runs by these
numbers (BatchNorm vs LayerNorm vs clipping vs warm-up vs anchored), as the seed report did.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SUMMARY_COLUMNS = [
    "run", "steps", "spike_steps", "spikes", "spike_fraction", "max_deviation",
    "first_spike_step", "final_wt_mean", "median_abs_deviation",
]


def spike_steps(steps: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Rows of ``steps`` (columns step, wt_mean, optional run) where |wt_mean − 1| > threshold.

    Adds ``deviation`` (|wt_mean − 1|) and ``spike`` (the excursion's number within its run,
    counting from 1).
    """
    if threshold < 0:
        raise ValueError("threshold must be ≥ 0")
    frame = steps.dropna(subset=["wt_mean"]).copy()
    if "run" not in frame:
        frame["run"] = "run"
    frame = frame.sort_values(["run", "step"], kind="stable")
    frame["deviation"] = (frame["wt_mean"] - 1.0).abs()
    above = frame["deviation"] > threshold
    # A new excursion starts where a step is above and the previous step of the run was not.
    prev = above.groupby(frame["run"]).shift(1, fill_value=False)
    frame["spike"] = (above & ~prev).groupby(frame["run"]).cumsum()
    return frame[above].reset_index(drop=True)


def spike_summary(steps: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """One row per run: steps, spike steps, spikes (excursions), worst deviation and more."""
    frame = steps.dropna(subset=["wt_mean"]).copy()
    if "run" not in frame:
        frame["run"] = "run"
    spikes = spike_steps(frame, threshold)
    rows = []
    for run, group in frame.sort_values("step").groupby("run", sort=True):
        dev = (group["wt_mean"] - 1.0).abs()
        mine = spikes[spikes["run"] == run]
        rows.append({
            "run": run,
            "steps": len(group),
            "spike_steps": len(mine),
            "spikes": int(mine["spike"].max()) if len(mine) else 0,
            "spike_fraction": len(mine) / len(group) if len(group) else np.nan,
            "max_deviation": float(dev.max()) if len(dev) else np.nan,
            "first_spike_step": int(mine["step"].min()) if len(mine) else None,
            "final_wt_mean": float(group["wt_mean"].iloc[-1]) if len(group) else np.nan,
            "median_abs_deviation": float(dev.median()) if len(dev) else np.nan,
        })
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
