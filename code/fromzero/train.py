"""The one training loop of the book.

Every chapter trains with :func:`fit`: Word2Vec and GloVe, the bag-of-embeddings classifier, the
tiny BERT and GPT, and BERT fine-tuning. It is one function and a few small helpers, in the spirit
of nanoGPT's ``train.py``: no trainer class, no callbacks, nothing that happens out of sight.

A chapter brings three things:

* a model, any ``nn.Module``;
* training data: an iterable of batches (a list, a ``DataLoader``), or a map-style ``Dataset``
  that :func:`fit` batches itself with ``config.batch_size``. A batch is a tensor or any nesting of
  tuples, lists and dicts of tensors, a Hugging Face tokenizer's output included;
* ``loss_fn(model, batch) -> loss``, a scalar tensor. Under DDP ``model`` is the wrapped model, so
  ``loss_fn`` must call ``model(...)``: the gradients are synchronised by the wrapper's forward.

The loop does the rest: device placement, mixed precision on CUDA, gradient accumulation and
clipping, a learning-rate schedule with warm-up, evaluation with early stopping, a progress bar,
checkpoints that resume exactly (their files: :mod:`fromzero.checkpoint`), and several GPUs through
``torchrun`` (the process group: :mod:`fromzero.distributed`).

Exact resume
    A run interrupted by a crash, by ``max_steps`` or by Ctrl-C, and started again with the same
    config and ``checkpoint_dir``, ends with bit-identical weights on the CPU (on a GPU, only as
    identical as its kernels are deterministic). A checkpoint holds the model, optimizer,
    scheduler and GradScaler, the random states of Python, NumPy and PyTorch, and the position in
    the data: the epoch and how many of its batches were used. To resume, the loop restores the
    random state that epoch started with, so the epoch gets the same batch order, skips the used
    batches, then restores the random state of the checkpoint (dropout goes on as before). The one
    thing asked of the caller: for a given epoch and random state, the data must come in the same
    order. A ``Dataset``, a loader from :func:`make_loader`, any ``DataLoader`` (shuffled or not)
    and a list all qualify, even when reading a batch draws random numbers (a collate function
    that masks tokens at random); a generator that keeps its own state from one epoch to the next
    does not. Skipping re-reads the used batches, which costs their loading time, not their training.

Several GPUs
    Launch the same script with ``torchrun --nproc_per_node N script.py``. :func:`fit` starts the
    process group (NCCL on CUDA, Gloo on the CPU) unless the script did, gives each process its
    GPU, wraps the model in ``DistributedDataParallel``, and expects the training data as a
    ``Dataset`` or a loader from :func:`make_loader`, so that every process reads its own shard.
    ``batch_size`` is per process: a step sees N × batch_size × grad_accum_steps examples. Logged
    losses and evaluation metrics are averaged over the processes, only process 0 shows a progress
    bar and writes checkpoints (every process reads them to resume, so ``checkpoint_dir`` must be
    on a disk they all see), and the caller's model, never the wrapper, holds the trained weights.
"""

from __future__ import annotations

import json
import math
import random
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR
from torch.utils.data import DataLoader, Dataset, DistributedSampler, IterableDataset
from tqdm.auto import tqdm

from fromzero.checkpoint import (
    load_weights,
    read_newest,
    rng_state,
    set_rng_state,
    write_checkpoint,
)
from fromzero.device import has_native_bf16
from fromzero.distributed import gather, latest, mean_over_processes, rank_and_world, setup_distributed, wrap
from fromzero.errors import InputError
from fromzero.muon import Muon, hidden_matrices

if TYPE_CHECKING:
    import pandas as pd

OPTIMIZERS = ("adamw", "adam", "sgd", "muon")
SCHEDULES = ("linear", "cosine", "constant")
MIXED_PRECISION = ("auto", "bf16", "fp16", "no")
MONITOR_MODES = ("min", "max")
THROUGHPUT_UNITS = ("examples", "tokens")

LossFn = Callable[[nn.Module, Any], torch.Tensor]
MetricsFn = Callable[[nn.Module, Any, torch.device], Mapping[str, float]]


