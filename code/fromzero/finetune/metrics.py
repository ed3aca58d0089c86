"""Scores for the two tasks, as plain dicts that print as JSON.

Classification: accuracy, and macro-F1, the unweighted mean of the per-class F1 scores, which a
model cannot raise by favouring the biggest class.

NER is scored on *entities*, not tags, as in the CoNLL shared tasks: an entity counts as found only
if its type and both of its boundaries are right. Tag accuracy is reported beside it to show how
different the two views are: most tags are ``O``, so a tagger that finds no entity at all already
gets most tags right. ``seqeval`` extracts the entities (in its default, conlleval-compatible
mode, an ``I-`` tag that follows no entity of its type starts a new one).

:func:`entity_tallies` counts, per sentence, what entity-level F1 is made of, for the paired
bootstrap intervals of :func:`fromzero.significance.f1_intervals`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

from fromzero.errors import InputError

Entity = tuple[str, int, int]  # (type, first word, last word), as seqeval's get_entities gives them


def classification_scores(true: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
    """``accuracy``, ``macro_f1`` and ``per_class`` (precision, recall, f1, support for every label)."""
    precision, recall, f1, support = precision_recall_fscore_support(
        true, predicted, labels=list(labels), zero_division=0
    )
    per_class = {
        label: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
    }
    return {
        "accuracy": float(accuracy_score(true, predicted)),
        "macro_f1": float(f1_score(true, predicted, labels=list(labels), average="macro", zero_division=0)),
        "per_class": per_class,
    }


def entity_scores(true: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> dict[str, Any]:
    """Entity-level micro ``precision``, ``recall``, ``f1``, ``per_type`` scores and tag-level ``token_accuracy``."""
    from seqeval.metrics import classification_report, f1_score, precision_score, recall_score

    true, predicted = [list(tags) for tags in true], [list(tags) for tags in predicted]
    report = classification_report(true, predicted, output_dict=True, zero_division=0)
    per_type = {
        kind: {"precision": float(v["precision"]), "recall": float(v["recall"]), "f1": float(v["f1-score"]),
               "support": int(v["support"])}
        for kind, v in report.items()
        if not kind.endswith(" avg")
    }
    return {
        "precision": float(precision_score(true, predicted, zero_division=0)),
        "recall": float(recall_score(true, predicted, zero_division=0)),
        "f1": float(f1_score(true, predicted, zero_division=0)),
        "per_type": per_type,
        "token_accuracy": token_accuracy(true, predicted),
    }


def token_accuracy(true: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> float:
    """The share of words whose tag is right, ``O`` included."""
    pairs = [(t, p) for tags, guesses in zip(true, predicted, strict=True) for t, p in zip(tags, guesses, strict=True)]
    return sum(t == p for t, p in pairs) / len(pairs) if pairs else 0.0


def entity_tallies(
    true: Sequence[Sequence[str]],
    predicted: Sequence[Sequence[str]],
    keep: Callable[[int, Entity], bool] | None = None,
) -> np.ndarray:
    """Per sentence, ``(correct, predicted, gold)`` entity counts: what
    :func:`fromzero.significance.f1_intervals` reads.

    ``correct`` counts the predicted entities whose type and both boundaries match a true entity,
    so the sums over all sentences give :func:`entity_scores`' micro precision, recall and F1.
    ``keep(sentence, entity)`` restricts the count to some entities (one type, names unseen in
    training), on both sides: the restricted rows score that group alone.
    """
    from seqeval.metrics.sequence_labeling import get_entities

    if len(true) != len(predicted):
        raise InputError(f"got {len(predicted)} predicted tag sequences for {len(true)} true ones: they must pair up")
    if not true:
        raise InputError("entity_tallies() got no sentences")
    rows = []
    for index, (tags, guesses) in enumerate(zip(true, predicted, strict=True)):
        if len(tags) != len(guesses):
            raise InputError(f"sentence {index} has {len(tags)} true tags but {len(guesses)} predicted ones")
        gold, found = ({entity for entity in get_entities(list(sequence)) if keep is None or keep(index, entity)}
                       for sequence in (tags, guesses))
        rows.append((len(gold & found), len(found), len(gold)))
    return np.array(rows, dtype=float)
