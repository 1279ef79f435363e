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
    run.lock             who writes the folder now (run_lock.py)
    split.npz/.json      the run's own split and the store state it saw (saved_split.py)

JSON Lines are appended and flushed line by line; readers skip a partial last line. JSON files
are replaced atomically (temp file + os.replace), so readers never see half a file.
Statuses: queued, running, done, diverged, failed, interrupted. A ``running`` (or ``queued``)
run whose process is gone reads as ``interrupted`` (``failed`` when it never started).

A folder whose config, status or summary is unreadable (truncated, not an object, a value of
the wrong type) is listed as ``unreadable`` with the reason (column ``problem``): one bad run
never hides the others. ``load_run`` of such a run raises CreError naming the file.
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Any

import pandas as pd

from cre_core.atomic import clean_json, read_json, write_json_atomic, write_text_atomic
from cre_core.errors import CreError
from cre_core.processes import effective_status
from cre_core.workspace import Workspace

STATUSES = ("queued", "running", "done", "diverged", "failed", "interrupted")
UNREADABLE = "unreadable"        # listed, never written: a run folder whose files cannot be read
RUN_COLUMNS = ["run_id", "model", "features", "split", "embedder", "status", "created", "epoch",
               "test_pearson", "test_spearman", "test_r2", "test_mse", "n_test", "wt_pred",
               "eps_pearson", "n_eps", "seconds", "ensemble", "coverage", "eps_coverage",
               "pairs_pearson", "tau_pearson", "n_tau", "eps_ceiling_fraction", "fitness_ceiling_fraction",
               "problem"]
EPOCH_COLUMNS = ["epoch", "train_loss", "val_loss", "val_pearson", "val_spearman", "val_r2"]
STEP_COLUMNS = ["step", "epoch", "loss", "wt_mean", "wt_loss", "grad_norm"]


# --- writing --------------------------------------------------------------------------------

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


def read_jsonl(path: Path, skipped: list[int] | None = None) -> list[dict]:
    """Every complete line that is a JSON object; a partial last line (being written) is
    skipped, and so is a line that is not an object (its line number goes to ``skipped``)."""
    try:
        text = Path(path).read_text(errors="replace")
    except (FileNotFoundError, IsADirectoryError):
        return []
    lines = text.split("\n")
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            row = None
            if number == len(lines):         # the line being written
                continue
        if isinstance(row, dict):
            rows.append(row)
        elif skipped is not None:
            skipped.append(number)
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


def new_run_id(config) -> str:
    """``20261125-021530-deepset-both-gene-a3f1``: time, model, features, split, random tag."""
    parts = [time.strftime("%Y%m%d-%H%M%S"), config.model]
    if config.uses_features:
        parts.append(config.features if config.embedder == "kmer" else f"{config.features}-{config.embedder}")
    elif config.embedder == "id":
        parts.append("id")
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
    """The folder of ``run_id`` (a name under ws.runs_dir, or a path to a run folder in it).

    A run folder outside this workspace's runs/ is refused: its model was trained on another
    store, whose genes and measurements this one need not share.
    """
    path = Path(run_id)
    if path.is_absolute() or path.exists() and (path / "config.json").exists():
        folder = path
    else:
        folder = ws.runs_dir / run_id
    runs = ws.runs_dir.resolve()
    if folder.resolve().parent != runs:
        raise CreError(f"run {run_id!r} is not a run folder of this workspace ({runs}): a run is used "
                       "only with the store it was trained on")
    if not (folder / "config.json").exists():
        known = sorted(p.name for p in ws.runs_dir.glob("*") if (p / "config.json").exists())
        hint = f"; runs: {', '.join(known[-5:])}" if known else "; no runs yet"
        raise CreError(f"no run '{run_id}' in {ws.runs_dir}{hint}")
    return folder