@dataclass
class TrainConfig:
    """How to train. Every field has a default, so ``TrainConfig(lr=3e-4)`` is a whole config.

    Nonsense values raise :class:`~fromzero.errors.InputError` here, when the config is built,
    rather than minutes into training.
    """

    # How long: whichever limit comes first. A step is one optimizer update.
    epochs: int = 1
    max_steps: int | None = None
    max_seconds: float | None = None  # a deadline for this call: stop after the step that passes it
    schedule_to_deadline: bool = False  # let the schedule's decay end at max_seconds too, see lr_multiplier()
    batch_size: int = 32  # only used when fit() is given a Dataset; per process under DDP
    # The optimizer that fit() builds (all four ignored when fit() is given an optimizer).
    optimizer: str = "adamw"  # "adamw", "adam", "sgd" or "muon" (see make_optimizer())
    lr: float = 1e-3
    muon_lr: float = 0.02  # "muon" only: the rate of the hidden matrices; lr is AdamW's, for the rest
    weight_decay: float = 0.0  # on weight matrices and embeddings only, see make_optimizer()
    # The gradient.
    grad_accum_steps: int = 1
    max_grad_norm: float | None = 1.0  # clip the gradient's global norm; None: no clipping
    # The learning rate over time, see lr_multiplier().
    warmup_steps: int = 0
    schedule: str = "linear"  # "linear", "cosine" or "constant"
    # "auto": bf16 on a CUDA GPU that has it, else fp16 with a GradScaler; off on CPU and MPS.
    mixed_precision: str = "auto"  # or "bf16", "fp16", "no"
    # Evaluation (at the end of every epoch and of training, and every eval_every steps) and early stopping.
    eval_every: int | None = None
    early_stopping_patience: int | None = None  # stop after this many evaluations without improvement
    monitor: str = "eval_loss"
    monitor_mode: str = "min"  # "min" for losses, "max" for accuracies
    restore_best: bool = True  # with early stopping: end with the best evaluated weights
    # Checkpoints.
    checkpoint_dir: str | None = None
    checkpoint_every: int | None = None  # steps; a checkpoint is also written when training ends
    keep_checkpoints: int | None = None  # keep only the newest few; None keeps all
    resume: bool = True  # continue from the newest checkpoint in checkpoint_dir, if there is one
    # Everything else.
    seed: int = 0  # fit() seeds Python, NumPy and PyTorch with it, and shuffles a Dataset with it
    device: str = "auto"  # see fromzero.device.pick_device()
    progress: bool = True
    log_every: int = 10  # steps between refreshes of the progress bar's figures
    throughput: str = "examples"  # or "tokens", see count_units()

    def __post_init__(self) -> None:
        if self.checkpoint_dir is not None:
            self.checkpoint_dir = str(self.checkpoint_dir)
        _validate(self)


def _validate(config: TrainConfig) -> None:
    def fail(name: str, rule: str) -> None:
        raise InputError(f"TrainConfig.{name} must be {rule}, got {getattr(config, name)!r}")

    for name in ("epochs", "batch_size", "grad_accum_steps", "log_every"):
        if getattr(config, name) < 1:
            fail(name, "at least 1")
    for name in ("max_steps", "eval_every", "early_stopping_patience", "checkpoint_every", "keep_checkpoints"):
        if getattr(config, name) is not None and getattr(config, name) < 1:
            fail(name, "None or at least 1")
    for name in ("lr", "muon_lr"):
        if getattr(config, name) <= 0:
            fail(name, "positive")
    if config.weight_decay < 0:
        fail("weight_decay", "0 or more")
    if config.warmup_steps < 0:
        fail("warmup_steps", "0 or more")
    if config.max_grad_norm is not None and config.max_grad_norm <= 0:
        fail("max_grad_norm", "None or positive")
    if config.max_seconds is not None and config.max_seconds <= 0:
        fail("max_seconds", "None or positive")
    for name, choices in (
        ("optimizer", OPTIMIZERS),
        ("schedule", SCHEDULES),
        ("mixed_precision", MIXED_PRECISION),
        ("monitor_mode", MONITOR_MODES),
        ("throughput", THROUGHPUT_UNITS),
    ):
        if getattr(config, name) not in choices:
            fail(name, "one of " + ", ".join(repr(choice) for choice in choices))
    if config.checkpoint_every is not None and config.checkpoint_dir is None:
        fail("checkpoint_dir", "set when checkpoint_every is")
    if config.schedule_to_deadline and config.max_seconds is None:
        fail("max_seconds", "set when schedule_to_deadline is")


