"""Text classification with word vectors: averaged-vector features and the bag-of-embeddings network.

Chapter 7 builds both by hand and compares them with TF-IDF. The network is the classic
"embedding + global average pooling + linear layer" classifier (fastText's supervised model and
Keras's ``GlobalAveragePooling1D`` recipe are the same idea): a document is the mean of its
tokens' vectors, and a linear layer maps that mean to one score per class. The mean is taken over
the real tokens only. Padding is masked out, so a short document in a batch of long ones gets the
same vector as it would alone; averaging the padding in, as an unmasked pooling layer does, would
shrink its vector towards zero by an amount that depends on its neighbours in the batch.

Comparing classifiers, with intervals and tests rather than single scores, is :mod:`fromzero.significance`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from fromzero.batches import to_device
from fromzero.errors import InputError

Batch = dict[str, torch.Tensor]


class BagOfEmbeddings(nn.Module):
    """Embedding, masked mean pooling and a linear layer: ``logits = W mean_t(E[x_t]) + b``."""

    def __init__(
        self, vocab_size: int, embedding_dim: int, num_classes: int, *, padding_idx: int = 0, dropout: float = 0.0
    ) -> None:
        super().__init__()
        for name, value in (("vocab_size", vocab_size), ("embedding_dim", embedding_dim), ("num_classes", num_classes)):
            if value < 1:
                raise InputError(f"{name} must be at least 1, got {value}")
        if not 0 <= padding_idx < vocab_size:
            raise InputError(f"padding_idx must be a token id between 0 and {vocab_size - 1}, got {padding_idx}")
        self.padding_idx = padding_idx
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=padding_idx)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(embedding_dim, num_classes)

    @classmethod
    def from_pretrained(
        cls,
        vectors: np.ndarray | torch.Tensor,
        num_classes: int,
        *,
        freeze: bool = False,
        padding_idx: int = 0,
        dropout: float = 0.0,
    ) -> BagOfEmbeddings:
        """A model whose embedding starts as ``vectors`` (one row per token id); ``freeze`` keeps it fixed."""
        weights = torch.as_tensor(np.asarray(vectors), dtype=torch.float32)
        if weights.ndim != 2:
            raise InputError(f"vectors must be a (vocab_size, dim) matrix, got shape {tuple(weights.shape)}")
        model = cls(len(weights), weights.shape[1], num_classes, padding_idx=padding_idx, dropout=dropout)
        with torch.no_grad():
            model.embedding.weight.copy_(weights)
            model.embedding.weight[padding_idx] = 0.0
        model.embedding.weight.requires_grad_(not freeze)
        return model

    def pool(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """The mean of each row's token vectors over its real tokens: ``(batch, length)`` ids to ``(batch, dim)``.

        Without a mask, every id other than ``padding_idx`` counts as a real token. A row with no real
        token at all gets the zero vector.
        """
        if input_ids.ndim != 2:
            raise InputError(f"input_ids must be a (batch, length) tensor, got shape {tuple(input_ids.shape)}")
        mask = input_ids != self.padding_idx if attention_mask is None else attention_mask.bool()
        if mask.shape != input_ids.shape:
            raise InputError(f"attention_mask has shape {tuple(mask.shape)}, input_ids {tuple(input_ids.shape)}")
        # embedding_bag sums the weighted rows without building the (batch, length, dim) tensor of
        # token vectors, which halves the time of a training step; padding_idx keeps the padding row
        # out of the sum (and its gradient at zero) even when the mask counts padding as tokens.
        weights = mask.to(self.embedding.weight.dtype)
        sums = F.embedding_bag(
            input_ids, self.embedding.weight, per_sample_weights=weights, mode="sum", padding_idx=self.padding_idx
        )
        return sums / weights.sum(dim=1, keepdim=True).clamp(min=1)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.classifier(self.dropout(self.pool(input_ids, attention_mask)))


class TokenIdDataset(Dataset):
    """Token-id sequences with their class ids, one ``(ids, label)`` pair per item, for :func:`pad_collate`."""

    def __init__(self, sequences: Sequence[Sequence[int]], labels: Sequence[int]) -> None:
        if len(sequences) != len(labels):
            raise InputError(f"got {len(sequences)} token sequences but {len(labels)} labels: they must pair up")
        empty = [index for index, ids in enumerate(sequences) if len(ids) == 0]
        if empty:
            raise InputError(
                f"{len(empty)} text(s) have no tokens (the first is number {empty[0]}): "
                "an empty text has no mean vector; drop it or give it an unknown-word token"
            )
        self.sequences = [list(map(int, ids)) for ids in sequences]
        self.labels = [int(label) for label in labels]

    def __len__(self) -> int:
        return len(self.sequences)

    def __getitem__(self, index: int) -> tuple[list[int], int]:
        return self.sequences[index], self.labels[index]


def pad_collate(examples: Sequence[tuple[Sequence[int], int]], pad_id: int = 0) -> Batch:
    """Stack ``(ids, label)`` pairs into a batch padded to its own longest sequence.

    Returns ``input_ids`` (long, padded with ``pad_id``), ``attention_mask`` (True on real tokens)
    and ``labels``. Padding per batch, not to the longest text of the whole corpus, keeps the
    wasted work small when lengths vary. Pass ``functools.partial(pad_collate, pad_id=...)`` as a
    loader's ``collate_fn`` when the padding id is not 0.
    """
    if not examples:
        raise InputError("pad_collate() got an empty batch")
    lengths = np.array([len(ids) for ids, _ in examples])
    # Filled in NumPy, then shared with PyTorch: torch.as_tensor on a list of Python ints is several
    # times slower, and on a CPU this function would otherwise cost as much as the training step.
    input_ids = np.full((len(examples), lengths.max()), pad_id, dtype=np.int64)
    for row, (ids, _) in enumerate(examples):
        input_ids[row, : lengths[row]] = ids
    attention_mask = np.arange(lengths.max()) < lengths[:, None]
    labels = torch.tensor([label for _, label in examples], dtype=torch.long)
    return {
        "input_ids": torch.from_numpy(input_ids),
        "attention_mask": torch.from_numpy(attention_mask),
        "labels": labels,
    }


def encode_labels(labels: Iterable[str], label_names: Sequence[str]) -> list[int]:
    """Class ids of ``labels``, position in ``label_names``; a label that is not listed is an error."""
    index = {name: position for position, name in enumerate(label_names)}
    labels = list(labels)
    unknown = sorted({str(label) for label in labels if label not in index})
    if unknown:
        raise InputError(f"unknown label(s) {', '.join(map(repr, unknown))}: the known labels are {list(label_names)}")
    return [index[label] for label in labels]


def classification_loss(model: nn.Module, batch: Batch, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean cross-entropy of the model's logits; with class ``weight``, PyTorch's weighted mean.

    With weights, ``F.cross_entropy`` returns ``sum_i w[y_i] * loss_i / sum_i w[y_i]``: the
    normaliser is the sum of the weights of the batch's labels, not the batch size.
    """
    logits = model(batch["input_ids"], batch["attention_mask"])
    return F.cross_entropy(logits, batch["labels"], weight=None if weight is None else weight.to(logits.device))


