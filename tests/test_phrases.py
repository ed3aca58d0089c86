"""Phrase detection: known answers on a hand-made corpus, the same scores and joins as gensim, clear errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from gensim.models.phrases import Phrases

from fromzero import InputError
from fromzero.phrases import (
    capitalised_pairs,
    count_ngrams,
    find_phrases,
    join_phrases,
    mikolov_score,
    npmi,
    pmi,
    score_bigrams,
)

# a: 4, b: 3, c: 2, d: 2 (11 tokens); pairs a b: 3, b c, b d, c d, d a: 1 each (none across sentences)
TOY = [["a", "b", "c"], ["a", "b", "d"], ["a", "b"], ["c", "d", "a"]]


def test_counts_stay_inside_sentences() -> None:
    counts = count_ngrams(TOY)
    assert counts.tokens == 11
    assert counts.unigrams == {"a": 4, "b": 3, "c": 2, "d": 2}
    assert counts.bigrams == {("a", "b"): 3, ("b", "c"): 1, ("b", "d"): 1, ("c", "d"): 1, ("d", "a"): 1}
    assert ("c", "a") not in counts.bigrams  # the end of one sentence and the start of the next
    assert counts.types == 9


def test_scores_have_their_known_values() -> None:
    counts = count_ngrams(TOY)
    assert score_bigrams(counts, "pmi", min_count=1)[("a", "b")] == pytest.approx(math.log(33 / 12))
    assert score_bigrams(counts, "npmi", min_count=1)[("a", "b")] == pytest.approx(math.log(2.75) / math.log(11 / 3))
    assert score_bigrams(counts, "mikolov", min_count=1)[("a", "b")] == pytest.approx((3 - 1) / 12 * 9)
    assert score_bigrams(counts, "mikolov", min_count=1, scale=11)[("a", "b")] == pytest.approx(2 / 12 * 11)
    assert score_bigrams(counts, "mikolov", min_count=2) == {("a", "b"): pytest.approx((3 - 2) / 12 * 9)}


def test_npmi_is_one_for_inseparable_words_and_zero_for_independent_ones() -> None:
    assert npmi(10, 10, 10, 1000) == pytest.approx(1.0)
    assert npmi(1, 10, 10, 100) == pytest.approx(0.0)
    assert npmi(5, 5, 5, 5) == 1.0  # the whole corpus is one repeated pair
    assert pmi(1, 10, 10, 100) == pytest.approx(0.0)
    assert mikolov_score(5, 5, 5, delta=5, scale=100) == 0.0


def test_find_phrases_keeps_scores_above_the_threshold_best_first() -> None:
    counts = count_ngrams(TOY + [["c", "d"]] * 3)
    found = find_phrases(counts, "mikolov", min_count=1, threshold=0.5)
    assert list(found) == sorted(found, key=lambda pair: -found[pair])
    assert all(score > 0.5 for score in found.values())
    assert ("a", "b") in found and ("b", "c") not in found


def test_join_reads_left_to_right_and_never_joins_twice() -> None:
    phrases = {("new", "york"), ("york", "city")}
    joined = join_phrases([["in", "new", "york", "city"], ["york", "city", "now"], ["new"]], phrases)
    assert joined == [["in", "new_york", "city"], ["york_city", "now"], ["new"]]
    assert join_phrases([["new", "york"]], phrases, delimiter=" ") == [["new york"]]


def gensim_corpus() -> list[list[str]]:
    """Random sentences over 30 words, with a few pairs planted much more often than chance."""
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(30)]
    planted = [("w1", "w2"), ("w3", "w4"), ("w5", "w6"), ("w7", "w8")]
    sentences = []
    for _ in range(600):
        sentence = list(rng.choice(words, size=rng.integers(3, 12)))
        for first, second in planted:
            if rng.random() < 0.3:
                position = int(rng.integers(0, len(sentence)))
                sentence[position:position] = [first, second]
        sentences.append([str(word) for word in sentence])
    return sentences


@pytest.mark.parametrize(
    ("scoring", "gensim_scoring", "threshold"), [("mikolov", "default", 1.0), ("npmi", "npmi", 0.2)]
)
@pytest.mark.parametrize("min_count", [3, 5])
def test_scores_and_joins_equal_gensims(scoring: str, gensim_scoring: str, threshold: float, min_count: int) -> None:
    sentences = gensim_corpus()
    theirs = Phrases(sentences, min_count=min_count, threshold=threshold, scoring=gensim_scoring)
    ours = find_phrases(count_ngrams(sentences), scoring, min_count=min_count, threshold=threshold)
    expected = theirs.export_phrases()
    assert len(ours) >= 4 and {"_".join(pair) for pair in ours} == set(expected)
    for pair, score in ours.items():
        assert score == pytest.approx(expected["_".join(pair)], rel=1e-12)
    assert join_phrases(sentences, ours) == [theirs[sentence] for sentence in sentences]


def test_capitalised_pairs_skip_sentence_starts_and_headlines() -> None:
    text = "Big Win\nYesterday Tony Blair met New York officials. Tony Blair said the new york plan. He met Tony Blair."
    assert capitalised_pairs([text], min_count=1, min_share=0.5) == {("tony", "blair"), ("new", "york")}
    assert capitalised_pairs([text], min_count=1, min_share=1.0) == {("tony", "blair")}  # new york: 1 of 2
    assert ("win", "yesterday") not in capitalised_pairs([text], min_count=1, min_share=0.1)
    assert capitalised_pairs([text], min_count=3) == set()  # "Tony Blair" starts one of its three sentences


@pytest.mark.parametrize(
    "call",
    [
        lambda: count_ngrams(["new york is big"]),
        lambda: count_ngrams([[], []]),
        lambda: score_bigrams(count_ngrams(TOY), "chi2"),
        lambda: score_bigrams(count_ngrams(TOY), "pmi", min_count=0),
        lambda: score_bigrams(count_ngrams(TOY), "mikolov", scale=0),
        lambda: find_phrases(count_ngrams(TOY), "npmi", threshold=10.0),
        lambda: join_phrases([["a", "b"]], {("a", "b")}, delimiter=""),
        lambda: join_phrases(["a b"], {("a", "b")}),
        lambda: capitalised_pairs([["Tony", "Blair"]]),
        lambda: capitalised_pairs(["Tony Blair"], min_share=0),
    ],
)
def test_bad_input_raises_a_clear_error(call) -> None:
    with pytest.raises(InputError):
        call()
