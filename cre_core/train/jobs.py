"""Background training jobs: the app launches, stops and resumes runs as separate processes.

A launched run is ``python -m cre_core train --workspace WS --run-dir RUN ...`` in a new session
(``start_new_session=True``), its output in ``RUN/train.log``; it outlives the caller (a browser
refresh or an app restart does not stop it). ``stop`` sends SIGTERM: the run saves a checkpoint
and marks itself ``interrupted``; ``resume`` relaunches it with ``--resume``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from cre_core.errors import CreError
from cre_core.train import runs as R
from cre_core.train.config import TrainConfig
from cre_core.workspace import Workspace

_CHILDREN: dict[int, subprocess.Popen] = {}
_PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def reap() -> None:
    """Collect exit codes of finished children of this process (no zombies left behind)."""
    for pid, proc in list(_CHILDREN.items()):
        if proc.poll() is not None:
            del _CHILDREN[pid]


def _spawn(ws: Workspace, folder: Path, args: list[str]) -> int:
    cmd = [sys.executable, "-m", "cre_core", "train", "--workspace", str(ws.root),
           "--run-dir", str(folder), *args]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_PACKAGE_ROOT), env.get("PYTHONPATH")]))
    env.pop("WORLD_SIZE", None)      # a launched run is one process (use torchrun for DDP)
    with open(folder / "train.log", "ab") as log:
        log.write(f"\n$ {' '.join(cmd)}\n".encode())
        log.flush()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=str(_PACKAGE_ROOT), env=env, start_new_session=True)
    _CHILDREN[proc.pid] = proc
    return proc.pid


def launch(ws: Workspace, config: TrainConfig) -> str:
    """Start a run in the background; returns its run id at once (status ``queued``)."""
    config.validate()
    folder = R.create_run_dir(ws, config)
    (folder / "checkpoints").mkdir()
    R.write_json_atomic(folder / "config.json", config.to_dict())
    R.write_status(folder, "queued", created=time.time())
    pid = _spawn(ws, folder, config.to_cli_args())
    R.write_status(folder, "queued", **R.process_identity(pid))
    return folder.name


def stop(ws: Workspace, run_id: str) -> None:
    """Ask a running run to save and stop (SIGTERM); a no-op for runs that are not running."""
    folder = R.run_dir(ws, run_id)
    status = R.read_json(folder / "status.json") or {}
    state = R.effective_status(status)
    if state not in ("running", "queued"):
        return
    if state == "queued":        # not training yet (it may die before installing its handler)
        R.write_status(folder, "interrupted", message="stopped before it started")
    try:
        os.kill(int(status["pid"]), signal.SIGTERM)
    except ProcessLookupError:
        pass


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
    R.write_status(folder, "queued", **R.process_identity(pid), message="resuming")