@dataclass
class History:
    """What :func:`fit` measured, as plain lists: plotting is one line, e.g.
    ``plt.plot(history.steps, history.train_loss)``.

    Per optimizer step: ``steps`` (1, 2, ...), ``epoch``, ``train_loss`` (mean over the step's
    batches and processes), ``lr`` (the rate that step used) and ``throughput`` (``unit`` per
    second, all processes together). Per evaluation: one dict in ``evals`` with ``step``,
    ``epoch``, ``eval_loss`` and what ``metrics_fn`` returned. ``best_metric`` and ``best_step``
    follow ``monitor``; ``seconds`` is the training time, summed over resumed runs.
    """

    steps: list[int] = field(default_factory=list)
    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    throughput: list[float] = field(default_factory=list)
    evals: list[dict[str, float]] = field(default_factory=list)
    unit: str = "examples"
    monitor: str = "eval_loss"
    best_metric: float | None = None
    best_step: int | None = None
    stopped_early: bool = False
    seconds: float = 0.0

    def to_dataframe(self) -> pd.DataFrame:
        """One row per optimizer step: step, epoch, train_loss, lr, throughput."""
        import pandas as pd

        columns = {"step": self.steps, "epoch": self.epoch, "train_loss": self.train_loss}
        return pd.DataFrame({**columns, "lr": self.lr, "throughput": self.throughput})

    def evals_dataframe(self) -> pd.DataFrame:
        """One row per evaluation: step, epoch, eval_loss and the metrics."""
        import pandas as pd

        return pd.DataFrame(self.evals)

    def to_json_lines(self) -> str:
        """One JSON object per optimizer step (``"kind": "step"``) and per evaluation (``"kind": "eval"``), in step
        order: what :data:`METRICS_FILE` holds, so that ``pandas.read_json(path, lines=True)`` plots a run."""
        rows: list[dict[str, Any]] = [
            {"kind": "step", "step": step, "epoch": epoch, "train_loss": loss, "lr": lr, "throughput": speed}
            for step, epoch, loss, lr, speed in zip(self.steps, self.epoch, self.train_loss, self.lr, self.throughput,
                                                    strict=True)
        ]
        rows += [{"kind": "eval", **evaluation} for evaluation in self.evals]
        rows.sort(key=lambda row: (row["step"], row["kind"] == "eval"))
        return "".join(json.dumps(row) + "\n" for row in rows)


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's generators (every CUDA device's included)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def to_device(batch: Any, device: torch.device | str) -> Any:
    """Move every tensor inside ``batch`` (tuples, lists, dicts, nested) to ``device``.

    Containers keep their type where they can be rebuilt from their items, so a named tuple stays
    one and a Hugging Face ``BatchEncoding`` keeps its attribute access; anything that is not a
    tensor or a container (a string, an int) is returned as it is.
    """
    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, Mapping):
        moved = {key: to_device(value, device) for key, value in batch.items()}
        try:
            return type(batch)(moved)
        except TypeError:  # a mapping type that cannot be built from a dict, e.g. a defaultdict
            return moved
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(to_device(value, device) for value in batch))
    if isinstance(batch, list | tuple):
        return type(batch)(to_device(value, device) for value in batch)
    return batch


def count_units(batch: Any, unit: str = "examples") -> int:
    """How much work a batch is, for the throughput figure.

    Examples are the first dimension of the batch's first tensor. Tokens are the ones of the
    attention mask when the batch is a dict that has one (padding is not work), else every element
    of the first tensor, which counts batch × length for the ``(x, y)`` batches of a language model.
    """
    if unit == "tokens" and isinstance(batch, Mapping) and "attention_mask" in batch:
        return int(batch["attention_mask"].sum())
    first = _first_tensor(batch)
    if first is None:
        return 0
    if unit == "tokens":
        return first.numel()
    return first.shape[0] if first.ndim else 1