_TEXT, _NUMBER, _WHOLE, _OBJECT = (str,), (int, float), (int,), (dict,)
_KIND: dict[tuple[type, ...], str] = {_TEXT: "text", _NUMBER: "a number", _WHOLE: "a whole number",
                                      _OBJECT: "an object"}
# the fields readers use, and the types they must have (None is always allowed)
_FIELDS: dict[str, dict[str, tuple[type, ...]]] = {
    "config.json": {"model": _TEXT, "features": _TEXT, "split": _TEXT, "embedder": _TEXT, "ensemble": _WHOLE,
                    "epochs": _WHOLE, "split_file": _TEXT, "subset": _WHOLE, "split_seed": _WHOLE,
                    "val_frac": _NUMBER, "test_frac": _NUMBER, "norm": _TEXT, "clip": _NUMBER,
                    "wt_warmup": _WHOLE, "lr": _NUMBER},
    "status.json": {"status": _TEXT, "created": _NUMBER, "epoch": _WHOLE, "message": _TEXT, "host": _TEXT},
    "summary.json": {**{k: _NUMBER for k in ("pearson", "spearman", "r2", "mse", "wt_pred", "eps_pearson",
                                             "seconds", "coverage", "eps_coverage", "tau_pearson")},
                     **{k: _WHOLE for k in ("n_test", "n_eps", "n_tau")},
                     **{k: _OBJECT for k in ("by_size", "ceiling_fraction", "split_info", "ceilings")}},
}


