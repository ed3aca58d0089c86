"""Several processes under ``torchrun``: the process group, and the few values the processes must share.

``torchrun --nproc_per_node N script.py`` starts N copies of a script and gives each WORLD_SIZE, RANK and
LOCAL_RANK; a plain ``python`` run or a notebook has none of them and is a group of one, for which every
function here does nothing. :func:`fromzero.train.fit` uses them to train through ``DistributedDataParallel``;
the commands use :func:`is_main_process` and :func:`from_main_process` so that one process reports and writes.

Training on several GPUs
    Launch the same script with ``torchrun --nproc_per_node N script.py``. :func:`fromzero.train.fit` starts the
    process group (NCCL on CUDA, Gloo on the CPU) unless the script did, gives each process its
    GPU, wraps the model in ``DistributedDataParallel``, and expects the training data as a
    ``Dataset`` or a loader from :func:`fromzero.batches.make_loader`, so that every process reads its own shard.
    ``batch_size`` is per process: a step sees N × batch_size × grad_accum_steps examples. Logged
    losses and evaluation metrics are averaged over the processes, only process 0 shows a progress
    bar and writes checkpoints (every process reads them to resume, so ``checkpoint_dir`` must be
    on a disk they all see), and the caller's model, never the wrapper, holds the trained weights.
"""

from __future__ import annotations

import atexit
import os
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from fromzero.device import pick_device


def setup_distributed(preference: str) -> tuple[torch.device, int, int]:
    """Return (device, rank, world size), starting the process group under ``torchrun``.

    The group, once started, stays up for later calls (pretraining, then fine-tuning) until the process exits:
    starting a second one in the same process is not reliable.
    """
    device = pick_device(preference)
    started = dist.is_available() and dist.is_initialized()
    world = dist.get_world_size() if started else int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return device, 0, 1
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if not started:
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        atexit.register(_leave_process_group)
    return device, dist.get_rank(), world


def is_main_process() -> bool:
    """Process 0 under ``torchrun`` (which sets ``RANK``), or the only process: the one that reports and saves."""
    return os.environ.get("RANK", "0") == "0"


def from_main_process(value: Any) -> Any:
    """Process 0's ``value``, on every process of a started group (``value`` itself in a single process).

    Decisions that every process must share, such as a plan timed on one of them, are made by
    process 0 and passed on with this, rather than made apart and trusted to agree.
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def rank_and_world() -> tuple[int, int]:
    """This process's rank and the number of processes, whether or not the group has started yet."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def wrap(model: nn.Module, device: torch.device) -> DistributedDataParallel:
    """The model inside ``DistributedDataParallel``, which averages the gradients in ``backward()``."""
    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def latest(seconds: float, world: int, device: torch.device) -> float:
    """The largest of the processes' ``seconds``: every process must see the same clock, so that all stop at the
    same step and set the same learning rate."""
    if world == 1:
        return seconds
    largest = torch.tensor(seconds, dtype=torch.float64, device=device)
    dist.all_reduce(largest, op=dist.ReduceOp.MAX)
    return float(largest.item())


def mean_over_processes(values: dict[str, float], world: int, device: torch.device) -> dict[str, float]:
    """Each value averaged over the processes (losses and metrics, so that every process logs the same)."""
    if world == 1:
        return values
    total = torch.tensor(list(values.values()), dtype=torch.float64, device=device)
    dist.all_reduce(total)  # a sum: Gloo has no average
    return dict(zip(values, (total / world).tolist(), strict=True))


def gather(value: Any, world: int) -> list[Any]:
    """Every process's ``value``, in rank order (each process's random state, for a checkpoint)."""
    if world == 1:
        return [value]
    gathered: list[Any] = [None] * world
    dist.all_gather_object(gathered, value)
    return gathered


def _leave_process_group() -> None:
    if dist.is_initialized():  # the script may have ended the group itself
        dist.destroy_process_group()
