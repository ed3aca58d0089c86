"""A vocabulary: the table between tokens and the integer ids that embedding layers index.

Order is deterministic (most frequent first, ties broken alphabetically), so the same corpus
gives the same ids on every machine and a saved model's embedding rows keep their meaning.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from fromzero.errors import InputError

UNK = "<unk>"
PAD = "<pad>"


class Vocabulary:
    """Tokens with their ids and corpus counts; unknown tokens map to the ``unk_token`` id.

    Build one from token sequences with :meth:`build`. The constructor takes the token list as it
    is (position = id).
    """

    def __init__(self, tokens: Sequence[str], counts: Sequence[int] | None = None, unk_token: str = UNK) -> None:
        tokens = list(tokens)
        counts = np.zeros(len(tokens), dtype=np.int64) if counts is None else np.asarray(counts, dtype=np.int64)
        _check_table(tokens, counts, unk_token)
        self._tokens = tokens
        self._ids = {token: position for position, token in enumerate(tokens)}
        self._counts = counts.copy()
        self._counts.flags.writeable = False
        self.unk_token = unk_token
        self.unk_index = self._ids[unk_token]

    @classmethod
    def build(
        cls,
        sequences: Iterable[Sequence[str]],
        min_count: int = 1,
        max_size: int | None = None,
        unk_token: str = UNK,
        specials: Sequence[str] = (),
    ) -> Vocabulary:
        """Count the tokens of ``sequences`` and keep those seen at least ``min_count`` times.

        Special tokens come first: ``unk_token`` at id 0, then ``specials`` (e.g. ``("<pad>",)``) in
        the order given; list ``unk_token`` inside ``specials`` to place it elsewhere, e.g.
        ``specials=("<pad>", "<unk>")`` puts ``<pad>`` at id 0. Words follow by count, descending,
        then alphabetically. ``max_size`` caps the total size, special tokens included.
        """
        head = list(specials) if unk_token in specials else [unk_token, *specials]
        _check_build_arguments(head, min_count, max_size)
        counter = _count(sequences)
        kept = (token for token, count in counter.items() if count >= min_count and token not in head)
        words = sorted(kept, key=lambda token: (-counter[token], token))
        if not words:
            raise InputError(_empty_vocabulary_message(counter, min_count))
        tokens = head + words[: None if max_size is None else max_size - len(head)]
        return cls(tokens, [counter.get(token, 0) for token in tokens], unk_token)

    def __len__(self) -> int:
        return len(self._tokens)

    def __contains__(self, token: object) -> bool:
        return token in self._ids

    def __iter__(self) -> Iterator[str]:
        return iter(self._tokens)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocabulary):
            return NotImplemented
        same_counts = np.array_equal(self._counts, other._counts)
        return self._tokens == other._tokens and same_counts and self.unk_token == other.unk_token

    __hash__ = None  # type: ignore[assignment]  # equal by content, like a list

    def __repr__(self) -> str:
        first = ", ".join(self._tokens[:8])
        return f"Vocabulary({len(self)} tokens, unk={self.unk_token!r}: {first}{', ...' if len(self) > 8 else ''})"

    @property
    def tokens(self) -> list[str]:
        """All tokens in id order (a copy)."""
        return list(self._tokens)

    @property
    def counts(self) -> np.ndarray:
        """How often each token occurred in the corpus, aligned with ids (read-only; specials usually 0)."""
        return self._counts

    @property
    def frequencies(self) -> np.ndarray:
        """``counts`` divided by their sum: the unigram distribution used for sampling negatives."""
        total = self._counts.sum()
        return self._counts / total if total else np.zeros(len(self), dtype=np.float64)

    def index(self, token: str) -> int:
        """The id of ``token``, or :attr:`unk_index` when it is not in the vocabulary."""
        return self._ids.get(token, self.unk_index)

    def token(self, index: int) -> str:
        """The token with id ``index``."""
        position = int(index)
        if not 0 <= position < len(self._tokens):
            raise InputError(f"token id {index} is out of range: this vocabulary has ids 0 to {len(self) - 1}")
        return self._tokens[position]

    def encode(self, tokens: Sequence[str]) -> list[int]:
        """The ids of ``tokens``; unknown ones become :attr:`unk_index`."""
        if isinstance(tokens, str):
            raise InputError("encode() takes a list of tokens, not a string: tokenise the text first")
        return [self._ids.get(token, self.unk_index) for token in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """The tokens of ``ids`` (any iterable of integers, numpy arrays and tensors included)."""
        return [self.token(index) for index in ids]


def _count(sequences: Iterable[Sequence[str]]) -> Counter[str]:
    """Token counts over ``sequences``, refusing a bare string (which would be counted letter by letter)."""
    if isinstance(sequences, str):
        raise InputError("Vocabulary.build() takes token sequences such as [['a', 'cat'], ...], not a string")
    counter: Counter[str] = Counter()
    for sequence in sequences:
        if isinstance(sequence, str):
            raise InputError(f"Vocabulary.build() takes token sequences, not strings: got {sequence[:40]!r}")
        counter.update(sequence)
    return counter


def _empty_vocabulary_message(counter: Counter[str], min_count: int) -> str:
    if not counter:
        return "empty vocabulary: the sequences hold no tokens"
    return f"empty vocabulary: none of the {len(counter)} distinct tokens occurs at least min_count={min_count} times"


def _check_build_arguments(head: list[str], min_count: int, max_size: int | None) -> None:
    """Reject settings that could only give a useless vocabulary."""
    if min_count < 1:
        raise InputError(f"min_count must be at least 1, got {min_count}")
    if max_size is not None and max_size <= len(head):
        raise InputError(f"max_size={max_size} leaves no room for words after the {len(head)} special token(s)")


def _check_table(tokens: list[str], counts: np.ndarray, unk_token: str) -> None:
    """Check that ``tokens`` and ``counts`` make a consistent vocabulary."""
    if len(set(tokens)) != len(tokens):
        repeated = next(token for token, n in Counter(tokens).items() if n > 1)
        raise InputError(f"token {repeated!r} appears twice in the vocabulary")
    if unk_token not in tokens:
        raise InputError(f"the unknown token {unk_token!r} is not among the tokens")
    if counts.shape != (len(tokens),) or (counts < 0).any():
        raise InputError(f"counts must be {len(tokens)} non-negative integers, one per token")
