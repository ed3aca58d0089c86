"""The optimisers that :func:`fromzero.train.fit` builds from a config, and its learning-rate schedule."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from fromzero.errors import InputError
from fromzero.muon import Muon, hidden_matrices

if TYPE_CHECKING:
    from fromzero.train import TrainConfig

OPTIMIZERS = ("adamw", "adam", "sgd", "muon")
SCHEDULES = ("linear", "cosine", "constant")


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """The optimizer ``config.optimizer`` names, with weight decay on matrices only.

    Decay pulls weights towards 0. For biases and LayerNorm gains that brings nothing, so, as in
    nanoGPT and BERT, only parameters with two or more dimensions (weights, embeddings) decay.
    ``"muon"`` trains the linear layers' weight matrices with :class:`fromzero.muon.Muon` at
    ``config.muon_lr`` and everything else (embeddings, biases, norms) with AdamW at ``config.lr``.
    """
    trainable = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in trainable if p.ndim >= 2], "weight_decay": config.weight_decay},
        {"params": [p for p in trainable if p.ndim < 2], "weight_decay": 0.0},
    ]
    groups = [group for group in groups if group["params"]]
    if not groups:
        raise InputError("the model has no trainable parameters")
    if config.optimizer == "muon":
        return _muon_with_adamw(groups, hidden_matrices(model), config)
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr)
    if config.optimizer == "adam":
        return torch.optim.Adam(groups, lr=config.lr)
    return torch.optim.AdamW(groups, lr=config.lr)


def _muon_with_adamw(groups: list[dict[str, Any]], matrices: list[nn.Parameter], config: TrainConfig) -> Muon:
    """Split each weight-decay group into its Muon ``matrices`` (at ``muon_lr``) and the rest (AdamW at ``lr``)."""
    hidden = {id(p) for p in matrices}
    split = []
    for group in groups:
        muon = [p for p in group["params"] if id(p) in hidden]
        adamw = [p for p in group["params"] if id(p) not in hidden]
        split.append({**group, "params": muon, "muon": True, "lr": config.muon_lr})
        split.append({**group, "params": adamw, "muon": False, "lr": config.lr})
    return Muon(group for group in split if group["params"])


def lr_multiplier(
    step: int,
    *,
    warmup_steps: int = 0,
    total_steps: int | None = None,
    schedule: str = "linear",
    time_used: float = 0.0,
) -> float:
    """The factor applied to the base learning rate by update number ``step + 1``.

    ``step`` counts the updates already done. During warm-up the factor rises in a straight line,
    ``(step + 1) / warmup_steps``, so the very first update already moves the weights and update
    number ``warmup_steps`` gets the full rate; warm-up keeps the first, noisy gradients of a fresh
    model (and of Adam's fresh moment estimates) from throwing the weights far away. After it,
    ``"constant"`` stays at 1, ``"linear"`` falls in a straight line and ``"cosine"`` along half a
    cosine wave, both reaching 0 at ``total_steps``.

    ``time_used`` is the share of a time limit already spent (``TrainConfig.schedule_to_deadline``):
    the decay then follows whichever of the step count and the clock is further along, so that a
    run ended by its deadline still ends with the rate at 0, however fast the machine turned out to be.
    """
    if schedule not in SCHEDULES:
        raise InputError(f"unknown schedule {schedule!r}: choose one of {', '.join(SCHEDULES)}")
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    if total_steps is None:
        raise InputError(f"the {schedule!r} schedule needs total_steps")
    progress = min(1.0, max(time_used, (step - warmup_steps) / max(1, total_steps - warmup_steps)))
    if schedule == "linear":
        return 1.0 - progress
    return 0.5 * (1.0 + math.cos(math.pi * progress))