def _first_tensor(batch: Any) -> torch.Tensor | None:
    if isinstance(batch, torch.Tensor):
        return batch
    items = batch.values() if isinstance(batch, Mapping) else batch if isinstance(batch, list | tuple) else ()
    for item in items:
        found = _first_tensor(item)
        if found is not None:
            return found
    return None


def make_loader(
    dataset: Dataset,
    batch_size: int,
    *,
    shuffle: bool = True,
    seed: int = 0,
    collate_fn: Callable[[list[Any]], Any] | None = None,
    drop_last: bool = False,
    num_workers: int = 0,
) -> DataLoader:
    """A ``DataLoader`` whose order depends only on ``seed`` and the epoch, sharded under DDP.

    It samples with a ``DistributedSampler`` even in one process (as shard 0 of 1): :func:`fit`
    calls its ``set_epoch(epoch)``, so every epoch is shuffled anew from ``seed + epoch`` and can be
    replayed on resume. The same sampler shards the data under ``torchrun``, and interleaves the
    shards so that N processes with ``batch_size`` B/N see, step for step, the same B examples as
    one process with ``batch_size`` B (when N divides the dataset's size; otherwise the sampler
    repeats a few examples to give every process the same number of batches).
    """
    rank, world = rank_and_world()
    sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=shuffle, seed=seed)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        collate_fn=collate_fn,
        drop_last=drop_last,
        num_workers=num_workers,
    )


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


def autocast_dtype(mixed_precision: str, device: torch.device) -> torch.dtype | None:
    """The dtype ``torch.autocast`` computes in, or None for full precision.

    bf16 has float32's range, so it trains without loss scaling; fp16 does not, so :func:`fit`
    pairs it with a GradScaler. CPUs and Apple GPUs gain little from autocast, so "auto" turns it
    off there, and an explicit "bf16" or "fp16" needs a CUDA GPU. "auto" picks bf16 only where the GPU
    computes in it natively (:func:`~fromzero.device.has_native_bf16`), fp16 with loss scaling elsewhere.
    """
    if mixed_precision not in MIXED_PRECISION:
        raise InputError(f"unknown mixed_precision {mixed_precision!r}: choose one of {', '.join(MIXED_PRECISION)}")
    if mixed_precision == "no" or (mixed_precision == "auto" and device.type != "cuda"):
        return None
    if device.type != "cuda":
        raise InputError(f"mixed_precision={mixed_precision!r} needs a CUDA GPU, but training runs on {device}")
    if mixed_precision == "fp16":
        return torch.float16
    if has_native_bf16(device):
        return torch.bfloat16
    if mixed_precision == "bf16":
        raise InputError("this GPU has no native bf16 (compute capability below 8.0): use mixed_precision='fp16' or "
                         "'auto'")
    return torch.float16


def autocast_context(device: torch.device, dtype: torch.dtype | None) -> AbstractContextManager:
    """Mixed precision in ``dtype`` on ``device`` for the block it wraps; nothing at all when ``dtype`` is None."""
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext()


@torch.no_grad()
def evaluate(
    model: nn.Module,
    data: Iterable[Any],
    loss_fn: LossFn,
    device: torch.device | None = None,
    *,
    metrics_fn: MetricsFn | None = None,
    dtype: torch.dtype | None = None,
) -> dict[str, float]:
    """``eval_loss``, the mean of ``loss_fn`` over the batches of ``data``, plus ``metrics_fn``'s metrics.

    Every batch counts once, so a short last batch weighs as much as a full one. The model runs in
    eval mode (no dropout) and without gradients, and goes back to the mode it was in;
    ``metrics_fn(model, data, device)`` runs under the same conditions.
    """
    device = device if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        total, batches = torch.zeros((), device=device), 0
        for batch in data:
            with autocast_context(device, dtype):
                total += loss_fn(model, to_device(batch, device)).float()
            batches += 1
        if batches == 0:
            raise InputError("eval_data yielded no batches")
        metrics = {"eval_loss": total.item() / batches}
        if metrics_fn is not None:
            metrics.update({name: float(value) for name, value in metrics_fn(model, data, device).items()})
    finally:
        model.train(was_training)
    return metrics


