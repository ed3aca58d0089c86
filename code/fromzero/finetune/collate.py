"""From text to padded batches: tokenising once, aligning word labels with word pieces, padding per batch.

Texts are tokenised once, without padding; each batch is then padded to *its own* longest
sequence by :class:`PadCollator`. Padding the whole data set to one length (what calling a
tokenizer on every text at once with ``padding=True`` does) spends most of the compute on pad
tokens when lengths vary.

Word-piece label alignment: a NER data set labels *words*, a BERT model reads *word pieces*
(``Chelsea`` may become ``chel ##sea``). The first piece of every word gets the word's label, the
other pieces and the special tokens ``[CLS]``/``[SEP]`` get ``-100``, the index that PyTorch's
cross-entropy ignores, so every word is counted exactly once in the loss and in the predictions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch.utils.data import Dataset

from fromzero.errors import InputError
from fromzero.transformer.bert import IGNORE_INDEX

Features = dict[str, Any]


class FeatureDataset(Dataset):
    """A list of tokenised examples (dicts of lists) as a map-style Dataset, for ``make_loader``."""

    def __init__(self, features: Sequence[Features]) -> None:
        self.features = list(features)

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, index: int) -> Features:
        return self.features[index]


def encode_texts(
    tokenizer: Any, texts: Sequence[str], max_length: int, labels: Sequence[int] | None = None
) -> list[Features]:
    """Tokenise ``texts`` (truncated to ``max_length`` pieces, special tokens included), one dict each."""
    if max_length < 4:
        raise InputError(f"max_length must be at least 4 word pieces, got {max_length}")
    encoded = tokenizer(list(texts), truncation=True, max_length=max_length)
    features = [{key: encoded[key][i] for key in encoded} for i in range(len(texts))]
    if labels is not None:
        for feature, label in zip(features, labels, strict=True):
            feature["labels"] = int(label)
    return features


def align_labels(word_ids: Sequence[int | None], word_labels: Sequence[int]) -> list[int]:
    """One label per word piece: the word's label on its first piece, ``-100`` on the rest and on specials.

    ``word_ids`` is what a fast tokenizer's ``word_ids()`` returns: for every piece, the index of the
    word it came from, or ``None`` for ``[CLS]``, ``[SEP]`` and padding.
    """
    aligned, previous = [], None
    for word in word_ids:
        aligned.append(IGNORE_INDEX if word is None or word == previous else word_labels[word])
        previous = word
    return aligned


def encode_tagged(
    tokenizer: Any, sentences: Sequence[Sequence[str]], max_length: int, tag_ids: Sequence[Sequence[int]] | None = None
) -> tuple[list[Features], list[list[int | None]]]:
    """Tokenise pre-split ``sentences``; return the features and each sentence's ``word_ids``.

    With ``tag_ids`` (one id per word) the features carry aligned ``labels``. Words cut off by
    truncation get no label here; :func:`fromzero.finetune.inference.predict_tags` predicts ``O``
    for them, so the evaluation still counts their entities as missed.
    """
    if max_length < 4:
        raise InputError(f"max_length must be at least 4 word pieces, got {max_length}")
    encoded = tokenizer([list(words) for words in sentences], is_split_into_words=True, truncation=True,
                        max_length=max_length)
    features, word_ids = [], []
    for i in range(len(sentences)):
        feature = {key: encoded[key][i] for key in encoded}
        ids = encoded.word_ids(i)
        if tag_ids is not None:
            feature["labels"] = align_labels(ids, tag_ids[i])
        features.append(feature)
        word_ids.append(ids)
    return features, word_ids


class PadCollator:
    """Pad a list of feature dicts into a batch of tensors, to the longest sequence in the batch.

    ``input_ids`` are padded with the tokenizer's pad id, token-level ``labels`` with ``-100`` and
    everything else (``attention_mask``, ``token_type_ids``) with 0, on the right. A sequence-level
    label (one int per example) becomes a 1-D tensor.
    """

    def __init__(self, pad_token_id: int) -> None:
        self.pad_values = {"input_ids": pad_token_id, "labels": IGNORE_INDEX}

    def __call__(self, features: Sequence[Features]) -> dict[str, torch.Tensor]:
        length = max(len(feature["input_ids"]) for feature in features)
        batch = {}
        for key in features[0]:
            values = [feature[key] for feature in features]
            if isinstance(values[0], int):
                batch[key] = torch.tensor(values, dtype=torch.long)
                continue
            pad = self.pad_values.get(key, 0)
            padded = [list(value) + [pad] * (length - len(value)) for value in values]
            batch[key] = torch.tensor(padded, dtype=torch.long)
        return batch
