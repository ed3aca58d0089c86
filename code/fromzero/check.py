"""Checkers for the exercises that ask for a function: ``check.ngram_overlap(my_overlap)``.

Each checker calls the reader's function on hidden cases drawn from a fixed random seed (after a few edge cases,
for most checkers) and compares every answer with the package's. Its :class:`Verdict` is one line in a notebook:
how many cases passed, or a hint for the first case that failed. The hint never gives the answer: when the wrong
answer is what a known mistake gives on that case, the hint names the mistake; otherwise it says what the function
must do. Exercises that ask for an experiment (train, measure, compare) have no checker: their answer depends on
the run, and their solutions show one.
"""

from __future__ import annotations

import copy
import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
import torch
from seqeval.metrics.sequence_labeling import get_entities

from fromzero.embeddings.fasttext import char_ngrams
from fromzero.errors import InputError
from fromzero.transformer.attention import causal_mask, scaled_dot_product_attention

SEED = 20_261_207
RANDOM_CASES = 40


@dataclass(frozen=True)
class Verdict:
    """What a checker found: ``bool(verdict)`` is whether every hidden case passed."""

    exercise: str
    function: str
    cases: int
    hint: str | None = None

    def __bool__(self) -> bool:
        return self.hint is None

    def __repr__(self) -> str:
        if self:
            return f"✓ {self.function} (exercise {self.exercise}): all {self.cases} hidden cases pass"
        return f"✗ {self.function} (exercise {self.exercise}): not yet. {self.hint}"

    def require(self) -> Verdict:
        """Raise AssertionError unless every case passed (the book's own solutions call this)."""
        if not self:
            raise AssertionError(repr(self))
        return self


def _as_array(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=float)


def _same(answer: Any, expected: Any) -> bool:
    """Equal for strings and lists of strings, close (relative 1e-5) for numbers, arrays and tensors."""
    if isinstance(expected, str) or (isinstance(expected, list) and all(isinstance(x, str) for x in expected)):
        return isinstance(answer, str | list | tuple) and list(answer) == list(expected)
    if isinstance(expected, tuple) != isinstance(answer, tuple):
        return False
    if isinstance(expected, tuple):
        return len(answer) == len(expected) and all(_same(a, e) for a, e in zip(answer, expected, strict=True))
    try:
        got, wanted = _as_array(answer), _as_array(expected)
    except (TypeError, ValueError):
        return False
    return got.shape == wanted.shape and bool(np.allclose(got, wanted, rtol=1e-5, atol=1e-8, equal_nan=True))


def _verdict(
    exercise: str,
    student: Callable[..., Any],
    cases: Iterable[tuple[Any, ...]],
    reference: Callable[..., Any],
    mistakes: dict[str, Callable[..., Any]],
    otherwise: str,
) -> Verdict:
    """Run ``student`` on each case (a tuple of arguments) and compare it with ``reference``.

    ``mistakes`` maps a hint to a function that makes that mistake: its hint is given when ``student`` agrees with
    it on every case. ``otherwise`` is the hint for any other wrong answer. Each call gets its own copy of the
    arguments, so a function that changes its input changes nothing else.
    """
    if not callable(student):
        raise InputError(f"pass the function itself to the checker, e.g. check.ngram_overlap(ngram_overlap), "
                         f"not {type(student).__name__}")
    name = getattr(student, "__name__", "your function")
    cases = list(cases)
    for count, arguments in enumerate(cases, 1):
        try:
            answer = student(*copy.deepcopy(arguments))
        except Exception as error:  # the reader's code: any failure is a finding, reported as one line
            return Verdict(exercise, name, count, f"Hidden case {count} raised {type(error).__name__}: {error}")
        if not _same(answer, reference(*copy.deepcopy(arguments))):
            hint = next((text for text, wrong in mistakes.items() if _agrees(student, wrong, cases)), otherwise)
            return Verdict(exercise, name, count, f"Hidden case {count} gets a wrong answer. Hint: {hint}")
    return Verdict(exercise, name, len(cases))


