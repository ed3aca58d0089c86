"""Count-based word vectors: co-occurrence counts, PPMI, and truncated SVD (LSA).

Chapter 1 builds each step by hand on a toy corpus; these are the vectorised versions it then runs
on a real corpus, and that the GloVe chapter reuses for its co-occurrence counts. Sparse matrices
throughout: a 10,000-word vocabulary has 10^8 possible pairs, of which a few percent ever occur.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from fromzero.errors import InputError

if TYPE_CHECKING:
    import scipy.sparse as sp


def cooccurrence_matrix(
    sequences: Iterable[Sequence[int]],
    vocab_size: int,
    window: int = 4,
    *,
    distance_weighting: bool = False,
    ignore_id: int | None = None,
) -> sp.csr_matrix:
    """Count how often word ``j`` appears within ``window`` positions of word ``i``.

    ``sequences`` are documents or sentences as lists of word ids; windows never cross from one
    sequence into the next. Positions holding ``ignore_id`` (typically the unknown-word id) keep
    their place, so they still separate the words around them, but are never counted. With
    ``distance_weighting`` a pair ``d`` positions apart adds ``1/d`` instead of 1, as GloVe does.
    The result is symmetric: the window looks both left and right.
    """
    if window < 1:
        raise InputError(f"window must be at least 1, got {window}")
    arrays = [np.asarray(sequence, dtype=np.int64) for sequence in sequences]
    arrays = [array for array in arrays if array.size]
    if not arrays:
        raise InputError("cannot count co-occurrences of an empty corpus")
    stream = np.concatenate(arrays)
    if stream.min() < 0 or stream.max() >= vocab_size:
        raise InputError(f"word ids must lie in [0, {vocab_size}), found {stream.min()}..{stream.max()}")
    sequence_of = np.repeat(np.arange(len(arrays)), [array.size for array in arrays])
    rows, cols, weights = [], [], []
    for distance in range(1, window + 1):
        left, right = stream[:-distance], stream[distance:]
        keep = sequence_of[:-distance] == sequence_of[distance:]
        if ignore_id is not None:
            keep &= (left != ignore_id) & (right != ignore_id)
        rows.append(left[keep])
        cols.append(right[keep])
        weights.append(np.full(int(keep.sum()), 1.0 / distance if distance_weighting else 1.0))
    row, col, weight = np.concatenate(rows), np.concatenate(cols), np.concatenate(weights)
    import scipy.sparse as sp  # here, not at the top: every `embed train` imports this module, few need SciPy

    one_way = sp.coo_matrix((weight, (row, col)), shape=(vocab_size, vocab_size)).tocsr()
    return (one_way + one_way.T).tocsr()


def ppmi(counts: sp.spmatrix, context_smoothing: float = 0.75) -> sp.csr_matrix:
    """Positive pointwise mutual information of a co-occurrence matrix.

    PMI(w, c) = log P(w, c) / (P(w) P(c)); negative values (pairs seen less often than chance)
    are unreliable estimates from few counts, so they are clipped to 0. Raising the context counts
    to ``context_smoothing`` (0.75, as Word2Vec's negative sampling does) stops rare contexts from
    getting huge PMI values (Levy, Goldberg and Dagan, 2015).
    """
    import scipy.sparse as sp

    counts = sp.csr_matrix(counts, dtype=np.float64)
    total = counts.sum()
    if total <= 0:
        raise InputError("the co-occurrence matrix is all zeros: nothing to compute PMI from")
    word_totals = np.asarray(counts.sum(axis=1)).ravel()
    context_totals = np.asarray(counts.sum(axis=0)).ravel() ** context_smoothing
    p_word = word_totals / total
    p_context = context_totals / context_totals.sum()
    coo = counts.tocoo()
    pmi = np.log(coo.data / total) - np.log(p_word[coo.row]) - np.log(p_context[coo.col])
    positive = pmi > 0
    return sp.csr_matrix((pmi[positive], (coo.row[positive], coo.col[positive])), shape=counts.shape)


def svd_vectors(matrix: sp.spmatrix, dim: int = 100, seed: int = 0) -> np.ndarray:
    """Dense ``dim``-dimensional word vectors from a sparse word-context matrix (LSA).

    Truncated SVD keeps the ``dim`` directions along which the rows vary most: words used in
    similar contexts end up close together even when they never co-occur themselves. Rows are
    returned as U * sqrt(S), a symmetric split of the singular values that works better for
    similarity than U * S (Levy, Goldberg and Dagan, 2015).
    """
    if not 1 <= dim < min(matrix.shape):
        raise InputError(f"dim must be between 1 and {min(matrix.shape) - 1}, got {dim}")
    # Imported here: scikit-learn takes a second to import, which every `embed train` would pay for GloVe's counts.
    from sklearn.decomposition import TruncatedSVD

    svd = TruncatedSVD(n_components=dim, algorithm="randomized", random_state=seed)
    scaled = svd.fit_transform(matrix)  # = U * S
    return scaled / np.sqrt(svd.singular_values_)
