"""From text to pretraining examples: the tokenisers, and the windows and masked examples they feed.

A GPT reads byte-level BPE tokens (:func:`train_byte_bpe`): lossless, so every character of a text
is predicted and bits per character can be counted. A BERT reads WordPiece tokens
(:func:`train_wordpiece`) with its special tokens (:class:`BertTokens`). Both tokenisers are
Hugging Face ``tokenizers``, trained on the training text only. A GPT learns from fixed windows of
the token stream (:class:`TokenWindows`); a BERT from spans or segment pairs (:func:`bert_examples`)
whose tokens are masked afresh in every batch (:class:`MLMCollator`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from fromzero.errors import InputError
from fromzero.transformer.bert import mask_tokens

END_OF_TEXT = "<|endoftext|>"
BERT_SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


# Tokenisers ------------------------------------------------------------------------------------------


def hf_tokenizers() -> Any:
    """The ``tokenizers`` package, or an error that says how to install it."""
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
    tk = hf_tokenizers()
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
    tk = hf_tokenizers()
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


# Training examples ------------------------------------------------------------------------------


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
