"""Subword tokenisers trained from scratch: byte-level BPE and WordPiece.

Both learn a vocabulary by *merging*: start from the smallest units (bytes for BPE, characters
for WordPiece), and repeatedly glue the adjacent pair that scores best into a new token, until
the vocabulary has the size asked for. They differ in the score and in how they encode:

* :class:`BPETokenizer` (Sennrich et al., 2016, byte-level as in GPT-2) merges the most *frequent*
  pair, and encodes a word by replaying its merges in the order they were learned. Its base
  vocabulary is the 256 byte values, so every string, in any script, encodes without an unknown
  token and decodes back to exactly itself.
* :class:`~fromzero.wordpiece.WordPieceTokenizer` (Schuster and Nakajima, 2012; BERT) merges the pair that most raises
  the *likelihood* of the training text under a unigram model of its pieces (:func:`likelihood_gain`),
  marks word-internal pieces with ``##``, and encodes a word greedily, longest known piece first.
  It normalises text the way BERT's uncased tokenizer does, so it can also run BERT's own
  ``vocab.txt``. It lives in :mod:`fromzero.wordpiece`; this module holds BPE and the training loop
  both share (:func:`learn_merges`).

Training keeps the pair counts up to date incrementally: a merge only touches the words that
contain the merged pair, and a heap with lazy deletion finds the next best pair, so a few
thousand merges over a corpus of a million words take seconds in pure Python, not hours.
Chapter 6 derives both algorithms and compares them with Hugging Face ``tokenizers``.
"""

from __future__ import annotations

import heapq
import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from functools import lru_cache
from itertools import pairwise
from pathlib import Path

from fromzero.errors import InputError
from fromzero.files import write_atomically

