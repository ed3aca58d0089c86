"""What every embedding method takes (:class:`EmbedOptions`) and returns (:class:`WordVectors`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fromzero.argtypes import count, non_negative_float, option, positive_float, positive_int
from fromzero.argtypes import seed as random_seed
from fromzero.errors import InputError

METHODS = ("sgns", "cbow", "glove", "fasttext")  # fromzero.embeddings.methods trains each


@dataclass
class EmbedOptions:
    """Training settings shared by all methods; a method ignores what it has no use for.

    Each field made with :func:`~fromzero.argtypes.option` is also an option of ``python -m fromzero embed
    train``, with the same default. ``epochs``, ``lr`` and ``batch_size`` of ``None`` mean "the method's own
    default" (``DEFAULT_EPOCHS``, ``DEFAULT_LR``, ``DEFAULT_BATCH_SIZE`` in its module; ``FAST_BATCH_SIZE`` for
    the command line's FastText): a good learning rate for SGNS's plain SGD is not a good one for GloVe's AdaGrad,
    and GloVe needs several times more passes than Word2Vec. ``workers`` is the number of CPU threads that train
    Word2Vec and FastText at once (``None``: one per core, at most 2); with more than one the run is as fast as
    gensim's but, like gensim's, not repeatable to the last bit: ``workers=1`` is.
    """

    dim: int = option(100, type=positive_int, help="dimensions of the vectors")
    window: int = option(5, type=positive_int, help="context words on each side")
    negative: int = option(5, type=count, help="negative samples per example")
    epochs: int | None = option(None, type=positive_int,
                                help="passes over the corpus (default: the method's own: 5, glove 20)")
    min_count: int = option(5, type=positive_int, help="ignore words seen fewer times than this")
    subsample: float = option(1e-3, type=non_negative_float,
                              help="threshold for dropping frequent words; 0 turns it off")
    batch_size: int | None = option(None, type=positive_int,
                                    help="examples per update (default: the method's own; sgns and fasttext count "
                                    "pairs)")
    lr: float | None = option(None, type=positive_float, help="starting learning rate (default: the method's own)")
    seed: int = option(0, type=random_seed, help="random seed")
    device: str = option("auto", help="auto, cpu, cuda or mps")
    workers: int | None = option(None, type=positive_int,
                                 help="sgns, cbow and fasttext on the CPU: threads that train at once (default: one "
                                 "per core, at most 2); 1 makes a run repeatable to the last bit")
    progress: bool = True

    def __post_init__(self) -> None:
        for name in ("dim", "window", "epochs", "min_count"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise InputError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.negative < 0:
            raise InputError(f"negative must be 0 or more, got {self.negative}")
        if self.subsample < 0:
            raise InputError(f"subsample must be 0 (off) or positive, got {self.subsample}")
        if self.batch_size is not None and self.batch_size < 1:
            raise InputError(f"batch_size must be at least 1, got {self.batch_size}")
        if self.workers is not None and self.workers < 1:
            raise InputError(f"workers must be at least 1, got {self.workers}")
        if self.lr is not None and self.lr <= 0:
            raise InputError(f"lr must be positive, got {self.lr}")


@dataclass
class WordVectors:
    """Words and their vectors, row ``i`` of ``vectors`` belonging to ``words[i]``."""

    words: list[str]
    vectors: np.ndarray

    def __post_init__(self) -> None:
        if self.vectors.ndim != 2 or len(self.words) != len(self.vectors):
            expected = f"({len(self.words)}, dim)"
            raise InputError(f"{len(self.words)} words need a {expected} matrix of vectors, got {self.vectors.shape}")
