"""FastText (chapter 4): n-grams and hashing exactly as fastText, vectors for unseen words, training, bad input."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest
import torch
from gensim.models.fasttext_inner import compute_ngrams, ft_hash_bytes
from hypothesis import given, settings
from hypothesis import strategies as st

from fromzero import InputError
from fromzero.embeddings.fasttext import (
    FastTextModel,
    SkipGramBatches,
    char_ngrams,
    fit_fasttext,
    fnv1a_32,
    ngram_bucket,
    ngram_buckets,
    noise_table,
    train_fasttext,
)
from fromzero.embeddings.methods import train_embeddings
from fromzero.embeddings.options import EmbedOptions, WordVectors
from fromzero.embeddings.sampling import keep_probabilities
from fromzero.evaluate import nearest_neighbours


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Tiny tensors: one thread avoids oversubscribing the cores that pytest-xdist's workers share."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def random_words(count: int, rng: np.random.Generator, length: int = 9) -> list[str]:
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    return ["".join(rng.choice(letters, size=length)) for _ in range(count)]


def planted_corpus(seed: int = 0) -> tuple[list[list[str]], list[list[str]]]:
    """Three groups of random-looking nine-letter words; each sentence uses one group only."""
    rng = np.random.default_rng(seed)
    groups = [random_words(6, rng) for _ in range(3)]
    sentences = []
    for _ in range(300):
        members = groups[rng.integers(len(groups))]
        sentences.append([members[i] for i in rng.integers(len(members), size=8)])
    return sentences, groups


def options(**changes: object) -> EmbedOptions:
    chosen = {"dim": 16, "window": 3, "epochs": 8, "min_count": 1, "negative": 3, "subsample": 0, "batch_size": 64}
    return EmbedOptions(**{**chosen, "progress": False, **changes})


def cosine(u: np.ndarray, v: np.ndarray) -> float:
    return float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)))


def test_ngrams_of_where_with_boundary_symbols() -> None:
    assert char_ngrams("where", 3, 3) == ["<wh", "whe", "her", "ere", "re>"]
    assert char_ngrams("her", 3, 6) == ["<he", "her", "er>", "<her", "her>", "<her>"]  # short: <her> itself too
    assert char_ngrams("a", 1, 2) == ["a", "<a", "a>"]  # never a bare boundary symbol
    assert char_ngrams("where", 3, 0) == []


@pytest.mark.parametrize("word", ["where", "her", "a", "naïve", "東京都", "government's"])
def test_ngrams_and_hashes_match_gensim(word: str) -> None:
    assert char_ngrams(word) == compute_ngrams(word, 3, 6)
    for ngram in char_ngrams(word):
        assert fnv1a_32(ngram.encode()) == ft_hash_bytes(ngram.encode())
    all_at_once = ngram_buckets(char_ngrams(word), 1000).tolist()
    assert all_at_once == [ft_hash_bytes(ngram.encode()) % 1000 for ngram in char_ngrams(word)]


def test_fnv1a_reference_values() -> None:
    assert fnv1a_32(b"") == 2166136261  # the offset basis
    assert fnv1a_32(b"a") == 0xE40C292C  # the published FNV-1a test vector


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=12), st.integers(min_value=1, max_value=10**7))
def test_buckets_are_deterministic_and_in_range(ngram: str, buckets: int) -> None:
    bucket = ngram_bucket(ngram, buckets)
    assert 0 <= bucket < buckets
    assert bucket == ngram_bucket(ngram, buckets)


def test_bad_ngram_range_raises() -> None:
    with pytest.raises(InputError, match="1 <= min_n <= max_n"):
        char_ngrams("word", 4, 3)
    with pytest.raises(InputError, match="buckets must be at least 1"):
        FastTextModel(["word"], 4, buckets=0)


def test_a_word_vector_is_the_mean_of_its_rows_and_oov_words_get_one() -> None:
    torch.manual_seed(0)
    model = FastTextModel(["where", "there"], dim=4, buckets=1000)
    table = model.input.weight.detach()
    rows = [model.word_index["where"]] + [model.bucket_row[ngram_bucket(g, 1000)] for g in char_ngrams("where")]
    np.testing.assert_allclose(model.vector("where"), table[rows].mean(0).numpy(), rtol=1e-6)
    np.testing.assert_allclose(model(torch.tensor([0])).detach().numpy()[0], model.vector("where"), rtol=1e-6)
    np.testing.assert_allclose(model.word_vectors().vectors[0], model.vector("where"), rtol=1e-6)
    buckets = [ngram_bucket(g, 1000) for g in char_ngrams("here")]
    unseen = [model.bucket_row[b] for b in buckets if b in model.bucket_row]
    assert unseen and "here" not in model.word_index
    np.testing.assert_allclose(model.vector("here"), table[unseen].mean(0).numpy(), rtol=1e-6)
    assert not model.vector("qqqq").any()  # no n-gram in common with any training word


def test_every_subword_row_gets_the_whole_gradient_of_the_mean() -> None:
    """fastText's convention: each row moves by dL/dh, not by its 1/n share."""
    model = FastTextModel(["where", "there"], dim=4, buckets=1000)
    hidden = model(torch.tensor([0]))
    direction = torch.arange(4.0)
    (hidden[0] * direction).sum().backward()
    gradient = model.input.weight.grad.coalesce().to_dense()
    rows = [model.word_index["where"]] + [model.bucket_row[ngram_bucket(g, 1000)] for g in char_ngrams("where")]
    for row in set(rows):
        torch.testing.assert_close(gradient[row], rows.count(row) * direction)