@torch.no_grad()
def predict(model: nn.Module, batches: Iterable[Batch], device: torch.device | str | None = None) -> np.ndarray:
    """The class id with the highest logit for every example of ``batches``, in order (eval mode)."""
    return _logits(model, batches, device, "predict").argmax(dim=-1).numpy()


@torch.no_grad()
def predict_proba(model: nn.Module, batches: Iterable[Batch], device: torch.device | str | None = None) -> np.ndarray:
    """The softmax of the logits, ``(examples, classes)``, for every example of ``batches``, in order (eval mode).

    Named after scikit-learn's ``predict_proba``, so that a network's probabilities and a
    logistic regression's can be read the same way (how sure was the model of a wrong answer?).
    Computed in float64, so that the probability of a confidently wrong class is small, not zero.
    """
    return torch.softmax(_logits(model, batches, device, "predict_proba").double(), dim=-1).numpy()


def _logits(model: nn.Module, batches: Iterable[Batch], device: torch.device | str | None, caller: str) -> torch.Tensor:
    device = device if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        logits = []
        for batch in batches:
            batch = to_device(batch, device)
            logits.append(model(batch["input_ids"], batch["attention_mask"]).cpu())
    finally:
        model.train(was_training)
    if not logits:
        raise InputError(f"{caller}() got no batches")
    return torch.cat(logits)


def average_word_vectors(token_lists: Iterable[Sequence[str]], words: Sequence[str], vectors: np.ndarray) -> np.ndarray:
    """One row per text: the mean of the vectors of its tokens that ``words`` knows.

    Tokens without a vector are skipped; a text with no known token at all gets the zero vector
    (count those before trusting the features: see Chapter 7).
    """
    vectors = np.asarray(vectors)
    if vectors.ndim != 2 or len(words) != len(vectors):
        raise InputError(f"{len(words)} words need a ({len(words)}, dim) matrix of vectors, got {vectors.shape}")
    if isinstance(token_lists, str):
        raise InputError("average_word_vectors() takes a list of token lists, not a string: tokenise the texts first")
    index = {word: row for row, word in enumerate(words)}
    features = []
    for tokens in token_lists:
        if isinstance(tokens, str):
            raise InputError("each text must be a list of tokens, not a string: tokenise the texts first")
        rows = [index[token] for token in tokens if token in index]
        features.append(vectors[rows].mean(axis=0) if rows else np.zeros(vectors.shape[1], dtype=vectors.dtype))
    if not features:
        raise InputError("average_word_vectors() got no texts")
    return np.stack(features)


def embedding_matrix(
    tokens: Sequence[str], words: Sequence[str], vectors: np.ndarray, *, padding_idx: int | None = 0, seed: int = 0
) -> np.ndarray:
    """A ``(len(tokens), dim)`` embedding for a vocabulary, from pretrained ``(words, vectors)``.

    Tokens with a pretrained vector get it; the others (``<unk>``, words the pretrained vectors
    lack) get random rows with the pretrained rows' standard deviation, so they start neither at
    zero nor out of scale; the padding row is zero.
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(words) != len(vectors):
        raise InputError(f"{len(words)} words need a ({len(words)}, dim) matrix of vectors, got {vectors.shape}")
    index = {word: row for row, word in enumerate(words)}
    rng = np.random.default_rng(seed)
    matrix = rng.normal(0.0, vectors.std(), size=(len(tokens), vectors.shape[1])).astype(np.float32)
    for position, token in enumerate(tokens):
        if token in index:
            matrix[position] = vectors[index[token]]
    if padding_idx is not None:
        matrix[padding_idx] = 0.0
    return matrix
