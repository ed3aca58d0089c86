"""One entry point for every embedding method: ``train_embeddings("sgns", sentences, options)``.

Every method takes tokenised sentences and an :class:`~fromzero.embeddings.options.EmbedOptions` and returns
:class:`~fromzero.embeddings.options.WordVectors`, so the command line (``python -m fromzero embed train --method
...``), the notebooks and the benchmarks can swap one method for another. Each method lives in its own module.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from fromzero.embeddings import fasttext, glove, word2vec
from fromzero.embeddings.options import METHODS, EmbedOptions, WordVectors
from fromzero.errors import InputError

# method -> (its trainer, the passes over the corpus it makes when EmbedOptions.epochs is None)
TRAINERS: dict[str, tuple[Callable[[Sequence[Sequence[str]], EmbedOptions], WordVectors], int]] = {
    "sgns": (word2vec.train_sgns, word2vec.DEFAULT_EPOCHS),
    "cbow": (word2vec.train_cbow, word2vec.DEFAULT_EPOCHS),
    "glove": (glove.train_glove, glove.DEFAULT_EPOCHS),
    "fasttext": (fasttext.train_fasttext, fasttext.DEFAULT_EPOCHS),
}
assert tuple(TRAINERS) == METHODS


def train_embeddings(method: str, sentences: Sequence[Sequence[str]], options: EmbedOptions) -> WordVectors:
    """Train word vectors with ``method`` (one of :data:`~fromzero.embeddings.options.METHODS`) on ``sentences``."""
    return _trainer(method)[0](sentences, options)


def epochs_of(method: str, options: EmbedOptions) -> int:
    """The passes over the corpus that ``method`` makes with ``options``: its own default when they say ``None``."""
    return options.epochs or _trainer(method)[1]


def _trainer(method: str) -> tuple[Callable[[Sequence[Sequence[str]], EmbedOptions], WordVectors], int]:
    if method not in TRAINERS:
        raise InputError(f"unknown method {method!r}: choose one of {', '.join(METHODS)}")
    return TRAINERS[method]