@dataclass
class _State:
    """What a checkpoint holds: the objects being trained, and where the loop is."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: LambdaLR
    scaler: torch.amp.GradScaler
    history: History
    step: int = 0  # optimizer updates done
    epoch: int = 0  # the epoch under way (0-based)
    batch: int = 0  # batches of that epoch already used
    bad_evals: int = 0  # evaluations since the monitored metric last improved
    best_weights: dict[str, torch.Tensor] | None = None  # kept for restore_best
    epoch_rng: dict[str, Any] | None = None  # the random state this epoch started with


def fit(
    model: nn.Module,
    train_data: Iterable[Any] | Dataset,
    loss_fn: LossFn,
    config: TrainConfig | None = None,
    *,
    eval_data: Iterable[Any] | Dataset | None = None,
    metrics_fn: MetricsFn | None = None,
    optimizer: torch.optim.Optimizer | None = None,
) -> History:
    """Train ``model`` in place on ``train_data`` by minimising ``loss_fn``; return the :class:`History`.

    ``eval_data`` (batches, or a Dataset batched with ``config.batch_size``) is evaluated with
    :func:`evaluate`, which adds ``metrics_fn``'s metrics to ``eval_loss``; early stopping watches
    ``config.monitor`` among them. ``optimizer`` replaces the one built from the config (the
    schedule then scales its learning rates). ``loss_fn`` runs under autocast when mixed precision is on.

    ``fit`` seeds Python, NumPy and PyTorch with ``config.seed`` (plus the process's rank, so that
    processes draw different dropout masks), then restores the random state of a checkpoint when
    it resumes one. See the module's docstring for exact resume and for several GPUs.
    """
    config = config if config is not None else TrainConfig()
    if eval_data is None and (config.early_stopping_patience is not None or metrics_fn is not None):
        raise InputError("early stopping and metrics_fn need eval_data")
    device, rank, world = setup_distributed(config.device)
    model.to(device).train()
    wrapped = wrap(model, device) if world > 1 else model
    loader = _train_loader(train_data, config, world)
    eval_loader = _eval_loader(eval_data, config)
    total_steps = _total_steps(config, _length(loader))
    if total_steps is None and config.schedule != "constant":
        raise InputError(f"the {config.schedule!r} schedule needs a length: set max_steps, or give data with a len()")
    optimizer = optimizer if optimizer is not None else make_optimizer(model, config)
    schedule = partial(
        lr_multiplier, warmup_steps=config.warmup_steps, total_steps=total_steps, schedule=config.schedule
    )
    dtype = autocast_dtype(config.mixed_precision, device)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    history = History(unit=config.throughput, monitor=config.monitor)
    state = _State(model, optimizer, LambdaLR(optimizer, schedule), scaler, history)
    seed_everything(config.seed + rank)  # a different dropout per process; DDP makes the weights equal
    resume_rng = _resume(state, config, rank)
    count = partial(count_units, unit=config.throughput)
    accum = config.grad_accum_steps
    bar = tqdm(total=total_steps, initial=state.step, unit="step", disable=not config.progress or rank != 0)
    try:  # the bar is closed before an interruption's message is printed, not at exit after it
        started, seconds_before = time.perf_counter(), state.history.seconds
        done = state.history.stopped_early or (total_steps is not None and state.step >= total_steps)
        while not done and state.epoch < config.epochs:
            epoch = state.epoch
            batches = _enter_epoch(loader, state, resume_rng)
            resume_rng = None
            micro, loss_sum, units, tick = 0, torch.zeros((), device=device), 0, time.perf_counter()
            for batch, is_last in batches:
                state.batch += 1
                micro += 1
                sync = micro == accum or is_last  # the last batch of an epoch closes a short group
                units += count(batch)
                batch = to_device(batch, device)
                # DDP all-reduces gradients in backward(); no_sync() saves that on accumulation micro-steps.
                with wrapped.no_sync() if world > 1 and not sync else nullcontext():
                    with autocast_context(device, dtype):
                        loss = loss_fn(wrapped, batch)
                    _check_loss(loss, state.step + 1)
                    scaler.scale(loss / accum).backward()
                loss_sum += loss.detach().float()
                if not sync:
                    continue
                train_loss = _checked_mean_loss(loss_sum.item() / micro, state.step + 1, world, device)
                lr = _update(state, config, micro)
                now = time.perf_counter()
                _record(state.history, state.step, epoch, train_loss, lr, units * world / max(now - tick, 1e-9))
                micro, loss_sum, units, tick = 0, torch.zeros((), device=device), 0, now
                if is_last:
                    state.epoch, state.batch, state.epoch_rng = epoch + 1, 0, None
                done = (total_steps is not None and state.step >= total_steps) or state.epoch >= config.epochs
                if config.max_seconds is not None:
                    time_used = latest(time.perf_counter() - started, world, device) / config.max_seconds
                    done = done or time_used >= 1
                    if config.schedule_to_deadline:
                        _follow_clock(state, schedule, time_used)
                if eval_loader is not None and (is_last or done or _every(state.step, config.eval_every)):
                    metrics = evaluate(model, eval_loader, loss_fn, device, metrics_fn=metrics_fn, dtype=dtype)
                    metrics = mean_over_processes(metrics, world, device)
                    done = _observe(state, config, epoch, metrics) or done
                    _show_evaluation(bar, state.step, metrics)
                state.history.seconds = seconds_before + time.perf_counter() - started
                if config.checkpoint_dir is not None and (done or _every(state.step, config.checkpoint_every)):
                    _save_checkpoint(state, config, world, rank)
                _show_step(bar, state.history, force=done or _every(state.step, config.log_every))
                if done:
                    break
            if state.epoch == epoch and not done:
                raise InputError(f"train_data yielded no batches in epoch {epoch}")
    finally:
        bar.close()
    if state.best_weights is not None:
        model.load_state_dict(state.best_weights)
    return state.history


def _is_map_dataset(data: Any) -> bool:
    return isinstance(data, Dataset) and not isinstance(data, IterableDataset)


def _train_loader(train_data: Iterable[Any] | Dataset, config: TrainConfig, world: int) -> Iterable[Any]:
    if _is_map_dataset(train_data):
        train_data = make_loader(train_data, config.batch_size, shuffle=True, seed=config.seed)
    sharded = isinstance(train_data, DataLoader) and isinstance(train_data.sampler, DistributedSampler)
    if world > 1 and not sharded:
        raise InputError(
            "under torchrun every process must read its own shard of train_data: "
            "pass a Dataset, or a loader from fromzero.train.make_loader()"
        )
    if _length(train_data) == 0:
        raise InputError("train_data is empty")
    return train_data


def _eval_loader(eval_data: Iterable[Any] | Dataset | None, config: TrainConfig) -> Iterable[Any] | None:
    # Not sharded: every process evaluates everything, so all of them take the same early-stopping decision.
    if _is_map_dataset(eval_data):
        return DataLoader(eval_data, batch_size=config.batch_size)
    return eval_data


def _length(data: Iterable[Any]) -> int | None:
    try:
        return len(data)  # type: ignore[arg-type]
    except TypeError:  # a generator, an IterableDataset
        return None


def _total_steps(config: TrainConfig, batches_per_epoch: int | None) -> int | None:
    limits = [config.max_steps]
    if batches_per_epoch is not None:
        limits.append(config.epochs * math.ceil(batches_per_epoch / config.grad_accum_steps))
    known = [limit for limit in limits if limit is not None]
    return min(known) if known else None


def _with_last(iterable: Iterable[Any]) -> Iterator[tuple[Any, bool]]:
    """Yield ``(batch, is_last)``, to know which batch ends the epoch before training on it.

    Data with a ``len()`` is counted, so every batch is read just before it is used; that keeps
    the random numbers drawn while reading (a collate function that masks tokens at random) in the
    same order relative to dropout's on resume. A stream without a length must be read one batch ahead.
    """
    length = _length(iterable)
    if length is not None:
        count = 0
        for count, item in enumerate(iterable, start=1):
            yield item, count == length
        if count != length:
            raise InputError(f"train_data yielded {count} batches in an epoch, but its len() is {length}")
        return
    iterator = iter(iterable)
    try:
        current = next(iterator)
    except StopIteration:
        return
    for upcoming in iterator:
        yield current, False
        current = upcoming
    yield current, True


def _enter_epoch(loader: Iterable[Any], state: _State, resume_rng: dict[str, Any] | None) -> Iterator[tuple[Any, bool]]:
    """Start epoch ``state.epoch``, or re-enter it on resume, and return its remaining batches.

    On resume, replaying the epoch from the random state it started with, skipping the batches
    already used, and restoring the checkpoint's random state leaves the data and every generator
    exactly where the interrupted run had them.
    """
    sampler = getattr(loader, "sampler", None)
    if hasattr(sampler, "set_epoch"):
        sampler.set_epoch(state.epoch)
    if resume_rng is None:
        state.epoch_rng = rng_state()
    else:
        set_rng_state(state.epoch_rng)
    batches = _with_last(loader)
    for used in range(state.batch):
        if next(batches, None) is None:
            raise InputError(
                f"the checkpoint used {state.batch} batches of epoch {state.epoch}, but train_data has only {used}: "
                "resume with the same data"
            )
    if resume_rng is not None:
        set_rng_state(resume_rng)
    return batches


def _check_loss(loss: Any, step: int) -> None:
    if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
        got = f"shape {tuple(loss.shape)}" if isinstance(loss, torch.Tensor) else type(loss).__name__
        raise InputError(f"loss_fn must return a scalar tensor, got {got} at step {step}: reduce it, e.g. with .mean()")
    if not loss.requires_grad:
        raise InputError(
            f"loss_fn returned a loss without gradient at step {step}: was it detached, or made under no_grad?"
        )


def _checked_mean_loss(loss: float, step: int, world: int, device: torch.device) -> float:
    """The step's loss averaged over the processes, refusing NaN and infinity before they reach the weights."""
    loss = mean_over_processes({"loss": loss}, world, device)["loss"]
    if not math.isfinite(loss):
        raise InputError(
            f"loss_fn returned a non-finite loss ({loss}) at step {step}: lower the learning rate or check the data"
        )
    return loss