def _agrees(student: Callable[..., Any], wrong: Callable[..., Any], cases: list[tuple[Any, ...]]) -> bool:
    """Whether ``student`` gives the answers of a known mistake on every case."""
    try:
        return all(_same(student(*copy.deepcopy(arguments)), wrong(*copy.deepcopy(arguments))) for arguments in cases)
    except Exception:
        return False


def _random_words(rng: np.random.Generator, count: int, letters: str = "abcdenorst") -> list[str]:
    return sorted({"".join(rng.choice(list(letters), size=rng.integers(1, 11))) for _ in range(count)})


# Chapter 3, exercise ch03-xmax ---------------------------------------------------------------------------------------
def _cap_shares(counts: np.ndarray, x_max: float, alpha: float = 0.75,
                at_cap: Callable[[np.ndarray, float], np.ndarray] = np.greater_equal) -> tuple[float, float]:
    weights = np.minimum(counts / x_max, 1.0) ** alpha
    capped = at_cap(counts, x_max)
    return float(capped.mean()), float(weights[capped].sum() / weights.sum())


def cap_shares(student: Callable[[np.ndarray, float], tuple[float, float]]) -> Verdict:
    """Check ``student(counts, x_max)``: (share of the cells at the cap, their share of GloVe's total weight)."""
    rng = np.random.default_rng(SEED)
    edges = [(np.array([1.0, 10.0, 100.0]), 10.0), (np.array([5.0, 5.0, 5.0]), 5.0), (np.array([1.0, 2.0]), 100.0)]
    randoms = []
    for _ in range(RANDOM_CASES):  # GloVe's counts are weighted by distance, so they need not be whole numbers
        size = int(rng.integers(5, 200))
        counts = rng.zipf(1.6, size=size) * rng.choice([1.0, 0.5, 0.25], size=size)
        randoms.append((counts, float(rng.choice([10, 100]))))
    mistakes = {
        "a count equal to x_max already reaches the cap, since f(x_max) = 1.":
            lambda c, x: _cap_shares(c, x, at_cap=np.greater),
        "below the cap the weight is (x / x_max) to the power 3/4, not x / x_max.":
            lambda c, x: _cap_shares(c, x, alpha=1.0),
        "the second share is of the total *weight* f(X_ij), not of the number of cells.":
            lambda c, x: (float((c >= x).mean()), float((c >= x).mean())),
    }
    return _verdict("ch03-xmax", student, edges + randoms, _cap_shares, mistakes,
                    "return two shares between 0 and 1: cells with a count of at least x_max among all cells, and "
                    "their part of the sum of f over all cells.")


# Chapter 4, exercises ch04-shared and ch04-spelling ------------------------------------------------------------------
def _ngram_sharing(words: Sequence[str]) -> tuple[float, float]:
    grams = [set(char_ngrams(word)) for word in words]
    holders = Counter(gram for word_grams in grams for gram in word_grams)
    return float(np.mean([len(g) for g in grams])), float(np.mean([n > 1 for n in holders.values()]))


def ngram_sharing(student: Callable[[Sequence[str]], tuple[float, float]]) -> Verdict:
    """Check ``student(words)``: (distinct n-grams per word on average, share of n-grams found in several words)."""
    rng = np.random.default_rng(SEED)
    edges = [(["banana"],), (["her", "where"],), (["a", "ab", "abc"],)]
    randoms = [(_random_words(rng, int(rng.integers(2, 60))),) for _ in range(RANDOM_CASES)]
    mistakes = {
        "count each distinct n-gram of a word once: *banana* holds `ana` twice, and `ana` is not shared by that.":
            lambda words: (float(np.mean([len(char_ngrams(w)) for w in words])),
                           float(np.mean([n > 1 for n in Counter(g for w in words for g in char_ngrams(w)).values()]))),
        "an n-gram held by one word only, even twice, is not shared; count words, not occurrences.":
            lambda words: (_ngram_sharing(words)[0],
                           float(np.mean([n > 1 for n in Counter(g for w in words for g in char_ngrams(w)).values()]))),
    }
    return _verdict("ch04-shared", student, edges + randoms, _ngram_sharing, mistakes,
                    "use the package's `char_ngrams`: the mean number of distinct n-grams per word, then the share of "
                    "all distinct n-grams that two or more words hold.")


