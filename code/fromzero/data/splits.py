"""Task bundles (``ClassificationData``, ``NerData``) and the seeded splits that make them.

The small scale's corpora come as one pile; the book splits them once, the same way on every
machine (a fixed seed, numpy's PCG64 generator), so the accuracies printed in the text are the
ones a reader gets.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import pandas as pd

from fromzero.errors import InputError

SPLIT_SEED = 0
TEST_FRACTION = 0.2
Item = TypeVar("Item")
Tagged = tuple[list[str], list[str]]


@dataclass
class ClassificationData:
    """A text-classification task: ``train``/``test`` frames with ``text`` and ``label`` (strings) columns."""

    name: str
    train: pd.DataFrame
    test: pd.DataFrame
    labels: list[str]


@dataclass
class NerData:
    """A named-entity task: ``(tokens, tags)`` sentences and the BIO tag set, ``"O"`` first."""

    name: str
    train: list[Tagged]
    test: list[Tagged]
    tags: list[str]

    @property
    def entity_types(self) -> list[str]:
        """The entity types, e.g. ``["LOC", "MISC", "ORG", "PER"]``."""
        return sorted({tag[2:] for tag in self.tags if tag != "O"})


def stratified_split(
    frame: pd.DataFrame, test_fraction: float = TEST_FRACTION, seed: int = SPLIT_SEED, label_column: str = "label"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split ``frame`` so each label keeps its share in both parts; rows come back shuffled.

    Each label's rows are permuted with one generator seeded by ``seed`` (labels visited in sorted
    order) and ``round(n * test_fraction)`` of them go to the test part, so the split depends only
    on the data and the seed, not on the library versions.
    """
    _check_fraction(test_fraction)
    rng = np.random.default_rng(seed)
    train_rows: list[int] = []
    test_rows: list[int] = []
    for _, positions in sorted(frame.groupby(label_column, sort=True).indices.items()):
        shuffled = rng.permutation(positions)
        cut = _test_size(len(shuffled), test_fraction)
        test_rows.extend(shuffled[:cut])
        train_rows.extend(shuffled[cut:])
    return _take(frame, rng.permutation(np.asarray(train_rows, dtype=np.intp))), _take(
        frame, rng.permutation(np.asarray(test_rows, dtype=np.intp))
    )


def random_split(
    items: Sequence[Item], test_fraction: float = TEST_FRACTION, seed: int = SPLIT_SEED
) -> tuple[list[Item], list[Item]]:
    """Shuffle ``items`` with ``seed`` and cut off ``round(n * test_fraction)`` of them as the test part."""
    _check_fraction(test_fraction)
    order = np.random.default_rng(seed).permutation(len(items))
    cut = _test_size(len(items), test_fraction)
    return [items[i] for i in order[cut:]], [items[i] for i in order[:cut]]


def tag_set(sentences: Sequence[Tagged]) -> list[str]:
    """Every tag in ``sentences``: ``"O"``, then ``B-``/``I-`` pairs by entity type, alphabetically."""
    seen = {tag for _, tags in sentences for tag in tags}
    types = sorted({tag[2:] for tag in seen if tag != "O"})
    return ["O"] + [f"{prefix}-{kind}" for kind in types for prefix in "BI" if f"{prefix}-{kind}" in seen]


def _check_fraction(test_fraction: float) -> None:
    if not 0 < test_fraction < 1:
        raise InputError(f"test_fraction must be between 0 and 1, got {test_fraction}")


def _test_size(n: int, test_fraction: float) -> int:
    """``n * test_fraction`` rounded half up (Python's ``round`` would round half to even)."""
    return math.floor(n * test_fraction + 0.5)


def _take(frame: pd.DataFrame, positions: np.ndarray) -> pd.DataFrame:
    return frame.iloc[positions].reset_index(drop=True)