def _every(step: int, interval: int | None) -> bool:
    return interval is not None and step % interval == 0


def _update(state: _State, config: TrainConfig, micro_batches: int) -> float:
    """One optimizer update from the accumulated gradients; return the learning rate it used."""
    parameters = [p for p in state.model.parameters() if p.grad is not None]
    if micro_batches < config.grad_accum_steps:  # a short group at the end of an epoch: average over what it had
        for p in parameters:
            p.grad.mul_(config.grad_accum_steps / micro_batches)
    if config.max_grad_norm is not None:
        state.scaler.unscale_(state.optimizer)  # clip the true gradient, not the fp16 loss-scaled one
        nn.utils.clip_grad_norm_(parameters, config.max_grad_norm)
    lr = state.optimizer.param_groups[0]["lr"]
    state.scaler.step(state.optimizer)  # skips the update if fp16 gradients overflowed
    state.scaler.update()
    state.optimizer.zero_grad(set_to_none=True)
    state.scheduler.step()
    state.step += 1
    return lr


def _record(history: History, step: int, epoch: int, loss: float, lr: float, throughput: float) -> None:
    history.steps.append(step)
    history.epoch.append(epoch)
    history.train_loss.append(loss)
    history.lr.append(lr)
    history.throughput.append(throughput)


