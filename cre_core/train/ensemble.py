"""``train --ensemble K``: K seeded members trained as one run, and their calibrated 80% interval.

Layout of an ensemble run folder::

    config.json, status.json        as any run (config.ensemble = K)
    members/k/                      member k: a normal run folder (seed = seed + k, ensemble 1)
    checkpoints/best.pt             written last: every member's weights, the shared meta and
                                    the interval calibration (what the query service loads)
    predictions.parquet             test predictions: member mean, its interval, member sd
    summary.json                    metrics of the member mean, each member's metrics, coverage

Members train one after another in the same process. Stop (SIGTERM) interrupts the member in
progress, which saves its checkpoint as any run does; ``--resume`` skips finished members,
resumes the interrupted one and trains the rest. Members share the split (same split seed).

The interval. K members alone under-cover: they agree more than they are right. Per strain the
spread is s (the sd over members); the predictive sd is σ = √(s² + τ²), where the residual term
τ² = max(0, mean(r²) − mean(s²)) is fitted on the validation set (r = measured − member mean),
and the interval is mean ± c·σ with c the 80% quantile of |r|/σ on the validation set (a
split-conformal scale). ε̂ = f̂ − Π f_g gets its own τ and c, fitted on measured ε. Coverage, the
share of measured test values inside the interval, is reported for fitness and ε.
"""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from cre_core import runtime
from cre_core.atomic import atomic_path, clean_json, write_json_atomic
from cre_core.errors import CreError
from cre_core.metrics import null_expectation, regression_metrics, set_size_metrics
from cre_core.models.ensemble import Ensemble
from cre_core.processes import process_identity
from cre_core.train import data as D
from cre_core.train import runs as R
from cre_core.train.checkpoint import load_checkpoint, save_checkpoint
from cre_core.train.config import TrainConfig
from cre_core.train.evaluate import ceiling_summary
from cre_core.train.rebuild import rebuild_model
from cre_core.train.run_lock import RunLock
from cre_core.train.saved_split import check_unchanged, copy_saved
from cre_core.workspace import Workspace

LEVEL = 0.8
USABLE = ("done", "diverged")      # member statuses with a best checkpoint to use


