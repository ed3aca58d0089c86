"""Running a model without training it: logits, predicted labels and word tags, pooled sentence features.

Examples are batched in order of length, so that each batch pads as little as possible, and the
results are put back in the caller's order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from fromzero.batches import to_device
from fromzero.errors import InputError
from fromzero.finetune.collate import Features, PadCollator, encode_tagged, encode_texts

POOLINGS = ("mean", "cls")


def _device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def _map_batches(
    model: nn.Module,
    features: Sequence[Features],
    pad_token_id: int,
    batch_size: int,
    compute: Callable[[nn.Module, dict[str, torch.Tensor]], torch.Tensor],
) -> list[np.ndarray]:
    """``compute(model, batch)`` over length-sorted batches, one array per example, in input order."""
    collate = PadCollator(pad_token_id)
    device, was_training = _device_of(model), model.training
    model.eval()
    order = sorted(range(len(features)), key=lambda i: len(features[i]["input_ids"]))
    results: list[np.ndarray | None] = [None] * len(features)
    try:
        for start in range(0, len(order), batch_size):
            chosen = order[start : start + batch_size]
            batch = collate([{k: v for k, v in features[i].items() if k != "labels"} for i in chosen])
            lengths = [len(features[i]["input_ids"]) for i in chosen]
            output = compute(model, to_device(batch, device)).float().cpu().numpy()
            for row, (index, length) in enumerate(zip(chosen, lengths, strict=True)):
                results[index] = output[row, :length] if output.ndim == 3 else output[row]
    finally:
        model.train(was_training)
    return results  # type: ignore[return-value]


def predict_logits(
    model: nn.Module, features: Sequence[Features], pad_token_id: int, batch_size: int = 64
) -> list[np.ndarray]:
    """The model's logits per example: ``(labels,)`` for a sequence classifier, ``(pieces, labels)`` for a tagger."""
    return _map_batches(model, features, pad_token_id, batch_size, lambda m, batch: m(**batch).logits)


def predict_labels(
    model: nn.Module, tokenizer: Any, texts: Sequence[str], max_length: int, batch_size: int = 64
) -> tuple[list[str], np.ndarray]:
    """Each text's predicted label (a string from ``config.id2label``) and the softmax probabilities."""
    logits = np.stack(predict_logits(model, encode_texts(tokenizer, texts, max_length), tokenizer.pad_token_id,
                                     batch_size))
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities = shifted / shifted.sum(axis=1, keepdims=True)
    id2label = model.config.id2label
    return [id2label[int(i)] for i in probabilities.argmax(axis=1)], probabilities


def predict_tags(
    model: nn.Module, tokenizer: Any, sentences: Sequence[Sequence[str]], max_length: int, batch_size: int = 64
) -> list[list[str]]:
    """One BIO tag per *word*: the prediction of the word's first piece; ``O`` for words cut off by truncation."""
    features, word_ids = encode_tagged(tokenizer, sentences, max_length)
    logits = predict_logits(model, features, tokenizer.pad_token_id, batch_size)
    id2label = model.config.id2label
    tagged = []
    for words, ids, scores in zip(sentences, word_ids, logits, strict=True):
        tags = ["O"] * len(words)
        previous = None
        for piece, word in enumerate(ids):
            if word is not None and word != previous:
                tags[word] = id2label[int(scores[piece].argmax())]
            previous = word
        tagged.append(tags)
    return tagged


def _pool(hidden: torch.Tensor, attention_mask: torch.Tensor, pooling: str) -> torch.Tensor:
    if pooling == "cls":
        return hidden[:, 0]
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)


def pooled_features(
    model: nn.Module,
    tokenizer: Any,
    texts: Sequence[str],
    max_length: int,
    pooling: str = "mean",
    batch_size: int = 64,
) -> np.ndarray:
    """One vector per text from the encoder's last layer: the mean over real tokens, or ``[CLS]``'s vector.

    ``model`` may be a bare encoder (``AutoModel``) or a task model, whose encoder is used.
    Padding is masked out of the mean, so a text's vector does not depend on its batch.
    """
    if pooling not in POOLINGS:
        raise InputError(f"unknown pooling {pooling!r}: choose one of {', '.join(POOLINGS)}")
    encoder = getattr(model, "base_model", model)

    def compute(_: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        hidden = encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        return _pool(hidden, batch["attention_mask"], pooling)

    features = encode_texts(tokenizer, texts, max_length)
    return np.stack(_map_batches(encoder, features, tokenizer.pad_token_id, batch_size, compute))
