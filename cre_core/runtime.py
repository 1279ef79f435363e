"""Where a process runs: device choice and the torchrun process group, for training and embedding.

Under ``torchrun --nproc-per-node N python -m cre_core ...`` every process calls ``setup``: it
joins the group (NCCL on CUDA, else gloo; ``CRE_DIST_BACKEND`` overrides) and learns its rank.
``DistContext`` is the one place that talks to torch.distributed: sharding and gathering Python
objects (embedding), broadcasting an object or a decision from rank 0, and summing or OR-ing
tensors over ranks (training). Without ``WORLD_SIZE`` > 1 it is a context of one rank whose
collectives do nothing, and torch is not even imported.

The stop request is the one way a long phase learns that SIGTERM/SIGINT (the Train page's Stop,
``timeout``, Ctrl-C) arrived: inside ``stop_on_signals()`` those signals set a flag instead of
killing the process, and every phase that can run for minutes (epochs, encoder pretraining,
ensemble members, the pair ridge's CG iterations, embedding batches) asks ``stop_requested()``
or calls ``check_stop()`` between units of work, saves what it can and ends resumable.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


class StopRequested(Exception):
    """SIGTERM/SIGINT arrived inside ``stop_on_signals``: end the phase, saving what can be saved."""


_STOP = threading.Event()
_SCOPES = [0]          # nesting depth of stop_on_signals (an ensemble's members nest in it)


def request_stop() -> None:
    """Ask every long phase of this process to stop at its next check."""
    _STOP.set()


def stop_requested() -> bool:
    """Whether a stop was asked for (the ``should_stop`` callback of long loops)."""
    return _STOP.is_set()


def check_stop() -> None:
    """Raise StopRequested when a stop was asked for."""
    if _STOP.is_set():
        raise StopRequested()


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Inside the block SIGTERM/SIGINT call ``request_stop`` instead of killing the process.

    Blocks nest; the request is cleared when the outermost one ends, so a later run in the same
    process (tests, notebooks) starts afresh. Outside the main thread signals cannot be caught:
    the block then only scopes the flag.
    """
    previous: dict = {}
    try:
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, lambda _signum, _frame: request_stop())
    except ValueError:        # not the main thread
        pass
    _SCOPES[0] += 1
    try:
        yield
    finally:
        _SCOPES[0] -= 1
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if _SCOPES[0] == 0:
            _STOP.clear()


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

    def broadcast_object(self, value: Any) -> Any:
        """Rank 0's ``value`` on every rank."""
        if not self.active:
            return value
        import torch.distributed as dist

        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def broadcast_flag(self, flag: bool, device: torch.device) -> bool:
        """Rank 0's decision on every rank."""
        if not self.active:
            return flag
        import torch
        import torch.distributed as dist

        value = torch.tensor([float(flag)], device=device)
        dist.broadcast(value, src=0)
        return bool(value.item())

    def any_flag(self, flag: bool, device: torch.device) -> bool:
        """True on every rank when any rank's ``flag`` is true."""
        if not self.active:
            return flag
        import torch
        import torch.distributed as dist

        value = torch.tensor([float(flag)], device=device)
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item())

    def sum_(self, tensor: torch.Tensor) -> torch.Tensor:
        """``tensor`` summed over ranks, in place (returned for chaining)."""
        if self.active:
            import torch.distributed as dist

            dist.all_reduce(tensor)
        return tensor

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


def resolve_device(device: str | None) -> str:
    """``auto`` -> ``cuda`` when a GPU is visible, else ``cpu``; ``cuda`` without one -> CreError."""
    import torch

    from cre_core.errors import CreError

    device = (device or "auto").lower()
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise CreError(f"--device {device}: no CUDA GPU is visible here (use --device cpu or auto)")
    if device != "cpu" and not device.startswith("cuda"):
        raise CreError(f"--device {device}: choose auto, cpu or cuda")
    return device


def device_for_rank(device: str, ctx: DistContext) -> str:
    """``cuda`` -> ``cuda:LOCAL_RANK`` under torchrun; anything else unchanged."""
    if ctx.active and device == "cuda":
        return f"cuda:{ctx.local_rank}"
    return device


def pick_device(kind: str, local_rank: int = 0) -> torch.device:
    """The torch device for ``auto``/``cpu``/``cuda`` (this rank's GPU under torchrun)."""
    import torch

    if resolve_device(kind).startswith("cuda"):
        torch.cuda.set_device(local_rank)
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def device_memory(device: torch.device) -> tuple[int, str]:
    """The device's total memory in bytes, and how a refusal names it."""
    if device.type == "cuda":
        total = torch.cuda.get_device_properties(device).total_memory
        return total, f"the GPU's {total / 1e9:.0f} GB"
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return total, f"this machine's {total / 1e9:.0f} GB of memory"


def device_summary() -> str:
    """Where training will run when device is ``auto``."""
    import torch

    if torch.cuda.is_available():
        return f"GPU available: {torch.cuda.get_device_name(0)} (device auto uses it)"
    return "No GPU here: runs use the CPU (device auto picks CUDA when present)"


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
        dist.init_process_group(backend=os.environ.get("CRE_DIST_BACKEND") or ("nccl" if cuda else "gloo"))
        owns = True
    return DistContext(dist.get_rank(), dist.get_world_size(), local_rank, owns)
