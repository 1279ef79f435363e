"""A run's metric logs: ``epochs.jsonl`` (one row per epoch) and ``steps.jsonl`` (wt models).

Only the main process writes. On resume both files are first cut back to the checkpoint being
resumed from (epoch and global step; nothing when there is no checkpoint), so a crash between a
log line and its checkpoint never leaves an epoch or a step twice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cre_core.train import runs as R


class MetricLog:
    """Appends epoch and step rows; ``open`` trims what was logged after the resume point."""

    def __init__(self, folder: Path, steps: bool, enabled: bool = True) -> None:
        self.folder, self.with_steps, self.enabled = folder, steps, enabled
        self.epochs: R.JsonlWriter | None = None
        self.steps: R.JsonlWriter | None = None

    def open(self, epoch: int, step: int) -> None:
        """Keep rows up to ``epoch`` and global ``step`` (the checkpoint), then append."""
        if not self.enabled:
            return
        R.truncate_jsonl(self.folder / "epochs.jsonl", lambda r: r.get("epoch", 0) <= epoch)
        R.truncate_jsonl(self.folder / "steps.jsonl", lambda r: r.get("step", 0) <= step)
        self.epochs = R.JsonlWriter(self.folder / "epochs.jsonl")
        if self.with_steps:
            self.steps = R.JsonlWriter(self.folder / "steps.jsonl")

    def epoch(self, row: dict[str, Any]) -> None:
        if self.epochs is not None:
            self.epochs.write(row)

    def step(self, row: dict[str, Any]) -> None:
        if self.steps is not None:
            self.steps.write(row)

    def close(self) -> None:
        for log in (self.epochs, self.steps):
            if log is not None:
                log.close()