def _show_step(bar: tqdm, history: History, *, force: bool) -> None:
    bar.update()
    if force and not bar.disable:
        speed = f"{history.throughput[-1]:,.0f}"
        figures = {"loss": f"{history.train_loss[-1]:.4g}", "lr": f"{history.lr[-1]:.2e}", f"{history.unit}/s": speed}
        bar.set_postfix(figures, refresh=False)


def _show_evaluation(bar: tqdm, step: int, metrics: dict[str, float]) -> None:
    if not bar.disable:
        bar.write(f"step {step}: " + ", ".join(f"{name} {value:.4g}" for name, value in metrics.items()))


def _follow_clock(state: _State, schedule: Callable[..., float], time_used: float) -> None:
    """Give the next update the learning rates of the schedule at ``time_used`` of the time limit, if
    the clock is further along than the step count (``lr_multiplier`` takes the further of the two)."""
    multiplier = schedule(state.step, time_used=time_used)
    for group, base in zip(state.optimizer.param_groups, state.scheduler.base_lrs, strict=True):
        group["lr"] = base * multiplier


def _observe(state: _State, config: TrainConfig, epoch: int, metrics: dict[str, float]) -> bool:
    """Record an evaluation, follow the monitored metric, and say whether early stopping ends training."""
    history = state.history
    history.evals.append({"step": state.step, "epoch": epoch, **metrics})
    if config.monitor not in metrics:
        raise InputError(f"monitor {config.monitor!r} is not among the evaluation's metrics: {', '.join(metrics)}")
    value = metrics[config.monitor]
    best = history.best_metric
    if best is None or (value < best if config.monitor_mode == "min" else value > best):
        history.best_metric, history.best_step, state.bad_evals = value, state.step, 0
        if config.early_stopping_patience is not None and config.restore_best:
            state.best_weights = {name: t.detach().to("cpu", copy=True) for name, t in state.model.state_dict().items()}
        return False
    state.bad_evals += 1
    history.stopped_early = (
        config.early_stopping_patience is not None and state.bad_evals >= config.early_stopping_patience
    )
    return history.stopped_early


