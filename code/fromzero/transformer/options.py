"""The options of a pretraining run, kept apart from the code so that ``--help`` needs no torch import."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from fromzero.argtypes import count, fraction, minutes, option, positive_float, positive_int
from fromzero.argtypes import seed as random_seed
from fromzero.errors import InputError

KINDS = ("gpt", "bert")
POSITIONS = ("learned", "sinusoidal", "rotary")  # see fromzero.transformer.blocks
PRETRAIN_OPTIMIZERS = ("adamw", "muon")  # of fromzero.train.OPTIMIZERS, the two the recipes were measured with


MODEL = "model size and training"


@dataclass
class PretrainOptions:
    """Everything a pretraining run depends on; ``None`` sizes take the defaults of ``kind``.

    Each field made with :func:`~fromzero.argtypes.option` is also an option of ``python -m fromzero pretrain``.
    """

    kind: str
    corpus: str = option(help="UTF-8 text file to train on (its last 5%% is held out unless --eval-corpus is given)",
                         metavar="PATH")
    out: str = option(help="folder for the tokeniser, model and checkpoints", metavar="DIR")
    eval_corpus: str | None = option(None, help="UTF-8 text file to evaluate on", metavar="PATH")
    max_steps: int | None = option(None, help="stop after this many optimizer steps", type=positive_int)
    max_minutes: float | None = option(None, type=minutes, help="time limit for the whole run, tokeniser training "
                                       "and evaluation included: training stops at a deadline that leaves time for "
                                       "the final score, and the learning rate decays to zero at it")
    epochs: int | None = option(None, type=positive_int, help="passes over the corpus (default: 1, or as many as "
                                "--max-steps/--max-minutes allow)")
    seed: int = option(0, type=random_seed, help="random seed")
    device: str = option("auto", help="auto, cpu, cuda or mps")
    vocab_size: int | None = option(None, type=positive_int, help="tokeniser vocabulary", group=MODEL)
    context: int | None = option(None, type=positive_int, help="tokens per training example", group=MODEL)
    layers: int | None = option(None, type=positive_int, help="Transformer blocks", group=MODEL)
    heads: int = option(4, type=positive_int, help="attention heads per block", group=MODEL)
    dim: int | None = option(None, type=positive_int, help="model width d_model", group=MODEL)
    dropout: float | None = option(None, type=fraction, help="dropout probability", group=MODEL)
    batch_size: int | None = option(None, type=positive_int, help="examples per step", group=MODEL)
    lr: float | None = option(None, type=positive_float, group=MODEL,
                              help="peak learning rate of AdamW, after a warm-up, then cosine decay")
    optimizer: str | None = option(None, choices=PRETRAIN_OPTIMIZERS, group=MODEL,
                                   help="adamw: AdamW for every weight; muon: Muon for the weight matrices of the "
                                   "blocks, AdamW at --lr for the rest")
    muon_lr: float | None = option(None, type=positive_float, help="peak learning rate of Muon", group=MODEL)
    positions: str | None = option(None, choices=POSITIONS, group=MODEL,
                                   help="learned: a trained vector per position; sinusoidal: fixed waves; rotary: "
                                   "queries and keys turned by their position inside attention, RoPE")
    warmup_steps: int | None = option(None, type=count, group=MODEL,
                                      help="warm-up steps (default: 10%% of the steps, at most 200; 200 in a run "
                                      "limited by --max-minutes alone)")
    nsp: bool | None = option(None, action=argparse.BooleanOptionalAction, only="bert",
                              help="add next-sentence prediction to MLM, on pairs of segments as in BERT; --no-nsp "
                              "(the default): MLM only, on single contiguous spans, as in RoBERTa")
    mask_probability: float | None = option(None, type=fraction, only="bert",
                                            help="share of the training tokens picked as MLM targets (BERT used "
                                            "0.15; the held-out score always picks 0.15)")
    attention: str = option("sdpa", choices=("sdpa", "math"), group=MODEL,
                            help="sdpa: PyTorch's fused kernel (flash attention on a GPU); math: the written-out "
                            "formula")
    compile: bool = option(False, action="store_true", group=MODEL,
                           help="torch.compile the model (worth it on a GPU)")
    eval_stride: int | None = option(None, type=positive_int, only="gpt",
                                     help="score the held-out text in windows that advance by this many tokens, so "
                                     "that every token after the first window is predicted from at least context - "
                                     "stride tokens (default: half the context)")
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
        if self.optimizer not in PRETRAIN_OPTIMIZERS:
            raise InputError(f"unknown optimizer {self.optimizer!r}: choose one of {', '.join(PRETRAIN_OPTIMIZERS)}")
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
