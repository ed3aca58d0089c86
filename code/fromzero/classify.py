"""Text classification with word vectors: averaged-vector features and the bag-of-embeddings network.

Chapter 7 builds both by hand and compares them with TF-IDF. The network is the classic
"embedding + global average pooling + linear layer" classifier (fastText's supervised model and
Keras's ``GlobalAveragePooling1D`` recipe are the same idea): a document is the mean of its
tokens' vectors, and a linear layer maps that mean to one score per class. The mean is taken over
the real tokens only. Padding is masked out, so a short document in a batch of long ones gets the
same vector as it would alone; averaging the padding in, as an unmasked pooling layer does, would
shrink its vector towards zero by an amount that depends on its neighbours in the batch.

Comparing classifiers needs more than one accuracy each: on a few hundred test documents a gap of
half a point is well inside the noise. :func:`accuracy_intervals` scores every method on the same
test documents and gives each accuracy and macro-F1, and each difference between two methods, a
paired bootstrap interval, in the vocabulary of :class:`fromzero.evaluate.Scoreboard`
(``interval``, ``difference``, ``beats``, ``table``). :func:`f1_intervals` does the same for the
precision, recall and F1 of one class (an entity tagger's entities, the entity words of a probe),
from counts per test item, so that chapters scoring taggers share one implementation and one
convention: the same seed gives the same draws to every system scored on the same items.

When two methods disagree on only a handful of documents, the percentile bootstrap is at its
weakest (a resample misses all of them often enough to put an interval's edge at exactly zero);
:func:`mcnemar_test` reads those documents directly with the exact McNemar test.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from scipy.stats import binomtest
from torch import nn
from torch.utils.data import Dataset

from fromzero.errors import InputError
from fromzero.train import to_device

Batch = dict[str, torch.Tensor]
CLASSIFICATION_METRICS = ("accuracy", "macro-F1")  # the columns of accuracy_intervals' scoreboard
F1_METRICS = ("precision", "recall", "f1")  # the columns of f1_intervals' scoreboard
TALLY_COLUMNS = ("correct", "predicted", "gold")  # per test item: what f1_intervals resamples


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


@dataclass
class ClassificationScoreboard:
    """Scores of several classifiers on the same test items, with paired bootstrap resamples.

    ``scores`` has one row per method and one column per metric: :data:`CLASSIFICATION_METRICS`
    from :func:`accuracy_intervals`, :data:`F1_METRICS` from :func:`f1_intervals`; ``items`` is the
    number of test items. ``resampled[metric]`` is a ``(methods, resamples)`` array: each method's
    score on resample ``r`` of the test items, the *same* resample for every method, so that a
    difference between two methods is measured on the same items each time (a paired bootstrap),
    which is much tighter than comparing two separate intervals. Called without a ``metric``, the
    methods read ``main_metric``: accuracy, or F1.
    """

    scores: pd.DataFrame
    items: int
    resampled: dict[str, np.ndarray]
    level: float
    main_metric: str = "accuracy"

    def interval(self, method: str, metric: str | None = None) -> tuple[float, float]:
        """The percentile bootstrap interval of ``method``'s score (``level``, 95 % by default)."""
        return self._percentiles(self._draws(metric)[self._row(method)])

    def difference(self, first: str, second: str, metric: str | None = None) -> tuple[float, float, float]:
        """``first``'s score minus ``second``'s, with the interval of that difference over paired resamples."""
        draws = self._draws(metric)
        low, high = self._percentiles(draws[self._row(first)] - draws[self._row(second)])
        metric = metric or self.main_metric
        return float(self.scores.loc[first, metric] - self.scores.loc[second, metric]), low, high

    def beats(self, first: str, second: str, metric: str | None = None) -> bool:
        """True when the whole interval of ``first - second`` lies above zero: a gap larger than the noise."""
        return self.difference(first, second, metric)[1] > 0

    def table(self, digits: int = 3) -> pd.DataFrame:
        """Each score with its interval, as text ("0.962 [0.944, 0.979]"), one row per method."""
        cells = {
            metric: {
                method: f"{self.scores.loc[method, metric]:.{digits}f} "
                + "[{:.{d}f}, {:.{d}f}]".format(*self.interval(method, metric), d=digits)
                for method in self.scores.index
            }
            for metric in self.scores.columns
        }
        return pd.DataFrame(cells).rename_axis("method")

    def _draws(self, metric: str | None) -> np.ndarray:
        metric = metric or self.main_metric
        if metric not in self.resampled:
            raise InputError(f"no metric named {metric!r}: the scoreboard has {', '.join(self.resampled)}")
        return self.resampled[metric]

    def _row(self, method: str) -> int:
        if method not in self.scores.index:
            raise InputError(f"no method named {method!r} on the scoreboard: {', '.join(map(str, self.scores.index))}")
        return self.scores.index.get_loc(method)

    def _percentiles(self, draws: np.ndarray) -> tuple[float, float]:
        tail = 100 * (1 - self.level) / 2
        low, high = np.percentile(draws, [tail, 100 - tail])
        return float(low), float(high)


