"""WordPiece (Schuster and Nakajima, 2012; BERT), trained from scratch or read from BERT's ``vocab.txt``.

Training merges, as BPE does (:func:`fromzero.tokenize.learn_merges`), the pair that most raises the
likelihood of the training text under a unigram model of its pieces
(:func:`fromzero.tokenize.likelihood_gain`); pieces inside a word carry ``##``. Encoding is greedy,
longest known piece first. Text is normalised and split into words exactly as BERT's uncased
tokenizer does, so the class also runs BERT's own vocabulary (:meth:`WordPieceTokenizer.from_vocab_file`).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from fromzero.errors import InputError
from fromzero.files import write_atomically
from fromzero.tokenize import FORMAT_VERSION, checked_text, checked_texts, learn_merges, read_tokenizer_json

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
CONTINUATION = "##"
MAX_WORD_CHARS = 100  # BERT's limit: a longer "word" is almost certainly not text, and becomes [UNK]
_ASCII_WORDS = re.compile(r"[A-Za-z0-9]+|[^A-Za-z0-9]")
_WORDPIECE_FORMAT = "fromzero-wordpiece"


class WordPieceTokenizer:
    """WordPiece: greedy longest-match-first over a vocabulary of word-initial and ``##`` pieces.

    Text is first normalised and split into words exactly as BERT's tokenizer does (see
    :meth:`normalize` and :meth:`pre_tokenize`). A word whose pieces cannot all be found becomes
    ``[UNK]`` as a whole. For a tokenizer from :meth:`train`, that happens only when the word holds
    a character the training texts never had, or is longer than 100 characters: every character
    seen in training is in the vocabulary both as a word start and as a ``##`` continuation.
    """

    def __init__(self, vocab: Sequence[str], *, lowercase: bool = True, unk_token: str = "[UNK]") -> None:
        self.vocab = list(vocab)
        self._ids = {token: index for index, token in enumerate(self.vocab)}
        if len(self._ids) != len(self.vocab):
            duplicate = next(token for token, count in Counter(self.vocab).items() if count > 1)
            raise InputError(f"the vocabulary lists {duplicate!r} more than once")
        if unk_token not in self._ids:
            raise InputError(f"the vocabulary has no unknown token {unk_token!r}")
        self.lowercase = lowercase
        self.unk_token = unk_token
        self.unk_id = self._ids[unk_token]
        self._cache: dict[str, list[int]] = {}

    @classmethod
    def train(
        cls,
        texts: Iterable[str],
        vocab_size: int,
        *,
        lowercase: bool = True,
        min_frequency: int = 2,
        special_tokens: Sequence[str] = SPECIAL_TOKENS,
    ) -> WordPieceTokenizer:
        """Learn a vocabulary of ``vocab_size`` pieces (special tokens and the alphabet included).

        The pair merged next is the one that raises the likelihood of the training words most under
        a unigram model of the pieces (:func:`likelihood_gain`), where BPE would take the most frequent
        pair: a pair gains when its parts occur together much more often than their own counts predict,
        *and* when it is frequent. Pairs seen fewer than ``min_frequency`` times are never merged.
        Ties go to the pair whose strings sort first.
        """
        if "[UNK]" not in special_tokens:
            raise InputError("special_tokens must include '[UNK]'")
        if min_frequency < 1:
            raise InputError(f"min_frequency must be at least 1, got {min_frequency}")
        tokenizer = cls(list(special_tokens), lowercase=lowercase)
        word_counts = Counter(word for text in checked_texts(texts) for word in tokenizer.pre_tokenize(text))
        alphabet = sorted({char for word in word_counts for char in word})
        base = [*special_tokens, *alphabet, *(CONTINUATION + char for char in alphabet)]
        if vocab_size < len(base):
            raise InputError(
                f"vocab_size must be at least {len(base)}: the special tokens and the {len(alphabet)} characters "
                f"of the training texts, each as a word start and as a '##' continuation; got {vocab_size}"
            )
        vocab = list(dict.fromkeys(base))
        ids = {token: index for index, token in enumerate(vocab)}
        words = [[ids[word[0]], *(ids[CONTINUATION + char] for char in word[1:])] for word in word_counts]

        def merge(left: int, right: int) -> int:
            merged = vocab[left] + vocab[right].removeprefix(CONTINUATION)
            if merged not in ids:
                ids[merged] = len(vocab)
                vocab.append(merged)
            return ids[merged]

        learn_merges(words, list(word_counts.values()), vocab_size, min_frequency, merge, vocab, likelihood=True)
        return cls(vocab, lowercase=lowercase)

    @classmethod
    def from_vocab_file(cls, path: str | Path, *, lowercase: bool = True) -> WordPieceTokenizer:
        """A tokenizer for a BERT checkpoint's ``vocab.txt`` (one piece per line, line number = id)."""
        path = Path(path)
        if not path.is_file():
            raise InputError(f"{path}: no such vocabulary file")
        return cls(path.read_text(encoding="utf-8").splitlines(), lowercase=lowercase)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def normalize(self, text: str) -> str:
        """BERT's normalisation: drop control characters, make every space a plain space, put spaces around
        CJK ideographs (Chinese has no spaces between words, so each character becomes a word), and,
        when ``lowercase``, strip accents (NFD, then drop combining marks) and lower-case."""
        text = checked_text(text).translate(_CLEAN)
        if self.lowercase and text.isascii():
            text = text.lower()
        elif self.lowercase:
            # Character by character, as BERT does: Python's str.lower() would turn a word-final "Σ" into "ς".
            text = unicodedata.normalize("NFD", text).translate(_STRIP_ACCENTS).translate(_LOWER)
        return text

    def pre_tokenize(self, text: str) -> list[str]:
        """The normalised words of ``text``: split at whitespace, and every punctuation mark a word of its own."""
        words = []
        for chunk in self.normalize(text).split():
            if chunk.isalnum():
                words.append(chunk)
                continue
            if chunk.isascii():  # after normalize(), every ASCII character that is not a letter or digit is punctuation
                words.extend(_ASCII_WORDS.findall(chunk))
                continue
            start = 0
            for position, char in enumerate(chunk):
                if _is_punctuation(char):
                    words.extend(part for part in (chunk[start:position], char) if part)
                    start = position + 1
            if start < len(chunk):
                words.append(chunk[start:])
        return words

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``, word by word, without ``[CLS]``/``[SEP]``."""
        ids: list[int] = []
        for word in self.pre_tokenize(text):
            cached = self._cache.get(word)
            if cached is None:
                cached = self._cache[word] = self._encode_word(word)
            ids.extend(cached)
        return ids

    def _encode_word(self, word: str) -> list[int]:
        """Longest match first: take the longest vocabulary piece that starts the rest of the word."""
        if len(word) > MAX_WORD_CHARS:
            return [self.unk_id]
        pieces, start = [], 0
        while start < len(word):
            for end in range(len(word), start, -1):
                piece = word[start:end] if start == 0 else CONTINUATION + word[start:end]
                if piece in self._ids:
                    pieces.append(self._ids[piece])
                    start = end
                    break
            else:
                return [self.unk_id]
        return pieces

    def tokenize(self, text: str) -> list[str]:
        return [self.vocab[token_id] for token_id in self.encode(text)]

    def decode(self, ids: Iterable[int]) -> str:
        """Join the pieces: a ``##`` piece continues the previous word, any other piece starts a new one.

        ``decode(encode(text))`` is ``" ".join(pre_tokenize(text))`` with every word that became
        ``[UNK]`` replaced by ``[UNK]``: the text normalised, with one space between words and
        around punctuation.
        """
        text = []
        for token_id in ids:
            token_id = int(token_id)
            if not 0 <= token_id < len(self.vocab):
                raise InputError(f"token id {token_id} is out of range: the ids go from 0 to {len(self.vocab) - 1}")
            token = self.vocab[token_id]
            if token.startswith(CONTINUATION) and text:
                text.append(token.removeprefix(CONTINUATION))
            else:
                text.extend((" ", token) if text else (token,))
        return "".join(text)

    def save(self, path: str | Path) -> None:
        """Write the vocabulary and the normalisation setting to a JSON file."""
        content = {"format": _WORDPIECE_FORMAT, "version": FORMAT_VERSION, "lowercase": self.lowercase,
                   "unk_token": self.unk_token, "vocab": self.vocab}
        write_atomically(path, json.dumps(content, ensure_ascii=False))

    @classmethod
    def load(cls, path: str | Path) -> WordPieceTokenizer:
        content = read_tokenizer_json(path, _WORDPIECE_FORMAT)
        try:
            return cls(content["vocab"], lowercase=content["lowercase"], unk_token=content["unk_token"])
        except (KeyError, TypeError) as error:
            raise InputError(f"{path}: not a valid WordPiece tokenizer file ({error})") from error

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WordPieceTokenizer):
            return NotImplemented
        return (self.vocab, self.lowercase, self.unk_token) == (other.vocab, other.lowercase, other.unk_token)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"WordPieceTokenizer({len(self.vocab)} tokens, lowercase={self.lowercase})"


class _CharTable(dict):
    """A ``str.translate`` table that computes each character's replacement once, on first sight."""

    def __init__(self, replace: Callable[[str], str | None]) -> None:
        super().__init__()
        self.replace = replace

    def __missing__(self, code: int) -> str | None:
        self[code] = self.replace(chr(code))
        return self[code]


def _clean(char: str) -> str:
    if char in "\x00\ufffd" or _is_control(char):
        return ""
    if _is_whitespace(char):
        return " "
    return f" {char} " if _is_cjk(char) else char


def _is_whitespace(char: str) -> bool:
    return char in " \t\n\r" or unicodedata.category(char) == "Zs"


def _is_control(char: str) -> bool:
    return char not in "\t\n\r" and unicodedata.category(char).startswith("C")


def _is_punctuation(char: str) -> bool:
    """BERT's rule: every ASCII symbol that is not a letter or digit ($, +, ^ too), and Unicode punctuation."""
    code = ord(char)
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        return True
    return unicodedata.category(char).startswith("P")


_CJK_RANGES = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F), (0x2B740, 0x2B81F),
               (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))


def _is_cjk(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in _CJK_RANGES)


_CLEAN = _CharTable(_clean)
_STRIP_ACCENTS = _CharTable(lambda char: None if unicodedata.category(char) == "Mn" else char)
_LOWER = _CharTable(str.lower)
