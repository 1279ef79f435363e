"""Checkpoints: ``torch.save`` written atomically (``cre_core.atomic``), and the run's checkpointer.

A reader (or a resumed run) sees the previous checkpoint or the new one, never half a file.
Checkpoints hold only tensors and plain containers, so they load with
``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from cre_core.atomic import atomic_path
from cre_core.errors import CreError

CHECKPOINT_MINUTES = 10.0    # a mid-epoch checkpoint at most this often (long CPU epochs)


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The checkpoint's dict; CreError (one line naming the file) when it is truncated, empty,
    random bytes or not a checkpoint cre_core wrote."""
    path = Path(path)
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise CreError(f"{path} does not exist") from None
    except Exception as exc:  # noqa: BLE001 - torch raises RuntimeError, UnpicklingError, EOFError...
        size = path.stat().st_size if path.exists() else 0
        what = "is empty" if size == 0 else f"is truncated or not a checkpoint ({type(exc).__name__})"
        raise CreError(f"{path} {what}; this run's model cannot be used") from exc
    if not isinstance(state, dict):
        raise CreError(f"{path} is not a checkpoint of a cre_core run (it holds a {type(state).__name__})")
    return state


class Checkpointer:
    """``checkpoints/last.pt`` (where a resume continues) and ``best.pt`` (the best validation).

    Only the main process writes. The checkpointer also keeps the run's clock (seconds trained
    over every session), which is its own state in the checkpoint.
    """

    def __init__(self, folder: Path, meta: dict[str, Any], enabled: bool = True,
                 every_minutes: float = CHECKPOINT_MINUTES) -> None:
        self.dir = folder / "checkpoints"
        self.meta, self.enabled, self.every = meta, enabled, every_minutes * 60
        self.prior_seconds = 0.0
        self.started = time.time()
        self.last_save = time.monotonic()

    @property
    def last_path(self) -> Path:
        return self.dir / "last.pt"

    @property
    def best_path(self) -> Path:
        return self.dir / "best.pt"

    def seconds(self) -> float:
        """Training time over every session of the run."""
        return self.prior_seconds + time.time() - self.started

    def due(self) -> bool:
        """Whether a mid-epoch checkpoint is due (long epochs lose at most this much work)."""
        return time.monotonic() - self.last_save > self.every

    def save_last(self, state: dict[str, Any]) -> None:
        """Write the resume point: ``state`` (model, optimizer, parts' states) plus clock and meta."""
        if self.enabled:
            save_checkpoint(self.last_path, {**state, **self.state_dict(), "meta": self.meta})
            self.last_save = time.monotonic()

    def save_best(self, model: torch.nn.Module, epoch: int, val_loss: float) -> None:
        if self.enabled:
            save_checkpoint(self.best_path, {"model": model.state_dict(), "epoch": epoch,
                                             "val_loss": val_loss, "meta": self.meta})

    def load_last(self, map_location: str | torch.device = "cpu") -> dict[str, Any] | None:
        """The resume point, or None when the run has none yet."""
        return load_checkpoint(self.last_path, map_location) if self.last_path.exists() else None

    def state_dict(self) -> dict[str, Any]:
        return {"seconds": self.seconds()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.prior_seconds = float(state.get("seconds", 0.0))
        self.started = time.time()
