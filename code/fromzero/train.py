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
checkpoints that resume exactly (what they hold and why the resume is exact: :mod:`fromzero.checkpoint`),
and several GPUs through ``torchrun`` (how: :mod:`fromzero.distributed`).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from fromzero.batches import THROUGHPUT_UNITS, batches_in, count_units, eval_loader, to_device, train_loader
from fromzero.checkpoint import TrainingState, resume_training_state, rng_state, save_training_state, set_rng_state
from fromzero.device import MIXED_PRECISION, autocast_context, autocast_dtype
from fromzero.distributed import latest, mean_over_processes, setup_distributed, wrap
from fromzero.errors import InputError
from fromzero.history import History
from fromzero.optimizers import OPTIMIZERS, SCHEDULES, lr_multiplier, make_optimizer

MONITOR_MODES = ("min", "max")

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
    # Evaluation (at the end of every epoch and of training, and every eval_every steps or eval_every_seconds
    # seconds) and early stopping.
    eval_every: int | None = None
    eval_every_seconds: float | None = None  # or by the clock: a time-limited run does not know its step count
    early_stopping_patience: int | None = None  # stop after this many evaluations without improvement
    monitor: str = "eval_loss"
    monitor_mode: str = "min"  # "min" for losses, "max" for accuracies
    restore_best: bool = True  # with early stopping: end with the best evaluated weights
    # Checkpoints.
    checkpoint_dir: str | None = None
    checkpoint_every: int | None = None  # steps; a checkpoint is also written when training ends
    checkpoint_every_seconds: float | None = None
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
    for name in ("weight_decay", "warmup_steps"):
        if getattr(config, name) < 0:
            fail(name, "0 or more")
    for name in ("max_grad_norm", "max_seconds", "eval_every_seconds", "checkpoint_every_seconds"):
        if getattr(config, name) is not None and getattr(config, name) <= 0:
            fail(name, "None or positive")
    for name, choices in (
        ("optimizer", OPTIMIZERS),
        ("schedule", SCHEDULES),
        ("mixed_precision", MIXED_PRECISION),
        ("monitor_mode", MONITOR_MODES),
        ("throughput", THROUGHPUT_UNITS),
    ):
        if getattr(config, name) not in choices:
            fail(name, "one of " + ", ".join(repr(choice) for choice in choices))
    for name in ("checkpoint_every", "checkpoint_every_seconds"):
        if getattr(config, name) is not None and config.checkpoint_dir is None:
            fail("checkpoint_dir", f"set when {name} is")
    if config.schedule_to_deadline and config.max_seconds is None:
        fail("max_seconds", "set when schedule_to_deadline is")


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's generators (every CUDA device's included)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


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
    loader = train_loader(train_data, config.batch_size, config.seed, world)
    evaluation_batches = eval_loader(eval_data, config.batch_size)
    total_steps = _total_steps(config, batches_in(loader))
    if total_steps is None and config.schedule != "constant":
        raise InputError(f"the {config.schedule!r} schedule needs a length: set max_steps, or give data with a len()")
    optimizer = optimizer if optimizer is not None else make_optimizer(model, config)
    schedule = partial(
        lr_multiplier, warmup_steps=config.warmup_steps, total_steps=total_steps, schedule=config.schedule
    )
    dtype = autocast_dtype(config.mixed_precision, device)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    history = History(unit=config.throughput, monitor=config.monitor)
    state = TrainingState(model, optimizer, LambdaLR(optimizer, schedule), scaler, history)
    seed_everything(config.seed + rank)  # a different dropout per process; DDP makes the weights equal
    resume_rng = resume_training_state(state, config, rank)
    count = partial(count_units, unit=config.throughput)
    accum = config.grad_accum_steps
    clocked = any(value is not None for value in (config.max_seconds, config.eval_every_seconds,
                                                   config.checkpoint_every_seconds))
    last_eval = last_checkpoint = 0.0  # the clock at the last evaluation and checkpoint
    bar_total = None if config.schedule_to_deadline else total_steps  # the clock, not a count, ends such a run
    bar = tqdm(total=bar_total, initial=state.step, unit="step", disable=not config.progress or rank != 0)
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
                state.history.add_step(state.step, epoch, train_loss, lr, units * world / max(now - tick, 1e-9))
                micro, loss_sum, units, tick = 0, torch.zeros((), device=device), 0, now
                if is_last:
                    state.epoch, state.batch, state.epoch_rng = epoch + 1, 0, None
                done = (total_steps is not None and state.step >= total_steps) or state.epoch >= config.epochs
                clock = latest(time.perf_counter() - started, world, device) if clocked else 0.0  # one for all
                if config.max_seconds is not None:
                    done = done or clock >= config.max_seconds
                    if config.schedule_to_deadline:
                        _follow_clock(state, schedule, clock / config.max_seconds)
                evaluating = _due(state.step, config.eval_every, clock - last_eval, config.eval_every_seconds)
                if evaluation_batches is not None and (is_last or done or evaluating):
                    last_eval = clock
                    metrics = evaluate(model, evaluation_batches, loss_fn, device, metrics_fn=metrics_fn, dtype=dtype)
                    metrics = mean_over_processes(metrics, world, device)
                    done = _observe(state, config, epoch, metrics) or done
                    _show_evaluation(bar, state.step, metrics)
                state.history.seconds = seconds_before + time.perf_counter() - started
                saving = done or _due(
                    state.step, config.checkpoint_every, clock - last_checkpoint, config.checkpoint_every_seconds
                )
                if config.checkpoint_dir is not None and saving:
                    last_checkpoint = clock
                    save_training_state(state, config, world, rank)
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
    length = batches_in(iterable)
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


def _enter_epoch(
    loader: Iterable[Any], state: TrainingState, resume_rng: dict[str, Any] | None
) -> Iterator[tuple[Any, bool]]:
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


def _due(step: int, every_steps: int | None, seconds_since: float, every_seconds: float | None) -> bool:
    """Whether a periodic task (evaluation, checkpoint) is due, by the step count or by the clock."""
    return _every(step, every_steps) or (every_seconds is not None and seconds_since >= every_seconds)


def _update(state: TrainingState, config: TrainConfig, micro_batches: int) -> float:
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


def _show_step(bar: tqdm, history: History, *, force: bool) -> None:
    bar.update()
    if force and not bar.disable:
        speed = f"{history.throughput[-1]:,.0f}"
        figures = {"loss": f"{history.train_loss[-1]:.4g}", "lr": f"{history.lr[-1]:.2e}", f"{history.unit}/s": speed}
        bar.set_postfix(figures, refresh=False)


def _show_evaluation(bar: tqdm, step: int, metrics: dict[str, float]) -> None:
    if not bar.disable:
        bar.write(f"step {step}: " + ", ".join(f"{name} {value:.4g}" for name, value in metrics.items()))


def _follow_clock(state: TrainingState, schedule: Callable[..., float], time_used: float) -> None:
    """Give the next update the learning rates of the schedule at ``time_used`` of the time limit, if
    the clock is further along than the step count (``lr_multiplier`` takes the further of the two)."""
    multiplier = schedule(state.step, time_used=time_used)
    for group, base in zip(state.optimizer.param_groups, state.scheduler.base_lrs, strict=True):
        group["lr"] = base * multiplier


def _observe(state: TrainingState, config: TrainConfig, epoch: int, metrics: dict[str, float]) -> bool:
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