def test_batches_respect_windows_and_sentences() -> None:
    sentences = [np.array([0, 1, 2, 3]), np.array([4, 5])]
    batches = SkipGramBatches(sentences, np.ones(6, dtype=np.int64), window=2, negative=3, subsample=0, batch_size=4)
    torch.manual_seed(0)
    drawn = list(batches)
    assert len(drawn) == len(batches) == 2
    pairs = set()
    for centres, contexts, valid, negatives in drawn:
        assert negatives.shape == (len(centres), 3) and valid.shape == contexts.shape
        pairs |= {(int(c), int(x)) for c, row, ok in zip(centres, contexts, valid, strict=True) for x in row[ok.bool()]}
    assert (4, 5) in pairs and (3, 4) not in pairs and (2, 4) not in pairs  # windows stop at the sentence's end
    assert all(abs(c - x) <= 2 for c, x in pairs)


def test_subsampling_and_noise_follow_their_formulas() -> None:
    counts = np.array([1000, 10, 1])
    keep = keep_probabilities(counts, 1e-2)
    frequency = counts / counts.sum()
    np.testing.assert_allclose(keep[0], np.sqrt(1e-2 / frequency[0]) + 1e-2 / frequency[0])
    assert keep[1] == keep[2] == 1.0
    table = noise_table(counts, size=10_000)
    shares = np.bincount(table.numpy(), minlength=3) / len(table)
    np.testing.assert_allclose(shares, counts**0.75 / (counts**0.75).sum(), atol=2e-3)


def test_training_learns_groups_and_misspellings_stay_close() -> None:
    sentences, groups = planted_corpus()
    run = fit_fasttext(sentences, options())
    losses = run.history.to_dataframe().groupby("epoch")["train_loss"].mean()
    assert losses.iloc[-1] < 0.7 * losses.iloc[0]
    vectors = run.word_vectors()
    for members in groups:
        for word in members:
            assert nearest_neighbours(vectors.vectors, vectors.words, word, k=1)[0][0] in members
    model = run.model
    others = [w for w in vectors.words if w != groups[0][0]]
    for word in (groups[0][0], groups[1][0]):
        misspelt = word[:4] + word[5:]  # one letter dropped: an unseen word
        assert misspelt not in model.word_index
        closest = max(cosine(model.vector(misspelt), model.vector(other)) for other in others if other != word)
        assert cosine(model.vector(misspelt), model.vector(word)) > closest


def test_the_fast_trainer_learns_the_groups_and_keeps_each_words_subwords() -> None:
    sentences, groups = planted_corpus()
    untrained = train_fasttext(sentences, options(epochs=1, lr=1e-9))
    vectors = train_fasttext(sentences, options())
    for members in groups:
        for word in members:
            assert nearest_neighbours(vectors.vectors, vectors.words, word, k=1)[0][0] in members
    first = groups[0][0]
    row = vectors.words.index(first)
    assert cosine(vectors.vectors[row], untrained.vectors[row]) < 0.9  # the vectors moved


def test_word_level_model_without_ngrams_and_reproducibility() -> None:
    sentences, _ = planted_corpus()
    run = fit_fasttext(sentences, options(epochs=1), max_n=0)
    assert run.model.input.weight.shape[0] == len(run.model.words)  # no bucket rows
    assert not run.model.vector("unseen").any()
    first = train_fasttext(sentences, options(epochs=1))
    second = train_embeddings("fasttext", sentences, options(epochs=1))
    assert isinstance(second, WordVectors)
    np.testing.assert_array_equal(first.vectors, second.vectors)


@pytest.mark.parametrize(
    ("sentences", "changes", "message"),
    [
        ([], {}, "empty (vocabulary|corpus)"),
        ([[]], {}, "empty (vocabulary|corpus)"),
        ([["a", "b"], ["c"]], {"min_count": 2}, "occurs at least min_count=2"),
        ([["a"], ["a"], ["b"]], {}, "no sentence has two words of the vocabulary"),
        ([["a", "b"]], {"negative": 0}, "at least one negative sample"),
    ],
)
@pytest.mark.parametrize("trainer", [fit_fasttext, train_fasttext])
def test_bad_input_raises_a_clear_error(trainer: Callable, sentences: list[list[str]], changes: dict,
                                        message: str) -> None:
    with pytest.raises(InputError, match=message):
        trainer(sentences, options(**changes))
