"""Checkpoints of :func:`fromzero.train.fit`: written whole or not at all, read back for an exact resume.

A checkpoint is one ``step-<step>.pt`` file, a dict that ``torch.load(..., weights_only=True)`` reads: the model,
optimizer, scheduler and GradScaler states, the random states, where the loop is, the history and the config.
:data:`METRICS_FILE` beside it holds the history as JSON lines, for a plot that needs no torch. A file that does
not load (cut short by a crash, junk, another format) is reported and left alone, never counted, never deleted.
"""

from __future__ import annotations

import os
import random
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from fromzero.errors import InputError
from fromzero.files import atomic_path, write_atomically

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