def _save_checkpoint(state: _State, config: TrainConfig, world: int, rank: int) -> None:
    """Process 0 writes everything :func:`_resume` needs, with every process's random state."""
    rng = rng_state()
    rngs = gather((rng, state.epoch_rng or rng), world)  # every process has its own dropout
    if rank != 0:
        return
    checkpoint = {
        "step": state.step,
        "epoch": state.epoch,
        "batch": state.batch,
        "bad_evals": state.bad_evals,
        "model": state.model.state_dict(),
        "optimizer": state.optimizer.state_dict(),
        "scheduler": state.scheduler.state_dict(),
        "scaler": state.scaler.state_dict(),
        "best_weights": state.best_weights,
        "rng": [current for current, _ in rngs],
        "epoch_rng": [at_epoch_start for _, at_epoch_start in rngs],
        "history": asdict(state.history),
        "config": asdict(config),
    }
    write_checkpoint(Path(config.checkpoint_dir), checkpoint, state.history.to_json_lines(), config.keep_checkpoints)


def _resume(state: _State, config: TrainConfig, rank: int) -> dict[str, Any] | None:
    """Load the newest checkpoint into ``state``; return this process's random state to restore, if any."""
    if config.checkpoint_dir is None or not config.resume:
        return None
    found = read_newest(Path(config.checkpoint_dir))
    if found is None:
        return None
    path, checkpoint = found
    load_weights(state.model, checkpoint, path)
    try:
        state.optimizer.load_state_dict(checkpoint["optimizer"])
    except ValueError as error:
        message = f"checkpoint {path} does not fit this optimizer ({error}); resume with the same kind of optimizer"
        raise InputError(message) from error
    state.scheduler.load_state_dict(checkpoint["scheduler"])
    if state.scaler.is_enabled() and checkpoint["scaler"]:
        state.scaler.load_state_dict(checkpoint["scaler"])
    state.history = History(**checkpoint["history"])
    state.step, state.epoch, state.batch = checkpoint["step"], checkpoint["epoch"], checkpoint["batch"]
    state.bad_evals, state.best_weights = checkpoint["bad_evals"], checkpoint["best_weights"]
    if rank >= len(checkpoint["rng"]):
        warnings.warn(
            f"{path} was written by fewer processes: random state not restored, resume not exact", stacklevel=3
        )
        return None
    state.epoch_rng = checkpoint["epoch_rng"][rank]
    return checkpoint["rng"][rank]
