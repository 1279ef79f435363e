"""Tables of several runs, built from the run folders: what Train, wt_mean and Results show.

Run labels, groups of runs that share a test set, the comparison table, step metrics of several
runs, and box statistics. Pure pandas on top of ``cre_core.train.runs``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cre_core.metrics import fitness_bins
from cre_core.train import runs as run_files
from cre_core.train.config import TrainConfig
from cre_core.workspace import Workspace

FINISHED = ("done", "diverged")              # runs with test predictions
LIVE = ("queued", "running")
# The settings that define a test set: runs agreeing on them were scored on the same pairs.
SPLIT_KEYS = ("split", "split_seed", "val_frac", "test_frac", "subset")


def run_label(row: dict | pd.Series, config: dict | None = None) -> str:
    """``run_id · model [features/embedder] [norm, clip, warm-up]`` for legends and pickers."""
    config = config or {}
    parts = [str(row["run_id"])]
    if str(row["model"]) not in str(row["run_id"]):       # run ids usually name the model
        parts.append(str(row["model"]))
    embedder, features = _given(row.get("embedder")), _given(row.get("features"))
    if embedder:                                          # (NaN in a frame reads as not given)
        parts.append(embedder if not features or f"-{features}-" in str(row["run_id"])
                     else f"{features}/{embedder}")
    extras = []
    if (config.get("ensemble") or 1) > 1:
        extras.append(f"ensemble of {config['ensemble']}")
    if config.get("norm") and config["norm"] != "none":
        extras.append(f"{config['norm']}norm")
    if config.get("clip"):
        extras.append(f"clip {config['clip']:g}")
    if config.get("wt_warmup"):
        extras.append(f"warm-up {config['wt_warmup']}")
    if extras:
        parts.append(", ".join(extras))
    return " · ".join(parts)


def _given(value: Any) -> Any:
    """``value``, or None when it is missing (None, NaN or empty)."""
    return None if value is None or value != value or value == "" else value


def ceiling_values(summary: dict) -> dict[str, float | None]:
    """The run's noise ceilings on Pearson r (fitness, ε) and its r as a fraction of them.

    ``summary["ceilings"]`` is one ceiling (``fitness_r``, ``epsilon_r``: cre_core.data.ceilings)
    or several by name (``replicate``, ``truth``); with several the lowest, the tightest bound,
    is used. Every value is None when the run has no ceilings.
    """
    found = summary.get("ceilings") or {}
    entries = [found] if "fitness_r" in found else [v for v in found.values() if isinstance(v, dict)]

    def tightest(key: str) -> float | None:
        values = [e[key] for e in entries if _given(e.get(key)) is not None and e[key] > 0]
        return min(values) if values else None

    fit, eps = tightest("fitness_r"), tightest("epsilon_r")
    r, eps_r = _given(summary.get("pearson")), _given(summary.get("eps_pearson"))
    return {"ceiling_r": fit, "ceiling_eps_r": eps,
            "r_of_ceiling": r / fit if r is not None and fit else None,
            "eps_r_of_ceiling": eps_r / eps if eps_r is not None and eps else None}


def runs_with_configs(ws: Workspace) -> pd.DataFrame:
    """list_runs plus each run's config settings (norm, clip, split keys...) and a label."""
    frame = run_files.list_runs(ws)
    if frame.empty:
        return frame.assign(label=pd.Series(dtype=str))
    configs, split_files, ceilings = [], [], []
    for run_id in frame["run_id"]:
        try:
            run = run_files.load_run(ws, run_id)
            configs.append(run["config"] or {})
            split_files.append(((run["summary"] or {}).get("split_info") or {}).get("split_file"))
            ceilings.append(ceiling_values(run["summary"] or {}))
        except Exception:  # noqa: BLE001 - a half-written folder must not hide the others
            configs.append({})
            split_files.append(None)
            ceilings.append(ceiling_values({}))
    extra = pd.DataFrame([{**{k: c.get(k) for k in ("norm", "clip", "wt_warmup", "lr", "epochs",
                                                    *SPLIT_KEYS[1:])}, **ceiling}
                          for c, ceiling in zip(configs, ceilings)])
    frame = pd.concat([frame.reset_index(drop=True), extra], axis=1)
    frame["label"] = [run_label(r, c) for r, c in zip(frame.to_dict("records"), configs)]
    frame["test_set"] = [split_label(c, name) for c, name in zip(configs, split_files)]
    return frame


