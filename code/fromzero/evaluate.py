"""Measuring word vectors: cosine similarity, nearest neighbours, and the standard benchmarks.

Every chapter that prints "the words closest to X" uses :func:`nearest_neighbours`, so they all
mean the same thing by "closest". The benchmarks are the three the book reports for every method:

* word similarity: WordSim-353 (relatedness and similarity mixed) and SimLex-999 (similarity
  only). The score is the Spearman rank correlation between people's ratings and the cosine
  similarities, over the pairs whose two words both have a vector (:func:`similarity_table`);
* analogies: Mikolov et al.'s Google set, "a is to b as c is to d", solved by 3CosAdd and 3CosMul
  and scored by accuracy over the questions whose four words all have a vector (:func:`analogy_table`).

Small corpora miss many benchmark words, and a score over 40 covered pairs says less than one over
300, so every table reports its coverage next to its score. Comparing methods needs more:
:func:`scoreboard` scores several sets of vectors on exactly the same pairs and questions and gives
each score, and each difference between two methods, a bootstrap confidence interval.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import rankdata, spearmanr

from fromzero.errors import InputError

ANALOGY_METHODS = ("3cosadd", "3cosmul")
COSMUL_EPSILON = 1e-3  # keeps 3CosMul's division finite (Levy and Goldberg's value)
SCORES_PER_BATCH = 2**24  # questions x vocabulary scores held at once (64 MiB of float32)
BENCHMARKS = ("wordsim353", "simlex999", "analogy")  # the scoreboard's columns; analogy is 3CosAdd accuracy


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
    from fromzero.data.sources import load_simlex999, load_wordsim353

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
    from fromzero.data.sources import load_google_analogies

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


@dataclass
class Scoreboard:
    """Scores of several sets of vectors on the same benchmark items, with bootstrap resamples of each.

    ``scores`` has one row per model and one column per benchmark of :data:`BENCHMARKS`; ``items``
    counts the pairs or questions behind each column, the same for every model. ``resampled[b]``
    is a ``(models, resamples)`` array: each model's score on resample ``r`` of benchmark ``b``'s
    items, the *same* resample for every model, so that differences between models are paired.
    """

    scores: pd.DataFrame
    items: dict[str, int]
    resampled: dict[str, np.ndarray]
    level: float

    def interval(self, model: str, benchmark: str) -> tuple[float, float]:
        """The percentile bootstrap interval of ``model``'s score (``level``, 95 % by default)."""
        return self._percentiles(self.resampled[benchmark][self._row(model)])

    def difference(self, first: str, second: str, benchmark: str) -> tuple[float, float, float]:
        """``first``'s score minus ``second``'s, with the interval of that difference over paired resamples."""
        draws = self.resampled[benchmark]
        low, high = self._percentiles(draws[self._row(first)] - draws[self._row(second)])
        return float(self.scores.loc[first, benchmark] - self.scores.loc[second, benchmark]), low, high

    def beats(self, first: str, second: str, benchmark: str) -> bool:
        """True when the whole interval of ``first - second`` lies above zero: a gap larger than the noise."""
        return self.difference(first, second, benchmark)[1] > 0

    def table(self, digits: int = 3) -> pd.DataFrame:
        """Each score with its interval, as text ("0.412 [0.331, 0.487]"), and the item counts as the last row."""
        cells = {
            benchmark: {
                model: f"{self.scores.loc[model, benchmark]:.{digits}f} "
                + "[{:.{d}f}, {:.{d}f}]".format(*self.interval(model, benchmark), d=digits)
                for model in self.scores.index
            }
            for benchmark in self.scores.columns
        }
        frame = pd.DataFrame(cells)
        frame.loc["items scored"] = [f"{self.items[benchmark]:,}" for benchmark in self.scores.columns]
        return frame

    def _row(self, model: str) -> int:
        if model not in self.scores.index:
            raise InputError(f"no model named {model!r} on the scoreboard: {', '.join(self.scores.index)}")
        return self.scores.index.get_loc(model)

    def _percentiles(self, draws: np.ndarray) -> tuple[float, float]:
        tail = 100 * (1 - self.level) / 2
        low, high = np.nanpercentile(draws, [tail, 100 - tail])
        return float(low), float(high)


