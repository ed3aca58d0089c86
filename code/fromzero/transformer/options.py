"""The options of a pretraining run, kept apart from the code so that ``--help`` needs no torch import."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fromzero.errors import InputError

KINDS = ("gpt", "bert")
POSITIONS = ("learned", "sinusoidal", "rotary")  # see fromzero.transformer.blocks
OPTIMIZERS = ("adamw", "muon")


@dataclass
class PretrainOptions:
    """Everything a pretraining run depends on; ``None`` sizes take the defaults of ``kind``."""

    kind: str
    corpus: str
    out: str
    eval_corpus: str | None = None
    max_steps: int | None = None
    max_minutes: float | None = None
    epochs: int | None = None
    seed: int = 0
    device: str = "auto"
    vocab_size: int | None = None
    context: int | None = None
    layers: int | None = None
    heads: int = 4
    dim: int | None = None
    dropout: float | None = None
    batch_size: int | None = None
    lr: float | None = None
    optimizer: str | None = None
    muon_lr: float | None = None  # optimizer "muon": the rate of the hidden matrices (lr is AdamW's, for the rest)
    positions: str | None = None
    warmup_steps: int | None = None
    nsp: bool | None = None  # BERT: add next-sentence prediction to MLM
    mask_probability: float | None = None  # BERT: share of the training tokens picked as targets
    attention: str = "sdpa"
    compile: bool = False
    eval_stride: int | None = None  # GPT: scoring windows advance by this many tokens (None: half the context)
    progress: bool = True

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InputError(f"unknown model kind {self.kind!r}: choose gpt or bert")
        defaults = DEFAULTS[self.kind]
        for name, value in defaults.items():
            if getattr(self, name) is None:
                setattr(self, name, value)
        if self.dim % self.heads != 0:
            raise InputError(f"--dim ({self.dim}) must be a multiple of --heads ({self.heads})")
        if self.positions == "rotary" and (self.dim // self.heads) % 2:
            raise InputError(f"--positions rotary turns pairs of features: --dim / --heads ({self.dim // self.heads}) "
                             "must be even")
        if self.positions not in POSITIONS:
            raise InputError(f"unknown positions {self.positions!r}: choose one of {', '.join(POSITIONS)}")
        if self.optimizer not in OPTIMIZERS:
            raise InputError(f"unknown optimizer {self.optimizer!r}: choose one of {', '.join(OPTIMIZERS)}")
        if self.kind == "bert" and not 0 < self.mask_probability < 1:
            raise InputError(f"--mask-probability must be between 0 and 1, got {self.mask_probability}")
        if self.eval_stride is not None and not 1 <= self.eval_stride <= self.context:
            raise InputError(f"--eval-stride ({self.eval_stride}) must not exceed --context ({self.context}) "
                             "nor be below 1")


# The defaults are the best recipes measured on 2 CPU cores (bench/README.md, "Pretraining"). GPT: two layers,
# rotary positions and Muon for the blocks' matrices reach lower bits per character in 8 minutes than four layers,
# learned positions and AdamW alone. BERT: with learned positions, Muon or a learning rate of 6e-3 a small MLM model
# stays at the most-frequent-token baseline for thousands of steps; rotary positions with AdamW at 3e-3 leave it
# within a few hundred, and picking 30 % of the tokens instead of 15 % doubles the targets per step (Wettig et
# al. 2023). Without next-sentence prediction every example is one contiguous span (RoBERTa, Liu et al. 2019).
DEFAULTS: dict[str, dict[str, Any]] = {
    "gpt": {"vocab_size": 4096, "context": 128, "layers": 2, "dim": 128, "dropout": 0.0, "lr": 8e-3,
            "batch_size": 16, "optimizer": "muon", "muon_lr": 0.01, "positions": "rotary"},
    "bert": {"vocab_size": 4096, "context": 64, "layers": 2, "dim": 64, "dropout": 0.0, "lr": 3e-3,
             "batch_size": 32, "optimizer": "adamw", "muon_lr": 0.02, "positions": "rotary", "nsp": False,
             "mask_probability": 0.3},
}