# GPT-2's pre-tokeniser, written for Python's ``re``: English contractions, a run of letters, of
# digits, or of other symbols (each optionally preceded by one space), then whitespace. Spaces stay
# attached to the following word, so splitting loses nothing: "".join(chunks) == text.
BPE_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+"""
BYTES = 256
_BPE_FORMAT = "fromzero-bpe"
FORMAT_VERSION = 1  # of the JSON files that save() writes, BPE and WordPiece alike

Pair = tuple[int, int]


def printable_bytes() -> list[str]:
    """GPT-2's table from byte value to a printable character, used to *show* byte-level tokens.

    Printable Latin-1 bytes stand for themselves; the others (space, control bytes, ...) are
    shifted to unused code points from U+0100 on, so a space shows as ``Ġ`` and a newline as ``Ċ``.
    Hugging Face's ``ByteLevel`` pre-tokenizer uses the same table, so token strings compare directly.
    """
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table, shifted = {}, 0
    for byte in range(BYTES):
        if byte in keep:
            table[byte] = chr(byte)
        else:
            table[byte] = chr(BYTES + shifted)
            shifted += 1
    return [table[byte] for byte in range(BYTES)]


_PRINTABLE = printable_bytes()


class BPETokenizer:
    """Byte-level byte-pair encoding: a list of merges over the 256 byte values.

    Token ids 0-255 are the bytes themselves; merge number ``k`` creates a token whose bytes are
    the concatenation of its two parts (or reuses the id when those bytes already have one). Build
    one with :meth:`train` or :meth:`load`; the constructor replays a merge list.
    """

    def __init__(self, merges: Sequence[Pair], pattern: str = BPE_PATTERN) -> None:
        self.pattern = pattern
        self._splitter = re.compile(pattern)
        self.vocab: list[bytes] = [bytes([byte]) for byte in range(BYTES)]
        self._ids: dict[bytes, int] = {token: index for index, token in enumerate(self.vocab)}
        self.merges: list[Pair] = []
        self._ranks: dict[Pair, tuple[int, int]] = {}  # pair -> (rank, id of the merged token)
        for left, right in merges:
            self._add_merge(int(left), int(right))
        self._cache: dict[str, list[int]] = {}

    def _add_merge(self, left: int, right: int) -> int:
        if not (0 <= left < len(self.vocab) and 0 <= right < len(self.vocab)):
            raise InputError(f"merge ({left}, {right}) refers to a token id that does not exist yet")
        merged = self.vocab[left] + self.vocab[right]
        token_id = self._ids.get(merged)
        if token_id is None:
            token_id = len(self.vocab)
            self.vocab.append(merged)
            self._ids[merged] = token_id
        self._ranks[(left, right)] = (len(self.merges), token_id)
        self.merges.append((left, right))
        return token_id

    @classmethod
    def train(
        cls, texts: Iterable[str], vocab_size: int, *, min_frequency: int = 2, pattern: str = BPE_PATTERN
    ) -> BPETokenizer:
        """Learn merges from ``texts`` until the vocabulary has ``vocab_size`` tokens (256 bytes included).

        Merging stops early when no pair occurs ``min_frequency`` times any more. Ties between
        equally frequent pairs go to the pair whose bytes sort first, so training is deterministic.
        A custom ``pattern`` must match every character, as the default does, or encoding drops the
        characters it skips.
        """
        if vocab_size < BYTES:
            raise InputError(f"vocab_size must be at least {BYTES} (one token per byte value), got {vocab_size}")
        if min_frequency < 1:
            raise InputError(f"min_frequency must be at least 1, got {min_frequency}")
        splitter = re.compile(pattern)
        chunks = Counter(chunk for text in checked_texts(texts) for chunk in splitter.findall(text))
        words = [_utf8(chunk) for chunk in chunks]
        tokenizer = cls([], pattern)

        learn_merges(words, list(chunks.values()), vocab_size, min_frequency, tokenizer._add_merge, tokenizer.vocab)
        return tokenizer

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def pre_tokenize(self, text: str) -> list[str]:
        """The chunks that merges never cross: words with their leading space, numbers, punctuation, spaces."""
        return self._splitter.findall(checked_text(text))

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``; ``decode`` gives ``text`` back exactly, whatever its characters.

        The tokens of every distinct chunk are computed once and cached: text repeats its words.
        """
        ids: list[int] = []
        for chunk in self.pre_tokenize(text):
            cached = self._cache.get(chunk)
            if cached is None:
                cached = self._cache[chunk] = self._encode_chunk(chunk)
            ids.extend(cached)
        return ids

    def _encode_chunk(self, chunk: str) -> list[int]:
        """Replay the merges in the order they were learned: always apply the earliest-learned pair present."""
        ids = _utf8(chunk)
        while len(ids) > 1:
            candidates = [self._ranks[pair] for pair in pairwise(ids) if pair in self._ranks]
            if not candidates:
                break
            rank, merged = min(candidates)
            ids = _merge_pair(ids, self.merges[rank], merged)
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        """The text of ``ids``. Bytes that are not valid UTF-8 (a multi-byte character cut in two) show as U+FFFD."""
        return b"".join(self.vocab[token_id] for token_id in self._checked_ids(ids)).decode("utf-8", errors="replace")

    def tokenize(self, text: str) -> list[str]:
        """The tokens of ``text`` as printable strings, GPT-2 style (a leading space shows as ``Ġ``)."""
        return [self.token(token_id) for token_id in self.encode(text)]

    def token(self, token_id: int) -> str:
        """Token ``token_id`` as a printable string (see :func:`printable_bytes`)."""
        return "".join(_PRINTABLE[byte] for byte in self.vocab[self._checked_ids([token_id])[0]])

    def _checked_ids(self, ids: Iterable[int]) -> list[int]:
        ids = [int(token_id) for token_id in ids]
        for token_id in ids:
            if not 0 <= token_id < len(self.vocab):
                raise InputError(f"token id {token_id} is out of range: the ids go from 0 to {len(self.vocab) - 1}")
        return ids

    def save(self, path: str | Path) -> None:
        """Write the merges (as pairs of ids) and the pre-tokeniser's pattern to a JSON file."""
        content = {"format": _BPE_FORMAT, "version": FORMAT_VERSION, "pattern": self.pattern,
                   "merges": [list(pair) for pair in self.merges]}
        write_atomically(path, json.dumps(content))

    @classmethod
    def load(cls, path: str | Path) -> BPETokenizer:
        content = read_tokenizer_json(path, _BPE_FORMAT)
        try:
            return cls([tuple(pair) for pair in content["merges"]], content["pattern"])
        except (KeyError, TypeError, ValueError, re.error) as error:
            raise InputError(f"{path}: not a valid BPE tokenizer file ({error})") from error

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BPETokenizer):
            return NotImplemented
        return self.merges == other.merges and self.pattern == other.pattern

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"BPETokenizer({len(self.vocab)} tokens, {len(self.merges)} merges)"


