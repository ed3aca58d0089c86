"""The options of a fine-tuning run, kept apart from the code so that ``--help`` needs no torch import."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from fromzero.argtypes import option, positive_float, positive_int
from fromzero.argtypes import seed as random_seed
from fromzero.errors import InputError
from fromzero.finetune.freezing import parse_freeze


def freeze_policy(text: str) -> str:
    """``--freeze``'s type: a policy :func:`~fromzero.finetune.freezing.parse_freeze` accepts."""
    try:
        return parse_freeze(text)
    except InputError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


@dataclass
class FinetuneOptions:
    """How to fine-tune; the defaults are the command line's.

    Each field made with :func:`~fromzero.argtypes.option` is also an option of ``python -m fromzero finetune``.
    ``warmup_fraction`` of the optimizer steps warm the learning rate up linearly, the rest decay
    it linearly to zero. ``head_lr`` gives the new, randomly initialised head its own, larger
    learning rate (None: ``lr``): the pretrained weights need only small steps, the head starts
    from nothing, and at 5e-5 a NER head with a score of rare tags learns too slowly.
    ``early_stopping_patience`` needs a validation set.
    """

    epochs: int = option(3, type=positive_int, help="passes over --train")
    lr: float = option(5e-5, type=positive_float,
                       help="peak learning rate of AdamW, reached after a 10%% warm-up, then decayed linearly")
    head_lr: float | None = option(1e-3, type=positive_float,
                                   help="peak learning rate of the new, randomly initialised task head")
    batch_size: int = option(16, type=positive_int, help="examples per step")
    max_length: int = option(128, type=positive_int,
                             help="word pieces per example, [CLS] and [SEP] included; longer inputs are cut")
    freeze: str = option("none", type=freeze_policy, metavar="{none,encoder,top:N}",
                         help="what stays fixed: nothing (none), the whole encoder (encoder: only the head trains), "
                         "or all but the top N layers (top:N)")
    lora: bool = option(False, action="store_true",
                        help="train rank-8 LoRA adapters and the head instead of the weights; merged before saving")
    lora_rank: int = 8
    lora_alpha: int = 16
    seed: int = option(0, type=random_seed, help="random seed")
    device: str = option("auto", help="auto, cpu, cuda or mps")
    warmup_fraction: float = 0.1
    weight_decay: float = 0.01
    early_stopping_patience: int | None = None
    eval_every: int | None = None
    eval_batch_size: int = 64
    progress: bool = True

    def __post_init__(self) -> None:
        parse_freeze(self.freeze)
        if self.lora and self.freeze != "none":
            raise InputError("--lora already freezes the pretrained weights: use it with --freeze none")
        if not 0 <= self.warmup_fraction < 1:
            raise InputError(f"warmup_fraction must be in [0, 1), got {self.warmup_fraction}")
        if self.max_length < 4:
            raise InputError(f"max_length must be at least 4 word pieces, got {self.max_length}")
