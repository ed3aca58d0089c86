"""Count-based word vectors (chapter 1): exact counts, PPMI against its definition, SVD recovering structure."""

from __future__ import annotations

import numpy as np
import pytest

from fromzero import InputError
from fromzero.counting import cooccurrence_matrix, ppmi, svd_vectors
from fromzero.evaluate import nearest_neighbours, normalise_rows


def loop_counts(sequences: list[list[int]], vocab_size: int, window: int, weighted: bool = False) -> np.ndarray:
    counts = np.zeros((vocab_size, vocab_size))
    for sequence in sequences:
        for i, word in enumerate(sequence):
            for j in range(max(0, i - window), min(len(sequence), i + window + 1)):
                if j != i:
                    counts[word, sequence[j]] += 1 / abs(i - j) if weighted else 1
    return counts


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("window", [1, 2, 5])
def test_cooccurrence_matches_the_loop_definition(window: int, weighted: bool) -> None:
    rng = np.random.default_rng(window)
    sequences = [list(rng.integers(0, 12, size=rng.integers(1, 15))) for _ in range(20)]
    fast = cooccurrence_matrix(sequences, 12, window=window, distance_weighting=weighted).toarray()
    np.testing.assert_allclose(fast, loop_counts(sequences, 12, window, weighted))
    np.testing.assert_allclose(fast, fast.T)


def test_windows_do_not_cross_sequences() -> None:
    counts = cooccurrence_matrix([[0, 1], [2, 3]], 4, window=5).toarray()
    assert counts[1, 2] == 0 and counts[0, 1] == 1 and counts[2, 3] == 1


def test_ignored_id_keeps_its_place_but_is_not_counted() -> None:
    counts = cooccurrence_matrix([[1, 0, 2]], 3, window=1, ignore_id=0).toarray()
    assert counts.sum() == 0
    counts = cooccurrence_matrix([[1, 0, 2]], 3, window=2, ignore_id=0).toarray()
    assert counts[1, 2] == 1 and counts[0].sum() == 0


def test_ppmi_matches_its_definition() -> None:
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 5, size=(6, 6)).astype(float)
    counts = counts + counts.T
    total = counts.sum()
    p_word = counts.sum(axis=1) / total
    p_context = counts.sum(axis=0) / total  # alpha = 1: no context smoothing
    with np.errstate(divide="ignore"):
        expected = np.maximum(np.log(counts / total / np.outer(p_word, p_context)), 0)
    np.testing.assert_allclose(ppmi(counts, context_smoothing=1.0).toarray(), expected)


def test_svd_recovers_planted_word_groups() -> None:
    """Two groups of words that share contexts only within their group end up as each other's neighbours."""
    rng = np.random.default_rng(0)
    group_a, group_b = list(range(0, 5)), list(range(5, 10))
    sequences = [list(rng.choice(group, size=8)) for group in (group_a, group_b) for _ in range(200)]
    vectors = svd_vectors(ppmi(cooccurrence_matrix(sequences, 10, window=2)), dim=2)
    words = [f"w{i}" for i in range(10)]
    for group in (group_a, group_b):
        for word in group:
            neighbours = {words.index(w) for w, _ in nearest_neighbours(vectors, words, f"w{word}", k=4)}
            assert neighbours == set(group) - {word}


def test_bad_input_raises_clear_errors() -> None:
    with pytest.raises(InputError, match="window"):
        cooccurrence_matrix([[0, 1]], 2, window=0)
    with pytest.raises(InputError, match="empty corpus"):
        cooccurrence_matrix([[], []], 2)
    with pytest.raises(InputError, match=r"word ids must lie in \[0, 2\)"):
        cooccurrence_matrix([[0, 5]], 2)
    with pytest.raises(InputError, match="all zeros"):
        ppmi(np.zeros((3, 3)))
    with pytest.raises(InputError, match="dim"):
        svd_vectors(np.eye(4), dim=4)
    with pytest.raises(InputError, match="not in the vocabulary"):
        nearest_neighbours(np.eye(2), ["a", "b"], "c")


def test_normalise_rows_leaves_zero_rows_alone() -> None:
    unit = normalise_rows(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(unit, [[0.6, 0.8], [0.0, 0.0]])