@dataclass(frozen=True)
class Calibration:
    """σ = √(s² + tau²); interval = centre ± scale·σ (module docstring)."""

    tau: float
    scale: float
    n: int
    level: float = LEVEL

    def bounds(self, center: np.ndarray, spread: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        half = self.scale * np.sqrt(np.square(spread) + self.tau ** 2)
        return center - half, center + half

    @classmethod
    def from_dict(cls, data: dict) -> Calibration:
        return cls(float(data["tau"]), float(data["scale"]), int(data["n"]), float(data.get("level", LEVEL)))


def fit_calibration(center: np.ndarray, spread: np.ndarray, target: np.ndarray,
                    level: float = LEVEL) -> Calibration | None:
    """Residual term and conformal scale from validation rows (None without measured rows)."""
    ok = np.isfinite(center) & np.isfinite(spread) & np.isfinite(target)
    if ok.sum() < 2:
        return None
    resid, s = target[ok] - center[ok], spread[ok]
    tau = math.sqrt(max(0.0, float(np.mean(resid ** 2) - np.mean(s ** 2))))
    sigma = np.sqrt(s ** 2 + tau ** 2)
    if not (sigma > 0).all():            # identical members and a perfect fit: floor the width
        tau = max(tau, 1e-6)
        sigma = np.sqrt(s ** 2 + tau ** 2)
    scale = float(np.quantile(np.abs(resid) / sigma, level))
    return Calibration(tau, scale, int(ok.sum()), level)


def coverage(lo: np.ndarray, hi: np.ndarray, target: np.ndarray) -> float:
    """Share of measured (finite) values inside [lo, hi] (NaN when none is measured)."""
    ok = np.isfinite(target) & np.isfinite(lo) & np.isfinite(hi)
    return float(np.mean((target[ok] >= lo[ok]) & (target[ok] <= hi[ok]))) if ok.any() else math.nan


def spread(members: np.ndarray) -> np.ndarray:
    """Per-strain sd over members (rows of ``members``, shape (K, n))."""
    return members.std(0, ddof=1) if len(members) > 1 else np.zeros(members.shape[1])


def member_dir(folder: Path, k: int) -> Path:
    return Path(folder) / "members" / str(k)


def member_config(config: TrainConfig, k: int) -> TrainConfig:
    return TrainConfig.of(**{**config.flat(), "seed": config.seed + k, "ensemble": 1})


# --- training ------------------------------------------------------------------------------

def train_ensemble(ws: Workspace, config: TrainConfig, run_dir: str | Path | None, resume: bool,
                   echo: Callable[[str], None], train_member: Callable[..., dict | None]) -> dict:
    """Train (or resume) every member, then aggregate; returns the run's summary.

    ``train_member`` is ``cre_core.train.loop.train_run`` (passed in: loop calls this module).
    """
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise CreError("--ensemble trains its members in one process: run it without torchrun")
    if run_dir is None:
        if resume:
            raise CreError("--resume needs --run-dir (or a run id)")
        folder = R.create_run_dir(ws, config)
    else:
        folder = Path(run_dir).resolve()
        folder.mkdir(parents=True, exist_ok=True)
    lock = RunLock(folder)
    lock.acquire()                    # one writer per run folder (each member has its own too)
    try:
        with runtime.stop_on_signals():
            return _train_members(ws, config, folder, resume, echo, train_member)
    finally:
        lock.release()


def _train_members(ws: Workspace, config: TrainConfig, folder: Path, resume: bool,
                   echo: Callable[[str], None], train_member: Callable[..., dict | None]) -> dict:
    _setup(config, folder, resume)
    k_total = config.ensemble
    try:
        for k in range(k_total):
            sub = member_dir(folder, k)
            state = (R.read_json(sub / "summary.json") or {}).get("status")
            if state in USABLE and (sub / "checkpoints" / "best.pt").exists():
                continue
            if runtime.stop_requested():          # a stop between two members
                R.write_status(folder, "interrupted", message=f"stopped before member {k + 1}/{k_total}; "
                               "resume with --resume")
                return {"status": "interrupted", "run_id": folder.name, "run_dir": str(folder)}
            again = (sub / "checkpoints" / "last.pt").exists()
            R.write_status(folder, "running", message=f"member {k + 1}/{k_total}")
            echo(f"member {k + 1}/{k_total} (seed {config.seed + k})" + (": resuming" if again else ""))
            summary = train_member(ws, member_config(config, k), sub, resume=again,
                                   echo=lambda m, k=k: echo(f"[{k + 1}/{k_total}] {m}"))
            if summary is None:
                raise CreError(f"ensemble member {k + 1} returned no summary")
            if summary["status"] == "interrupted":
                R.write_status(folder, "interrupted", message=f"stopped in member {k + 1}/{k_total}; "
                               "resume with --resume")
                return {"status": "interrupted", "run_id": folder.name, "run_dir": str(folder)}
            if summary["status"] not in USABLE or not (sub / "checkpoints" / "best.pt").exists():
                raise CreError(f"ensemble member {k + 1} ended {summary['status']} without a model")
        summary = aggregate(ws, config, folder)
    except BaseException as exc:
        R.write_status(folder, "failed", message=f"{type(exc).__name__}: {exc}")
        raise
    R.write_status(folder, summary["status"], message=None, epoch=summary["epochs_run"])
    echo(f"ensemble of {k_total}: test r {summary['pearson']:.3f}, "
         f"80% interval covers {summary['interval']['fitness']['coverage']:.1%} of test fitness")
    return clean_json(summary)


def _setup(config: TrainConfig, folder: Path, resume: bool) -> None:
    if not resume and (folder / "members").exists():
        raise CreError(f"{folder} already holds a trained run; pass --resume or another --run-dir")
    (folder / "checkpoints").mkdir(exist_ok=True)
    write_json_atomic(folder / "config.json", config.to_dict())
    status = R.read_json(folder / "status.json") or {}
    R.write_status(folder, "running", **process_identity(os.getpid()),
                   created=status.get("created", time.time()), started=time.time(), world_size=1)


# --- aggregation ---------------------------------------------------------------------------

def members_from_states(ws: Workspace, meta: dict, states: list[dict]) -> Ensemble:
    """One Ensemble from K weight sets of the architecture ``meta`` describes (features loaded once)."""
    first = rebuild_model(ws, {"meta": meta, "model": states[0]})
    models = []
    for state in states:
        model = copy.deepcopy(first)
        model.load_state_dict(state)
        models.append(model.eval())
    return Ensemble(models).eval()


def load_members(ws: Workspace, folders: list[Path]) -> tuple[Ensemble, dict]:
    """The member runs' best models as one Ensemble, and member 0's meta."""
    ckpts = [load_checkpoint(f / "checkpoints" / "best.pt") for f in folders]
    return members_from_states(ws, ckpts[0]["meta"], [c["model"] for c in ckpts]), ckpts[0]["meta"]


@torch.no_grad()
def member_predictions(model: Ensemble, idx: np.ndarray, rows: np.ndarray, batch: int) -> np.ndarray:
    """(K, len(rows)) predictions of every member for the strains ``idx[rows]``."""
    batch = model.eval_rows(batch)
    sets = torch.from_numpy(idx[rows])
    parts = [model.member_predict(sets[s:s + batch]) for s in range(0, len(rows), batch)]
    return torch.cat(parts, dim=1).double().numpy() if parts else np.zeros((len(model), 0))


def aggregate(ws: Workspace, config: TrainConfig, folder: Path) -> dict:
    """Calibrate on validation, score the member mean and its interval on test, save the run."""
    t0 = time.time()
    folders = [member_dir(folder, k) for k in range(config.ensemble)]
    model, meta = load_members(ws, folders)
    table, split = D.training_rows(ws, config)
    if list(table.genes) != list(meta["genes"]):
        raise CreError("the store changed since the members were trained: train the ensemble again")
    check_unchanged(folders[0], table.genes, table.idx, {"train": split.train, "val": split.val, "test": split.test})
    copy_saved(folders[0], folder)        # the ensemble's split is its members' (one seed of split)
    frame = pd.read_parquet(folders[0] / "predictions.parquet")
    if not np.allclose(frame["true"].to_numpy(), table.fitness[split.test], equal_nan=True):
        raise CreError("member 0's test predictions do not match the split: train the ensemble again")

    parts = {}
    doubles = table.size == 2
    for part in ("val", "test"):
        rows = getattr(split, part)
        members = member_predictions(model, table.idx, rows, config.eval_batch_size)
        # fitness without the set's own interaction (f_a·f_b for pairs, Kuzmin's for triples)
        mult = null_expectation(table.idx[rows], table.smf, table.idx[doubles, :2], table.interaction[doubles])
        parts[part] = dict(members=members, mean=members.mean(0), sd=spread(members), mult=mult,
                           y=table.fitness[rows].astype(np.float64),
                           eps=table.interaction[rows].astype(np.float64))
    val, test = parts["val"], parts["test"]
    cal_fit = fit_calibration(val["mean"], val["sd"], val["y"])
    if cal_fit is None:
        raise CreError("the validation part has fewer than 2 measured sets: an interval cannot be "
                       "calibrated; use a larger --val-frac")
    cal_eps = fit_calibration(val["mean"] - val["mult"], val["sd"], val["eps"])
    lo, hi = cal_fit.bounds(test["mean"], test["sd"])
    eps_center = test["mean"] - test["mult"]
    eps_lo, eps_hi = cal_eps.bounds(eps_center, test["sd"]) if cal_eps else (np.full_like(lo, np.nan),) * 2
    frame = frame.assign(predicted=test["mean"], predicted_lo=lo, predicted_hi=hi, member_sd=test["sd"],
                         epsilon_pred=eps_center, epsilon_lo=eps_lo, epsilon_hi=eps_hi)
    with atomic_path(folder / "predictions.parquet") as tmp:
        frame.to_parquet(tmp, index=False)

    interval: dict[str, Any] = {"level": LEVEL, "fitness": _interval_report(cal_fit, lo, hi, test["y"]),
                "epsilon": _interval_report(cal_eps, eps_lo, eps_hi, test["eps"])}
    save_checkpoint(folder / "checkpoints" / "best.pt", {
        "members": [m.state_dict() for m in model.members],
        "meta": {**meta, "config": config.to_dict()},
        "calibration": {"fitness": asdict(cal_fit), "epsilon": asdict(cal_eps) if cal_eps else None},
    })
    member_summaries = [R.read_json(f / "summary.json") or {} for f in folders]
    metrics = regression_metrics(test["y"], test["mean"])
    by_size = set_size_metrics(table.size[split.test], test["y"], test["mean"], test["mult"], test["eps"])
    pairs, triples = by_size.get("2", {}), by_size.get("3", {})
    summary = {
        "run_id": folder.name, "run_dir": str(folder),
        "status": "diverged" if any(s.get("status") == "diverged" for s in member_summaries) else "done",
        **config.run_labels(),
        "n_train": len(split.train), "n_val": len(split.val), "n_genes": table.n_genes,
        "split_info": split.info, "best_epoch": None,
        "epochs_run": sum(int(s.get("epochs_run") or 0) for s in member_summaries),
        "device": "cpu", "world_size": 1, "ensemble": config.ensemble,
        "pearson": metrics["pearson"], "spearman": metrics["spearman"], "r2": metrics["r2"],
        "mse": metrics["mse"], "n_test": metrics["n"],
        "eps_pearson": pairs.get("interaction_pearson"), "eps_spearman": pairs.get("interaction_spearman"),
        "n_eps": pairs.get("n_interaction", 0), "tau_pearson": triples.get("interaction_pearson"),
        "n_tau": triples.get("n_interaction", 0), "by_size": by_size,
        **ceiling_summary(ws, table, split.test, by_size),
        "wt_pred": None, "interval": interval,
        "coverage": interval["fitness"]["coverage"], "eps_coverage": interval["epsilon"]["coverage"],
        "members": [{"member": k, "seed": config.seed + k, "status": s.get("status"),
                     "best_epoch": s.get("best_epoch"), "pearson": s.get("pearson"),
                     "eps_pearson": s.get("eps_pearson")} for k, s in enumerate(member_summaries)],
    }
    summary["seconds"] = round(sum(float(s.get("seconds") or 0) for s in member_summaries) + time.time() - t0, 2)
    write_json_atomic(folder / "summary.json", summary)
    return summary


def _interval_report(cal: Calibration | None, lo: np.ndarray, hi: np.ndarray, target: np.ndarray) -> dict:
    if cal is None:
        return {"coverage": None, "n": 0, "mean_width": None, "tau": None, "scale": None}
    ok = np.isfinite(target) & np.isfinite(lo) & np.isfinite(hi)
    return {"coverage": coverage(lo, hi, target), "n": int(ok.sum()),
            "mean_width": float(np.mean(hi[ok] - lo[ok])) if ok.any() else None,
            "tau": cal.tau, "scale": cal.scale, "n_val": cal.n}
