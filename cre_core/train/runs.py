"""Run folders: written by one training process, read by any other (the app) while it runs.

Layout of ``WORKSPACE/runs/RUN_ID/``::

    config.json          the TrainConfig (written once)
    status.json          {status, pid, host, epoch, step, updated, message...}  atomic replace
    epochs.jsonl         one JSON object per epoch (train/val loss, Pearson, Spearman, R²...)
    steps.jsonl          per-step metrics of wt models (loss, wt_mean, wt_loss, grad_norm)
    checkpoints/last.pt  full training state; checkpoints/best.pt model of the best epoch
    predictions.parquet  test predictions (written at the end)
    summary.json         test metrics (written at the end)  atomic replace
    train.log            stdout/stderr of a launched run

JSON Lines are appended and flushed line by line; readers skip a partial last line. JSON files
are replaced atomically (temp file + os.replace), so readers never see half a file.
Statuses: queued, running, done, diverged, failed, interrupted. A ``running`` (or ``queued``)
run whose process is gone reads as ``interrupted`` (``failed`` when it never started).
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Any

import pandas as pd

from cre_core.atomic import clean_json, write_json_atomic, write_text_atomic
from cre_core.errors import CreError
from cre_core.processes import alive
from cre_core.workspace import Workspace

STATUSES = ("queued", "running", "done", "diverged", "failed", "interrupted")
RUN_COLUMNS = ["run_id", "model", "features", "split", "embedder", "status", "created", "epoch",
               "test_pearson", "test_spearman", "test_r2", "test_mse", "n_test", "wt_pred",
               "eps_pearson", "n_eps", "seconds"]
EPOCH_COLUMNS = ["epoch", "train_loss", "val_loss", "val_pearson", "val_spearman", "val_r2"]
STEP_COLUMNS = ["step", "epoch", "loss", "wt_mean", "wt_loss", "grad_norm"]


# --- writing --------------------------------------------------------------------------------

def read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        return None


class JsonlWriter:
    """Appends one JSON object per line and flushes each line (readers see whole lines)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._f = open(self.path, "a", buffering=1)

    def write(self, row: dict) -> None:
        self._f.write(json.dumps(clean_json(row), allow_nan=False) + "\n")
        self._f.flush()

    def close(self) -> None:
        self._f.close()


def truncate_jsonl(path: Path, keep) -> None:
    """Keep only the rows for which ``keep(row)`` is true (used on resume), atomically."""
    path = Path(path)
    if not path.exists():
        return
    rows = [r for r in read_jsonl(path) if keep(r)]
    write_text_atomic(path, "".join(json.dumps(r) + "\n" for r in rows))


