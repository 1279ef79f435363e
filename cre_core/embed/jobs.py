"""Background embedding runs started from the app (SpeciesLM on the GPU takes minutes).

A job is ``python -m cre_core embed ... --progress-file JOB/progress.json`` in its own session,
its output in ``JOB/embed.log``, under ``embeddings/jobs/<job id>/``. The child writes its
progress (region, done, total), and at the end its results or its error, to ``progress.json``;
the page polls that file. A browser refresh or an app restart does not stop the job.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cre_core.embed.base import REGIONS, check_regions
from cre_core.errors import CreError
from cre_core.workspace import Workspace

_CHILDREN: dict[int, subprocess.Popen] = {}
_PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def jobs_dir(ws: Workspace) -> Path:
    return ws.embeddings_dir / "jobs"


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to a temporary sibling, then os.replace (readers never see half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def read_json(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}


def launch(ws: Workspace, embedder: str, model: str | None = None,
           regions: Sequence[str] = REGIONS, device: str = "auto",
           batch_size: int | None = None, species: str | None = None) -> str:
    """Start ``embed`` in the background; returns the job id at once."""
    if not ws.exists():
        raise CreError(f"no workspace store at {ws.root}")
    regions = check_regions(list(regions))
    job_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{embedder}-{secrets.token_hex(2)}"
    folder = jobs_dir(ws) / job_id
    folder.mkdir(parents=True)
    cmd = [sys.executable, "-m", "cre_core", "embed", "--workspace", str(ws.root),
           "--embedder", embedder, "--regions", ",".join(regions), "--device", device,
           "--progress-file", str(folder / "progress.json")]
    if model:
        cmd += ["--model", str(model)]
    if batch_size:
        cmd += ["--batch-size", str(int(batch_size))]
    if species:
        cmd += ["--species", species]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_PACKAGE_ROOT), env.get("PYTHONPATH")]))
    for var in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):   # one process; use torchrun to shard
        env.pop(var, None)
    write_json_atomic(folder / "progress.json", {"state": "starting", "updated": time.time()})
    with open(folder / "embed.log", "wb") as log:
        log.write(f"$ {' '.join(cmd)}\n".encode())
        log.flush()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=str(_PACKAGE_ROOT), env=env, start_new_session=True)
    _CHILDREN[proc.pid] = proc
    write_json_atomic(folder / "job.json", {
        "job": job_id, "pid": proc.pid, "embedder": embedder, "model": model,
        "regions": regions, "device": device, "started": time.time(), "cmd": cmd})
    return job_id


def _alive(pid: int) -> bool:
    proc = _CHILDREN.get(pid)
    if proc is not None:                   # our child: poll() also reaps it (no zombie)
        if proc.poll() is None:
            return True
        del _CHILDREN[pid]
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def job_status(ws: Workspace, job_id: str) -> dict:
    """The job's facts plus ``state`` (starting/running/done/failed/died) and its progress."""
    folder = jobs_dir(ws) / job_id
    job = read_json(folder / "job.json")
    progress = read_json(folder / "progress.json")
    state = progress.get("state", "starting")
    if state in ("starting", "running") and job.get("pid") and not _alive(int(job["pid"])):
        state = "died"
        progress.setdefault("error", "the process ended without reporting (see the log)")
    return {**job, **progress, "job": job_id, "state": state, "log": str(folder / "embed.log")}


def list_jobs(ws: Workspace, limit: int = 10) -> list[dict]:
    """The newest jobs first."""
    root = jobs_dir(ws)
    if not root.is_dir():
        return []
    ids = sorted((p.name for p in root.iterdir() if p.is_dir()), reverse=True)[:limit]
    return [job_status(ws, job_id) for job_id in ids]


def log_tail(ws: Workspace, job_id: str, lines: int = 15) -> str:
    """The last lines of a job's log (progress bars collapsed to their last state)."""
    try:
        text = (jobs_dir(ws) / job_id / "embed.log").read_text(errors="replace")
    except OSError:
        return ""
    rows = [part.split("\r")[-1] for part in text.splitlines()]
    return "\n".join(rows[-lines:])
