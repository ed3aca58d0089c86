"""Word embeddings trained from scratch: Word2Vec (SGNS, CBOW), GloVe and FastText.

Every method takes tokenised sentences and an :class:`EmbedOptions` and returns :class:`WordVectors`,
so the command line (``python -m fromzero embed train --method ...``), the notebooks and the
benchmarks can swap one method for another. Each method lives in its own module.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import import_module

from fromzero.embeddings.options import EmbedOptions, WordVectors
from fromzero.errors import InputError

# method name -> "module:function"; modules are imported only when their method is used.
METHODS: dict[str, str] = {
    "sgns": "fromzero.embeddings.word2vec:train_sgns",
    "cbow": "fromzero.embeddings.word2vec:train_cbow",
    "glove": "fromzero.embeddings.glove:train_glove",
    "fasttext": "fromzero.embeddings.fasttext:train_fasttext",
}


def train_embeddings(method: str, sentences: Sequence[Sequence[str]], options: EmbedOptions) -> WordVectors:
    """Train word vectors with ``method`` (one of :data:`METHODS`) on ``sentences``."""
    module_name, function_name = _trainer(method)
    return getattr(import_module(module_name), function_name)(sentences, options)


def epochs_of(method: str, options: EmbedOptions) -> int:
    """The passes over the corpus that ``method`` makes with ``options``: its own default when they say ``None``."""
    return options.epochs or import_module(_trainer(method)[0]).DEFAULT_EPOCHS


def _trainer(method: str) -> tuple[str, str]:
    if method not in METHODS:
        raise InputError(f"unknown method {method!r}: choose one of {', '.join(METHODS)}")
    module_name, function_name = METHODS[method].split(":")
    return module_name, function_name


__all__ = ["METHODS", "EmbedOptions", "WordVectors", "epochs_of", "train_embeddings"]
