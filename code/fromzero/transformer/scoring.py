"""Scoring a pretrained model on held-out text: bits per character for a GPT, masked-token scores for a BERT.

Bits per character (bpc) is the total negative log-likelihood of the evaluation text, in bits,
divided by its number of characters. Per-token perplexity depends on the tokeniser (bigger tokens,
fewer but harder predictions); per-character bits do not, so a GPT with any tokeniser can be
compared with another, and with a file compressor (``gzip -9`` spends ``8 * bytes / characters``).
BERT does not assign a probability to a whole text, so its analogue is the masked-token
cross-entropy in bits divided by the characters those masked tokens cover: how many bits per
character it needs to restore a hidden 15 % *given both sides*. It is not comparable with a GPT's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch

from fromzero.device import autocast_context, autocast_dtype
from fromzero.errors import InputError
from fromzero.transformer.bert import IGNORE_INDEX, TinyBERT
from fromzero.transformer.gpt import TinyGPT


def scoring_windows(n_predictions: int, context: int, stride: int) -> list[tuple[int, int]]:
    """``(start, first)`` for each window that scores a stream with ``n_predictions`` next-token predictions.

    A window reads ``context`` tokens from ``start`` and predicts the ``context`` tokens after
    them; only predictions from position ``first`` of the window on count, so that every token is
    predicted exactly once. Windows advance by ``stride`` tokens: with ``stride == context`` they
    do not overlap and the tokens early in each window are predicted from little context; a
    smaller stride re-reads ``context - stride`` tokens so that every prediction after the first
    window has at least that much context, at ``context / stride`` times the cost. The last window
    ends exactly at the end of the stream.
    """
    if not 1 <= stride <= context:
        raise InputError(f"the scoring stride must be between 1 and the context ({context}), got {stride}")
    length = min(context, n_predictions)
    windows, scored_up_to = [], 0
    for start in [*range(0, n_predictions - length, stride), n_predictions - length]:
        windows.append((start, scored_up_to - start))
        scored_up_to = start + length
    return windows


def predicted_characters(tokenizer: Any, ids: np.ndarray, text: str) -> int:
    """How many characters of ``text`` the tokens after the first cover: the denominator of :func:`gpt_scores`."""
    return len(text) - len(tokenizer.decode([int(ids[0])]))


@torch.no_grad()
def gpt_scores(
    model: TinyGPT,
    ids: np.ndarray,
    n_characters: int,
    *,
    batch_size: int = 32,
    stride: int | None = None,
) -> dict[str, float]:
    """Loss (nats per token), perplexity and bits per character of a text given as token ids.

    The first token has nothing before it to be predicted from, so it is not scored (as a bigram
    model's first token is not): ``n_characters`` counts the characters of ``ids[1:]``, see
    :func:`predicted_characters`. How each token is predicted: :func:`gpt_token_nats`.
    """
    nats = gpt_token_nats(model, ids, batch_size=batch_size, stride=stride)
    return _scores(float(nats.sum()), len(nats), n_characters)


@torch.no_grad()
def gpt_token_nats(model: TinyGPT, ids: np.ndarray, *, batch_size: int = 32, stride: int | None = None) -> np.ndarray:
    """The negative log-likelihood in nats of each of ``ids[1:]``, one entry per token.

    The text is read in windows of the model's context that advance by ``stride`` tokens (the
    whole context by default: consecutive windows), see :func:`scoring_windows`; every token after
    the first is predicted exactly once, from the tokens before it in its window. No start token is
    prepended: training never shows the model one. Per-token values let a caller total the bits of
    each document, for intervals over documents.
    """
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    stream = torch.as_tensor(ids, dtype=torch.long)
    if len(stream) < 2:
        raise InputError("the text to score has fewer than 2 tokens: nothing to predict")
    context = model.config.context_length
    length = min(context, len(stream) - 1)
    windows = scoring_windows(len(stream) - 1, context, stride or context)
    token_nats = torch.zeros(len(stream) - 1)
    for first in range(0, len(windows), batch_size):
        group = windows[first : first + batch_size]
        window = torch.stack([stream[start : start + length + 1] for start, _ in group]).to(device)
        with autocast_context(device, autocast_dtype("auto", device)):
            logits = model(window[:, :-1])
        nats = torch.nn.functional.cross_entropy(
            logits.flatten(0, 1).float(), window[:, 1:].flatten(), reduction="none"
        ).view(len(group), length)
        for row, (start, skip) in enumerate(group):
            token_nats[start + skip : start + length] = nats[row, skip:].cpu()
    model.train(was_training)
    return token_nats.numpy()


@torch.no_grad()
def mlm_predictions(model: TinyBERT, batches: Iterable[dict[str, torch.Tensor]]) -> dict[str, np.ndarray]:
    """What the model predicted at every picked target of ``batches``, one entry per target, in order.

    ``target`` (the original token), ``shown`` (what the input showed there: ``[MASK]``, the target
    itself, or a random token), ``predicted`` (the top-ranked token), ``nats`` (the target's
    cross-entropy) and ``characters`` (its length in characters); for batches of sentence pairs
    with a model that has an NSP head, also ``nsp_predicted`` and ``nsp_label``, one per pair.
    Keeping the targets apart lets a reader split the accuracy by what the input showed and
    compare two models on the same targets (a paired bootstrap), which totals alone cannot do.
    """
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    names = ("target", "shown", "predicted", "nats", "characters")
    columns: dict[str, list[torch.Tensor]] = {name: [] for name in names}
    nsp: dict[str, list[torch.Tensor]] = {"nsp_predicted": [], "nsp_label": []}
    with torch.no_grad():
        for batch in batches:
            batch = {key: value.to(device) for key, value in batch.items()}
            with autocast_context(device, autocast_dtype("auto", device)):
                hidden = model(batch["input_ids"], batch["token_type_ids"], batch["attention_mask"])
            picked = batch["labels"] != IGNORE_INDEX
            logits = model.mlm_logits(hidden[picked]).float()  # (targets, vocab)
            targets = batch["labels"][picked]
            columns["target"].append(targets)
            columns["shown"].append(batch["input_ids"][picked])
            columns["predicted"].append(logits.argmax(-1))
            columns["nats"].append(torch.nn.functional.cross_entropy(logits, targets, reduction="none"))
            columns["characters"].append(batch["char_lengths"][picked])
            if model.nsp_head is not None and "next_sentence_label" in batch:
                nsp["nsp_predicted"].append(model.nsp_logits(hidden).argmax(-1))
                nsp["nsp_label"].append(batch["next_sentence_label"])
    model.train(was_training)
    found = {name: values for name, values in {**columns, **nsp}.items() if values}
    return {name: torch.cat(values).cpu().numpy() for name, values in found.items()}


def bert_scores(
    model: TinyBERT,
    batches: Iterable[dict[str, torch.Tensor]],
    *,
    mask_id: int | None = None,
    most_frequent: int | None = None,
) -> dict[str, float]:
    """MLM loss (nats per target), perplexity, bits per target character, accuracy (and NSP accuracy).

    ``mlm_accuracy`` counts every target, including the tenth left unchanged, which the model only
    has to copy. With ``mask_id``, ``mask_accuracy`` counts only the targets shown as ``[MASK]``,
    where the context alone must give the answer; with ``most_frequent`` too (the training text's
    most frequent token), ``most_frequent_accuracy`` is the baseline on those same targets: always
    guessing that token.
    """
    found = mlm_predictions(model, batches)
    if len(found.get("target", ())) == 0:  # no batch, or batches in which nothing was picked
        raise InputError("the evaluation text is too short: no token was masked")
    target, right = found["target"], found["predicted"] == found["target"]
    scores = _scores(float(found["nats"].astype(np.float64).sum()), len(target), int(found["characters"].sum()))
    scores["mlm_accuracy"] = float(right.mean())
    at_mask = found["shown"] == mask_id if mask_id is not None else np.zeros_like(right)
    if at_mask.any():
        scores["mask_accuracy"] = float(right[at_mask].mean())
        if most_frequent is not None:
            scores["most_frequent_accuracy"] = float((target[at_mask] == most_frequent).mean())
    if "nsp_label" in found:
        scores["nsp_accuracy"] = float((found["nsp_predicted"] == found["nsp_label"]).mean())
    return scores


def _scores(nats: float, tokens: int, characters: int) -> dict[str, float]:
    loss = nats / tokens
    return {
        "loss": loss,
        "perplexity": math.exp(loss),
        "bits_per_char": nats / math.log(2) / max(characters, 1),
        "tokens": tokens,
        "characters": characters,
    }