def scoreboard(
    models: Mapping[str, tuple[Sequence[str], np.ndarray]],
    *,
    resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> Scoreboard:
    """Score every model (name -> ``(words, vectors)``) on the items that all of them cover.

    Different vocabularies cover different pairs, and a score over other pairs is not comparable,
    so only the WordSim-353 and SimLex-999 pairs and the Google questions whose words every model
    has are used. Each benchmark's items are then resampled with replacement ``resamples`` times
    (the percentile bootstrap; Efron and Tibshirani, 1993), and every model is scored on every
    resample: the spread of those scores is what another sample of pairs could have given.
    """
    if not models:
        raise InputError("the scoreboard needs at least one model")
    if not 0 < level < 1 or resamples < 1:
        raise InputError(f"need 0 < level < 1 and resamples >= 1, got level={level}, resamples={resamples}")
    indexes = {name: _row_index(words, vectors) for name, (words, vectors) in models.items()}
    shared = set.intersection(*(set(index) for index in indexes.values()))
    rng = np.random.default_rng(seed)
    scores, items, resampled = {}, {}, {}
    for benchmark, pairs in similarity_suites().items():
        used = pairs[pairs["word1"].isin(shared) & pairs["word2"].isin(shared)]
        if len(used) < 3:
            raise InputError(f"the models share only {len(used)} {benchmark} pairs: too few to score")
        cosines = np.stack([_pair_cosines(models[name][1], indexes[name], used) for name in models])
        draws = rng.integers(len(used), size=(resamples, len(used)))
        human = used["score"].to_numpy()
        scores[benchmark] = _spearman_rows(human[None, :], cosines)
        resampled[benchmark] = np.stack([_spearman_rows(human[draws], row[draws]) for row in cosines])
        items[benchmark] = len(used)
    questions = analogy_questions()
    correct = np.stack([_analogy_correct(models[name][1], indexes[name], shared, questions) for name in models])
    if correct.shape[1] == 0:
        raise InputError("the models share no Google analogy question: too few to score")
    draws = rng.integers(correct.shape[1], size=(resamples, correct.shape[1]))
    scores["analogy"], resampled["analogy"] = correct.mean(axis=1), correct[:, draws].mean(axis=2)
    items["analogy"] = correct.shape[1]
    frame = pd.DataFrame(scores, index=list(models))[list(BENCHMARKS)]
    return Scoreboard(frame, items, resampled, level)


def _pair_cosines(vectors: np.ndarray, index: Mapping[str, int], pairs: pd.DataFrame) -> np.ndarray:
    unit = normalise_rows(np.asarray(vectors, dtype=np.float64))
    first, second = unit[pairs["word1"].map(index).to_numpy()], unit[pairs["word2"].map(index).to_numpy()]
    return (first * second).sum(axis=1)


def _spearman_rows(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Spearman correlation of each row of ``first`` with the same row of ``second`` (ties get average ranks)."""
    ranks = [rankdata(values, axis=-1) for values in np.broadcast_arrays(first, second)]
    centred = [rank - rank.mean(axis=-1, keepdims=True) for rank in ranks]
    numerator = (centred[0] * centred[1]).sum(axis=-1)
    denominator = np.sqrt((centred[0] ** 2).sum(axis=-1) * (centred[1] ** 2).sum(axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return numerator / denominator


def _analogy_correct(
    vectors: np.ndarray, index: Mapping[str, int], shared: set[str], questions: pd.DataFrame
) -> np.ndarray:
    """For each question whose four words are in ``shared``: did 3CosAdd, over the whole vocabulary, get it?"""
    usable = np.logical_and.reduce([questions[column].map(lambda word: word in shared) for column in "abcd"])
    rows = {column: questions.loc[usable, column].map(index).to_numpy() for column in "abcd"}
    return solve_analogies(vectors, rows["a"], rows["b"], rows["c"]) == rows["d"]
