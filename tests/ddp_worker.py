"""Run by ``tests/test_train.py`` under ``torchrun`` with two CPU processes (Gloo): :func:`fit` under DDP.

Usage: ``python -m torch.distributed.run --nproc_per_node 2 ... tests/ddp_worker.py OUT_DIR``.

Every process trains the problem below twice, as the test asks: once straight through with
gradient accumulation, and once with dropout, straight through and then interrupted by an
exception and resumed from its checkpoint. Process 0 saves the weights, histories and one
checkpoint's random states to ``OUT_DIR/result.pt``; the test compares them with a run in one
process. The test imports ``problem``, ``config`` and ``mse`` from here, so both sides train the same thing.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

from fromzero.batches import make_loader
from fromzero.train import TrainConfig, fit

GLOBAL_BATCH = 8


def problem(dropout: float = 0.0) -> tuple[nn.Module, TensorDataset]:
    """A small regression: 32 examples, a two-layer network with the same start in every process."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(32, 4, generator=generator)
    y = torch.sin(x.sum(dim=1, keepdim=True))
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Dropout(dropout), nn.Linear(16, 1))
    return model, TensorDataset(x, y)


def config(**changes: Any) -> TrainConfig:
    settings = {"epochs": 2, "lr": 0.01, "grad_accum_steps": 2, "warmup_steps": 1, "eval_every": 1, "progress": False}
    return TrainConfig(**{**settings, **changes})


def mse(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    x, y = batch
    return F.mse_loss(model(x), y)


class Crash(RuntimeError):
    """The interruption: raised from the loss function in every process at the same step."""


def crashing_mse(after_calls: int) -> Callable[[nn.Module, tuple[torch.Tensor, torch.Tensor]], torch.Tensor]:
    calls = 0

    def loss_fn(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        nonlocal calls
        if model.training:
            calls += 1
            if calls > after_calls:
                raise Crash(f"interrupted at training batch {calls}")
        return mse(model, batch)

    return loss_fn


def main(out_dir: Path) -> None:
    batch_size = GLOBAL_BATCH // int(os.environ["WORLD_SIZE"])  # torchrun sets WORLD_SIZE and RANK

    model, data = problem()
    eval_batches = [data[:16], data[16:]]
    history = fit(model, make_loader(data, batch_size), mse, config(), eval_data=eval_batches)

    resume = {"epochs": 3, "grad_accum_steps": 1, "checkpoint_dir": str(out_dir / "checkpoints"), "checkpoint_every": 3}
    straight, _ = problem(dropout=0.3)
    fit(straight, make_loader(data, batch_size), mse, config(epochs=3, grad_accum_steps=1))
    resumed, _ = problem(dropout=0.3)
    try:
        fit(resumed, make_loader(data, batch_size), crashing_mse(after_calls=7), config(**resume))
    except Crash:
        pass
    else:
        raise AssertionError("the interrupted run was not interrupted")
    checkpoint = torch.load(out_dir / "checkpoints" / "step-00000006.pt", weights_only=True)
    fit(resumed, make_loader(data, batch_size), mse, config(**resume))

    if os.environ["RANK"] == "0":
        result = {
            "model": model.state_dict(),
            "history": asdict(history),
            "straight": straight.state_dict(),
            "resumed": resumed.state_dict(),
            "checkpoint_rng": checkpoint["rng"],
        }
        torch.save(result, out_dir / "result.pt")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