def _ngram_overlap(first: str, second: str) -> float:
    a, b = set(char_ngrams(first)), set(char_ngrams(second))
    return len(a & b) / len(a | b)


def _bare_ngrams(word: str) -> set[str]:
    return {word[i : i + n] for n in range(3, 7) for i in range(len(word) - n + 1)}


def ngram_overlap(student: Callable[[str, str], float]) -> Verdict:
    """Check ``student(a, b)``: the Jaccard overlap of the two words' fastText n-gram sets."""
    rng = np.random.default_rng(SEED)
    edges = [("her", "where"), ("cat", "cat"), ("banana", "bandana"), ("on", "no")]
    randoms = [tuple(rng.choice(_random_words(rng, 30), size=2, replace=False)) for _ in range(RANDOM_CASES)]
    mistakes = {
        "the n-grams come with the boundary symbols `<` and `>` (`char_ngrams`), not from the bare word.":
            lambda a, b: len(_bare_ngrams(a) & _bare_ngrams(b)) / max(1, len(_bare_ngrams(a) | _bare_ngrams(b))),
        "the Jaccard overlap divides by the size of the union, not of one of the two sets.":
            lambda a, b: len(set(char_ngrams(a)) & set(char_ngrams(b))) / len(set(char_ngrams(a))),
    }
    return _verdict("ch04-spelling", student, edges + randoms, _ngram_overlap, mistakes,
                    "compare *sets* of n-grams (a repeated n-gram counts once): shared ones over all distinct ones.")


# Chapter 5, exercise ch05-lipstick -----------------------------------------------------------------------------------
def _neutralise(vectors: np.ndarray, direction: np.ndarray) -> np.ndarray:
    unit = direction / np.linalg.norm(direction)
    kept = vectors - np.outer(vectors @ unit, unit)
    return kept / np.linalg.norm(kept, axis=1, keepdims=True)


def neutralise(student: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Verdict:
    """Check ``student(vectors, direction)``: each row without its component along ``direction``, at unit length."""
    rng = np.random.default_rng(SEED)
    cases = []
    for _ in range(RANDOM_CASES):
        rows, dim = int(rng.integers(1, 20)), int(rng.integers(2, 50))
        cases.append((rng.normal(size=(rows, dim)), rng.normal(size=dim) * rng.uniform(0.1, 5)))
    mistakes = {
        "make the direction a unit vector before projecting: the exercise's formula uses ĝ = g / ‖g‖.":
            lambda v, g: (v - np.outer(v @ g, g)) / np.linalg.norm(v - np.outer(v @ g, g), axis=1, keepdims=True),
        "rescale each row to unit length after removing the component.":
            lambda v, g: v - np.outer(v @ (g / np.linalg.norm(g)), g / np.linalg.norm(g)),
    }
    return _verdict("ch05-lipstick", student, cases, _neutralise, mistakes,
                    "every returned row must be orthogonal to the direction, have length 1, and lie in the plane "
                    "of the original row and the direction.")


# Chapter 7, exercise ch07-threshold ----------------------------------------------------------------------------------
def _shift_decision(scores: np.ndarray, rare_class: int, delta: float) -> np.ndarray:
    shifted = scores.copy()
    shifted[:, rare_class] += delta
    return shifted.argmax(axis=1)


def shift_decision(student: Callable[[np.ndarray, int, float], np.ndarray]) -> Verdict:
    """Check ``student(scores, rare_class, delta)``: each row's predicted class once delta is added to one class."""
    rng = np.random.default_rng(SEED)
    cases = []
    for _ in range(RANDOM_CASES):
        rows, classes = int(rng.integers(1, 30)), int(rng.integers(2, 6))
        cases.append((rng.normal(size=(rows, classes)), int(rng.integers(classes)), float(rng.uniform(0, 3))))
    mistakes = {
        "add δ to the rare class's score, do not subtract it.": lambda s, c, d: _shift_decision(s, c, -d),
        "the decision has not moved: δ goes to the rare class's score only, not to every class.":
            lambda s, c, d: s.argmax(axis=1),
    }
    return _verdict("ch07-threshold", student, cases, _shift_decision, mistakes,
                    "return one class index per row: the class with the highest score after δ has been added to "
                    "the rare class's column.")


# Chapter 8, exercise ch08-first-position -----------------------------------------------------------------------------
def _causal_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    return scaled_dot_product_attention(query, key, value, causal_mask(query.shape[-2]))[0]


def _unscaled_causal_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    future = torch.ones(query.shape[-2], query.shape[-2], dtype=torch.bool).triu(1)
    return torch.softmax((query @ key.transpose(-2, -1)).masked_fill(future, float("-inf")), dim=-1) @ value


def causal_attention(student: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]) -> Verdict:
    """Check ``student(query, key, value)``: causal scaled dot-product attention on tensors (..., length, d)."""
    generator = torch.Generator().manual_seed(SEED)
    cases = []
    for number in range(RANDOM_CASES):
        batch = (int(torch.randint(1, 3, (1,), generator=generator)),) * (number % 3)
        length = int(torch.randint(1, 9, (1,), generator=generator))
        d = int(torch.randint(2, 17, (1,), generator=generator))
        cases.append(tuple(torch.randn(*batch, length, d, generator=generator) * 2 for _ in range(3)))
    mistakes = {
        "divide the scores by √d_k, the size of a query.": _unscaled_causal_attention,
        "return the output alone, not the attention weights with it.":
            lambda q, k, v: scaled_dot_product_attention(q, k, v, causal_mask(q.shape[-2])),
        "causal means a position may look at itself and the positions *before* it, never after it.":
            lambda q, k, v: scaled_dot_product_attention(q, k, v, causal_mask(q.shape[-2]).T)[0],
        "mask the future: without the mask every position sees the whole sequence.":
            lambda q, k, v: scaled_dot_product_attention(q, k, v)[0],
    }
    return _verdict("ch08-first-position", student, cases, _causal_attention, mistakes,
                    "each position's output is an average of the values of that position and the ones before it, "
                    "weighted by a softmax over the keys.")


