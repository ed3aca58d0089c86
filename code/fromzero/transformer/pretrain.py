"""Pretraining a tiny GPT or BERT from a plain text file: the recipe behind ``python -m fromzero pretrain``.

The steps, each a function that notebooks can call on their own:

1. read and check the corpus (:func:`read_corpus`), hold out its last 5 % when no evaluation
   text is given (:func:`split_holdout`);
2. train a tokeniser on the training text with Hugging Face ``tokenizers``: byte-level BPE for
   GPT (:func:`train_byte_bpe`, lossless, so every character of the text is predicted), WordPiece
   for BERT (:func:`train_wordpiece`);
3. cut the token stream into training examples (:class:`TokenWindows`, :func:`bert_examples`);
4. train with the book's loop, :func:`fromzero.train.fit`, for ``max_steps`` steps or as many as
   fit in ``max_minutes`` (:func:`plan_steps`, from a short timed probe);
5. score the held-out text in *bits per character* (:func:`gpt_scores`, :func:`bert_scores`).

Bits per character (bpc) is the total negative log-likelihood of the evaluation text, in bits,
divided by its number of characters. Per-token perplexity depends on the tokeniser (bigger tokens,
fewer but harder predictions); per-character bits do not, so a GPT with any tokeniser can be
compared with another, and with a file compressor (``gzip -9`` spends ``8 * bytes / characters``).
BERT does not assign a probability to a whole text, so its analogue is the masked-token
cross-entropy in bits divided by the characters those masked tokens cover: how many bits per
character it needs to restore a hidden 15 % *given both sides*. It is not comparable with a GPT's.
"""

from __future__ import annotations

import copy
import json
import math
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from fromzero.checkpoint import load_checkpoint, newest_checkpoint
from fromzero.device import describe_device, require_memory
from fromzero.distributed import from_main_process, is_main_process, setup_distributed
from fromzero.errors import InputError
from fromzero.files import lock_folder, read_json, write_atomically
from fromzero.train import History, TrainConfig, autocast_context, autocast_dtype, count_units, evaluate, fit
from fromzero.transformer.bert import IGNORE_INDEX, BertConfig, TinyBERT, bert_pretraining_loss, mask_tokens
from fromzero.transformer.corpus import read_corpus, split_holdout
from fromzero.transformer.gpt import GPTConfig, TinyGPT, causal_lm_loss, count_parameters
from fromzero.transformer.options import PretrainOptions

END_OF_TEXT = "<|endoftext|>"
BERT_SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
UNLIMITED_EPOCHS = 1_000_000
# A time-limited run plans this many times the steps that its probe says fit: the clock, not the count,
# then ends training, and the schedule decays to zero at the deadline (TrainConfig.schedule_to_deadline)
# even when the probe misjudged the machine's speed. A probe taken while another process held a core
# timed steps twice as slow as they then ran (bench/README.md), so the count must not stop training first.
CLOCK_HEADROOM = 2.0
MONITOR_BATCHES = 8  # evaluation batches used for the curve during training; the final score uses all


# 2. Tokenisers -------------------------------------------------------------------------------------


def _tokenizers() -> Any:
    try:
        import tokenizers
    except ImportError:
        raise InputError("pretraining needs Hugging Face 'tokenizers': pip install tokenizers") from None
    return tokenizers


def train_byte_bpe(lines: Iterable[str], vocab_size: int) -> Any:
    """A byte-level BPE tokenizer (GPT-2's kind) with ``<|endoftext|>`` as id 0.

    Byte-level means the base alphabet is the 256 byte values, so any text, in any script,
    encodes without an unknown token and decodes back exactly.
    """
    tk = _tokenizers()
    tokenizer = tk.Tokenizer(tk.models.BPE())
    tokenizer.pre_tokenizer = tk.pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = tk.decoders.ByteLevel()
    trainer = tk.trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[END_OF_TEXT],
        initial_alphabet=tk.pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(lines, trainer)
    return tokenizer


