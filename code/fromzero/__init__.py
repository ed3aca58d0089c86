"""fromzero: the code behind the book "From Zero: Word Embeddings, Pretrained Models and Fine-Tuning".

Each module holds one idea of the book, so a reader finds a chapter's code by its name:
``device`` (where tensors live), ``train`` (the one training loop), ``muon`` (the Muon optimizer
that loop can use), ``data`` (corpora, scales, vocabularies, file readers), ``cli`` (``python -m fromzero``).
"""

from fromzero.errors import FromZeroError, InputError, ScaleUnavailableError

__version__ = "0.1.0"

__all__ = ["FromZeroError", "InputError", "ScaleUnavailableError", "__version__"]
