"""A cap on background jobs (training and embedding runs started by the app or ``launch``).

Each job is a process that may hold the CPUs, the GPU and gigabytes of memory for hours, so a
shared app must not start one per click: at most ``CRE_MAX_JOBS`` (default 2) run at a time,
counted over both kinds. Counting and starting happen under one lock file in the workspace, so
two sessions clicking Start at once cannot both take the last slot.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

from cre_core.atomic import read_json
from cre_core.errors import CreError
from cre_core.processes import effective_status
from cre_core.workspace import Workspace

ENV_VAR = "CRE_MAX_JOBS"
DEFAULT_MAX_JOBS = 2
LOCK_NAME = ".jobs.lock"


def max_jobs() -> int:
    """The cap: ``$CRE_MAX_JOBS`` (a whole number, at least 1), else DEFAULT_MAX_JOBS."""
    text = os.environ.get(ENV_VAR, "").strip()
    if not text:
        return DEFAULT_MAX_JOBS
    if not text.isdigit() or int(text) < 1:
        raise CreError(f"{ENV_VAR} must be a whole number of at least 1; got {text!r}")
    return int(text)


def live_jobs(ws: Workspace) -> list[str]:
    """Training runs queued or running and embedding jobs starting or running, by id."""
    from cre_core.embed.jobs import list_jobs

    live = []
    if ws.runs_dir.is_dir():
        for folder in sorted(p for p in ws.runs_dir.iterdir() if p.is_dir()):
            try:
                status = read_json(folder / "status.json")
            except CreError:            # an unreadable status is not a live job
                continue
            if isinstance(status, dict) and effective_status(status) in ("queued", "running"):
                live.append(folder.name)
    try:
        jobs = list_jobs(ws, limit=None)
    except CreError:
        jobs = []
    return live + [job["job"] for job in jobs if job["state"] in ("starting", "running")]


def free_slots(ws: Workspace) -> int:
    return max(0, max_jobs() - len(live_jobs(ws)))


@contextmanager
def job_slot(ws: Workspace, wanted: int = 1) -> Iterator[int]:
    """Hold the workspace's job lock; yields how many of ``wanted`` jobs may start (at least
    one, else CreError naming the jobs that hold the slots). The caller starts them inside."""
    ws.root.mkdir(parents=True, exist_ok=True)
    with open(ws.root / LOCK_NAME, "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            live = live_jobs(ws)
            slots = max_jobs() - len(live)
            if slots < 1:
                raise CreError(
                    f"{len(live)} background job(s) already run ({', '.join(live[:4])}"
                    f"{' …' if len(live) > 4 else ''}); at most {max_jobs()} at a time "
                    f"(${ENV_VAR}): wait for one to finish or stop one")
            yield min(wanted, slots)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
