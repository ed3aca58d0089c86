"""Benchmarks of word vectors (fromzero.evaluate): known answers on hand-made vectors, and gensim's on real ones."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from fromzero.errors import InputError
from fromzero.evaluate import (
    BENCHMARKS,
    analogy_table,
    benchmark_oov_rate,
    benchmark_summary,
    nearest_neighbours,
    normalise_rows,
    scoreboard,
    similarity_spearman,
    similarity_table,
    solve_analogies,
)

# Four words on a circle: cat at 0 degrees, kitten at 20, dog at 60, car at 180.
ANGLES = {"cat": 0, "kitten": 20, "dog": 60, "car": 180}
CIRCLE_WORDS = list(ANGLES)
CIRCLE = np.array([[math.cos(math.radians(a)), math.sin(math.radians(a))] for a in ANGLES.values()])


def pairs(*rows: tuple[str, str, float]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["word1", "word2", "score"])


def test_spearman_is_one_when_ranks_agree_and_minus_one_when_reversed() -> None:
    agreeing = pairs(("cat", "kitten", 9.0), ("cat", "dog", 6.0), ("dog", "car", 2.0), ("cat", "car", 0.5))
    assert similarity_spearman(CIRCLE_WORDS, CIRCLE, agreeing) == (pytest.approx(1.0), 4)
    reversed_scores = agreeing.assign(score=-agreeing["score"])
    assert similarity_spearman(CIRCLE_WORDS, CIRCLE, reversed_scores)[0] == pytest.approx(-1.0)


def test_spearman_skips_pairs_with_unknown_words_and_reports_coverage() -> None:
    table = pairs(("cat", "kitten", 9.0), ("cat", "unicorn", 8.0), ("cat", "dog", 6.0), ("car", "cat", 1.0))
    result = similarity_table(CIRCLE_WORDS, CIRCLE, {"tiny": table})
    assert result.loc["tiny"].to_dict() == {"pairs": 4, "covered": 3, "coverage": 0.75, "spearman": pytest.approx(1.0)}


def test_spearman_is_nan_with_fewer_than_two_covered_pairs() -> None:
    spearman, covered = similarity_spearman(CIRCLE_WORDS, CIRCLE, pairs(("cat", "kitten", 1.0), ("x", "y", 2.0)))
    assert math.isnan(spearman)
    assert covered == 1


# man -> woman is the same step as king -> queen; the other words are decoys, and "royal" sits
# nearer to king + (woman - man) than queen does unless the question words are excluded.
ANALOGY_WORDS = ["man", "woman", "king", "queen", "apple", "car", "big", "bigger", "small", "smaller"]
ANALOGY_VECTORS = np.array(
    [
        [1.0, 0.0, 0.0, 0.0, 0.0],  # man
        [1.0, 1.0, 0.0, 0.0, 0.0],  # woman
        [1.0, 0.0, 1.0, 0.0, 0.0],  # king
        [1.0, 1.0, 1.0, 0.0, 0.0],  # queen
        [0.0, 0.0, 0.0, 1.0, 0.0],  # apple
        [0.0, 0.0, 0.2, 0.9, 0.3],  # car
        [0.0, 0.0, 0.0, 0.0, 1.0],  # big
        [0.0, 0.8, 0.0, 0.0, 1.0],  # bigger
        [0.0, 0.0, 0.0, 0.6, 1.0],  # small
        [0.0, 0.8, 0.0, 0.6, 1.0],  # smaller
    ]
)
QUESTIONS = pd.DataFrame(
    [
        ("family", "man", "woman", "king", "queen"),
        ("family", "man", "woman", "prince", "princess"),  # not covered
        ("gram3-comparative", "big", "bigger", "small", "smaller"),
        ("gram3-comparative", "king", "queen", "man", "apple"),  # covered, wrong by construction
    ],
    columns=["section", "a", "b", "c", "d"],
)


@pytest.mark.parametrize("method", ["3cosadd", "3cosmul"])
def test_analogies_solvable_by_construction(method: str) -> None:
    rows = {word: i for i, word in enumerate(ANALOGY_WORDS)}
    answers = solve_analogies(
        ANALOGY_VECTORS,
        [rows["man"], rows["big"]],
        [rows["woman"], rows["bigger"]],
        [rows["king"], rows["small"]],
        method,
    )
    assert [ANALOGY_WORDS[i] for i in answers] == ["queen", "smaller"]


def test_question_words_are_never_the_answer() -> None:
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [0.5, 1.0]])  # b - a + c is nearest to b and c
    for method in ("3cosadd", "3cosmul"):
        assert solve_analogies(vectors, [0], [1], [2], method).tolist() == [3]


def test_analogy_table_sections_coverage_and_totals() -> None:
    table = analogy_table(ANALOGY_WORDS, ANALOGY_VECTORS, QUESTIONS)
    assert list(table.index) == ["family", "gram3-comparative", "semantic", "syntactic", "all"]
    assert table.loc["family", ["questions", "covered", "3cosadd", "3cosmul"]].tolist() == [2, 1, 1.0, 1.0]
    assert table.loc["gram3-comparative", ["questions", "covered", "3cosadd"]].tolist() == [2, 2, 0.5]
    assert table.loc["all", ["questions", "covered", "3cosadd"]].tolist() == [4, 3, pytest.approx(2 / 3)]
    assert table.loc["semantic", "covered"] == 1
    assert table.loc["syntactic", "covered"] == 2


def test_analogy_restrict_searches_and_counts_only_the_first_rows() -> None:
    table = analogy_table(ANALOGY_WORDS, ANALOGY_VECTORS, QUESTIONS, restrict=4)  # man, woman, king, queen
    assert table.loc["all", "covered"] == 1
    assert table.loc["all", "3cosadd"] == 1.0
    syntactic_only = analogy_table(ANALOGY_WORDS, ANALOGY_VECTORS, QUESTIONS.iloc[2:3], methods=("3cosadd",))
    assert syntactic_only.loc["all", "3cosadd"] == 1.0
    assert syntactic_only.loc["semantic", "questions"] == 0
    empty = analogy_table(["x", "y"], np.eye(2), QUESTIONS, methods=("3cosadd",))
    assert empty.loc["all", "covered"] == 0
    assert math.isnan(empty.loc["all", "3cosadd"])


@pytest.mark.parametrize("method", ["3cosadd", "3cosmul"])
def test_batched_solver_matches_a_loop_over_questions(method: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import fromzero.evaluate

    monkeypatch.setattr(fromzero.evaluate, "SCORES_PER_BATCH", 1000)  # several batches
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(200, 8))
    a, b, c = (rng.integers(0, 200, size=60) for _ in range(3))
    unit = normalise_rows(vectors)
    expected = []
    for qa, qb, qc in zip(a, b, c, strict=True):
        cos = unit @ unit[[qa, qb, qc]].T
        if method == "3cosadd":
            scores = cos[:, 1] - cos[:, 0] + cos[:, 2]
        else:
            shifted = (cos + 1) / 2
            scores = shifted[:, 1] * shifted[:, 2] / (shifted[:, 0] + 1e-3)
        scores[[qa, qb, qc]] = -np.inf
        expected.append(int(np.argmax(scores)))
    assert solve_analogies(vectors, a, b, c, method).tolist() == expected


def test_matches_gensim_on_real_vectors() -> None:
    from gensim.models import KeyedVectors
    from gensim.test.utils import datapath

    from fromzero.data.sources import load_glove_50d, load_wordsim353

    words, vectors = load_glove_50d(limit=3000)
    keyed = KeyedVectors(vectors.shape[1])
    keyed.add_vectors(words, np.array(vectors))
    gensim_accuracy, _ = keyed.evaluate_word_analogies(datapath("questions-words.txt"), restrict_vocab=3000)
    ours = analogy_table(words, np.array(vectors), methods=("3cosadd",))
    assert ours.loc["all", "3cosadd"] == pytest.approx(gensim_accuracy)
    _, gensim_spearman, _ = keyed.evaluate_word_pairs(datapath("wordsim353.tsv"))
    assert similarity_spearman(words, vectors, load_wordsim353())[0] == pytest.approx(gensim_spearman.statistic)


def test_benchmark_summary_contract() -> None:  # the last line of 'embed evaluate'
    similarity = similarity_table(ANALOGY_WORDS, ANALOGY_VECTORS)
    analogies = analogy_table(ANALOGY_WORDS, ANALOGY_VECTORS, methods=("3cosadd",))
    summary = benchmark_summary(similarity, analogies, benchmark_oov_rate(ANALOGY_WORDS))
    assert list(summary) == ["wordsim353", "simlex999", "analogy", "oov_rate"]
    assert 0.95 < summary["oov_rate"] < 1.0  # ten words cover almost nothing
    assert summary["oov_rate"] == benchmark_oov_rate(ANALOGY_WORDS)
    assert summary["analogy"] is None or 0 <= summary["analogy"] <= 1


def test_mismatched_words_and_vectors_raise() -> None:
    with pytest.raises(InputError, match="3 words but 4 vectors"):
        similarity_table(["a", "b", "c"], np.eye(4))
    with pytest.raises(InputError, match="not in the vocabulary"):
        nearest_neighbours(CIRCLE, CIRCLE_WORDS, "unicorn")
    with pytest.raises(InputError, match="unknown analogy method"):
        solve_analogies(CIRCLE, [0], [1], [2], "3cosdiv")


@pytest.fixture(scope="module")
def glove_and_noise() -> dict[str, tuple[list[str], np.ndarray]]:
    """Published GloVe (8,000 words) and random vectors for the same words, and a copy of GloVe under another name."""
    from fromzero.data.sources import load_glove_50d

    words, vectors = load_glove_50d(limit=8000)
    vectors = np.array(vectors)
    noise = np.random.default_rng(0).normal(size=vectors.shape)
    return {"glove": (words, vectors), "noise": (words, noise), "glove again": (words, vectors.copy())}


def test_scoreboard_scores_match_the_single_model_functions(glove_and_noise: dict) -> None:
    words, vectors = glove_and_noise["glove"]
    board = scoreboard({"glove": (words, vectors)}, resamples=200)
    table = similarity_table(words, vectors)
    assert board.scores.loc["glove", "wordsim353"] == pytest.approx(table.loc["wordsim353", "spearman"])
    assert board.items["wordsim353"] == table.loc["wordsim353", "covered"]
    assert board.scores.loc["glove", "analogy"] == pytest.approx(
        analogy_table(words, vectors, methods=("3cosadd",)).loc["all", "3cosadd"]
    )
    for benchmark in BENCHMARKS:
        low, high = board.interval("glove", benchmark)
        assert low < board.scores.loc["glove", benchmark] < high


def test_scoreboard_separates_real_vectors_from_noise_but_not_from_themselves(glove_and_noise: dict) -> None:
    board = scoreboard(glove_and_noise, resamples=300, seed=1)
    assert board.beats("glove", "noise", "wordsim353") and board.beats("glove", "noise", "analogy")
    assert not board.beats("noise", "glove", "wordsim353")
    assert board.difference("glove", "glove again", "simlex999") == (0.0, 0.0, 0.0)
    assert not board.beats("glove", "glove again", "simlex999")
    noise_low, noise_high = board.interval("noise", "wordsim353")
    assert noise_low < 0 < noise_high  # random vectors: no correlation, within the noise
    assert board.table().loc["items scored", "wordsim353"] == f"{board.items['wordsim353']:,}"


def test_scoreboard_uses_only_the_items_every_model_covers(glove_and_noise: dict) -> None:
    words, vectors = glove_and_noise["glove"]
    smaller = scoreboard({"all": (words, vectors), "first 2000": (words[:2000], vectors[:2000])}, resamples=50)
    alone = scoreboard({"first 2000": (words[:2000], vectors[:2000])}, resamples=50)
    assert smaller.items == alone.items
    assert smaller.items["wordsim353"] < scoreboard({"all": (words, vectors)}, resamples=50).items["wordsim353"]


def test_scoreboard_is_reproducible_and_rejects_bad_input(glove_and_noise: dict) -> None:
    first = scoreboard(glove_and_noise, resamples=100, seed=3)
    again = scoreboard(glove_and_noise, resamples=100, seed=3)
    assert all(np.array_equal(first.resampled[name], again.resampled[name]) for name in BENCHMARKS)
    with pytest.raises(InputError, match="no model named 'glve'"):
        first.interval("glve", "wordsim353")
    with pytest.raises(InputError, match="at least one model"):
        scoreboard({})
    with pytest.raises(InputError, match="share only 0 wordsim353 pairs"):
        scoreboard({"tiny": (CIRCLE_WORDS, CIRCLE)})