# Chapter 10, exercise ch10-trigram ------------------------------------------------------------------------------------
def _trigram_bits(train_ids: np.ndarray, held_out_ids: np.ndarray, vocab_size: int,
                  added: int | None = None, every_pair: bool = False) -> float:
    """``added`` is what smoothing adds to a context's count: |V| for add-one (one per possible next token).
    ``every_pair`` counts a context wherever the pair occurs, the last pair of the training ids included."""
    ids = train_ids.tolist()
    triples = Counter(zip(ids[:-2], ids[1:-1], ids[2:], strict=True))
    contexts = Counter(pairwise(ids) if every_pair else pairwise(ids[:-1]))
    held = held_out_ids.tolist()
    added = vocab_size if added is None else added
    return -sum(math.log2((triples[(a, b, c)] + 1) / (contexts[(a, b)] + added))
                for a, b, c in zip(held[:-2], held[1:-1], held[2:], strict=True))


def trigram_bits(student: Callable[[np.ndarray, np.ndarray, int], float]) -> Verdict:
    """Check ``student(train_ids, held_out_ids, vocab_size)``: the add-one trigram model's bits on the held-out ids."""
    rng = np.random.default_rng(SEED)
    cases = []
    for _ in range(RANDOM_CASES):
        vocab = int(rng.integers(2, 12))
        cases.append((rng.integers(vocab, size=int(rng.integers(3, 300))),
                      rng.integers(vocab, size=int(rng.integers(3, 100))), vocab))
    mistakes = {
        "add-one smoothing adds 1 to each of the |V| counts after a context, so the denominator grows by |V|, not 1.":
            lambda t, h, v: _trigram_bits(t, h, v, added=1),
        "bits are logarithms to base 2.": lambda t, h, v: _trigram_bits(t, h, v) * math.log(2),
        "count(a, b) counts the pairs that are followed by a token, so that the |V| probabilities after a, b sum "
        "to 1: the last pair of the training ids is not one of them.":
            lambda t, h, v: _trigram_bits(t, h, v, every_pair=True),
    }
    return _verdict("ch10-trigram", student, cases, _trigram_bits, mistakes,
                    "score every held-out token from the third on, given the two tokens before it, with the "
                    "smoothed counts of the training ids, and add up the bits.")


