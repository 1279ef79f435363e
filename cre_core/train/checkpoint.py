"""Checkpoints: ``torch.save`` written atomically (``cre_core.atomic``).

A reader (or a resumed run) sees the previous checkpoint or the new one, never half a file.
Checkpoints hold only tensors and plain containers, so they load with
``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from cre_core.atomic import atomic_path


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    return torch.load(Path(path), map_location=map_location, weights_only=True)
