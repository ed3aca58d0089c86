"""Measuring word vectors: cosine similarity and nearest neighbours.

Later chapters add similarity and analogy benchmarks here; every chapter that prints "the words
closest to X" uses :func:`nearest_neighbours`, so they all mean the same thing by "closest".
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fromzero.errors import InputError


def normalise_rows(vectors: np.ndarray) -> np.ndarray:
    """Scale every row to unit length, so that dot products are cosines (zero rows stay zero)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)


def nearest_neighbours(
    vectors: np.ndarray, words: Sequence[str], query: str, k: int = 5
) -> list[tuple[str, float]]:
    """The ``k`` words whose vectors have the highest cosine similarity to ``query``'s (itself excluded)."""
    if len(words) != len(vectors):
        raise InputError(f"{len(words)} words but {len(vectors)} vectors: they must correspond one to one")
    index = {word: i for i, word in enumerate(words)}
    if query not in index:
        raise InputError(f"{query!r} is not in the vocabulary of {len(words)} words")
    unit = normalise_rows(np.asarray(vectors, dtype=np.float64))
    similarities = unit @ unit[index[query]]
    similarities[index[query]] = -np.inf
    best = np.argsort(-similarities)[:k]
    return [(words[i], float(similarities[i])) for i in best]
