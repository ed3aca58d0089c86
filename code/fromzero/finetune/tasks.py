"""The fine-tuning recipe, shared by the notebooks and ``python -m fromzero finetune``.

1. load the pretrained checkpoint (:mod:`~fromzero.finetune.checkpoints`);
2. add a task head with one output per label, and choose what trains: everything, the top layers,
   the head alone (:mod:`~fromzero.finetune.freezing`) or LoRA adapters (:mod:`~fromzero.finetune.lora`);
3. prepare the data: tokenise once, pad per batch, labels *in* the batch (:mod:`~fromzero.finetune.collate`);
4. train with the book's one loop, :func:`fromzero.train.fit`: AdamW, linear warm-up then linear
   decay, gradient clipping, mixed precision on a GPU, several GPUs under ``torchrun``, and early
   stopping when a validation set is given;
5. evaluate on held-out data (:mod:`~fromzero.finetune.metrics`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from fromzero.batches import make_loader, to_device
from fromzero.device import pick_device
from fromzero.errors import InputError
from fromzero.finetune.checkpoints import load_classifier, load_tagger, resolve_checkpoint
from fromzero.finetune.collate import (
    IGNORE_INDEX,
    FeatureDataset,
    Features,
    PadCollator,
    encode_tagged,
    encode_texts,
)
from fromzero.finetune.freezing import ParameterCount, freeze, trainable_parameters
from fromzero.finetune.inference import predict_labels, predict_tags
from fromzero.finetune.lora import add_lora
from fromzero.finetune.metrics import classification_scores, entity_scores
from fromzero.finetune.options import FinetuneOptions
from fromzero.history import History
from fromzero.train import TrainConfig, fit, seed_everything

Tagged = tuple[Sequence[str], Sequence[str]]


@dataclass
class FinetuneResult:
    """A trained model and what is needed to use and describe it."""

    model: nn.Module
    tokenizer: Any
    labels: list[str]
    history: History
    parameters: ParameterCount
    max_length: int


def _inputs(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {key: value for key, value in batch.items() if key != "labels"}


def sequence_loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Cross-entropy of the sequence classifier's logits against the batch's ``labels``."""
    return F.cross_entropy(model(**_inputs(batch)).logits, batch["labels"])


def token_loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Cross-entropy over word pieces, skipping the ``-100`` positions (specials, non-first pieces, padding)."""
    logits = model(**_inputs(batch)).logits
    return F.cross_entropy(logits.flatten(0, 1), batch["labels"].flatten(), ignore_index=IGNORE_INDEX)


@torch.no_grad()
def _batch_predictions(model: nn.Module, data: Any, device: torch.device) -> tuple[np.ndarray, np.ndarray]:
    """Predicted and true class ids over ``data``'s batches of a sequence classifier."""
    predicted, true = [], []
    for batch in data:
        batch = to_device(batch, device)
        predicted.append(model(**_inputs(batch)).logits.argmax(dim=-1).cpu())
        true.append(batch["labels"].cpu())
    return torch.cat(predicted).numpy(), torch.cat(true).numpy()


def _classification_metrics(model: nn.Module, data: Any, device: torch.device) -> dict[str, float]:
    predicted, true = _batch_predictions(model, data, device)
    labels = sorted(model.config.id2label)
    scores = classification_scores(true.tolist(), predicted.tolist(), labels)
    return {"accuracy": scores["accuracy"], "macro_f1": scores["macro_f1"]}


@torch.no_grad()
def _entity_metrics(model: nn.Module, data: Any, device: torch.device) -> dict[str, float]:
    """Entity F1 on the validation batches, read at the first piece of every word (the labelled positions)."""
    id2label = model.config.id2label
    true_tags, predicted_tags = [], []
    for batch in data:
        batch = to_device(batch, device)
        guesses = model(**_inputs(batch)).logits.argmax(dim=-1).cpu()
        labels = batch["labels"].cpu()
        for row_labels, row_guesses in zip(labels, guesses, strict=True):
            keep = row_labels != IGNORE_INDEX
            true_tags.append([id2label[int(i)] for i in row_labels[keep]])
            predicted_tags.append([id2label[int(i)] for i in row_guesses[keep]])
    scores = entity_scores(true_tags, predicted_tags)
    return {"f1": scores["f1"], "precision": scores["precision"], "recall": scores["recall"]}


def _prepare(model: nn.Module, options: FinetuneOptions, task: str) -> nn.Module:
    if options.lora:
        return add_lora(model, task, rank=options.lora_rank, alpha=options.lora_alpha)
    freeze(model, options.freeze)
    return model