def train_wordpiece(lines: Iterable[str], vocab_size: int) -> Any:
    """An uncased WordPiece tokenizer (BERT's kind) with ``[PAD] [UNK] [CLS] [SEP] [MASK]`` as ids 0-4.

    The trainer numbers pieces with tied counts in an order that varies from run to run (and where
    ties fall at the vocabulary's cut-off it can even pick different pieces), which gives a model
    different initial embeddings for the same text. Renumbering the pieces in sorted order after
    the specials gives the same pieces the same ids on every run.
    """
    tk = _tokenizers()
    tokenizer = tk.Tokenizer(tk.models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = tk.normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = tk.pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = tk.decoders.WordPiece()
    trainer = tk.trainers.WordPieceTrainer(
        vocab_size=vocab_size, special_tokens=list(BERT_SPECIALS), show_progress=False
    )
    tokenizer.train_from_iterator(lines, trainer)
    pieces = list(BERT_SPECIALS) + sorted(set(tokenizer.get_vocab()) - set(BERT_SPECIALS))
    tokenizer.model = tk.models.WordPiece({piece: i for i, piece in enumerate(pieces)}, unk_token="[UNK]")
    return tokenizer


def encode_stream(tokenizer: Any, text: str) -> np.ndarray:
    """Token ids of the whole text, line by line (in parallel) and concatenated; newlines are kept.

    With a byte-level tokenizer, ``tokenizer.decode(ids)`` gives ``text`` back exactly.
    """
    encodings = tokenizer.encode_batch(text.splitlines(keepends=True), add_special_tokens=False)
    return np.fromiter((i for encoding in encodings for i in encoding.ids), dtype=np.int64)


def encode_with_lengths(tokenizer: Any, text: str) -> tuple[np.ndarray, np.ndarray]:
    """Token ids and, for each token, how many characters of ``text`` it covers (from the offsets)."""
    encodings = tokenizer.encode_batch(text.splitlines(), add_special_tokens=False)
    ids = np.fromiter((i for encoding in encodings for i in encoding.ids), dtype=np.int64)
    lengths = np.fromiter((end - start for encoding in encodings for start, end in encoding.offsets), dtype=np.int64)
    return ids, lengths


# 3. Training examples ---------------------------------------------------------------------------------


class TokenWindows(Dataset):
    """Windows of a token stream for a causal LM: item ``i`` is ``(ids[s:s+T], ids[s+1:s+T+1])``, ``s = i*T``."""

    def __init__(self, ids: np.ndarray | torch.Tensor, context_length: int) -> None:
        self.ids = torch.as_tensor(ids, dtype=torch.long)
        self.context_length = context_length
        if len(self.ids) < 2:
            raise InputError("the text has fewer than 2 tokens: nothing to learn from")

    def __len__(self) -> int:
        return max(1, (len(self.ids) - 1) // self.context_length)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        start = index * self.context_length
        window = self.ids[start : start + self.context_length + 1]
        return window[:-1], window[1:]


@dataclass
class BertTokens:
    """The ids the MLM recipe needs to know about, read from a WordPiece tokenizer."""

    pad: int
    cls: int
    sep: int
    mask: int
    vocab_size: int
    specials: tuple[int, ...]

    @classmethod
    def from_tokenizer(cls, tokenizer: Any) -> BertTokens:
        pad, unk, cls_id, sep, mask = (tokenizer.token_to_id(token) for token in BERT_SPECIALS)
        return cls(pad, cls_id, sep, mask, tokenizer.get_vocab_size(), (pad, unk, cls_id, sep, mask))

    def ordinary_ids(self) -> torch.Tensor:
        """The ids a random replacement may draw: everything but the special tokens."""
        keep = torch.ones(self.vocab_size, dtype=torch.bool)
        keep[list(self.specials)] = False
        return keep.nonzero().squeeze(1)


def bert_examples(
    ids: np.ndarray,
    lengths: np.ndarray,
    tokens: BertTokens,
    max_len: int,
    *,
    nsp: bool,
    seed: int = 0,
) -> list[dict[str, torch.Tensor]]:
    """Cut the stream into ``[CLS] A [SEP]`` examples, or ``[CLS] A [SEP] B [SEP]`` pairs for NSP.

    Each example takes the next ``max_len - 2`` (or ``- 3``) tokens. For NSP the span is split at a
    random point; half the time B is the true continuation (label 1), half the time a span of the
    same length from elsewhere in the corpus (label 0), which stands in for BERT's "another document".
    The choices are drawn once, from ``seed``, so the examples are the same in every epoch and run.
    """
    span = max_len - (3 if nsp else 2)
    if span < 2:
        raise InputError(f"max_len {max_len} leaves no room for text")
    starts = list(range(0, max(1, len(ids) - span + 1), span))
    rng = np.random.default_rng(seed)
    examples = []
    for number, start in enumerate(starts):
        piece = slice(start, start + span)
        if not nsp:
            examples.append(_example([tokens.cls, *ids[piece], tokens.sep], [0, *lengths[piece], 0], None))
            continue
        size = min(span, len(ids) - start)
        split = int(rng.integers(max(1, size // 4), max(2, 3 * size // 4) + 1))
        first = slice(start, start + split)
        second_start = start + split
        is_next = len(starts) == 1 or rng.random() < 0.5
        if not is_next:
            other = int(rng.integers(len(starts) - 1))  # any span but this one
            second_start = starts[other + (other >= number)]
        second = slice(second_start, second_start + size - split)
        example_ids = [tokens.cls, *ids[first], tokens.sep, *ids[second], tokens.sep]
        example_lengths = [0, *lengths[first], 0, *lengths[second], 0]
        segments = [0] * (len(ids[first]) + 2) + [1] * (len(ids[second]) + 1)
        examples.append(_example(example_ids, example_lengths, segments, int(is_next)))
    return examples


def _example(
    ids: Sequence[int], lengths: Sequence[int], segments: Sequence[int] | None, is_next: int | None = None
) -> dict[str, torch.Tensor]:
    example = {
        "input_ids": torch.tensor(ids, dtype=torch.long),
        "token_type_ids": torch.tensor(segments if segments is not None else [0] * len(ids), dtype=torch.long),
        "char_lengths": torch.tensor(lengths, dtype=torch.long),
    }
    if is_next is not None:
        example["next_sentence_label"] = torch.tensor(is_next)
    return example


@dataclass
class MLMCollator:
    """Pad a list of :func:`bert_examples` into a batch and mask it afresh (dynamic masking, as in RoBERTa).

    Drawing new masks every time a batch is made shows the model different blanks in every
    epoch. ``generator`` fixes them instead, which the evaluation batches need.
    """

    tokens: BertTokens
    probability: float = 0.15
    generator: torch.Generator | None = None
    ordinary: torch.Tensor = field(init=False)

    def __post_init__(self) -> None:
        self.ordinary = self.tokens.ordinary_ids()

    def __call__(self, examples: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        length = max(len(example["input_ids"]) for example in examples)

        def pad(key: str, value: int) -> torch.Tensor:
            return torch.stack(
                [
                    torch.nn.functional.pad(example[key], (0, length - len(example[key])), value=value)
                    for example in examples
                ]
            )

        input_ids = pad("input_ids", self.tokens.pad)
        batch = {
            "token_type_ids": pad("token_type_ids", 0),
            "attention_mask": (input_ids != self.tokens.pad).long(),
            "char_lengths": pad("char_lengths", 0),
        }
        batch["input_ids"], batch["labels"] = mask_tokens(
            input_ids,
            mask_id=self.tokens.mask,
            ordinary_ids=self.ordinary,
            special_ids=self.tokens.specials,
            probability=self.probability,
            generator=self.generator,
        )
        if "next_sentence_label" in examples[0]:
            batch["next_sentence_label"] = torch.stack([example["next_sentence_label"] for example in examples])
        return batch


# 5. Scores ----------------------------------------------------------------------------------------------


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


# 4. The run ----------------------------------------------------------------------------------------------


@dataclass
class Prepared:
    """The data of a run, ready for :func:`fit`."""

    tokenizer: Any
    model: nn.Module
    loss_fn: Callable[[nn.Module, Any], torch.Tensor]
    train_data: Any
    monitor_data: list[Any]
    score: Callable[[nn.Module], dict[str, float]]
    train_characters: int
    eval_characters: int
    train_tokens: int
    score_passes: float = 1.0  # how many times the final score reads each evaluation token


def prepare(options: PretrainOptions, train_text: str, eval_text: str, tokenizer: Any | None = None) -> Prepared:
    """Train (or reuse) the tokeniser, encode both texts, build the examples and the model (seeded)."""
    tokenizer = tokenizer or train_tokenizer(options, train_text)
    torch.manual_seed(options.seed)
    if options.kind == "gpt":
        return _prepare_gpt(options, train_text, eval_text, tokenizer)
    return _prepare_bert(options, train_text, eval_text, tokenizer)


def train_tokenizer(options: PretrainOptions, train_text: str) -> Any:
    """The model kind's tokeniser, trained on ``train_text``: byte-level BPE for a GPT, WordPiece for a BERT."""
    lines = train_text.splitlines(keepends=True)
    train = train_byte_bpe if options.kind == "gpt" else train_wordpiece
    return train(lines, options.vocab_size)


def _prepare_gpt(options: PretrainOptions, train_text: str, eval_text: str, tokenizer: Any) -> Prepared:
    train_ids, eval_ids = encode_stream(tokenizer, train_text), encode_stream(tokenizer, eval_text)
    config = GPTConfig(
        vocab_size=tokenizer.get_vocab_size(),
        context_length=options.context,
        d_model=options.dim,
        n_layers=options.layers,
        n_heads=options.heads,
        dropout=options.dropout,
        positions=options.positions,
        attention=options.attention,
    )
    stride = options.eval_stride or max(1, options.context // 2)
    eval_windows = TokenWindows(eval_ids, options.context)
    size = options.batch_size
    monitor = [
        _stack([eval_windows[i] for i in range(start, min(start + size, len(eval_windows)))])
        for start in range(0, min(len(eval_windows), MONITOR_BATCHES * size), size)
    ]
    return Prepared(
        tokenizer,
        TinyGPT(config),
        causal_lm_loss,
        TokenWindows(train_ids, options.context),
        monitor,
        lambda model: gpt_scores(
            model, eval_ids, predicted_characters(tokenizer, eval_ids, eval_text), batch_size=4 * size, stride=stride
        ),
        len(train_text),
        len(eval_text),
        len(train_ids),
        options.context / stride,
    )


def _prepare_bert(options: PretrainOptions, train_text: str, eval_text: str, tokenizer: Any) -> Prepared:
    from fromzero.train import make_loader

    tokens = BertTokens.from_tokenizer(tokenizer)
    train_ids, train_lengths = encode_with_lengths(tokenizer, train_text)
    eval_ids, eval_lengths = encode_with_lengths(tokenizer, eval_text)
    config = BertConfig(
        vocab_size=tokens.vocab_size,
        max_len=options.context,
        d_model=options.dim,
        n_layers=options.layers,
        n_heads=options.heads,
        dropout=options.dropout,
        nsp=options.nsp,
        positions=options.positions,
        attention=options.attention,
    )
    model = TinyBERT(config)
    most_frequent = int(np.bincount(train_ids, minlength=tokens.vocab_size).argmax())
    examples = bert_examples(train_ids, train_lengths, tokens, options.context, nsp=options.nsp, seed=options.seed)
    held_out = bert_examples(eval_ids, eval_lengths, tokens, options.context, nsp=options.nsp, seed=options.seed + 1)
    fixed_masks = MLMCollator(tokens, generator=torch.Generator().manual_seed(options.seed + 1))
    size = options.batch_size
    eval_batches = [fixed_masks(held_out[start : start + size]) for start in range(0, len(held_out), size)]
    loader = make_loader(
        examples, size, seed=options.seed, collate_fn=MLMCollator(tokens, probability=options.mask_probability)
    )
    return Prepared(
        tokenizer,
        model,
        bert_pretraining_loss,
        loader,
        eval_batches[:MONITOR_BATCHES],
        lambda trained: bert_scores(trained, eval_batches, mask_id=tokens.mask, most_frequent=most_frequent),
        len(train_text),
        len(eval_text),
        len(train_ids),
    )


def _stack(pairs: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.stack([x for x, _ in pairs]), torch.stack([y for _, y in pairs])


def steps_per_epoch(train_data: Any, batch_size: int) -> int:
    """Optimizer steps in one pass over the data (a loader knows; a Dataset is batched by ``fit``)."""
    if isinstance(train_data, Dataset):
        return math.ceil(len(train_data) / batch_size)
    return len(train_data)


def time_training_steps(prepared: Prepared, config: TrainConfig, steps: int = 12) -> float:
    """Seconds per optimizer step, measured by training a throwaway copy of the model for a few steps.

    The copy goes through the same loop as the real run (data loading, forward, backward, update),
    so the figure includes the per-step overhead that dominates for very small models. The first
    two steps (memory allocation, compilation) are left out; the median of the rest is returned:
    on a shared machine a handful of steps can be off by a quarter either way.
    """
    probe = copy.deepcopy(prepared.model)
    probe_config = replace(
        config,
        max_steps=steps,
        epochs=UNLIMITED_EPOCHS,
        eval_every=None,
        checkpoint_dir=None,
        checkpoint_every=None,
        progress=False,
        schedule="constant",
        warmup_steps=0,
    )
    history = fit(probe, prepared.train_data, prepared.loss_fn, probe_config)
    units = count_units(_sample_batch(prepared, config.batch_size), config.throughput)
    seconds = [units / throughput for throughput in history.throughput[2:] or history.throughput]
    return float(np.median(seconds))


def time_scoring(model: nn.Module, prepared: Prepared, device: torch.device) -> float:
    """Seconds for one in-training evaluation (the monitor batches)."""
    started = time.perf_counter()
    evaluate(model.to(device), prepared.monitor_data, prepared.loss_fn, device, dtype=autocast_dtype("auto", device))
    return time.perf_counter() - started


def plan_steps(
    seconds_left: float,
    step_seconds: float,
    monitor_seconds: float,
    final_seconds: float,
    steps_per_epoch: int,
    evaluations: int = 5,
) -> int:
    """How many steps fit in ``seconds_left``, keeping time for the evaluations and the final score.

    The loop evaluates ``evaluations`` times plus at the end of every epoch, which on a small
    corpus is a cost per step.
    """
    budget = seconds_left - final_seconds - evaluations * monitor_seconds
    return max(1, int(budget / (step_seconds + monitor_seconds / steps_per_epoch)))


def _final_score_seconds(monitor_seconds: float, prepared: Prepared) -> float:
    """The final evaluation's time, from one monitor evaluation scaled by the size of the text, plus half.

    The extra half covers what the scaling misses: measured on 8 CPU minutes of the benchmark, the
    final score took up to 1.4 times the scaled estimate (it runs after training, on a machine that
    may have slowed down), so that a run with a time limit ends inside it.
    """
    monitored = sum(count_units(batch, "tokens") for batch in prepared.monitor_data)
    eval_tokens = prepared.eval_characters * prepared.train_tokens / max(prepared.train_characters, 1)
    return 1.5 * monitor_seconds * max(1.0, prepared.score_passes * eval_tokens / max(monitored, 1))


@dataclass
class PretrainResult:
    """What a run produced: the model (trained in place), its tokenizer, the history and the scores."""

    model: nn.Module
    tokenizer: Any
    history: History
    scores: dict[str, float]
    summary: dict[str, Any]


def pretrain(
    options: PretrainOptions, log: Callable[[str], None] = print, *, started: float | None = None
) -> PretrainResult:
    """Run the whole recipe (see the module docstring); files go under ``options.out``.

    ``options.max_minutes`` counts from ``started`` (a ``time.perf_counter()`` value; default: now),
    so that the command line can count its own start-up, the import of torch included.

    ``out`` receives ``tokenizer.json``, ``model.json`` (kind and shape), ``run.json`` (the options
    and the planned number of steps) and ``checkpoints/``. Running the same command again with the
    same ``out`` resumes from the newest checkpoint and ends with exactly the weights an
    uninterrupted run would have had (on the CPU): the tokenizer and the plan are read back
    instead of being made again.
    """
    started = time.perf_counter() if started is None else started
    device, rank, world = setup_distributed(options.device)  # under torchrun: one process per device, through DDP
    log = log if rank == 0 else _silent
    _check_memory(options, device)
    text = read_corpus(options.corpus)
    if options.eval_corpus is not None:
        train_text, eval_text = text, read_corpus(options.eval_corpus)
    else:
        train_text, eval_text = split_holdout(text)
    out = Path(options.out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a directory")
    with _lock_on_main(out):  # released however training ends
        return _pretrain_in(out, options, device, world, train_text, eval_text, started, log)


def _silent(_: str) -> None:
    """The log of every process but the first under ``torchrun``: one report per run."""


def _lock_on_main(out: Path) -> AbstractContextManager:
    """``out`` locked by process 0, which alone writes there; every process stops if the lock is refused."""
    lock, problem = nullcontext(), None
    if is_main_process():
        try:
            lock = lock_folder(out, "--out")
        except InputError as error:
            problem = str(error)
    problem = from_main_process(problem)
    if problem is not None:
        raise InputError(problem)
    return lock


def _pretrain_in(
    out: Path,
    options: PretrainOptions,
    device: torch.device,
    world: int,
    train_text: str,
    eval_text: str,
    started: float,
    log: Callable[[str], None],
) -> PretrainResult:
    """The run itself, in ``out``, which process 0 holds locked and alone writes to.

    Under ``torchrun`` process 0 decides what every process must share (the run being resumed, the
    tokeniser, the plan) and passes it on: nothing is trusted to come out the same twice.
    """
    main = is_main_process()
    previous = from_main_process(_previous_run(out, options) if main else None)
    tokenizer = None
    if main:
        tokenizer = _read_tokenizer(out / "tokenizer.json") if previous else train_tokenizer(options, train_text)
    if world > 1:  # the others rebuild process 0's tokeniser from its JSON
        tokenizer = _tokenizers().Tokenizer.from_str(from_main_process(tokenizer.to_str() if main else None))
    prepared = prepare(options, train_text, eval_text, tokenizer)
    model = prepared.model
    log(
        f"corpus: {len(train_text):,} training and {len(eval_text):,} evaluation characters; "
        f"{prepared.train_tokens:,} training tokens ({len(train_text) / max(prepared.train_tokens, 1):.2f} characters "
        f"per token, vocabulary {prepared.tokenizer.get_vocab_size():,})"
    )
    log(f"model: {options.kind}, {count_parameters(model):,} parameters, on {describe_device(device)}")
    newest = newest_checkpoint(out / "checkpoints") if previous else None
    if newest is not None:
        log(f"resuming from step {newest[0]:,} ({newest[1].name})")
    if options.compile:
        model.compile()
    per_epoch = math.ceil(steps_per_epoch(prepared.train_data, options.batch_size) / world)  # a process reads 1/world
    config = TrainConfig(
        batch_size=options.batch_size,
        lr=options.lr,
        optimizer=options.optimizer,
        muon_lr=options.muon_lr,
        weight_decay=0.1,
        schedule="cosine",
        checkpoint_dir=str(out / "checkpoints"),
        keep_checkpoints=2,
        seed=options.seed,
        device=str(device),
        progress=options.progress,
        throughput="tokens",
    )
    # One timed evaluation serves both the plan and the deadline (time-limited runs only).
    monitor_seconds = None
    if options.max_minutes is not None:
        monitor_seconds = time_scoring(prepared.model, prepared, torch.device(config.device))
    max_steps, epochs = _plan(options, previous, prepared, config, per_epoch, started, monitor_seconds)
    deadline = _deadline(options, prepared, monitor_seconds, started)
    max_steps, epochs, deadline = from_main_process((max_steps, epochs, deadline))
    eval_every = max(1, max_steps // 5)
    warmup = options.warmup_steps if options.warmup_steps is not None else min(200, max(1, max_steps // 10))
    config = replace(
        config,
        epochs=epochs,
        max_steps=max_steps,
        warmup_steps=warmup,
        eval_every=eval_every,
        checkpoint_every=eval_every,
        max_seconds=deadline,
        schedule_to_deadline=deadline is not None,
    )
    if main:
        out.mkdir(parents=True, exist_ok=True)
        write_atomically(out / "tokenizer.json", prepared.tokenizer.to_str())
        model_json = {"kind": options.kind, "config": model.config.to_dict()}
        write_atomically(out / "model.json", json.dumps(model_json, indent=2))
        run = {"options": _comparable(options), "limits": _limits(options), "max_steps": max_steps, "epochs": epochs}
        write_atomically(out / "run.json", json.dumps(run, indent=2))
    limit = f"{max_steps:,} steps" if deadline is None else f"{deadline:.0f} seconds (at most {max_steps:,} steps)"
    log(
        f"training: {limit} of {options.batch_size} x {options.context} tokens "
        f"({max_steps / per_epoch:.2f} epochs at most), checkpoints in {out / 'checkpoints'}"
    )
    history = fit(model, prepared.train_data, prepared.loss_fn, config, eval_data=prepared.monitor_data)
    scores = prepared.score(model)
    summary = {
        "model": options.kind,
        "parameters": count_parameters(model),
        "vocab_size": prepared.tokenizer.get_vocab_size(),
        "steps": history.steps[-1] if history.steps else 0,
        "train_seconds": round(history.seconds, 2),
        "tokens_per_second": round(float(np.median(history.throughput)), 1) if history.throughput else 0.0,
        "total_seconds": round(time.perf_counter() - started, 2),
        "eval_loss": scores["loss"],
        "eval_perplexity": scores["perplexity"],
        "eval_bits_per_char": scores["bits_per_char"],
        "eval_tokens": scores["tokens"],
        "eval_characters": scores["characters"],
        **{f"eval_{name}": value for name, value in scores.items() if name.endswith("accuracy")},
        "out": str(out),
    }
    return PretrainResult(model, prepared.tokenizer, history, scores, summary)


def _check_memory(options: PretrainOptions, device: torch.device) -> None:
    """Refuse sizes that cannot fit before the corpus is read: a floor, from the blocks and one batch alone.

    Each block holds about 12 d_model² weights; training keeps four numbers per weight (the weight, its
    gradient and AdamW's two moments), and the forward pass keeps at least four activations of
    batch x context x d_model per block for the backward pass.
    """
    weights = options.layers * 12 * options.dim**2
    activations = 4 * options.layers * options.batch_size * options.context * options.dim
    require_memory(4 * (4 * weights + activations),
                   f"a {options.kind} of {options.layers} layers x dim {options.dim:,} with context "
                   f"{options.context:,} and batch size {options.batch_size:,}", device)


def _comparable(options: PretrainOptions) -> dict[str, Any]:
    """The options that must match for a run to resume another (not the limits, device or display)."""
    ignored = {"max_steps", "max_minutes", "epochs", "device", "progress", "compile", "out", "eval_stride"}
    return {key: value for key, value in asdict(options).items() if key not in ignored}


def _previous_run(out: Path, options: PretrainOptions) -> dict[str, Any] | None:
    """The run.json of an earlier run in ``out`` that this one resumes, or None for a fresh start."""
    run_file = out / "run.json"
    if not run_file.exists() or not (out / "tokenizer.json").exists():
        return None
    run = read_json(run_file, keys=("options",))
    if run["options"] != _comparable(options):
        changed = sorted(key for key, value in _comparable(options).items() if run["options"].get(key) != value)
        raise InputError(
            f"{out} holds a run with other options ({', '.join(changed)}): use another --out to start afresh"
        )
    return run


def _plan(
    options: PretrainOptions,
    previous: dict[str, Any] | None,
    prepared: Prepared,
    config: TrainConfig,
    per_epoch: int,
    started: float,
    monitor_seconds: float | None,
) -> tuple[int, int]:
    """``(max_steps, epochs)``: from the options, from the run being resumed, or from a timed probe.

    ``monitor_seconds`` (set when ``options.max_minutes`` is) is the time of one in-training evaluation.
    """
    if previous is not None and previous["limits"] == _limits(options):
        return previous["max_steps"], previous["epochs"]
    if options.max_minutes is None:
        epochs = options.epochs or (1 if options.max_steps is None else UNLIMITED_EPOCHS)
        steps = epochs * per_epoch if options.max_steps is None else min(options.max_steps, epochs * per_epoch)
        return steps, epochs
    epochs = options.epochs or UNLIMITED_EPOCHS
    step_seconds = time_training_steps(prepared, config)
    final_seconds = _final_score_seconds(monitor_seconds, prepared)
    seconds_left = options.max_minutes * 60 - (time.perf_counter() - started)
    steps = int(CLOCK_HEADROOM * plan_steps(seconds_left, step_seconds, monitor_seconds, final_seconds, per_epoch))
    steps = min(steps, epochs * per_epoch)
    if options.max_steps is not None:
        steps = min(steps, options.max_steps)
    return steps, epochs


def _deadline(
    options: PretrainOptions, prepared: Prepared, monitor_seconds: float | None, started: float
) -> float | None:
    """Seconds that training may take so that the whole run, final score included, ends within ``max_minutes``.

    The plan counts steps from a probe, with headroom; this deadline is what normally ends training,
    and the learning rate reaches zero at it.
    """
    if options.max_minutes is None or monitor_seconds is None:
        return None
    seconds_left = options.max_minutes * 60 - (time.perf_counter() - started)
    return max(1.0, seconds_left - _final_score_seconds(monitor_seconds, prepared))


def _limits(options: PretrainOptions) -> dict[str, Any]:
    return {"max_steps": options.max_steps, "max_minutes": options.max_minutes, "epochs": options.epochs}


def _sample_batch(prepared: Prepared, batch_size: int) -> Any:
    if isinstance(prepared.train_data, Dataset):
        return _stack([prepared.train_data[i] for i in range(min(batch_size, len(prepared.train_data)))])
    return next(iter(prepared.train_data))


def load_pretrained(directory: str | Path) -> tuple[nn.Module, Any]:
    """The model and tokenizer that ``pretrain`` left in ``directory`` (newest checkpoint)."""
    directory = Path(directory)
    model_file = directory / "model.json"
    if not model_file.exists():
        raise InputError(f"{directory}: no model.json; is this a folder written by 'python -m fromzero pretrain'?")
    description = read_json(model_file, keys=("kind", "config"))
    model: nn.Module
    try:
        if description["kind"] == "gpt":
            model = TinyGPT(GPTConfig(**description["config"]))
        else:
            model = TinyBERT(BertConfig(**description["config"]))
    except (TypeError, ValueError) as error:
        raise InputError(f"{model_file}: not a model description fromzero wrote ({error})") from None
    load_checkpoint(directory / "checkpoints", model)
    return model.eval(), _read_tokenizer(directory / "tokenizer.json")


def _read_tokenizer(path: Path) -> Any:
    """The tokenizer saved in ``path``; a cut-short or foreign file is an InputError naming it."""
    try:
        return _tokenizers().Tokenizer.from_file(str(path))
    except Exception as error:  # tokenizers raises its own Exception subclass for every parse failure
        raise InputError(f"{path}: not a tokenizer file ({str(error).splitlines()[0]})") from None
