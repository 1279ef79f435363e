"""Background ``python -m cre_core`` processes (training runs, embedding jobs) and their liveness.

A job runs in its own session (``start_new_session=True``), so a browser refresh or an app
restart does not stop it; its output goes to a log file. Whoever launched it may read its state
later from a file holding ``process_identity``: pid, host, boot and the process start time, so that
a recycled pid is not mistaken for the job.

A process is signalled only when it is provably the one recorded (``send_signal``): same host,
same boot, and the pid's start time in /proc equal to the recorded one. A status file copied from
another machine, a workspace shared between hosts, or a pid reused since, is refused: signalling
it would hit an unrelated process.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from cre_core.errors import CreError

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
    """What ``alive`` and ``send_signal`` need later: pid, host, boot and the process start time."""
    return {"pid": pid, "host": socket.gethostname(), "boot": _boot_id(), "pid_start": _start_time(pid)}


def _boot_id() -> str | None:
    """This boot of this machine (start times count from boot: a reboot reuses them)."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip() or None
    except OSError:
        return None


def _start_time(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def not_ours(identity: dict[str, Any]) -> str | None:
    """Why the recorded process cannot be proven to be the one now at its pid (None: it is)."""
    pid, host = identity.get("pid"), identity.get("host")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 1:
        return f"the recorded pid {pid!r} is not a process id"
    if host != socket.gethostname():
        return f"it runs on host {host!r}, not on this one ({socket.gethostname()}): stop it there"
    if identity.get("boot") and _boot_id() and identity["boot"] != _boot_id():
        return "it was started before this machine last booted"
    recorded = identity.get("pid_start")
    if not recorded:
        return f"no start time was recorded for process {pid}, so it cannot be told from a reused pid"
    now = _start_time(pid)
    if now is None:
        return f"process {pid} has ended (or its start time cannot be read here)"
    if now != recorded:
        return f"process {pid} is another process now (its start time differs from the recorded one)"
    return None


def send_signal(identity: dict[str, Any], sig: int = signal.SIGTERM) -> None:
    """Signal the recorded process, only when it provably is that process (CreError saying why not)."""
    reason = not_ours(identity)
    if reason:
        raise CreError(f"not signalling process {identity.get('pid')}: {reason}")
    try:
        os.kill(int(identity["pid"]), sig)
    except ProcessLookupError:      # ended between the check and the signal
        pass


def alive(identity: dict[str, Any]) -> bool:
    """Whether the process recorded by ``process_identity`` still runs (zombies count as gone).

    Our own children are polled, which also collects their exit status (no zombies left).
    A process on another host cannot be checked: it counts as alive.
    """
    pid, host = identity.get("pid"), identity.get("host")
    if host and host != socket.gethostname():
        return True
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    if identity.get("boot") and _boot_id() and identity["boot"] != _boot_id():
        return False
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


def effective_status(status: dict | None) -> str:
    """A job's recorded status (``status`` plus ``process_identity``), with ``running``/``queued``
    jobs whose process is gone resolved (interrupted / failed)."""
    if not status:
        return "failed"
    state = status.get("status", "failed")
    if state in ("running", "queued"):
        if not alive(status):
            return "interrupted" if state == "running" else "failed"
    return state