def queryable(runs: pd.DataFrame, ws: Workspace) -> pd.DataFrame:
    """Finished runs that saved a trained model (what the Query page can predict with)."""
    if runs.empty:
        return runs
    has_model = [(ws.runs_dir / r / "checkpoints" / "best.pt").exists() for r in runs["run_id"]]
    return runs[runs["status"].isin(FINISHED) & pd.Series(has_model, index=runs.index)]


def split_label(config: dict, split_file: str | None = None) -> str:
    """A readable key of the test set a run was scored on (see SPLIT_KEYS); a published split
    is named by ``split_file``, its file name and hash from the run's summary."""
    if not config:
        return "unknown"
    subset = config.get("subset")
    if config.get("split_file"):
        name = split_file or Path(config["split_file"]).name
        return f"split file {name} · " + (f"subset {subset:,}" if subset else "all pairs")
    return (f"{config.get('split')} split · seed {config.get('split_seed')} · "
            f"test {config.get('test_frac')} · val {config.get('val_frac')} · "
            + (f"subset {subset:,}" if subset else "all pairs"))


def comparison_table(runs: pd.DataFrame) -> pd.DataFrame:
    """The Results table: one row per run with test metrics (R² is variance explained).

    Features and embedder are part of the run label, which keeps the metrics in view.
    """
    cols = {"label": "run", "model": "model",
            "test_pearson": "Pearson r", "test_spearman": "Spearman ρ", "test_r2": "R² (variance explained)",
            "test_mse": "MSE", "n_test": "n", "eps_pearson": "ε Pearson r", "n_eps": "n (ε)",
            "ceiling_r": "ceiling r", "r_of_ceiling": "r / ceiling", "ceiling_eps_r": "ε ceiling r",
            "eps_r_of_ceiling": "ε r / ceiling", "coverage": "80% interval coverage",
            "eps_coverage": "ε interval coverage", "status": "status"}
    present = [c for c in cols if c in runs]
    table = runs[present].copy()
    for c in ("test_pearson", "test_spearman", "test_r2", "test_mse", "eps_pearson", "n_test", "n_eps",
              "ceiling_r", "r_of_ceiling", "ceiling_eps_r", "eps_r_of_ceiling", "coverage", "eps_coverage"):
        if c in table:
            table[c] = pd.to_numeric(table[c], errors="coerce")
    return table.rename(columns=cols).reset_index(drop=True)


def _collect(runs: pd.DataFrame, read, columns: list[str]) -> pd.DataFrame:
    """Several runs' metrics with a ``run`` column; ``attrs["skipped"]``: (run id, line) of
    every line left out because it was not a JSON object."""
    frames, skipped = [], []
    for run_id, label in zip(runs["run_id"], runs["label"]):
        frame = read(run_id)
        skipped += [(run_id, line) for line in frame.attrs.get("skipped_lines", [])]
        if len(frame):
            frames.append(frame.assign(run=label))
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[*columns, "run"])
    out.attrs = {"skipped": skipped}
    return out


def collect_steps(ws: Workspace, runs: pd.DataFrame) -> pd.DataFrame:
    """Per-step metrics of several runs in one frame, with a ``run`` column (their labels)."""
    return _collect(runs, lambda run_id: run_files.read_step_metrics(ws, run_id), run_files.STEP_COLUMNS)


def collect_epochs(ws: Workspace, runs: pd.DataFrame) -> pd.DataFrame:
    """Per-epoch metrics of several runs, with a ``run`` column."""
    return _collect(runs, lambda run_id: run_files.read_epoch_metrics(ws, run_id), run_files.EPOCH_COLUMNS)


def thin_steps(steps: pd.DataFrame, max_points: int = 1500, keep: pd.DataFrame | None = None) -> pd.DataFrame:
    """At most ``max_points`` evenly spaced steps per run for drawing; rows of ``keep``
    (e.g. the spikes, matched on run and step) are always kept."""
    parts = []
    for _, group in steps.groupby("run", sort=False):
        if len(group) > max_points:
            idx = np.unique(np.linspace(0, len(group) - 1, max_points).round().astype(int))
            chosen = group.iloc[idx]
            if keep is not None and len(keep):
                extra = group[group["step"].isin(keep.loc[keep["run"] == group["run"].iloc[0], "step"])]
                chosen = pd.concat([chosen, extra]).drop_duplicates("step").sort_values("step")
            parts.append(chosen)
        else:
            parts.append(group)
    return pd.concat(parts, ignore_index=True) if parts else steps


