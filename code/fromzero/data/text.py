"""The book's one tokeniser and sentence splitter, and how it decodes bytes of unknown encoding.

Every corpus in the book goes through :func:`tokenize_simple`, so the words of the Wikipedia sample,
the Lee news corpus and a reader's own file all look alike: lower-case, punctuation gone. A regular
expression is enough to see how embeddings work; the subword tokenisers of later chapters come
with their pretrained models.
"""

from __future__ import annotations

import re

# A number with inner points or commas ("3.5", "1,000"), or a run of letters/digits that may hold
# apostrophes inside it ("don't", "o'neill"). Everything else (punctuation, hyphens, "_") separates.
TOKEN_PATTERN = re.compile(r"\d+(?:[.,]\d+)+|[^\W_]+(?:'[^\W_]+)*")
# A sentence ends at ".", "!" or "?" followed by space and an upper-case letter or digit, maybe after
# an opening quote or bracket. It splits "Mr. Smith" too: good enough for training word vectors.
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})


def tokenize_simple(text: str) -> list[str]:
    """Lower-case ``text`` and return its words and numbers.

    Tokens are runs of letters and digits (any script), with apostrophes kept only inside a word
    ("don't", "it's"; typographic apostrophes become ``'``) and numbers keeping inner ``.``/``,``
    ("3.5", "1,000"). Hyphens split words ("anti-war" -> "anti", "war"); punctuation is dropped.

    >>> tokenize_simple("Don’t panic: it's 3.5 miles, not 1,000 — O'Neill's well-known rule!")
    ["don't", 'panic', "it's", '3.5', 'miles', 'not', '1,000', "o'neill's", 'well', 'known', 'rule']
    """
    return TOKEN_PATTERN.findall(text.lower().translate(_APOSTROPHES))


def split_sentences(text: str) -> list[str]:
    """Split running text into sentences (see :data:`SENTENCE_END` for the rule and its limits)."""
    return [part for part in SENTENCE_END.split(text.strip()) if part]


def tokenized_sentences(text: str, min_tokens: int = 3) -> list[list[str]]:
    """The tokenised sentences of ``text`` that keep at least ``min_tokens`` tokens.

    Very short "sentences" are mostly headings, list bullets and captions; dropping them keeps
    the corpus made of prose, which is what word-vector training learns from.
    """
    sentences = (tokenize_simple(sentence) for sentence in split_sentences(text))
    return [tokens for tokens in sentences if len(tokens) >= min_tokens]


def decode_lenient(raw: bytes) -> str:
    """Decode bytes as UTF-8, or as Windows-1252 when they are not valid UTF-8.

    Older corpora (one BBC News article) were saved in Windows-1252, where
    byte 0xA3 is "£" and 0x97 is "—". Windows-1252 leaves five bytes undefined; those become U+FFFD.
    """
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")
