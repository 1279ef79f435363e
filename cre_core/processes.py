"""Background ``python -m cre_core`` processes (training runs, embedding jobs) and their liveness.

A job runs in its own session (``start_new_session=True``), so a browser refresh or an app
restart does not stop it; its output goes to a log file. Whoever launched it may read its state
later from a file holding ``process_identity``: pid, host and the process start time, so that a
recycled pid is not mistaken for the job.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

_CHILDREN: dict[int, subprocess.Popen] = {}
_PACKAGE_ROOT = Path(__file__).resolve().parents[1]


def spawn(args: list[str], log: Path) -> int:
    """Start ``python -m cre_core ARGS`` as one process (no torchrun variables), output appended
    to ``log``; returns its pid."""
    cmd = [sys.executable, "-m", "cre_core", *args]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_PACKAGE_ROOT), env.get("PYTHONPATH")]))
    for var in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):      # use torchrun itself to shard or DDP
        env.pop(var, None)
    with open(log, "ab") as out:
        out.write(f"$ {' '.join(cmd)}\n".encode())
        out.flush()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=str(_PACKAGE_ROOT), env=env, start_new_session=True)
    _CHILDREN[proc.pid] = proc
    return proc.pid


def process_identity(pid: int) -> dict[str, Any]:
    """What ``alive`` needs later: pid, host and the process start time."""
    return {"pid": pid, "host": socket.gethostname(), "pid_start": _start_time(pid)}


def _start_time(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def alive(identity: dict[str, Any]) -> bool:
    """Whether the process recorded by ``process_identity`` still runs (zombies count as gone).

    Our own children are polled, which also collects their exit status (no zombies left).
    A process on another host cannot be checked: it counts as alive.
    """
    pid, host = identity.get("pid"), identity.get("host")
    if host and host != socket.gethostname():
        return True
    if not pid:
        return False
    pid = int(pid)
    child = _CHILDREN.get(pid)
    if child is not None:
        if child.poll() is None:
            return True
        del _CHILDREN[pid]
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    if state in ("Z", "X"):
        return False
    recorded = identity.get("pid_start")
    return not recorded or _start_time(pid) == recorded


def log_tail(log: Path, lines: int) -> str:
    """The last ``lines`` lines of a job's log (read from its last 64 kB; progress bars, which
    redraw with carriage returns, collapsed to their last state); "" when there is no log."""
    try:
        with open(log, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 64_000))
            text = f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    rows = [line.split("\r")[-1] for line in text.rstrip("\n").split("\n")]   # not splitlines: it splits at \r
    return "\n".join(rows[-lines:])
