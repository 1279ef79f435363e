"""One writer per run folder: ``RUN/run.lock``, held by the training process for its whole life.

The lock is an ``fcntl.flock`` on the file (the kernel drops it when the holder dies, so a lock
left by a dead local process is simply taken over) and the file says who holds it: host, boot,
pid and process start time (``processes.process_identity``). A second ``train`` into the same
folder is refused with one line naming the holder. flock does not reach across machines on
every shared file system, so a lock file naming another host is honoured from its content: it is
refused, with the advice to remove the file once that run is known to be gone. Releasing empties
the file (it is never deleted: deleting a locked file lets two processes lock two files).
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from pathlib import Path
from typing import Any

from cre_core.errors import CreError
from cre_core.processes import alive, process_identity

LOCK_NAME = "run.lock"


def _holder(fd: int) -> dict[str, Any]:
    os.lseek(fd, 0, os.SEEK_SET)
    raw = os.read(fd, 4096)
    try:
        data = json.loads(raw) if raw.strip() else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _describe(holder: dict[str, Any]) -> str:
    if not holder.get("pid"):
        return "another process"
    return f"process {holder['pid']} on host {holder.get('host', '?')}"


class RunLock:
    """The exclusive right to write one run folder (``acquire`` or CreError; ``release``)."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise CreError naming its holder (nothing in the folder changes)."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise CreError(f"run folder {self.path.parent} is in use by {_describe(_holder(fd))}: "
                               "a run folder has one writer; wait for it or stop it, or use another "
                               "--run-dir") from None
            holder = _holder(fd)
            if holder.get("pid") and holder.get("pid") != os.getpid():
                if holder.get("host") != socket.gethostname():
                    raise CreError(f"run folder {self.path.parent} is held by {_describe(holder)} "
                                   f"(its {LOCK_NAME}); if that run is gone, remove {self.path}")
                if alive(holder):      # flock free but the holder lives: do not guess, refuse
                    raise CreError(f"run folder {self.path.parent} is in use by {_describe(holder)}")
            data = json.dumps(process_identity(os.getpid())).encode()
            os.ftruncate(fd, 0)
            os.pwrite(fd, data, 0)
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def release(self) -> None:
        """Empty the file and drop the lock (the file stays; see the module docstring)."""
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, 0)
        finally:
            os.close(self._fd)        # closing drops the flock
            self._fd = None
