"""Measuring word vectors: cosine similarity, nearest neighbours, and the standard benchmarks.

Every chapter that prints "the words closest to X" uses :func:`nearest_neighbours`, so they all
mean the same thing by "closest". The benchmarks are the three the book reports for every method:

* word similarity: WordSim-353 (relatedness and similarity mixed) and SimLex-999 (similarity
  only). The score is the Spearman rank correlation between people's ratings and the cosine
  similarities, over the pairs whose two words both have a vector (:func:`similarity_table`);
* analogies: Mikolov et al.'s Google set, "a is to b as c is to d", solved by 3CosAdd and 3CosMul
  and scored by accuracy over the questions whose four words all have a vector (:func:`analogy_table`).

Small corpora miss many benchmark words, and a score over 40 covered pairs says less than one over
300, so every table reports its coverage next to its score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from fromzero.errors import InputError

ANALOGY_METHODS = ("3cosadd", "3cosmul")
COSMUL_EPSILON = 1e-3  # keeps 3CosMul's division finite (Levy and Goldberg's value)
SCORES_PER_BATCH = 2**24  # questions x vocabulary scores held at once (64 MiB of float32)


def normalise_rows(vectors: np.ndarray) -> np.ndarray:
    """Scale every row to unit length, so that dot products are cosines (zero rows stay zero)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)


def nearest_neighbours(vectors: np.ndarray, words: Sequence[str], query: str, k: int = 5) -> list[tuple[str, float]]:
    """The ``k`` words whose vectors have the highest cosine similarity to ``query``'s (itself excluded)."""
    if len(words) != len(vectors):
        raise InputError(f"{len(words)} words but {len(vectors)} vectors: they must correspond one to one")
    index = {word: i for i, word in enumerate(words)}
    if query not in index:
        raise InputError(f"{query!r} is not in the vocabulary of {len(words)} words")
    unit = normalise_rows(np.asarray(vectors, dtype=np.float64))
    similarities = unit @ unit[index[query]]
    similarities[index[query]] = -np.inf
    best = np.argsort(-similarities)[:k]
    return [(words[i], float(similarities[i])) for i in best]


def similarity_suites() -> dict[str, pd.DataFrame]:
    """The two word-similarity benchmarks, by name: columns ``word1``, ``word2``, ``score``."""
    from fromzero.data import load_simlex999, load_wordsim353

    return {"wordsim353": load_wordsim353(), "simlex999": load_simlex999()}


def similarity_spearman(words: Sequence[str], vectors: np.ndarray, pairs: pd.DataFrame) -> tuple[float, int]:
    """Spearman correlation of ``pairs["score"]`` with cosine similarity, and the number of pairs it used.

    Only pairs whose two words both have a vector count. With fewer than two such pairs (or
    constant scores) a correlation does not exist and the first value is NaN.
    """
    index = _row_index(words, vectors)
    covered = pairs["word1"].isin(index) & pairs["word2"].isin(index)
    used = pairs[covered]
    if len(used) < 2:
        return float("nan"), len(used)
    unit = normalise_rows(np.asarray(vectors, dtype=np.float64))
    first = unit[[index[word] for word in used["word1"]]]
    second = unit[[index[word] for word in used["word2"]]]
    cosines = (first * second).sum(axis=1)
    if np.ptp(cosines) == 0 or np.ptp(used["score"].to_numpy()) == 0:
        return float("nan"), len(used)
    return float(spearmanr(used["score"].to_numpy(), cosines).statistic), len(used)


