"""Batches for the training loop: loaders whose order a seed fixes (sharded under DDP), batches moved to a device,
and the work a batch is (examples or tokens) for the throughput figure."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, IterableDataset

from fromzero.distributed import rank_and_world
from fromzero.errors import InputError

THROUGHPUT_UNITS = ("examples", "tokens")


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


def _is_map_dataset(data: Any) -> bool:
    return isinstance(data, Dataset) and not isinstance(data, IterableDataset)


def train_loader(train_data: Iterable[Any] | Dataset, batch_size: int, seed: int, world: int) -> Iterable[Any]:
    """``train_data`` as batches: a Dataset through :func:`make_loader`; checked to be sharded under DDP."""
    if _is_map_dataset(train_data):
        train_data = make_loader(train_data, batch_size, shuffle=True, seed=seed)
    sharded = isinstance(train_data, DataLoader) and isinstance(train_data.sampler, DistributedSampler)
    if world > 1 and not sharded:
        raise InputError(
            "under torchrun every process must read its own shard of train_data: "
            "pass a Dataset, or a loader from fromzero.batches.make_loader()"
        )
    if batches_in(train_data) == 0:
        raise InputError("train_data is empty")
    return train_data


def eval_loader(eval_data: Iterable[Any] | Dataset | None, batch_size: int) -> Iterable[Any] | None:
    """``eval_data`` as batches, all of it in every process."""
    # Not sharded: every process evaluates everything, so all of them take the same early-stopping decision.
    if _is_map_dataset(eval_data):
        return DataLoader(eval_data, batch_size=batch_size)
    return eval_data


def batches_in(data: Iterable[Any]) -> int | None:
    """The number of batches in ``data``, or None for a generator or an IterableDataset."""
    try:
        return len(data)  # type: ignore[arg-type]
    except TypeError:  # a generator, an IterableDataset
        return None
