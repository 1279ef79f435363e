"""Background training jobs: the app launches, stops and resumes runs as separate processes.

A launched run is ``python -m cre_core train --workspace WS --run-dir RUN ...`` in a new session
(``start_new_session=True``), its output in ``RUN/train.log``; it outlives the caller (a browser
refresh or an app restart does not stop it). ``stop`` sends SIGTERM: the run saves a checkpoint
and marks itself ``interrupted``; ``resume`` relaunches it with ``--resume``. SIGTERM goes only to
a process that provably is the run's own (``processes.send_signal``: same host, boot and start
time), never to whatever now has the recorded pid.
"""

from __future__ import annotations

import time
from pathlib import Path

from cre_core.atomic import write_json_atomic
from cre_core.errors import CreError
from cre_core.job_slots import job_slot
from cre_core.processes import process_identity, send_signal, spawn
from cre_core.textio import check_readable
from cre_core.train import runs as R
from cre_core.train.config import TrainConfig
from cre_core.workspace import Workspace


def _spawn(ws: Workspace, folder: Path, args: list[str]) -> int:
    return spawn(["train", "--workspace", str(ws.root), "--run-dir", str(folder), *args],
                 folder / "train.log")


def launch(ws: Workspace, config: TrainConfig) -> str:
    """Start a run in the background; returns its run id at once (status ``queued``).
    CreError when the background jobs already fill their slots (cre_core.job_slots)."""
    return launch_many(ws, [config])[0]


def launch_many(ws: Workspace, configs: list[TrainConfig]) -> list[str]:
    """Start as many of ``configs`` as there are free job slots, in order; their run ids
    (CreError when there is no free slot at all)."""
    for config in configs:
        config.validate()
        if config.split_file:
            check_readable(config.split_file)
    with job_slot(ws, len(configs)) as slots:
        return [_launch(ws, config) for config in configs[:slots]]


def _launch(ws: Workspace, config: TrainConfig) -> str:
    folder = R.create_run_dir(ws, config)
    (folder / "checkpoints").mkdir()
    write_json_atomic(folder / "config.json", config.to_dict())
    R.write_status(folder, "queued", created=time.time())
    pid = _spawn(ws, folder, config.to_cli_args())
    R.write_status(folder, "queued", **process_identity(pid))
    return folder.name


def stop(ws: Workspace, run_id: str) -> None:
    """Ask a running run to save and stop (SIGTERM); a no-op for runs that are not running."""
    folder = R.run_dir(ws, run_id)
    status = R.read_json(folder / "status.json") or {}
    state = R.effective_status(status)
    if state not in ("running", "queued"):
        return
    send_signal(status)          # CreError, and nothing changed, unless it is provably the run's process
    if state == "queued":        # not training yet (it may die before installing its handler)
        R.write_status(folder, "interrupted", message="stopped before it started")


def resume(ws: Workspace, run_id: str) -> None:
    """Relaunch a stopped run with ``--resume`` (continues from its last checkpoint)."""
    folder = R.run_dir(ws, run_id)
    status = R.read_json(folder / "status.json") or {}
    state = R.effective_status(status)
    if state in ("running", "queued"):
        raise CreError(f"run {folder.name} is still {state}")
    if state == "done":
        raise CreError(f"run {folder.name} has finished; start a new run instead")
    pid = _spawn(ws, folder, ["--resume"])
    R.write_status(folder, "queued", **process_identity(pid), message="resuming")