def head_parameter_names(model: nn.Module) -> set[str]:
    """Names of the parameters outside the pretrained backbone: the task head (LoRA wrappers included)."""
    backbone = f".{_inner_model(model).base_model_prefix}."  # ".bert.", also inside peft's "base_model.model.bert."
    return {name for name, _ in model.named_parameters() if backbone not in f".{name}"}


def _inner_model(model: nn.Module) -> nn.Module:
    """The transformers model inside a peft wrapper (or ``model`` itself), without merging anything."""
    get_base = getattr(model, "get_base_model", None)
    return get_base() if callable(get_base) else model


def make_finetune_optimizer(model: nn.Module, options: FinetuneOptions) -> torch.optim.Optimizer:
    """AdamW over the trainable parameters: weight decay on matrices only, ``head_lr`` for the head.

    On a CPU or CUDA device the update runs as PyTorch's *fused* AdamW, one kernel for all the
    parameters instead of a Python loop over them: the same arithmetic, less time and memory per step.
    """
    head = head_parameter_names(model)
    groups: dict[tuple[bool, bool], list[nn.Parameter]] = {}
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            groups.setdefault((name in head, parameter.ndim >= 2), []).append(parameter)
    head_lr = options.head_lr if options.head_lr is not None else options.lr
    param_groups = [
        {"params": params, "lr": head_lr if is_head else options.lr,
         "weight_decay": options.weight_decay if is_matrix else 0.0}
        for (is_head, is_matrix), params in groups.items()
    ]
    if not param_groups:
        raise InputError("the model has no trainable parameters")
    fused = pick_device(options.device).type in ("cpu", "cuda")
    return torch.optim.AdamW(param_groups, lr=options.lr, fused=fused or None)


def _check_length(model: nn.Module, options: FinetuneOptions) -> None:
    limit = getattr(model.config, "max_position_embeddings", None)
    if limit is not None and options.max_length > limit:
        raise InputError(f"max_length {options.max_length} is longer than the model's {limit} positions")


def _train(
    model: nn.Module,
    tokenizer: Any,
    train: list[Features],
    validation: list[Features] | None,
    loss_fn: Any,
    metrics_fn: Any,
    monitor: str,
    options: FinetuneOptions,
) -> History:
    collate = PadCollator(tokenizer.pad_token_id)
    loader = make_loader(FeatureDataset(train), options.batch_size, seed=options.seed, collate_fn=collate)
    eval_loader = None
    if validation:
        eval_loader = DataLoader(FeatureDataset(validation), batch_size=options.eval_batch_size, collate_fn=collate)
    steps = options.epochs * len(loader)
    config = TrainConfig(
        epochs=options.epochs,
        batch_size=options.batch_size,
        lr=options.lr,
        weight_decay=options.weight_decay,
        warmup_steps=round(options.warmup_fraction * steps),
        schedule="linear",
        eval_every=options.eval_every,
        early_stopping_patience=options.early_stopping_patience,
        monitor=monitor,
        monitor_mode="max",
        seed=options.seed,
        device=options.device,
        progress=options.progress,
    )
    optimizer = make_finetune_optimizer(model, options)
    metrics = metrics_fn if eval_loader else None
    return fit(model, loader, loss_fn, config, eval_data=eval_loader, metrics_fn=metrics, optimizer=optimizer)


def _class_ids(labels: Sequence[str], label2id: dict[str, int], where: str) -> list[int]:
    unseen = sorted(set(labels) - set(label2id))
    if unseen:
        raise InputError(f"{where}: label {unseen[0]!r} does not occur in the training data")
    return [label2id[label] for label in labels]


def finetune_classifier(
    checkpoint: str,
    texts: Sequence[str],
    labels: Sequence[str],
    options: FinetuneOptions | None = None,
    validation: tuple[Sequence[str], Sequence[str]] | None = None,
) -> FinetuneResult:
    """Fine-tune ``checkpoint`` (``"small"``, a folder or a hub name) to classify ``texts`` into ``labels``.

    The label set is the sorted set of training labels. ``validation`` (texts, labels) is
    evaluated after every epoch (accuracy and macro-F1) and drives early stopping on accuracy.
    """
    options = options or FinetuneOptions()
    names = sorted(set(labels))
    if len(names) < 2:
        raise InputError(f"the training data has a single label ({names[0]!r}); a classifier needs at least two")
    seed_everything(options.seed)  # the new head's initial weights
    model, tokenizer = load_classifier(resolve_checkpoint(checkpoint), names)
    _check_length(model, options)
    label2id = {name: i for i, name in enumerate(names)}
    train = encode_texts(tokenizer, texts, options.max_length, _class_ids(labels, label2id, "training data"))
    held_out = None
    if validation is not None:
        ids = _class_ids(validation[1], label2id, "validation data")
        held_out = encode_texts(tokenizer, validation[0], options.max_length, ids)
    model = _prepare(model, options, "classify")
    parameters = trainable_parameters(model)
    history = _train(model, tokenizer, train, held_out, sequence_loss, _classification_metrics, "accuracy", options)
    return FinetuneResult(model, tokenizer, names, history, parameters, options.max_length)


