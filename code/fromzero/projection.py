"""Word vectors on a two-dimensional map, and how much of their neighbourhoods the map keeps (Chapter 5).

:func:`project` maps word vectors to two dimensions with PCA, t-SNE or UMAP; :func:`projection_quality`
and :func:`neighbours_kept` measure what a map kept of the original space's nearest neighbours.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Sequence

import numpy as np

from fromzero.errors import InputError
from fromzero.evaluate import normalise_rows

PROJECTION_METHODS = ("pca", "tsne", "umap")
PROJECTION_NAMES = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}
TSNE_ITERATIONS = 500  # enough for a few hundred points: 1,000 (the default) changed trustworthiness by < 0.01
EXACT_TSNE_POINTS = 1000
MIN_POINTS = 4  # t-SNE needs perplexity < n and UMAP's spectral start needs a few points more than 2


def checked_vectors(vectors: np.ndarray, words: Sequence[str] | None = None) -> np.ndarray:
    """``vectors`` as a float array, refused if it cannot be mapped (too few rows, not finite, words not matching)."""
    array = np.asarray(vectors, dtype=np.float64)
    if array.ndim != 2:
        raise InputError(f"vectors must be a 2-D array (one row per word), got shape {array.shape}")
    if len(array) < MIN_POINTS:
        raise InputError(f"a projection needs at least {MIN_POINTS} vectors, got {len(array)}")
    if not np.isfinite(array).all():
        raise InputError("vectors contain NaN or infinite values")
    if words is not None:
        if len(words) != len(array):
            raise InputError(f"{len(words)} words but {len(array)} vectors: they must correspond one to one")
        repeated = sorted(word for word, count in Counter(words).items() if count > 1)
        if repeated:
            raise InputError(f"words must be distinct; repeated: {', '.join(map(repr, repeated[:5]))}")
    return array


def project(
    vectors: np.ndarray, method: str = "pca", *, seed: int = 0, neighbours: int = 15, perplexity: float = 30.0
) -> np.ndarray:
    """Two-dimensional coordinates, shape ``(n, 2)``, for ``n`` word vectors.

    Rows are scaled to unit length first, so every method sees the cosine geometry that the book's
    neighbours use (for unit vectors, squared Euclidean distance is ``2 - 2 cos``).

    * ``"pca"``: the first two principal components, a linear map that keeps as much variance (the
      large, global distances) as any 2-D linear map can.
    * ``"tsne"``: t-SNE (van der Maaten and Hinton, 2008), started from the PCA layout, 500 iterations; ``perplexity``
      (capped at ``(n - 1) / 3``) is roughly the number of neighbours each point tries to keep close.
    * ``"umap"``: UMAP (McInnes et al., 2018) over each point's ``neighbours`` nearest neighbours.

    The same ``seed`` gives the same coordinates. Unknown ``method`` raises a ``ValueError``.
    """
    if method not in PROJECTION_METHODS:
        raise InputError(f"unknown projection method {method!r}: choose one of {', '.join(PROJECTION_METHODS)}")
    unit = normalise_rows(checked_vectors(vectors))
    if method == "pca":
        from sklearn.decomposition import PCA

        return PCA(n_components=2, random_state=seed).fit_transform(unit)
    if method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = min(perplexity, (len(unit) - 1) / 3)
        # Up to a thousand points, exact gradients beat the Barnes-Hut tree: about twice as fast here.
        gradients = "exact" if len(unit) <= EXACT_TSNE_POINTS else "barnes_hut"
        tsne = TSNE(perplexity=perplexity, init="pca", max_iter=TSNE_ITERATIONS, method=gradients, random_state=seed)
        return tsne.fit_transform(unit)
    return _umap(unit, seed, neighbours)


def _umap(unit: np.ndarray, seed: int, neighbours: int) -> np.ndarray:
    """UMAP with the exact nearest neighbours computed by scikit-learn.

    For fewer than 4,096 points UMAP computes exact neighbours itself too, but with a numba function
    whose just-in-time compilation takes 10-15 s the first time, several times the whole fit. Passing
    the neighbours in (UMAP's ``precomputed_knn``) gives the same layout without that wait.
    """
    from sklearn.neighbors import NearestNeighbors

    with warnings.catch_warnings():
        # umap's __init__ warns that TensorFlow (for ParametricUMAP, unused here) is missing.
        warnings.filterwarnings("ignore", message="Tensorflow not installed", category=ImportWarning)
        import umap

    k = max(2, min(neighbours, len(unit) - 1))
    distances, indices = NearestNeighbors(n_neighbors=k).fit(unit).kneighbors(unit)
    reducer = umap.UMAP(n_neighbors=k, random_state=seed, n_jobs=1, precomputed_knn=(indices, distances))
    with warnings.catch_warnings():
        # Without umap's own search index, UMAP.transform of *new* points is unavailable; we never call it.
        warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]", category=UserWarning)
        return np.asarray(reducer.fit_transform(unit), dtype=np.float64)


def projection_quality(vectors: np.ndarray, points: np.ndarray, k: int = 10) -> dict[str, float]:
    """How faithfully 2-D ``points`` show ``vectors``, by three numbers between roughly 0 and 1.

    * ``trustworthiness`` (scikit-learn): 1 when every point's ``k`` nearest neighbours in the picture
      are also close in the original space; it penalises false neighbours created by the projection.
    * ``neighbours kept``: the average share of each point's ``k`` nearest neighbours (cosine, in the
      original space) that are also among its ``k`` nearest in the picture (:func:`neighbours_kept`).
    * ``distance correlation``: Spearman correlation between all pairwise distances before and
      after, a measure of the *global* layout (which clusters are far from which).
    """
    from scipy.spatial.distance import pdist
    from scipy.stats import spearmanr
    from sklearn.manifold import trustworthiness

    unit, points = _check_points(vectors, points, k)
    return {
        "trustworthiness": float(trustworthiness(unit, points, n_neighbors=k)),
        "neighbours kept": float(neighbours_kept(vectors, points, k).mean()),
        "distance correlation": float(spearmanr(pdist(unit), pdist(points)).statistic),
    }


def neighbours_kept(vectors: np.ndarray, points: np.ndarray, k: int = 10) -> np.ndarray:
    """Per word, the share of its ``k`` nearest neighbours (cosine) that stay among its ``k`` nearest in ``points``.

    One number per word, so that two projections can be compared word by word (a paired
    comparison) and the comparison given an interval by resampling the words.
    """
    unit, points = _check_points(vectors, points, k)
    before, after = _knn_sets(unit, k), _knn_sets(points, k)
    return np.array([len(b & a) / k for b, a in zip(before, after, strict=True)])


def _check_points(vectors: np.ndarray, points: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    unit = normalise_rows(checked_vectors(vectors))
    points = np.asarray(points, dtype=np.float64)
    if points.shape != (len(unit), 2):
        raise InputError(f"points must have shape ({len(unit)}, 2) to match the vectors, got {points.shape}")
    if not 1 <= k < len(unit) / 2:
        raise InputError(f"k must be between 1 and {(len(unit) - 1) // 2} for {len(unit)} points, got {k}")
    return unit, points


def _knn_sets(points: np.ndarray, k: int) -> list[set[int]]:
    distances = ((points[:, None, :] - points[None, :, :]) ** 2).sum(axis=-1)
    np.fill_diagonal(distances, np.inf)
    return [set(row) for row in np.argsort(distances, axis=1, kind="stable")[:, :k]]
