"""Freezing policies: which pretrained parameters a fine-tuning run may change.

A frozen parameter has ``requires_grad=False``: autograd computes no gradient for it and the
optimizer (built from the trainable parameters only) never touches it. Three policies:

``none``
    everything trains: full fine-tuning.
``encoder``
    the whole pretrained model (embeddings, every layer, the pooler) is frozen and only the new
    task head trains: a linear probe trained by gradient descent.
``top:N``
    the embeddings and all but the top ``N`` transformer layers are frozen; the top ``N`` layers,
    whatever sits above them in the encoder (BERT's pooler) and the head train. Lower layers hold
    the most general features, so they are the ones worth keeping as they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fromzero.errors import InputError

if TYPE_CHECKING:  # torch is imported where it is used, so that the command line validates --freeze without it
    from torch import nn

_TOP = re.compile(r"top:(\d+)")


@dataclass(frozen=True)
class ParameterCount:
    """How many parameters a model has, and how many of them will be trained."""

    trainable: int
    total: int

    @property
    def fraction(self) -> float:
        return self.trainable / self.total if self.total else 0.0


def trainable_parameters(model: nn.Module) -> ParameterCount:
    """Trainable and total parameter counts (shared tensors counted once).

    ``fromzero.transformer.gpt.count_parameters`` gives the total alone, for models that train whole.
    """
    unique = {id(p): p for p in model.parameters()}.values()
    return ParameterCount(sum(p.numel() for p in unique if p.requires_grad), sum(p.numel() for p in unique))


def parse_freeze(policy: str) -> str:
    """Validate a policy string (``none``, ``encoder`` or ``top:N``) and return it."""
    if policy in ("none", "encoder") or _TOP.fullmatch(policy):
        return policy
    raise InputError(f"unknown freezing policy {policy!r}: use none, encoder or top:N (N layers stay trainable)")


def encoder_layers(model: nn.Module) -> nn.ModuleList:
    """The pretrained encoder's stack of transformer layers, bottom first.

    Found as the module list in ``model.base_model`` whose length is the config's number of layers,
    which covers BERT, RoBERTa and DistilBERT without naming each family's attribute path.
    """
    from torch import nn

    config = model.config
    depth = getattr(config, "num_hidden_layers", None) or getattr(config, "n_layers", None)
    for module in model.base_model.modules():
        if isinstance(module, nn.ModuleList) and len(module) == depth:
            return module
    raise InputError(f"cannot find the transformer layers of {type(model).__name__} for partial freezing")


def freeze(model: nn.Module, policy: str) -> ParameterCount:
    """Apply ``policy`` to ``model`` in place (every parameter trainable first); return the counts."""
    policy = parse_freeze(policy)
    for parameter in model.parameters():
        parameter.requires_grad_(True)
    if policy == "encoder":
        model.base_model.requires_grad_(False)
    elif policy.startswith("top:"):
        _freeze_below_top(model, int(policy[4:]))
    return trainable_parameters(model)


def _freeze_below_top(model: nn.Module, top: int) -> None:
    layers = encoder_layers(model)
    if top > len(layers):
        raise InputError(f"freezing policy top:{top} asks for more layers than the model's {len(layers)}")
    layers[: len(layers) - top].requires_grad_(False)
    for name, module in model.base_model.named_children():
        if "embed" in name:
            module.requires_grad_(False)
