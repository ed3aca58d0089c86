"""What every embedding method takes (:class:`EmbedOptions`) and returns (:class:`WordVectors`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fromzero.errors import InputError


@dataclass
class EmbedOptions:
    """Training settings shared by all methods; a method ignores what it has no use for.

    The defaults are the command line's (``python -m fromzero embed train --help``). ``epochs``,
    ``lr`` and ``batch_size`` of ``None`` mean "the method's own default" (``DEFAULT_EPOCHS``,
    ``DEFAULT_LR``, ``DEFAULT_BATCH_SIZE`` in its module): a good learning rate for SGNS's plain SGD
    is not a good one for GloVe's AdaGrad, and GloVe needs several times more passes than Word2Vec.
    ``workers`` is the number of CPU threads that train Word2Vec at once (``None``: one per core, at
    most 2); with more than one the run is as fast as gensim's but, like gensim's, not repeatable to
    the last bit: ``workers=1`` is.
    """

    dim: int = 100
    window: int = 5
    negative: int = 5
    epochs: int | None = None
    min_count: int = 5
    subsample: float = 1e-3
    batch_size: int | None = None
    lr: float | None = None
    seed: int = 0
    device: str = "auto"
    workers: int | None = None
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