def accuracy_intervals(
    y_true: Sequence | np.ndarray,
    predictions: Mapping[str, Sequence | np.ndarray],
    *,
    resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> ClassificationScoreboard:
    """Accuracy and macro-F1 of every method (name -> predicted labels), with paired bootstrap intervals.

    The test examples are drawn with replacement ``resamples`` times (the percentile bootstrap;
    Efron and Tibshirani, 1993) and every method is scored on every draw. The spread of a score
    over the draws is what another test set of the same size could have given; the spread of a
    *difference* is much smaller than the two scores' spreads suggest when the methods get mostly
    the same documents right, and that is what tells whether one method beats another.

    Labels may be ints or strings. Macro-F1 averages the per-class F1 over the classes that occur
    among the true or the predicted labels of the examples scored, as scikit-learn's
    ``f1_score(average="macro")`` does.
    """
    if not predictions:
        raise InputError("accuracy_intervals() needs at least one method's predictions")
    if not 0 < level < 1 or resamples < 1:
        raise InputError(f"need 0 < level < 1 and resamples >= 1, got level={level}, resamples={resamples}")
    truth = np.asarray(y_true)
    if truth.ndim != 1 or len(truth) == 0:
        raise InputError(f"y_true must be a non-empty list of labels, got shape {truth.shape}")
    predicted = {}
    for name, labels in predictions.items():
        labels = np.asarray(labels)
        if labels.shape != truth.shape:
            raise InputError(
                f"{name!r} has {labels.shape} predictions for {truth.shape} true labels: "
                "every method must be scored on the same test examples, in the same order"
            )
        predicted[name] = labels
    classes, codes = np.unique(np.concatenate([truth, *predicted.values()]), return_inverse=True)
    codes = codes.reshape(len(predicted) + 1, len(truth))
    counts = _bootstrap_counts(len(truth), resamples, seed)  # (resamples + 1, items); row 0 is the sample itself
    scores, resampled = {}, {}
    for metric, score in zip(CLASSIFICATION_METRICS, (_weighted_accuracy, _weighted_macro_f1), strict=True):
        table = np.stack([score(codes[0], method_codes, counts, len(classes)) for method_codes in codes[1:]])
        scores[metric], resampled[metric] = table[:, 0], table[:, 1:]
    frame = pd.DataFrame(scores, index=pd.Index(list(predicted), name="method"))
    return ClassificationScoreboard(frame, len(truth), resampled, level)


def f1_intervals(
    tallies: Mapping[str, Sequence | np.ndarray],
    *,
    resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> ClassificationScoreboard:
    """Precision, recall and F1 of one class for every system, with paired bootstrap intervals.

    ``tallies`` maps a system's name to its counts per test item, one row ``(correct, predicted,
    gold)`` per item (:data:`TALLY_COLUMNS`): the positives it predicted that are right, the
    positives it predicted, and the positives of the gold labels. An item is what the bootstrap
    draws: a word for a word-level classifier (:func:`class_tallies`), a sentence for an entity
    tagger (:func:`fromzero.finetune.metrics.entity_tallies`), whose entities are drawn together
    because the entities of one sentence are not independent. F1 is not an average over items, so
    it cannot be resampled item by item like accuracy; but it is a function of the three sums,
    ``F1 = 2 correct / (predicted + gold)``, and each draw only reweights the rows.

    Every system is scored on every draw, and the draws depend only on the number of items,
    ``resamples`` and ``seed`` (they are :func:`accuracy_intervals`' draws), so a difference
    between two systems is paired even across two calls with the same seed. A draw with nothing
    predicted has precision 0, and one with no gold positive recall 0, as in ``seqeval`` and
    scikit-learn with ``zero_division=0``. The scoreboard's ``main_metric`` is ``"f1"``.
    """
    if not tallies:
        raise InputError("f1_intervals() needs at least one system's tallies")
    if not 0 < level < 1 or resamples < 1:
        raise InputError(f"need 0 < level < 1 and resamples >= 1, got level={level}, resamples={resamples}")
    counts_of = {name: _checked_tallies(name, rows) for name, rows in tallies.items()}
    lengths = {len(rows) for rows in counts_of.values()}
    if len(lengths) > 1:
        sizes = ", ".join(f"{name!r} {len(rows)}" for name, rows in counts_of.items())
        raise InputError(
            f"the systems have tallies for different numbers of items ({sizes}): "
            "every system must be scored on the same test items, in the same order"
        )
    items = lengths.pop()
    weights = _bootstrap_counts(items, resamples, seed)  # (resamples + 1, items); row 0 is the sample itself
    scores, resampled = {}, {}
    tables = [_weighted_f1(weights @ rows) for rows in counts_of.values()]  # per system: (3, resamples + 1)
    for position, metric in enumerate(F1_METRICS):
        table = np.stack([system[position] for system in tables])
        scores[metric], resampled[metric] = table[:, 0], table[:, 1:]
    frame = pd.DataFrame(scores, index=pd.Index(list(counts_of), name="method"))
    return ClassificationScoreboard(frame, items, resampled, level, main_metric="f1")


def class_tallies(y_true: Sequence | np.ndarray, y_pred: Sequence | np.ndarray, positive: object = True) -> np.ndarray:
    """Per item, ``(correct, predicted, gold)`` for the class ``positive``: the rows :func:`f1_intervals` reads."""
    truth, predicted = np.asarray(y_true), np.asarray(y_pred)
    if truth.ndim != 1 or len(truth) == 0:
        raise InputError(f"y_true must be a non-empty list of labels, got shape {truth.shape}")
    if predicted.shape != truth.shape:
        raise InputError(f"got {predicted.shape} predictions for {truth.shape} true labels: they must pair up")
    is_true, is_predicted = truth == positive, predicted == positive
    return np.column_stack([is_true & is_predicted, is_predicted, is_true]).astype(float)


def _checked_tallies(name: str, rows: Sequence | np.ndarray) -> np.ndarray:
    counts = np.asarray(rows, dtype=float)
    if counts.ndim != 2 or counts.shape[1] != len(TALLY_COLUMNS) or len(counts) == 0:
        raise InputError(
            f"{name!r}: tallies must be a non-empty (items, 3) table, one row ({', '.join(TALLY_COLUMNS)}) "
            f"per test item, got shape {counts.shape}"
        )
    correct, predicted, gold = counts.T
    if (counts < 0).any() or (correct > predicted).any() or (correct > gold).any():
        raise InputError(
            f"{name!r}: tallies must be counts, with correct <= predicted and correct <= gold on every row"
        )
    return counts


def _weighted_f1(sums: np.ndarray) -> np.ndarray:
    """``(precision, recall, f1)`` from summed ``(correct, predicted, gold)`` rows; 0 where a denominator is 0."""
    correct, predicted, gold = sums.T

    def ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
        return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)

    return np.stack([ratio(correct, predicted), ratio(correct, gold), ratio(2 * correct, predicted + gold)])


def _bootstrap_counts(items: int, resamples: int, seed: int) -> np.ndarray:
    """How often each example is drawn, per resample, with a first row of ones for the sample itself."""
    draws = np.random.default_rng(seed).integers(items, size=(resamples, items))
    counts = np.zeros((resamples + 1, items))
    counts[0] = 1.0
    np.add.at(counts, (np.arange(1, resamples + 1)[:, None], draws), 1.0)
    return counts


def _weighted_accuracy(truth: np.ndarray, predicted: np.ndarray, counts: np.ndarray, classes: int) -> np.ndarray:
    return counts @ (truth == predicted) / counts.sum(axis=1)


def _weighted_macro_f1(truth: np.ndarray, predicted: np.ndarray, counts: np.ndarray, classes: int) -> np.ndarray:
    """Macro-F1 for every row of example counts: F1_c = 2 TP_c / (predicted_c + actual_c), averaged over present c."""
    true_onehot = np.eye(classes)[truth]
    predicted_onehot = np.eye(classes)[predicted]
    true_positives = counts @ (true_onehot * predicted_onehot)
    present = counts @ true_onehot + counts @ predicted_onehot  # predicted_c + actual_c
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(present > 0, 2 * true_positives / present, np.nan)
    return np.nanmean(per_class, axis=1)


@dataclass(frozen=True)
class McNemarResult:
    """The documents on which exactly one of two classifiers is right, and the exact McNemar test on them.

    ``first_only`` counts the documents only the first method gets right, ``second_only`` those only
    the second gets right; documents both get right, or both get wrong, say nothing about which is better.
    """

    first_only: int
    second_only: int
    p_value: float

    @property
    def disagreements(self) -> int:
        """How many documents exactly one of the two methods gets right."""
        return self.first_only + self.second_only


def mcnemar_test(
    y_true: Sequence | np.ndarray, first: Sequence | np.ndarray, second: Sequence | np.ndarray
) -> McNemarResult:
    """Exact McNemar test of two classifiers' accuracies on the same documents (two-sided).

    If the two methods were equally accurate, each document that exactly one of them gets right
    would be a fair coin's toss between them, so ``first_only`` would follow Binomial(d, 1/2) with
    ``d`` the number of such documents. The p-value is the probability of a split at least as
    lopsided as the one observed (scipy's ``binomtest``). Unlike a percentile bootstrap it stays
    exact when ``d`` is 2 or 3: three disagreements all won by one method give p = 0.25, not a
    verdict. With no disagreement at all, p = 1.
    """
    truth, first, second = (np.asarray(labels) for labels in (y_true, first, second))
    if truth.ndim != 1 or len(truth) == 0:
        raise InputError(f"y_true must be a non-empty list of labels, got shape {truth.shape}")
    if first.shape != truth.shape or second.shape != truth.shape:
        raise InputError(
            f"got {first.shape} and {second.shape} predictions for {truth.shape} true labels: "
            "both methods must be scored on the same documents, in the same order"
        )
    first_right, second_right = first == truth, second == truth
    first_only = int(np.sum(first_right & ~second_right))
    second_only = int(np.sum(second_right & ~first_right))
    disagreements = first_only + second_only
    p_value = 1.0 if disagreements == 0 else float(binomtest(first_only, disagreements, 0.5).pvalue)
    return McNemarResult(first_only, second_only, p_value)
