"""Is one classifier better than another? Paired bootstrap intervals and the exact McNemar test.

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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from fromzero.errors import InputError

CLASSIFICATION_METRICS = ("accuracy", "macro-F1")  # the columns of accuracy_intervals' scoreboard
F1_METRICS = ("precision", "recall", "f1")  # the columns of f1_intervals' scoreboard
TALLY_COLUMNS = ("correct", "predicted", "gold")  # per test item: what f1_intervals resamples


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
