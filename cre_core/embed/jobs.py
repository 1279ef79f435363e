"""Background embedding runs started from the app (SpeciesLM on the GPU takes minutes).

A job is ``python -m cre_core embed ... --progress-file JOB/progress.json`` in its own session,
its output in ``JOB/embed.log``, under ``embeddings/jobs/<job id>/``. The child writes its
progress (region, done, total), and at the end its results or its error, to ``progress.json``;
the page polls that file. A browser refresh or an app restart does not stop the job.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from pathlib import Path

from cre_core import processes
from cre_core.atomic import read_json, write_json_atomic
from cre_core.embed.base import REGIONS, check_regions
from cre_core.errors import CreError
from cre_core.job_slots import job_slot
from cre_core.workspace import Workspace


def jobs_dir(ws: Workspace) -> Path:
    return ws.embeddings_dir / "jobs"


def launch(ws: Workspace, embedder: str, model: str | None = None,
           regions: Sequence[str] = REGIONS, device: str = "auto",
           batch_size: int | None = None, species: str | None = None) -> str:
    """Start ``embed`` in the background; returns the job id at once (CreError when the
    background jobs already fill their slots: cre_core.job_slots)."""
    if not ws.exists():
        raise CreError(f"no workspace store at {ws.root}")
    regions = check_regions(list(regions))
    with job_slot(ws):
        return _launch(ws, embedder, model, regions, device, batch_size, species)


def _launch(ws: Workspace, embedder: str, model: str | None, regions: list[str], device: str,
            batch_size: int | None, species: str | None) -> str:
    job_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{embedder}-{secrets.token_hex(2)}"
    folder = jobs_dir(ws) / job_id
    folder.mkdir(parents=True)
    args = ["embed", "--workspace", str(ws.root), "--embedder", embedder,
            "--regions", ",".join(regions), "--device", device,
            "--progress-file", str(folder / "progress.json")]
    if model:
        args += ["--model", str(model)]
    if batch_size:
        args += ["--batch-size", str(int(batch_size))]
    if species:
        args += ["--species", species]
    write_json_atomic(folder / "progress.json", {"state": "starting", "updated": time.time()})
    pid = processes.spawn(args, folder / "embed.log")
    write_json_atomic(folder / "job.json", {
        "job": job_id, **processes.process_identity(pid), "embedder": embedder, "model": model,
        "regions": regions, "device": device, "started": time.time(), "args": args})
    return job_id


def job_status(ws: Workspace, job_id: str) -> dict:
    """The job's facts plus ``state`` (starting/running/done/failed/died) and its progress."""
    folder = jobs_dir(ws) / job_id
    job = read_json(folder / "job.json") or {}
    progress = read_json(folder / "progress.json") or {}
    state = progress.get("state", "starting")
    if state in ("starting", "running") and job.get("pid") and not processes.alive(job):
        state = "died"
        progress.setdefault("error", "the process ended without reporting (see the log)")
    return {**job, **progress, "job": job_id, "state": state, "log": str(folder / "embed.log")}


def list_jobs(ws: Workspace, limit: int | None = 10) -> list[dict]:
    """The newest jobs first (all of them when ``limit`` is None)."""
    root = jobs_dir(ws)
    if not root.is_dir():
        return []
    ids = sorted((p.name for p in root.iterdir() if p.is_dir()), reverse=True)[:limit]
    return [job_status(ws, job_id) for job_id in ids]