# Chapter 11, exercise ch11-gqa-cache ------------------------------------------------------------
def _kv_cache_bytes(layers: int, kv_heads: int, head_dim: int, bytes_per_number: int) -> int:
    return 2 * layers * kv_heads * head_dim * bytes_per_number


def kv_cache_bytes(student: Callable[[int, int, int, int], int]) -> Verdict:
    """Check ``student(layers, kv_heads, head_dim, bytes_per_number)``: a key-value cache's bytes per token."""
    rng = np.random.default_rng(SEED)
    cases = [tuple(int(x) for x in (rng.integers(1, 80), rng.integers(1, 32), rng.choice([32, 64, 128]),
                                    rng.choice([1, 2, 4]))) for _ in range(RANDOM_CASES)]
    mistakes = {"each token keeps a key *and* a value in every layer.": lambda L, h, d, b: L * h * d * b}
    return _verdict("ch11-gqa-cache", student, cases, _kv_cache_bytes, mistakes,
                    "count the numbers one token leaves in the cache (per layer, per key-value head, per head "
                    "dimension, for keys and values), then their bytes.")


# Chapter 12, exercise ch12-lora-count --------------------------------------------------------------------------------
def _lora_parameters(shapes: Sequence[tuple[int, int]], rank: int) -> int:
    return sum(rank * (rows + columns) for rows, columns in shapes)


def lora_parameters(student: Callable[[Sequence[tuple[int, int]], int], int]) -> Verdict:
    """Check ``student(shapes, rank)``: the parameters LoRA adds to matrices of the given (rows, columns)."""
    rng = np.random.default_rng(SEED)
    cases = [([(384, 384)] * 12, 8)] + [
        ([(int(rng.integers(4, 1024)), int(rng.integers(4, 1024))) for _ in range(rng.integers(1, 10))],
         int(rng.integers(1, 65))) for _ in range(RANDOM_CASES)]
    mistakes = {
        "LoRA adds two thin matrices, B (rows × r) and A (r × columns), not a full rows × columns update.":
            lambda shapes, r: sum(rows * columns for rows, columns in shapes),
        "count both thin matrices: B has rows × r numbers and A has r × columns.":
            lambda shapes, r: sum(r * rows for rows, _ in shapes),
        "count both thin matrices: A has r × columns numbers and B has rows × r.":
            lambda shapes, r: sum(r * columns for _, columns in shapes),
    }
    return _verdict("ch12-lora-count", student, cases, _lora_parameters, mistakes,
                    "add, over the adapted matrices, the numbers in B and in A.")


# Chapter 13, exercises ch13-strict and ch13-gazetteer-plus -----------------------------------------------------------
def _entities_starting_inside(sequences: Sequence[Sequence[str]]) -> int:
    return sum(tags[start].startswith("I-") for tags in sequences for _, start, _ in get_entities(tags))


def _random_tag_sequences(rng: np.random.Generator) -> list[list[str]]:
    tags = ["O", "O", "O", "B-per", "I-per", "B-loc", "I-loc"]
    return [list(rng.choice(tags, size=rng.integers(1, 15))) for _ in range(rng.integers(1, 8))]


def entities_starting_inside(student: Callable[[Sequence[Sequence[str]]], int]) -> Verdict:
    """Check ``student(tag_sequences)``: how many entities (as seqeval reads them by default) start with an I- tag."""
    rng = np.random.default_rng(SEED)
    edges = [([["O", "I-per", "I-per", "O"]],), ([["B-loc", "I-per"]],), ([["I-loc", "I-loc", "O", "I-loc"]],)]
    randoms = [(_random_tag_sequences(rng),) for _ in range(RANDOM_CASES)]
    mistakes = {
        "count entities, not tags: a run of I- tags of one type is one entity.":
            lambda seqs: sum(tag.startswith("I-") for tags in seqs for tag in tags),
        "an I- tag right after a tag of *another* type (B-loc, I-per) also starts an entity.":
            lambda seqs: sum(tag.startswith("I-") and (i == 0 or tags[i - 1] == "O")
                             for tags in seqs for i, tag in enumerate(tags)),
    }
    return _verdict("ch13-strict", student, edges + randoms, _entities_starting_inside, mistakes,
                    "read each sequence into entities as `seqeval.metrics.sequence_labeling.get_entities` does, and "
                    "count those whose first tag is an I- tag.")


