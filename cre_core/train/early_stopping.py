"""Early stopping: remember the best validation loss, stop after ``patience`` epochs without one."""

from __future__ import annotations

import math
from typing import Any


class EarlyStopping:
    """Tracks the best epoch; its state travels in the checkpoint (``state_dict``)."""

    def __init__(self, patience: int) -> None:
        self.patience = patience
        self.best_val = math.inf
        self.best_epoch = -1
        self.bad_epochs = 0

    def update(self, epoch: int, val_loss: float) -> bool:
        """Record epoch ``epoch``'s validation loss; True when it is the best so far."""
        if val_loss < self.best_val:
            self.best_val, self.best_epoch, self.bad_epochs = val_loss, epoch, 0
            return True
        self.bad_epochs += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.bad_epochs >= self.patience

    def state_dict(self) -> dict[str, Any]:
        return {"best_val": self.best_val, "best_epoch": self.best_epoch, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best_val = float(state["best_val"])
        self.best_epoch = int(state["best_epoch"])
        self.bad_epochs = int(state["bad_epochs"])