def entity_tags(sentences: Sequence[Tagged]) -> list[str]:
    """The tag set for the entity types in ``sentences``: ``O``, then ``B-``/``I-`` per type, alphabetically."""
    types = sorted({tag[2:] for _, tags in sentences for tag in tags if tag != "O"})
    return ["O"] + [f"{prefix}-{kind}" for kind in types for prefix in "BI"]


def _tag_ids(sentences: Sequence[Tagged], tag2id: dict[str, int], where: str) -> list[list[int]]:
    ids = []
    for number, (tokens, tags) in enumerate(sentences, 1):
        if len(tokens) != len(tags):
            raise InputError(f"{where}, sentence {number}: {len(tokens)} tokens but {len(tags)} tags")
        unseen = [tag for tag in tags if tag not in tag2id]
        if unseen:
            kind = unseen[0][2:]
            raise InputError(f"{where}, sentence {number}: entity type {kind!r} does not occur in the training data")
        ids.append([tag2id[tag] for tag in tags])
    return ids


def finetune_tagger(
    checkpoint: str,
    sentences: Sequence[Tagged],
    options: FinetuneOptions | None = None,
    validation: Sequence[Tagged] | None = None,
    validation_max_length: int | None = None,
) -> FinetuneResult:
    """Fine-tune ``checkpoint`` as a BIO tagger on ``(tokens, tags)`` sentences.

    ``validation`` is evaluated after every epoch (entity-level F1, which drives early stopping).
    It is cut at ``validation_max_length`` word pieces (None: ``options.max_length``, the training
    length). Words cut off carry no label, so their entities silently leave the score: pass at least
    the longest validation sentence's length to score every word, while training still truncates.
    """
    options = options or FinetuneOptions()
    tags = entity_tags(sentences)
    if len(tags) == 1:
        raise InputError("the training data has no entities (every tag is 'O'); a tagger needs at least one")
    seed_everything(options.seed)
    model, tokenizer = load_tagger(resolve_checkpoint(checkpoint), tags)
    _check_length(model, options)
    tag2id = {tag: i for i, tag in enumerate(tags)}
    train, _ = encode_tagged(tokenizer, [t for t, _ in sentences], options.max_length,
                             _tag_ids(sentences, tag2id, "training data"))
    held_out = None
    if validation is not None:
        held_out, _ = encode_tagged(tokenizer, [t for t, _ in validation], validation_max_length or options.max_length,
                                    _tag_ids(validation, tag2id, "validation data"))
    model = _prepare(model, options, "ner")
    parameters = trainable_parameters(model)
    history = _train(model, tokenizer, train, held_out, token_loss, _entity_metrics, "f1", options)
    return FinetuneResult(model, tokenizer, tags, history, parameters, options.max_length)


def evaluate_classifier(
    model: nn.Module, tokenizer: Any, texts: Sequence[str], labels: Sequence[str], max_length: int,
    batch_size: int = 64,
) -> tuple[dict[str, Any], list[str]]:
    """Scores of ``model`` on held-out ``texts`` and its predictions (label strings)."""
    known = list(model.config.id2label.values())
    _class_ids(labels, {name: i for i, name in enumerate(known)}, "evaluation data")
    predicted, _ = predict_labels(model, tokenizer, texts, max_length, batch_size)
    return classification_scores(list(labels), predicted, known), predicted


def evaluate_tagger(
    model: nn.Module, tokenizer: Any, sentences: Sequence[Tagged], max_length: int, batch_size: int = 64
) -> tuple[dict[str, Any], list[list[str]]]:
    """Entity-level scores of ``model`` on held-out ``(tokens, tags)`` sentences, and its predicted tags."""
    _tag_ids(sentences, {tag: i for i, tag in model.config.id2label.items()}, "evaluation data")
    predicted = predict_tags(model, tokenizer, [tokens for tokens, _ in sentences], max_length, batch_size)
    return entity_scores([tags for _, tags in sentences], predicted), predicted