def _checked(folder: Path, name: str) -> dict:
    """A run file as a dict ({} when absent); CreError naming the file and field when it is
    unreadable, not an object, or holds a value of the wrong type where readers look."""
    path = folder / name
    data = read_json(path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise CreError(f"{path}: expected a JSON object, found {type(data).__name__}")
    if name == "config.json" and data:
        from cre_core.train.config import migrate

        data = migrate(data)          # by flat option names, in today's spellings
    for key, types in _FIELDS[name].items():
        value = data.get(key)
        if value is not None and (not isinstance(value, types) or isinstance(value, bool)):
            raise CreError(f"{path}: {key!r} is {str(value)[:40]!r}, expected {_KIND[types]}")
    if name == "status.json" and data.get("status") not in (None, *STATUSES):
        raise CreError(f"{path}: unknown status {str(data['status'])[:40]!r}")
    if name == "summary.json":
        for key, value in _summary_nested(data).items():
            if value is not None and (not isinstance(value, _NUMBER) or isinstance(value, bool)):
                raise CreError(f"{path}: {key!r} is {str(value)[:40]!r}, expected a number")
    return data


def _summary_nested(summary: dict) -> dict[str, Any]:
    """The nested summary values run tables read (pair r, ceiling fractions)."""
    pairs = (summary.get("by_size") or {}).get("2") or {}
    fraction = summary.get("ceiling_fraction") or {}
    return {"by_size.2.pearson": pairs.get("pearson") if isinstance(pairs, dict) else pairs,
            **{f"ceiling_fraction.{k}": fraction.get(k) for k in ("epsilon", "fitness")}}


def read_run_files(folder: Path) -> tuple[dict, dict, dict]:
    """(config, status, summary) of a run folder, each checked (CreError for an unreadable run)."""
    return _checked(folder, "config.json"), _checked(folder, "status.json"), _checked(folder, "summary.json")


def read_config(folder: Path):
    """The run's TrainConfig (CreError naming config.json when it is unreadable or not a config)."""
    from cre_core.train.config import TrainConfig

    config = _checked(Path(folder), "config.json")
    if not config:
        raise CreError(f"{Path(folder) / 'config.json'} is missing: not a run folder")
    try:
        return TrainConfig.from_dict(config)
    except (TypeError, ValueError, KeyError) as exc:
        raise CreError(f"{Path(folder) / 'config.json'}: not a training configuration ({exc})") from exc


def load_run(ws: Workspace, run_id: str) -> dict:
    """``{"config", "status", "summary", "status_info", "run_dir"}`` of one run (CreError when
    one of its files is unreadable)."""
    folder = run_dir(ws, run_id)
    config, status, summary = read_run_files(folder)
    return {"config": config, "status": effective_status(status or None),
            "status_info": status or None, "summary": summary or None, "run_dir": str(folder)}


def list_runs(ws: Workspace) -> pd.DataFrame:
    """One row per run folder, newest first (columns ``RUN_COLUMNS``); an unreadable folder is
    a row with status ``unreadable`` and its ``problem``."""
    rows = []
    folders = ws.runs_dir.glob("*/config.json") if ws.runs_dir.exists() else []
    for cfg_path in folders:
        folder = cfg_path.parent
        try:
            rows.append(_run_row(folder, *read_run_files(folder)))
        except CreError as exc:
            rows.append({"run_id": folder.name, "status": UNREADABLE, "problem": str(exc)})
    frame = pd.DataFrame(rows, columns=RUN_COLUMNS)
    if len(frame):
        frame["created"] = pd.to_datetime(pd.to_numeric(frame["created"]), unit="s")
        frame = frame.sort_values("created", ascending=False, na_position="last").reset_index(drop=True)
    return frame


def _run_row(folder: Path, config: dict, status: dict, summary: dict) -> dict:
    from cre_core.train import specs

    spec = specs.find(config.get("model"))
    reads_embeddings = spec is not None and spec.reads_embeddings
    uses_features = reads_embeddings and config.get("embedder") != "id"
    nested = _summary_nested(summary)         # checked by read_run_files
    return {
        "run_id": folder.name, "model": config.get("model"),
        "features": config.get("features") if uses_features else None,
        "split": config.get("split"),
        "embedder": config.get("embedder") if reads_embeddings else None,
        "status": effective_status(status), "created": status.get("created"),
        "epoch": status.get("epoch"),
        "test_pearson": summary.get("pearson"), "test_spearman": summary.get("spearman"),
        "test_r2": summary.get("r2"), "test_mse": summary.get("mse"),
        "n_test": summary.get("n_test"), "wt_pred": summary.get("wt_pred"),
        "eps_pearson": summary.get("eps_pearson"), "n_eps": summary.get("n_eps"),
        "seconds": summary.get("seconds"), "ensemble": config.get("ensemble") or 1,
        "coverage": summary.get("coverage"), "eps_coverage": summary.get("eps_coverage"),
        "pairs_pearson": nested["by_size.2.pearson"], "tau_pearson": summary.get("tau_pearson"),
        "n_tau": summary.get("n_tau"), "eps_ceiling_fraction": nested["ceiling_fraction.epsilon"],
        "fitness_ceiling_fraction": nested["ceiling_fraction.fitness"], "problem": None,
    }


def _metrics_frame(path: Path, columns: list[str]) -> pd.DataFrame:
    """A JSON Lines metrics file as a frame with at least ``columns`` (numeric; a value of
    another type reads as missing), in that order first. Lines that are not JSON objects are
    left out; their line numbers are in ``frame.attrs["skipped_lines"]``."""
    skipped: list[int] = []
    frame = pd.DataFrame(read_jsonl(path, skipped))
    for col in columns:
        frame[col] = pd.to_numeric(frame[col], errors="coerce") if col in frame else pd.Series(dtype="float64")
    frame = frame[columns + [c for c in frame.columns if c not in columns]]
    frame.attrs["skipped_lines"] = skipped
    return frame


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
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises ArrowInvalid, OSError, ValueError...
        raise CreError(f"{path} cannot be read ({type(exc).__name__}: {str(exc)[:120]})") from exc
    missing = [c for c in ("true", "predicted") if c not in frame]
    if missing or any(not pd.api.types.is_numeric_dtype(frame[c]) for c in ("true", "predicted")):
        raise CreError(f"{path}: expected numeric columns true and predicted"
                       + (f" (missing: {', '.join(missing)})" if missing else ""))
    return frame