def box_stats(predictions: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Predicted fitness per bin of true fitness, per run (quartiles, 5-95 % whiskers)."""
    rows = []
    for label, frame in predictions.items():
        for order, b in enumerate(fitness_bins(frame["true"].to_numpy(), frame["predicted"].to_numpy())):
            if b["n"]:
                rows.append({"run": label, "order": order, **b})
    return pd.DataFrame(rows, columns=["run", "order", "bin", "n", "p05", "q1", "median", "q3", "p95"])


# The seed report's wt_mean comparison, one click away on the wt_mean stability page.
WT_VARIANTS: dict[str, dict[str, Any]] = {
    "BatchNorm (the seed's model)": {"model": "wt-diff", "norm": "batch"},
    "LayerNorm": {"model": "wt-diff", "norm": "layer"},
    "BatchNorm + gradient clipping": {"model": "wt-diff", "norm": "batch", "clip": 1.0},
    "BatchNorm + wild-type warm-up": {"model": "wt-diff", "norm": "batch", "wt_warmup": 100},
    "Anchored (stable by construction)": {"model": "wt-anchored", "norm": "batch"},
}


def wt_variant_configs(epochs: int, subset: int | None = None, **common: Any) -> dict[str, TrainConfig]:
    """One TrainConfig per WT_VARIANTS entry, sharing epochs, subset and any other settings."""
    return {label: TrainConfig.of(**{**common, **overrides, "epochs": epochs, "subset": subset})
            for label, overrides in WT_VARIANTS.items()}


def _summaries(ws: Workspace, runs: pd.DataFrame) -> Iterator[tuple[str, dict]]:
    """(label, summary.json) of each run in ``runs`` whose files are readable; an unreadable run
    is skipped (the pages list those apart)."""
    for run_id, label in zip(runs["run_id"], runs["label"]):
        try:
            summary = run_files.load_run(ws, run_id)["summary"] or {}
        except Exception:  # noqa: BLE001 - an unreadable run has no row, the others stay
            continue
        yield label, summary


def cross_validation_table(ws: Workspace, runs: pd.DataFrame) -> pd.DataFrame:
    """What the interaction model chose by cross-validation over its training pairs, one row per
    run and candidate: the representation (--embedder auto) and the pair ridge's λ and rank, with
    the held-out ε r of every fold at the candidate's best setting (summary.json's
    ``embedder_choice`` and ``pair_ridge.cv``)."""
    rows = []
    for label, summary in _summaries(ws, runs):
        choice = summary.get("embedder_choice") or {}
        stages = [(f"representation: {name}", cv, name == choice.get("chosen"))
                  for name, cv in (choice.get("candidates") or {}).items()]
        if choice.get("control"):
            stages.append(("representation: random (control)", choice["control"], False))
        ridge = summary.get("pair_ridge") or {}
        if ridge.get("cv"):
            stages.append(("pair ridge λ, rank", ridge["cv"], bool(ridge.get("used"))))
        for what, cv, chosen in stages:
            best = cv.get("best") or {}
            folds: dict = next((s for s in cv.get("scores", []) if s.get("lambda") == best.get("lambda")
                          and s.get("rank") == best.get("rank")), {})
            rows.append({"run": label, "choice": what, "chosen": chosen, "λ": best.get("lambda"),
                         "rank": best.get("rank"), "folds by": cv.get("by"),
                         "held-out ε r (mean)": best.get("mean_r"),
                         "held-out ε r per fold": ", ".join(f"{r:.3f}" for r in folds.get("r", [])
                                                            if r is not None and np.isfinite(r))})
    return pd.DataFrame(rows)


def unseen_gene_warnings(ws: Workspace, runs: pd.DataFrame) -> list[str]:
    """One sentence per run whose --embedder auto choice did not beat the random control in
    every fold (summary.json's ``embedder_choice``): with folds of held-out genes (the gene
    split) its ε̂ for genes without measured pairs carries no signal the run could show; with
    folds of pairs, the sequence adds nothing over who the gene is."""
    out = []
    for label, summary in _summaries(ws, runs):
        choice = summary.get("embedder_choice") or {}
        if choice.get("beats_control") is False:
            cv = choice["control"]
            meaning = ("its ε̂ for genes without measured pairs is no better than with random vectors"
                       if cv.get("by") == "genes" else
                       "on held-out pairs of measured genes, random vectors (who the gene is) predict ε "
                       "at least as well as its sequence")
            out.append(f"{label}: {choice['chosen']} did not beat the random control in cross-validation "
                       f"(lower held-out ε MSE in {choice.get('control_fold_wins')} of {cv.get('folds')} "
                       f"folds by {cv.get('by')}): {meaning}.")
    return out
