"""Phrases: finding the word pairs that act as one word ("new york", "prime minister") and joining them.

Word vectors give every token its own vector, so *New York* gets the vectors of *new* and *york* and
none of its own, although it means neither. Mikolov et al. (2013) find such pairs from counts alone: a
pair that occurs together far more often than its two words' own frequencies predict is probably a
unit. This module counts the words and adjacent word pairs of a corpus (:func:`count_ngrams`), scores
every pair (:func:`score_bigrams`), keeps those above a threshold (:func:`find_phrases`) and joins them
into single tokens (:func:`join_phrases`: ``new york`` -> ``new_york``). It does what gensim's
``Phrases`` does without connector words, and gives the same scores (the tests check it).

With ``c(.)`` a count and ``N`` the number of tokens, the three scores of a pair ``a b`` are

* PMI, ``log(c(ab) N / (c(a) c(b)))``: the log of how many times more often the pair occurs than if
  its words were placed independently (Church and Hanks, 1990). It has no upper bound and is largest
  for rare words seen together once or twice, which is why pairs seen fewer than ``min_count`` times
  are never scored;
* normalised PMI, ``PMI / -log(c(ab) / N)``, between -1 and 1 (Bouma, 2009): 1 when the two words
  only ever occur together, 0 when independent, so one threshold means the same for any corpus size;
* Mikolov et al.'s score, ``(c(ab) - delta) / (c(a) c(b))``, where the discount ``delta`` (gensim
  uses its ``min_count``) pushes rare pairs down. The raw value is tiny and depends on the corpus,
  so it is multiplied by a corpus constant before a threshold is applied: gensim multiplies by the
  number of distinct words and pairs counted, word2phrase.c by the number of tokens. The constant
  rescales every score alike, so it changes which threshold is sensible but not the ranking.

Only adjacent pairs are scored: phrases of three words (*new york times*) come from a second pass
over the joined text, as in word2phrase.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

from fromzero.data.text import TOKEN_PATTERN, split_sentences
from fromzero.errors import InputError

SCORINGS = ("mikolov", "pmi", "npmi")
Bigram = tuple[str, str]


@dataclass(frozen=True)
class NgramCounts:
    """How often each word and each adjacent pair of words occurs in a corpus, and its number of tokens."""

    unigrams: Counter[str]
    bigrams: Counter[Bigram]
    tokens: int

    @property
    def types(self) -> int:
        """Distinct words plus distinct pairs: gensim's scale for Mikolov et al.'s score."""
        return len(self.unigrams) + len(self.bigrams)


def count_ngrams(sentences: Iterable[Sequence[str]]) -> NgramCounts:
    """Count the words and the adjacent pairs of words of tokenised ``sentences``.

    Pairs never cross from one sentence into the next: the last word of a sentence and the first of
    the following one are not a phrase.
    """
    unigrams: Counter[str] = Counter()
    bigrams: Counter[Bigram] = Counter()
    for sentence in sentences:
        _check_sentence(sentence)
        unigrams.update(sentence)
        bigrams.update(pairwise(sentence))
    tokens = sum(unigrams.values())
    if tokens == 0:
        raise InputError("the corpus has no tokens: there is nothing to count")
    return NgramCounts(unigrams, bigrams, tokens)


def pmi(pair_count: int, first_count: int, second_count: int, tokens: int) -> float:
    """Pointwise mutual information of a pair: ``log(P(ab) / (P(a) P(b)))`` with every P a count over ``tokens``."""
    return math.log(pair_count * tokens / (first_count * second_count))


def npmi(pair_count: int, first_count: int, second_count: int, tokens: int) -> float:
    """PMI divided by ``-log P(ab)`` (Bouma, 2009): 1 for words that only occur together, 0 for independent ones.

    A pair that is every token of the corpus (``P(ab) = 1``) has no information to normalise by;
    it scores 1, the limit of the ratio.
    """
    surprise = -math.log(pair_count / tokens)
    if surprise == 0:
        return 1.0
    return pmi(pair_count, first_count, second_count, tokens) / surprise


def mikolov_score(pair_count: int, first_count: int, second_count: int, delta: float, scale: float) -> float:
    """Mikolov et al.'s phrase score ``(c(ab) - delta) / (c(a) c(b))``, times the corpus constant ``scale``."""
    return (pair_count - delta) / (first_count * second_count) * scale