def _with_gazetteer(model_tags: list[str], list_tags: list[str]) -> list[str]:
    combined = list(model_tags)
    for _, start, end in get_entities(list_tags):
        if all(tag == "O" for tag in model_tags[start : end + 1]):
            combined[start : end + 1] = list_tags[start : end + 1]
    return combined


def with_gazetteer(student: Callable[[list[str], list[str]], list[str]]) -> Verdict:
    """Check ``student(model_tags, list_tags)``: the model's tags plus the list's entities where the model saw none."""
    rng = np.random.default_rng(SEED)
    edges = [(["O", "O", "O"], ["B-loc", "I-loc", "O"]), (["B-per", "O"], ["B-loc", "I-loc"])]
    randoms = [tuple(_random_tag_sequences(rng)[0] for _ in range(2)) for _ in range(RANDOM_CASES)]
    randoms = [(model, (listed * 15)[: len(model)]) for model, listed in randoms]
    mistakes = {
        "keep the model's tags wherever it tagged anything: the list fills only spans the model tagged all O.":
            lambda m, g: [gz if gz != "O" else tag for tag, gz in zip(m, g, strict=True)],
        "use the list's tags for a whole entity of the list, not word by word.":
            lambda m, g: [gz if tag == "O" else tag for tag, gz in zip(m, g, strict=True)],
    }
    return _verdict("ch13-gazetteer-plus", student, edges + randoms, _with_gazetteer, mistakes,
                    "start from the model's tags; for each entity the list tags, copy its tags only when the model "
                    "tagged every word of that span O.")


# Appendix, exercise faq-macro ----------------------------------------------------------------------------------------
def _f1_averages(confusion: np.ndarray) -> tuple[float, float]:
    f1 = 2 * np.diag(confusion) / (confusion.sum(axis=0) + confusion.sum(axis=1))  # 2 TP / (2 TP + FP + FN)
    support = confusion.sum(axis=1)
    return float(f1.mean()), float((f1 * support).sum() / support.sum())


def f1_averages(student: Callable[[np.ndarray], tuple[float, float]]) -> Verdict:
    """Check ``student(confusion)``: (macro-F1, weighted F1) of a confusion matrix, rows true, columns predicted."""
    rng = np.random.default_rng(SEED)
    cases = [(np.array([[50, 5], [10, 5]]),)] + [
        (rng.integers(1, 60, size=(k, k)) + np.diag(rng.integers(0, 200, size=k)),)
        for k in rng.integers(2, 6, size=RANDOM_CASES)]
    mistakes = {
        "a class's support is its number of *true* examples, the row sum (scikit-learn's rows are true classes).":
            lambda c: _f1_averages(c.T),
        "the macro average gives each class the same weight; that looks like accuracy, the micro average.":
            lambda c: (float(np.trace(c) / c.sum()), _f1_averages(c)[1]),
    }
    return _verdict("faq-macro", student, cases, _f1_averages, mistakes,
                    "F1 of a class is 2 TP / (2 TP + FP + FN); macro is their plain mean, weighted their mean "
                    "weighted by each class's row sum.")


CHECKERS: dict[str, Callable[[Callable[..., Any]], Verdict]] = {
    "ch03-xmax": cap_shares,
    "ch04-shared": ngram_sharing,
    "ch04-spelling": ngram_overlap,
    "ch05-lipstick": neutralise,
    "ch07-threshold": shift_decision,
    "ch08-first-position": causal_attention,
    "ch10-trigram": trigram_bits,
    "ch11-gqa-cache": kv_cache_bytes,
    "ch12-lora-count": lora_parameters,
    "ch13-strict": entities_starting_inside,
    "ch13-gazetteer-plus": with_gazetteer,
    "faq-macro": f1_averages,
}
