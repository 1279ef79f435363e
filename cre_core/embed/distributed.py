"""torch.distributed for ``embed`` under ``torchrun``: shard the windows, gather one result.

Under ``torchrun --nproc-per-node N python -m cre_core embed ...`` every rank reads the same
windows and the same cache, so all agree on what is missing; rank r embeds items r, r+N, r+2N...
of that list (on ``cuda:LOCAL_RANK`` with NCCL, or on the CPU with gloo), the pieces are
gathered on every rank, and only rank 0 writes files and prints. Without ``WORLD_SIZE`` > 1 this
is a no-op context of one rank, and torch is not even imported.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any


@dataclass
class DistContext:
    """Where this process stands in the group (rank 0 of 1 when not distributed)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    owns_group: bool = False

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, items: list) -> list:
        """This rank's share: every world-th item starting at its rank."""
        return items[self.rank :: self.world] if self.active else items

    def gather(self, piece: Any) -> list:
        """Every rank's ``piece``, in rank order, on every rank (pickled; gloo or NCCL)."""
        if not self.active:
            return [piece]
        import torch.distributed as dist

        pieces: list = [None] * self.world
        dist.all_gather_object(pieces, piece)
        return pieces

    def barrier(self) -> None:
        if self.active:
            import torch.distributed as dist

            dist.barrier()

    def close(self) -> None:
        """Leave the group if this context created it."""
        if self.owns_group:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()
            self.owns_group = False


def device_for_rank(device: str, ctx: DistContext) -> str:
    """``cuda`` -> ``cuda:LOCAL_RANK`` under torchrun; anything else unchanged."""
    if ctx.active and device == "cuda":
        return f"cuda:{ctx.local_rank}"
    return device


def setup(device: str = "cpu") -> DistContext:
    """Join the torchrun group when ``WORLD_SIZE`` > 1 (NCCL for CUDA, else gloo)."""
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world <= 1:
        return DistContext()
    import torch
    import torch.distributed as dist

    local_rank = int(os.environ.get("LOCAL_RANK", "0") or 0)
    owns = False
    if not dist.is_initialized():
        cuda = device.startswith("cuda")
        if cuda:
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend="nccl" if cuda else "gloo")
        owns = True
    return DistContext(dist.get_rank(), dist.get_world_size(), local_rank, owns)