def score_bigrams(
    counts: NgramCounts, scoring: str = "mikolov", min_count: int = 5, scale: float | None = None
) -> dict[Bigram, float]:
    """The score of every pair seen at least ``min_count`` times, by ``scoring`` (one of :data:`SCORINGS`).

    Rarer pairs are left out for every scoring: a pair seen once or twice has a PMI set by chance,
    and Mikolov et al.'s score would be zero or negative for it anyway. ``min_count`` is also the
    discount ``delta`` of the Mikolov score, as in gensim. ``scale`` (Mikolov only) defaults to
    gensim's, :attr:`NgramCounts.types`; pass ``counts.tokens`` for word2phrase.c's.
    """
    if scoring not in SCORINGS:
        raise InputError(f"unknown scoring {scoring!r}: choose one of {', '.join(SCORINGS)}")
    if min_count < 1:
        raise InputError(f"min_count must be at least 1, got {min_count}")
    if scale is not None and scale <= 0:
        raise InputError(f"scale must be positive, got {scale}")
    unigrams, tokens = counts.unigrams, counts.tokens
    frequent = {pair: count for pair, count in counts.bigrams.items() if count >= min_count}
    if scoring == "mikolov":
        factor = counts.types if scale is None else scale
        return {
            (a, b): mikolov_score(count, unigrams[a], unigrams[b], min_count, factor)
            for (a, b), count in frequent.items()
        }
    measure = pmi if scoring == "pmi" else npmi
    return {(a, b): measure(count, unigrams[a], unigrams[b], tokens) for (a, b), count in frequent.items()}


def find_phrases(
    counts: NgramCounts, scoring: str = "mikolov", min_count: int = 5, threshold: float = 10.0
) -> dict[Bigram, float]:
    """The pairs whose score is above ``threshold``, best first: the phrases.

    The defaults are gensim's (``min_count=5``, ``threshold=10`` on its scale of the Mikolov score).
    A normalised PMI lies in [-1, 1], so its threshold must too (gensim's rule).
    """
    if scoring == "npmi" and not -1 <= threshold <= 1:
        raise InputError(f"a normalised PMI lies between -1 and 1, so the threshold must too, got {threshold}")
    scores = score_bigrams(counts, scoring, min_count)
    chosen = [(pair, score) for pair, score in scores.items() if score > threshold]
    return dict(sorted(chosen, key=lambda item: (-item[1], item[0])))


def join_phrases(
    sentences: Iterable[Sequence[str]], phrases: Collection[Bigram], delimiter: str = "_"
) -> list[list[str]]:
    """Each sentence with every phrase of ``phrases`` written as one token (``new``, ``york`` -> ``new_york``).

    Reading left to right, a word joins the next one when the pair is a phrase, and a joined pair
    is not joined again: in *new york city*, with both *new york* and *york city* phrases, the first
    wins. gensim's ``Phrases`` reads the same way, so both produce the same tokens.
    """
    if not delimiter:
        raise InputError("the delimiter that joins a phrase's words must not be empty")
    phrase_set = set(phrases)
    joined = []
    for sentence in sentences:
        _check_sentence(sentence)
        out, position = [], 0
        while position < len(sentence):
            pair = tuple(sentence[position : position + 2])
            if pair in phrase_set:
                out.append(delimiter.join(pair))
                position += 2
            else:
                out.append(sentence[position])
                position += 1
        joined.append(out)
    return joined


def capitalised_pairs(texts: Iterable[str], min_count: int = 3, min_share: float = 0.5) -> set[Bigram]:
    """Lower-cased word pairs that cased text mostly writes as Two Capitalised Words: a silver standard of names.

    English capitalises proper names, so a pair such as *Tony Blair* or *New York* that is written
    with both capitals, away from the start of a sentence (where every word is capitalised), is very
    likely a name. A pair counts when it occurs at least ``min_count`` times after a sentence's first
    word and is capitalised in at least ``min_share`` of those occurrences. Lines are split first, so
    that a headline is a sentence of its own; words come from the book's token pattern, so the pairs
    match the lower-cased tokens of :func:`~fromzero.data.text.tokenize_simple` (except around a
    typographic apostrophe, which that function first turns into ``'``).

    It is a *silver* standard: it knows only names, so a good phrase written in lower case (*interest
    rates*) counts as a miss, and a capitalised title (*Prime Minister*) or two names side by side
    count as hits.
    """
    if min_count < 1 or not 0 < min_share <= 1:
        raise InputError(f"need min_count >= 1 and 0 < min_share <= 1, got {min_count} and {min_share}")
    seen: Counter[Bigram] = Counter()
    capitalised: Counter[Bigram] = Counter()
    for text in texts:
        if not isinstance(text, str):
            raise InputError(f"capitalised_pairs reads raw text, one string per document, got {type(text).__name__}")
        for line in re.split(r"\n+", text):
            for sentence in split_sentences(line):
                words = TOKEN_PATTERN.findall(sentence)
                for first, second in pairwise(words[1:]):
                    pair = (first.lower(), second.lower())
                    seen[pair] += 1
                    capitalised[pair] += first[0].isupper() and second[0].isupper()
    return {pair for pair, count in seen.items() if count >= min_count and capitalised[pair] >= min_share * count}


def _check_sentence(sentence: object) -> None:
    """A sentence must be a list of words: a bare string would be read as a list of characters."""
    if isinstance(sentence, str):
        raise InputError(f"sentences must be lists of tokens, not strings (got {sentence[:40]!r}): tokenise them first")