def learn_merges(
    words: list[list[int]],
    counts: list[int],
    vocab_size: int,
    min_frequency: int,
    merge: Callable[[int, int], int],
    names: Sequence[Hashable],
    *,
    likelihood: bool = False,
) -> None:
    """The training loop shared by BPE and WordPiece; ``words`` are rewritten in place.

    ``merge(left, right)`` adds the merged token to ``names`` (the growing vocabulary, whose
    entries also break ties between equal scores: the pair whose names sort first wins) and
    returns its id.

    ``pair_counts`` always holds, for every adjacent pair, how often it occurs in the corpus (each
    distinct word weighted by its count), and ``where`` which words may contain it. A merge
    rewrites only those words, subtracting their old pairs and adding their new ones.

    The heap finds the best pair without rescoring every pair after every merge. Whenever a pair's
    count changes, or (for the likelihood) one of its two tokens becomes rarer, which raises its
    gain, a fresh entry is pushed and the older ones become stale (their version no longer
    matches). Everything else that moves a likelihood gain only lowers it: a token becoming more
    frequent, and the total number of tokens falling with every merge (see :func:`likelihood_gain`).
    So every score in the heap is an upper bound of the pair's gain, and the top entry is accepted
    once its score, recomputed now, is still the one it was pushed with; otherwise it goes back in.
    """
    pair_counts: defaultdict[Pair, int] = defaultdict(int)
    where: defaultdict[Pair, set[int]] = defaultdict(set)
    symbol_counts: defaultdict[int, int] = defaultdict(int)
    pairs_with: defaultdict[int, set[Pair]] = defaultdict(set)
    for index, (word, count) in enumerate(zip(words, counts, strict=True)):
        for symbol in word:
            symbol_counts[symbol] += count
        for pair in pairwise(word):
            pair_counts[pair] += count
            where[pair].add(index)
    total = sum(symbol_counts.values())

    def score(pair: Pair) -> float:
        left, right = pair
        if likelihood:
            return likelihood_gain(pair_counts[pair], symbol_counts[left], symbol_counts[right], total, left == right)
        return pair_counts[pair]

    heap: list[tuple[float, Hashable, Hashable, int, Pair]] = []
    versions: dict[Pair, int] = {}

    def push(pair: Pair) -> None:
        version = versions[pair] = versions.get(pair, 0) + 1
        count = pair_counts.get(pair, 0)
        if count < min_frequency:
            return
        left, right = pair
        if likelihood:
            gain = likelihood_gain(count, symbol_counts[left], symbol_counts[right], total, left == right)
        else:
            gain = count
        heapq.heappush(heap, (-gain, names[left], names[right], version, pair))

    for pair in pair_counts:
        push(pair)
        if likelihood and pair_counts[pair] >= min_frequency:
            pairs_with[pair[0]].add(pair)
            pairs_with[pair[1]].add(pair)
    while len(names) < vocab_size and heap:
        negative_score, _, _, version, pair = heapq.heappop(heap)
        if version != versions[pair] or pair_counts.get(pair, 0) < min_frequency:
            continue  # stale: the pair is gone, or a fresher entry for it is in the heap
        if -negative_score != score(pair):
            push(pair)  # the total fell since this entry was pushed: put it back with its score of now
            continue
        merged = merge(*pair)
        pair_deltas: defaultdict[Pair, int] = defaultdict(int)
        symbol_deltas: defaultdict[int, int] = defaultdict(int)
        for index in where.pop(pair):
            old, count = words[index], counts[index]
            new = _merge_pair(old, pair, merged)
            if len(new) == len(old):
                continue  # a stale entry of the index: the pair left this word in an earlier merge
            total -= (len(old) - len(new)) * count
            for left_right in pairwise(old):
                pair_deltas[left_right] -= count
            for left_right in pairwise(new):
                pair_deltas[left_right] += count
                where[left_right].add(index)
            if likelihood:
                for symbol in old:
                    symbol_deltas[symbol] -= count
                for symbol in new:
                    symbol_deltas[symbol] += count
            words[index] = new
        rescore = set()
        for changed, delta in pair_deltas.items():
            if delta:
                pair_counts[changed] += delta
                if pair_counts[changed] <= 0:
                    del pair_counts[changed]
                elif likelihood and pair_counts[changed] >= min_frequency:
                    pairs_with[changed[0]].add(changed)
                    pairs_with[changed[1]].add(changed)
                rescore.add(changed)
        for symbol, delta in symbol_deltas.items():
            symbol_counts[symbol] += delta
            if delta < 0:  # a rarer token raises the gain of its pairs; a more frequent one only lowers it
                rescore |= pairs_with[symbol]
        for changed in rescore:
            push(changed)
            if likelihood and pair_counts.get(changed, 0) < min_frequency:  # too rare to be merged: stop rescoring it
                pairs_with[changed[0]].discard(changed)
                pairs_with[changed[1]].discard(changed)