def similarity_table(
    words: Sequence[str], vectors: np.ndarray, suites: Mapping[str, pd.DataFrame] | None = None
) -> pd.DataFrame:
    """One row per similarity benchmark: ``pairs``, ``covered``, ``coverage`` and ``spearman``.

    ``suites`` defaults to :func:`similarity_suites` (WordSim-353 and SimLex-999).
    """
    suites = similarity_suites() if suites is None else suites
    rows = {}
    for name, pairs in suites.items():
        spearman, covered = similarity_spearman(words, vectors, pairs)
        rows[name] = {
            "pairs": len(pairs),
            "covered": covered,
            "coverage": covered / max(len(pairs), 1),
            "spearman": spearman,
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("benchmark")


def solve_analogies(
    vectors: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    c: np.ndarray,
    method: str = "3cosadd",
    candidates: int | None = None,
) -> np.ndarray:
    """For each question "a is to b as c is to ?" (given as row numbers), the row of the best answer.

    3CosAdd picks ``argmax_x cos(x, b) - cos(x, a) + cos(x, c)``, the word nearest to
    ``b - a + c`` on the unit sphere; 3CosMul (Levy and Goldberg, 2014) picks
    ``argmax_x cos'(x, b) cos'(x, c) / (cos'(x, a) + 0.001)`` with cosines shifted to [0, 1], so
    that one large similarity cannot make up for a poor one. As is standard, ``a``, ``b`` and ``c``
    themselves are never the answer. Only the first ``candidates`` rows (all by default) can be
    answers. Questions are scored in batches, each a few matrix products with the candidate matrix,
    so the whole Google set takes seconds rather than the minutes of a loop over questions.
    """
    if method not in ANALOGY_METHODS:
        raise InputError(f"unknown analogy method {method!r}: choose one of {', '.join(ANALOGY_METHODS)}")
    unit = normalise_rows(np.asarray(vectors, dtype=np.float32))
    pool = unit[:candidates] if candidates is not None else unit
    a, b, c = (np.asarray(rows, dtype=np.int64) for rows in (a, b, c))
    answers = np.empty(len(a), dtype=np.int64)
    batch = max(1, SCORES_PER_BATCH // max(len(pool), 1))
    for start in range(0, len(a), batch):
        rows = slice(start, start + batch)
        answers[rows] = _best_answers(unit, pool, a[rows], b[rows], c[rows], method)
    return answers


def _best_answers(
    unit: np.ndarray, pool: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray, method: str
) -> np.ndarray:
    if method == "3cosadd":  # a sum of cosines with unit vectors is one product with their sum
        scores = (unit[b] - unit[a] + unit[c]) @ pool.T
    else:  # in place, to keep the batch's memory traffic to a few passes
        scores = _shifted_cosines(unit[b], pool)
        scores *= _shifted_cosines(unit[c], pool)
        scores /= _shifted_cosines(unit[a], pool) + COSMUL_EPSILON
    question = np.arange(len(a))
    for excluded in (a, b, c):
        inside = excluded < len(pool)
        scores[question[inside], excluded[inside]] = -np.inf
    return scores.argmax(axis=1)


def analogy_questions() -> pd.DataFrame:
    """The Google analogy set: columns ``section``, ``a``, ``b``, ``c``, ``d`` (19,544 rows)."""
    from fromzero.data import load_google_analogies

    return load_google_analogies()


def analogy_table(
    words: Sequence[str],
    vectors: np.ndarray,
    questions: pd.DataFrame | None = None,
    methods: Sequence[str] = ANALOGY_METHODS,
    restrict: int | None = None,
) -> pd.DataFrame:
    """Analogy accuracy per section, then ``semantic``, ``syntactic`` and ``all`` rows.

    Columns: ``questions``, ``covered`` (all four words have a vector), and one accuracy column
    per method, over the covered questions (NaN where none is covered). Sections named ``gram*``
    are syntactic, the others semantic, as in Mikolov et al. (2013). ``questions`` defaults to the
    Google set. ``restrict=N`` searches only the first N rows, which for frequency-sorted vectors
    are the N most frequent words, and counts only questions whose words are all among them
    (gensim's ``restrict_vocab``); by default every word is a candidate.
    """
    questions = analogy_questions() if questions is None else questions
    index = _row_index(words, vectors)
    if restrict is not None:
        index = {word: row for word, row in index.items() if row < restrict}
    rows = {column: questions[column].map(index) for column in "abcd"}
    covered = np.logical_and.reduce([rows[column].notna().to_numpy() for column in "abcd"])
    known = {column: rows[column].to_numpy()[covered].astype(np.int64) for column in "abcd"}
    frame = pd.DataFrame({"section": questions["section"].to_numpy(), "covered": covered})
    for method in methods:
        answers = solve_analogies(vectors, known["a"], known["b"], known["c"], method, candidates=restrict)
        correct = np.zeros(len(questions), dtype=bool)
        correct[covered] = answers == known["d"]
        frame[method] = correct
    return _accuracy_by_section(frame, methods)


def _accuracy_by_section(frame: pd.DataFrame, methods: Sequence[str]) -> pd.DataFrame:
    syntactic = frame["section"].str.startswith("gram")
    groups = [(section, frame["section"] == section) for section in frame["section"].unique()]
    groups += [("semantic", ~syntactic), ("syntactic", syntactic), ("all", np.ones(len(frame), dtype=bool))]
    table = {}
    for name, mask in groups:
        part = frame[np.asarray(mask)]
        used = part[part["covered"]]
        row = {"questions": len(part), "covered": len(used)}
        row.update({method: used[method].mean() if len(used) else float("nan") for method in methods})
        table[name] = row
    return pd.DataFrame.from_dict(table, orient="index").rename_axis("section")


def benchmark_oov_rate(words: Sequence[str]) -> float:
    """The share of the distinct words of WordSim-353, SimLex-999 and the Google analogies that have no vector."""
    benchmark_words = set()
    for pairs in similarity_suites().values():
        benchmark_words.update(pairs["word1"], pairs["word2"])
    questions = analogy_questions()
    for column in "abcd":
        benchmark_words.update(questions[column])
    vocabulary = set(words)
    return sum(word not in vocabulary for word in benchmark_words) / len(benchmark_words)


def benchmark_summary(similarity: pd.DataFrame, analogies: pd.DataFrame, oov_rate: float) -> dict[str, float | None]:
    """The four headline numbers from :func:`similarity_table` and :func:`analogy_table` (3CosAdd, all).

    A score that cannot be computed (no covered pair or question) is ``None``, which JSON writes as ``null``.
    """

    def number(value: float) -> float | None:
        return None if pd.isna(value) else float(value)

    return {
        "wordsim353": number(similarity.loc["wordsim353", "spearman"]),
        "simlex999": number(similarity.loc["simlex999", "spearman"]),
        "analogy": number(analogies.loc["all", "3cosadd"]),
        "oov_rate": float(oov_rate),
    }


def evaluate_word_vectors(words: Sequence[str], vectors: np.ndarray) -> dict[str, float | None]:
    """``{"wordsim353", "simlex999", "analogy", "oov_rate"}`` for a set of word vectors.

    The two similarity numbers are Spearman correlations over covered pairs, ``analogy`` is the
    3CosAdd accuracy over covered Google questions with every word a candidate, ``oov_rate`` is
    :func:`benchmark_oov_rate`. Scores that cannot be computed are ``None``.
    """
    similarity = similarity_table(words, vectors)
    analogies = analogy_table(words, vectors, methods=("3cosadd",))
    return benchmark_summary(similarity, analogies, benchmark_oov_rate(words))


def _row_index(words: Sequence[str], vectors: np.ndarray) -> dict[str, int]:
    """Word -> row; a word listed twice keeps its first row (the more frequent, in a frequency-sorted file)."""
    if len(words) != len(vectors):
        raise InputError(f"{len(words)} words but {len(vectors)} vectors: they must correspond one to one")
    index: dict[str, int] = {}
    for row, word in enumerate(words):
        index.setdefault(word, row)
    return index


def _shifted_cosines(queries: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """Cosines mapped from [-1, 1] to [0, 1], as 3CosMul needs non-negative factors."""
    cosines = queries @ pool.T
    cosines += 1
    cosines *= 0.5
    return cosines
