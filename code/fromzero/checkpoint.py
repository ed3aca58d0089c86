"""Checkpoints of :func:`fromzero.train.fit`: written whole or not at all, read back for an exact resume.

A checkpoint is one ``step-<step>.pt`` file, a dict that ``torch.load(..., weights_only=True)`` reads: the model,
optimizer, scheduler and GradScaler states, the random states, where the loop is, the history and the config.
:data:`METRICS_FILE` beside it holds the history as JSON lines, for a plot that needs no torch. A file that does
not load (cut short by a crash, junk, another format) is reported and left alone, never counted, never deleted.

Exact resume
    A run interrupted by a crash, by ``max_steps`` or by Ctrl-C, and started again with the same
    config and ``checkpoint_dir``, ends with bit-identical weights on the CPU (on a GPU, only as
    identical as its kernels are deterministic). A checkpoint holds the model, optimizer,
    scheduler and GradScaler, the random states of Python, NumPy and PyTorch, and the position in
    the data: the epoch and how many of its batches were used. To resume, the loop restores the
    random state that epoch started with, so the epoch gets the same batch order, skips the used
    batches, then restores the random state of the checkpoint (dropout goes on as before). The one
    thing asked of the caller: for a given epoch and random state, the data must come in the same
    order. A ``Dataset``, a loader from :func:`fromzero.train.make_loader`, any ``DataLoader`` (shuffled or not)
    and a list all qualify, even when reading a batch draws random numbers (a collate function
    that masks tokens at random); a generator that keeps its own state from one epoch to the next
    does not. Skipping re-reads the used batches, which costs their loading time, not their training.
"""

from __future__ import annotations

import os
import random
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR

from fromzero.distributed import gather
from fromzero.errors import InputError
from fromzero.files import atomic_path, write_atomically

if TYPE_CHECKING:
    from fromzero.history import History
    from fromzero.train import TrainConfig

CHECKPOINT_FORMAT = 1
METRICS_FILE = "metrics.jsonl"  # beside the checkpoints: the history as JSON lines, rewritten at each checkpoint