def likelihood_gain(pair_count: int, left_count: int, right_count: int, total: int, same: bool = False) -> float:
    """How much merging a pair raises the corpus's log-likelihood under a unigram model of its tokens.

    With token counts ``c`` and ``N`` tokens in all, the log-likelihood is
    ``L = sum_t c_t log(c_t / N) = sum_t phi(c_t) - phi(N)`` with ``phi(x) = x log x``. Merging the
    ``n = pair_count`` occurrences of ``(a, b)`` takes ``n`` from ``c_a`` and from ``c_b`` (``2n`` from
    ``c_a`` when ``a == b``), creates a token of count ``n`` (as if it were new), and lowers ``N`` by
    ``n``. ``phi(N) - phi(N - n)`` grows with ``N``, so as merges lower ``N`` every gain can only fall.
    """
    n = pair_count
    if same:
        parts = _phi(left_count - 2 * n) - _phi(left_count)
    else:
        parts = _phi(left_count - n) - _phi(left_count) + _phi(right_count - n) - _phi(right_count)
    return _phi(n) + parts + _phi(total) - _phi(total - n)


@lru_cache(maxsize=1 << 20)
def _phi(x: int) -> float:
    """x log x, with 0 log 0 = 0; cached, because training asks for the same counts millions of times."""
    return x * math.log(x) if x > 0 else 0.0


def _merge_pair(ids: list[int], pair: Pair, merged: int) -> list[int]:
    """``ids`` with every occurrence of ``pair``, scanned left to right, replaced by ``merged``."""
    out, position, last = [], 0, len(ids) - 1
    left, right = pair
    while position <= last:
        if position < last and ids[position] == left and ids[position + 1] == right:
            out.append(merged)
            position += 2
        else:
            out.append(ids[position])
            position += 1
    return out


def _utf8(chunk: str) -> list[int]:
    try:
        return list(chunk.encode("utf-8"))
    except UnicodeEncodeError as error:
        surrogate = chunk[error.start]
        raise InputError(f"the text holds a lone surrogate {surrogate!r}, which is not Unicode text") from error


def checked_text(text: object) -> str:
    """``text``, if it is a string; else a clear error."""
    if not isinstance(text, str):
        raise InputError(f"expected a string of text, got {type(text).__name__}")
    return text


def checked_texts(texts: Iterable[str]) -> list[str]:
    """The training texts as a list, refused if one string was passed or if all are blank."""
    if isinstance(texts, str):
        raise InputError("train() takes a list of texts, not one string: wrap it in a list")
    texts = [checked_text(text) for text in texts]
    if not any(text.strip() for text in texts):
        raise InputError("no text to train on: the texts are empty or only whitespace")
    return texts


def read_tokenizer_json(path: str | Path, expected_format: str) -> dict:
    """A tokenizer file's content, checked to be ``expected_format`` in this code's version."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such tokenizer file")
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"{path}: not a JSON tokenizer file ({error})") from error
    if not isinstance(content, dict) or content.get("format") != expected_format:
        raise InputError(f"{path}: not a {expected_format} file")
    if content.get("version") != FORMAT_VERSION:
        raise InputError(f"{path}: format version {content.get('version')!r}, this code reads version {FORMAT_VERSION}")
    return content