def read_jsonl(path: Path) -> list[dict]:
    """Every complete line; a partial last line (being written) is skipped."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return []
    rows = []
    for line in text.split("\n"):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def write_status(run_dir: Path, status: str, **fields: Any) -> dict:
    """Replace status.json; keeps earlier fields (pid, started...) unless overridden."""
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}")
    current = read_json(Path(run_dir) / "status.json") or {}
    current.update(fields)
    current.update(status=status, updated=time.time())
    path = Path(run_dir) / "status.json"
    try:
        write_json_atomic(path, current)
    except OSError:
        # a full disk has no room for the new file an atomic write needs, but the old file's
        # blocks can be overwritten: a failed run must still say so, and why
        if not path.exists():
            raise
        with open(path, "r+") as f:
            f.write(json.dumps(clean_json(current), indent=1))
            f.truncate()
    return current


def effective_status(status: dict | None) -> str:
    """The status, with ``running``/``queued`` runs whose process is gone resolved."""
    if not status:
        return "failed"
    state = status.get("status", "failed")
    if state in ("running", "queued"):
        if not alive(status):
            return "interrupted" if state == "running" else "failed"
    return state


def new_run_id(config) -> str:
    """``20261125-021530-deepset-both-gene-a3f1``: time, model, features, split, random tag."""
    parts = [time.strftime("%Y%m%d-%H%M%S"), config.model]
    if config.uses_features:
        parts.append(config.features if config.embedder == "kmer" else f"{config.features}-{config.embedder}")
    parts += [config.split, secrets.token_hex(2)]
    return "-".join(parts)


def create_run_dir(ws: Workspace, config) -> Path:
    """A new, empty run folder under ws.runs_dir (exclusive: two runs never share one)."""
    ws.runs_dir.mkdir(parents=True, exist_ok=True)
    for _ in range(100):
        path = ws.runs_dir / new_run_id(config)
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise CreError(f"could not create a run folder in {ws.runs_dir}")


# --- reading (the app's side) ----------------------------------------------------------------

def run_dir(ws: Workspace, run_id: str) -> Path:
    """The folder of ``run_id`` (a name under ws.runs_dir, or a path to a run folder)."""
    path = Path(run_id)
    if path.is_absolute() or path.exists() and (path / "config.json").exists():
        folder = path
    else:
        folder = ws.runs_dir / run_id
    if not (folder / "config.json").exists():
        known = sorted(p.name for p in ws.runs_dir.glob("*") if (p / "config.json").exists())
        hint = f"; runs: {', '.join(known[-5:])}" if known else "; no runs yet"
        raise CreError(f"no run '{run_id}' in {ws.runs_dir}{hint}")
    return folder


def load_run(ws: Workspace, run_id: str) -> dict:
    """``{"config", "status", "summary", "status_info", "run_dir"}`` of one run."""
    folder = run_dir(ws, run_id)
    status = read_json(folder / "status.json")
    return {"config": read_json(folder / "config.json"), "status": effective_status(status),
            "status_info": status, "summary": read_json(folder / "summary.json"),
            "run_dir": str(folder)}


def list_runs(ws: Workspace) -> pd.DataFrame:
    """One row per run folder, newest first (columns ``RUN_COLUMNS``)."""
    from cre_core.train.config import FEATURE_MODELS

    rows = []
    folders = ws.runs_dir.glob("*/config.json") if ws.runs_dir.exists() else []
    for cfg_path in folders:
        folder = cfg_path.parent
        config = read_json(cfg_path) or {}
        status = read_json(folder / "status.json") or {}
        summary = read_json(folder / "summary.json") or {}
        uses_features = config.get("model") in FEATURE_MODELS
        rows.append({
            "run_id": folder.name, "model": config.get("model"),
            "features": config.get("features") if uses_features else None,
            "split": config.get("split"),
            "embedder": config.get("embedder") if uses_features else None,
            "status": effective_status(status), "created": status.get("created"),
            "epoch": status.get("epoch"),
            "test_pearson": summary.get("pearson"), "test_spearman": summary.get("spearman"),
            "test_r2": summary.get("r2"), "test_mse": summary.get("mse"),
            "n_test": summary.get("n_test"), "wt_pred": summary.get("wt_pred"),
            "eps_pearson": summary.get("eps_pearson"), "n_eps": summary.get("n_eps"),
            "seconds": summary.get("seconds"),
        })
    frame = pd.DataFrame(rows, columns=RUN_COLUMNS)
    if len(frame):
        frame["created"] = pd.to_datetime(frame["created"], unit="s")
        frame = frame.sort_values("created", ascending=False, na_position="last").reset_index(drop=True)
    return frame


def _metrics_frame(path: Path, columns: list[str]) -> pd.DataFrame:
    """A JSON Lines metrics file as a frame with at least ``columns``, in that order first."""
    frame = pd.DataFrame(read_jsonl(path))
    for col in columns:
        if col not in frame:
            frame[col] = pd.Series(dtype="float64")
    return frame[columns + [c for c in frame.columns if c not in columns]]


def read_epoch_metrics(ws: Workspace, run_id: str) -> pd.DataFrame:
    """Per-epoch metrics so far (columns ``EPOCH_COLUMNS`` and more)."""
    return _metrics_frame(run_dir(ws, run_id) / "epochs.jsonl", EPOCH_COLUMNS)


def read_step_metrics(ws: Workspace, run_id: str) -> pd.DataFrame:
    """Per-step metrics of wt models (empty frame for other models)."""
    return _metrics_frame(run_dir(ws, run_id) / "steps.jsonl", STEP_COLUMNS)


def read_predictions(ws: Workspace, run_id: str) -> pd.DataFrame:
    """Test predictions: genes ("G1,G2"), n_genes, true, predicted, gene_a, gene_b, ε columns."""
    path = run_dir(ws, run_id) / "predictions.parquet"
    if not path.exists():
        return pd.DataFrame(columns=["genes", "n_genes", "true", "predicted"])
    return pd.read_parquet(path)