def rng_state() -> dict[str, Any]:
    """The random states of Python, NumPy and PyTorch (CPU and every GPU), as tensors a checkpoint can hold."""
    name, key, position, has_gauss, gauss = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": (name, torch.from_numpy(key.astype(np.int64)), position, has_gauss, gauss),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(rng: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned."""
    random.setstate(rng["python"])
    name, key, position, has_gauss, gauss = rng["numpy"]
    np.random.set_state((name, key.numpy().astype(np.uint32), position, has_gauss, gauss))
    torch.set_rng_state(rng["torch"])
    if torch.cuda.is_available():
        for index, cuda_state in enumerate(rng["cuda"][: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(cuda_state, index)


def write_checkpoint(directory: Path, checkpoint: dict[str, Any], metrics: str, keep: int | None) -> None:
    """Write ``step-<step>.pt`` atomically, so that a crash while writing leaves the previous checkpoints intact,
    rewrite :data:`METRICS_FILE` with ``metrics``, and keep only the ``keep`` newest readable checkpoints."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"step-{checkpoint['step']:08d}.pt"
    with atomic_path(path) as temporary:  # unique per process: two runs on one folder never share a name
        torch.save({"format": CHECKPOINT_FORMAT, **checkpoint}, temporary)
    write_atomically(directory / METRICS_FILE, metrics)
    if keep is not None:
        readable = readable_checkpoints(directory, quiet=True)  # junk was reported once, when fit began
        for _, old in readable[keep:]:  # at least 1 is kept: the newest readable one stays
            old.unlink(missing_ok=True)


def readable_checkpoints(directory: Path, *, quiet: bool = False) -> list[tuple[int, Path]]:
    """The readable checkpoints in ``directory`` as (recorded step, path), newest first.

    The step comes from inside each file, not from its name; a file that does not load is reported (unless
    ``quiet``) and skipped.
    """
    found = []
    for path in sorted(directory.glob("step-*.pt")):
        checkpoint = _load_checkpoint_file(path, quiet)
        if checkpoint is not None:
            found.append((int(checkpoint["step"]), path))
    return sorted(found, reverse=True)


def newest_checkpoint(directory: str | os.PathLike) -> tuple[int, Path] | None:
    """The recorded step and path of the newest readable checkpoint in ``directory``, or None if it has none."""
    directory = Path(directory)
    readable = readable_checkpoints(directory, quiet=True) if directory.is_dir() else []
    return readable[0] if readable else None


def read_newest(directory: Path) -> tuple[Path, dict[str, Any]] | None:
    """The readable checkpoint with the highest recorded step, skipping (with a warning) any that does not load.

    The scan reads only each file's index; the newest is then read whole, once.
    """
    readable = readable_checkpoints(directory)
    if not readable:
        return None
    path = readable[0][1]
    return path, torch.load(path, map_location="cpu", weights_only=True)


def load_weights(model: nn.Module, checkpoint: dict[str, Any], path: Path) -> None:
    """Put the checkpoint's weights into ``model``, or say plainly that they do not fit it."""
    try:
        model.load_state_dict(checkpoint["model"])
    except RuntimeError as error:
        raise InputError(f"checkpoint {path} does not fit this model ({error}); use another checkpoint_dir") from error


def load_checkpoint(
    path: str | os.PathLike, model: nn.Module, optimizer: torch.optim.Optimizer | None = None
) -> dict[str, Any]:
    """Load a checkpoint written by :func:`~fromzero.train.fit` into ``model`` (and ``optimizer``); return all of it.

    ``path`` is a checkpoint file or a ``checkpoint_dir``, whose newest readable checkpoint is used.
    The returned dict also holds ``step``, ``epoch``, ``history`` (a dict of
    :class:`~fromzero.train.History`'s fields) and ``config``. To continue training instead, call
    :func:`~fromzero.train.fit` with the same ``checkpoint_dir``.
    """
    path = Path(path)
    if path.is_dir():
        found = read_newest(path)
        if found is None:
            raise InputError(f"no readable checkpoint in {path}")
        path, checkpoint = found
    elif path.is_file():
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    else:
        raise InputError(f"no checkpoint at {path}")
    load_weights(model, checkpoint, path)
    if optimizer is not None:
        optimizer.load_state_dict(checkpoint["optimizer"])
    return checkpoint


def _load_checkpoint_file(path: Path, quiet: bool = False) -> dict[str, Any] | None:
    """The checkpoint in ``path``, or ``None`` (with a warning unless ``quiet``) if it does not load.

    Memory-mapped: reading a checkpoint's step costs only its index, not its tensors.
    """
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as error:  # cut short, not a checkpoint, or from an unknown format
        problem = f"skipping unreadable checkpoint {path}: {_why_unreadable(path, error)}"
    else:
        if isinstance(checkpoint, dict) and checkpoint.get("format") == CHECKPOINT_FORMAT and "step" in checkpoint:
            return checkpoint
        problem = f"skipping {path}: not a checkpoint written by fromzero.train.fit"
    if not quiet:
        warnings.warn(problem, stacklevel=4)
    return None


def _why_unreadable(path: Path, error: Exception) -> str:
    """One short reason: PyTorch's own messages run to several sentences of advice."""
    with open(path, "rb") as handle:
        if handle.read(4) != b"PK\x03\x04":  # every torch.save file is a zip archive
            return "not a PyTorch checkpoint (no zip header)"
    return f"cut short or corrupt ({str(error).split('. ')[0]})"


@dataclass
class TrainingState:
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



def save_training_state(state: TrainingState, config: TrainConfig, world: int, rank: int) -> None:
    """Process 0 writes everything :func:`resume_training_state` needs, with every process's random state."""
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



def resume_training_state(state: TrainingState, config: TrainConfig, rank: int) -> dict[str, Any] | None:
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
    state.history = type(state.history)(**checkpoint["history"])
    state.step, state.epoch, state.batch = checkpoint["step"], checkpoint["epoch"], checkpoint["batch"]
    state.bad_evals, state.best_weights = checkpoint["bad_evals"], checkpoint["best_weights"]
    if rank >= len(checkpoint["rng"]):
        warnings.warn(
            f"{path} was written by fewer processes: random state not restored, resume not exact", stacklevel=3
        )
        return None
    state.epoch_rng = checkpoint["epoch_rng"][rank]
    return checkpoint["rng"][rank]
