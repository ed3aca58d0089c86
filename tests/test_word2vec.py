"""Word2Vec (fromzero.embeddings.word2vec): planted structure is learnt, gradients are right, sampling is right."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch

from fromzero.embeddings.methods import train_embeddings
from fromzero.embeddings.options import EmbedOptions, WordVectors
from fromzero.embeddings.sampling import (
    NEGATIVE_GROUP,
    cbow_windows,
    encode_corpus,
    heldout_loss,
    interleave,
    keep_probabilities,
    noise_distribution,
    noise_table,
    skipgram_pairs,
)
from fromzero.embeddings.word2vec import crowding_scale, negative_sampling_gradients, train_word2vec
from fromzero.errors import InputError
from fromzero.evaluate import normalise_rows

GROUPS = 4
SYNONYMS = 4


def planted_corpus(sentences: int = 3000, seed: int = 0) -> tuple[list[list[str]], list[list[str]]]:
    """Sentences in which the synonyms of a group are interchangeable: same topic words around them.

    Group ``k`` has synonyms ``s{k}_0 .. s{k}_3`` and ten topic words ``t{k}_*``; a sentence is
    six topic words of one group with one of its synonyms in the middle. Nothing but the company
    they keep says that ``s0_1`` is like ``s0_2``.
    """
    rng = np.random.default_rng(seed)
    groups = [[f"s{k}_{i}" for i in range(SYNONYMS)] for k in range(GROUPS)]
    corpus = []
    for _ in range(sentences):
        k = rng.integers(GROUPS)
        topic = [f"t{k}_{j}" for j in rng.integers(10, size=6)]
        corpus.append([*topic[:3], groups[k][rng.integers(SYNONYMS)], *topic[3:]])
    return corpus, groups


def synonyms_are_nearest(vectors: WordVectors, groups: list[list[str]]) -> float:
    """The share of synonyms whose SYNONYMS - 1 nearest synonyms (by cosine) are exactly their group-mates."""
    synonyms = [word for group in groups for word in group]
    rows = [vectors.words.index(word) for word in synonyms]
    unit = normalise_rows(vectors.vectors[rows].astype(np.float64))
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -np.inf)
    nearest = np.argsort(-similarity, axis=1)[:, : SYNONYMS - 1]
    group_of = np.repeat(np.arange(GROUPS), SYNONYMS)
    return float((group_of[nearest] == group_of[:, None]).all(axis=1).mean())


def zipfian_corpus(
    sentences: int = 20_000, fillers: int = 500, seed: int = 0
) -> tuple[list[list[str]], list[list[str]]]:
    """The planted synonym groups of :func:`planted_corpus`, woven into filler words drawn from Zipf's law.

    Every other token is a filler ``f{r}`` drawn with probability proportional to ``1 / (r + 1)``,
    so the most frequent one is about 8 % of all tokens, as *the* is in English text: at the
    default batch of thousands of pairs its rows are used hundreds of times per batch.
    """
    rng = np.random.default_rng(seed)
    zipf = 1 / np.arange(1, fillers + 1)
    zipf /= zipf.sum()
    groups = [[f"s{k}_{i}" for i in range(SYNONYMS)] for k in range(GROUPS)]
    corpus = []
    for _ in range(sentences):
        k = rng.integers(GROUPS)
        topic = [f"t{k}_{j}" for j in rng.integers(10, size=4)]
        content = [*topic[:2], groups[k][rng.integers(SYNONYMS)], *topic[2:]]
        filler = [f"f{r}" for r in rng.choice(fillers, size=len(content) + 1, p=zipf)]
        corpus.append([word for pair in zip(filler, [*content, None], strict=True) for word in pair if word])
    return corpus, groups


SMALL = {"dim": 16, "window": 3, "negative": 5, "epochs": 5, "min_count": 1, "subsample": 0.0, "batch_size": 256}


@pytest.mark.parametrize("method", ["sgns", "cbow"])
def test_planted_synonyms_become_nearest_neighbours(method: str) -> None:
    corpus, groups = planted_corpus()
    vectors = train_embeddings(method, corpus, EmbedOptions(**SMALL, device="cpu", progress=False))
    assert vectors.vectors.shape == (GROUPS * (SYNONYMS + 10), SMALL["dim"])
    assert synonyms_are_nearest(vectors, groups) == 1.0


@pytest.mark.parametrize("method", ["sgns", "cbow"])
def test_zipfian_text_without_subsampling_stays_finite_and_learns_at_the_defaults(method: str) -> None:
    corpus, groups = zipfian_corpus()
    tokens = [word for sentence in corpus for word in sentence]
    assert 0.07 < tokens.count("f0") / len(tokens) < 0.09  # as frequent as "the"
    vectors = train_embeddings(method, corpus, EmbedOptions(subsample=0.0, device="cpu", progress=False))
    assert np.isfinite(vectors.vectors).all()
    assert synonyms_are_nearest(vectors, groups) == 1.0


def test_crowding_scale_caps_the_summed_update_of_crowded_rows() -> None:
    targets = torch.tensor([0] * 30 + [1] * 3 + [2])
    noise = torch.tensor([0, 0, 3])  # each stands for NEGATIVE_GROUP examples
    scale = crowding_scale([(targets, 1), (noise, NEGATIVE_GROUP)], vocab_size=5, cap=10.0)
    uses = torch.tensor([30 + 2 * NEGATIVE_GROUP, 3, 1, NEGATIVE_GROUP, 0])
    expected = torch.where(uses > 10, 10 / uses.clamp(min=1), torch.ones(5))
    assert torch.allclose(scale, expected)
    assert scale[0] * uses[0] == pytest.approx(10.0)  # the crowded row moves as far as 10 single updates


@pytest.mark.parametrize("method", ["sgns", "cbow"])
def test_loss_falls(method: str) -> None:
    corpus, _ = planted_corpus(1000)
    # One worker: with two, the other's first updates can land before the first loss is measured.
    run = train_word2vec(corpus, EmbedOptions(**SMALL, device="cpu", progress=False, workers=1), method)
    assert run.losses[0] == pytest.approx(
        6 * np.log(2), abs=0.2
    )  # all scores 0: log 2 for the target and each of 5 negatives
    assert run.losses[-1] < 0.6 * run.losses[0]
    assert run.words_per_second > 0


@pytest.mark.parametrize("method", ["sgns", "cbow"])
def test_heldout_loss_scores_unseen_sentences(method: str) -> None:
    corpus, _ = planted_corpus(1200)
    train, held_out = corpus[:1000], corpus[1000:]
    options = EmbedOptions(**SMALL, device="cpu", progress=False)
    run = train_word2vec(train, options, method)
    loss = heldout_loss(run, held_out, options, method)
    assert loss == heldout_loss(run, held_out, options, method)  # the same examples every time
    assert loss < 0.6 * 6 * np.log(2)  # the untrained tables score every example 6 ln 2 (below)
    run.output_vectors[:] = 0
    assert heldout_loss(run, held_out, options, method) == pytest.approx(6 * np.log(2))
    with pytest.raises(InputError, match="vocabulary"):
        heldout_loss(run, [["never", "seen"]], options, method)


@pytest.mark.parametrize("method", ["sgns", "cbow"])
def test_seeded_runs_reproduce_on_cpu(method: str) -> None:
    corpus, _ = planted_corpus(600)
    options = {**SMALL, "device": "cpu", "progress": False, "epochs": 2, "workers": 1}
    first = train_embeddings(method, corpus, EmbedOptions(**options, seed=3))
    again = train_embeddings(method, corpus, EmbedOptions(**options, seed=3))
    other = train_embeddings(method, corpus, EmbedOptions(**options, seed=4))
    assert np.array_equal(first.vectors, again.vectors)
    assert not np.array_equal(first.vectors, other.vectors)


@pytest.mark.parametrize("method", ["sgns", "cbow"])
def test_two_workers_share_the_batches_and_learn_the_planted_structure(
    method: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fromzero.embeddings import word2vec

    threads: list[int] = []
    step = word2vec.SgdTables.step

    def recording_step(self: word2vec.SgdTables, *args: object) -> torch.Tensor | None:
        threads.append(threading.get_ident())
        time.sleep(0.001)  # give the other worker a chance to take a batch, even on a busy machine
        return step(self, *args)

    monkeypatch.setattr(word2vec.SgdTables, "step", recording_step)
    corpus, groups = planted_corpus()
    run = train_word2vec(corpus, EmbedOptions(**SMALL, device="cpu", progress=False, workers=2), method)
    assert len(set(threads)) == 2
    assert run.examples > 0 and run.words_seen == sorted(run.words_seen)
    assert synonyms_are_nearest(run.vectors, groups) == 1.0


def test_workers_must_be_positive() -> None:
    with pytest.raises(InputError, match="workers must be at least 1"):
        EmbedOptions(workers=0)


def test_gradients_match_autograd() -> None:
    generator = torch.Generator().manual_seed(0)
    groups, group, negatives, dim = 3, NEGATIVE_GROUP, 4, 6
    inputs = torch.randn(groups, group, dim, generator=generator, dtype=torch.float64, requires_grad=True)
    targets = torch.randn(groups, group, dim, generator=generator, dtype=torch.float64, requires_grad=True)
    noise = torch.randn(groups, negatives, dim, generator=generator, dtype=torch.float64, requires_grad=True)
    clash = torch.rand(groups, group, negatives, generator=generator) < 0.2
    use_noise = (~clash).double()
    positive = (inputs * targets).sum(-1)
    negative = inputs @ noise.transpose(1, 2)
    loss = -(
        torch.nn.functional.logsigmoid(positive).sum() + (torch.nn.functional.logsigmoid(-negative) * use_noise).sum()
    )
    loss.backward()
    by_hand = negative_sampling_gradients(inputs.detach(), targets.detach(), noise.detach(), clash, with_loss=True)
    for mine, autograd in zip(by_hand[:3], (inputs.grad, targets.grad, noise.grad), strict=True):
        torch.testing.assert_close(mine, autograd)
    torch.testing.assert_close(by_hand[3], loss.detach() / (groups * group))
    scaled = negative_sampling_gradients(inputs.detach(), targets.detach(), noise.detach(), clash, scale=-0.1)
    torch.testing.assert_close(scaled[0], -0.1 * inputs.grad)
    assert scaled[3] is None


def test_encode_corpus_sorts_by_count_and_drops_rare_words() -> None:
    corpus = encode_corpus([["b", "a", "c", "a"], ["b", "a", "rare"], ["c", "b"]], min_count=2)
    assert corpus.words == ["a", "b", "c"]  # 3, 3, 2: ties alphabetical
    assert corpus.counts.tolist() == [3, 3, 2]
    assert corpus.ids.tolist() == [1, 0, 2, 0, 1, 0, 2, 1]  # "rare" removed before windows are taken
    assert corpus.sentence.tolist() == [0, 0, 0, 0, 1, 1, 2, 2]
    assert corpus.tokens == 9


@pytest.mark.parametrize(
    ("sentences", "fragment"),
    [([], "empty corpus"), ([[], []], "empty corpus"), ([["a", "b"]], "min_count=2"), (["a b"], "lists of tokens")],
)
def test_encode_corpus_rejects_bad_input(sentences: list, fragment: str) -> None:
    with pytest.raises(InputError, match=fragment):
        encode_corpus(sentences, min_count=2)


def test_train_needs_negatives() -> None:
    with pytest.raises(InputError, match="negative"):
        train_embeddings("sgns", [["a", "b"]], EmbedOptions(negative=0, min_count=1, progress=False))


def test_keep_probabilities_follow_word2vec_formula() -> None:
    counts = np.array([100_000, 10_000, 1_000, 100, 10])  # shares of the corpus: ~0.9, 0.09, ...
    threshold = 1e-3
    keep = keep_probabilities(counts, threshold)
    share = counts / counts.sum()
    np.testing.assert_allclose(keep, np.minimum(1, np.sqrt(threshold / share) + threshold / share))
    assert np.all(np.diff(keep) >= 0)  # the more frequent, the more is dropped
    assert keep[-1] == 1.0  # words rarer than the threshold are always kept
    assert keep[0] < 0.05
    np.testing.assert_array_equal(keep_probabilities(counts, 0.0), np.ones(5))


def test_subsampling_keeps_each_word_at_its_rate() -> None:
    rng = np.random.default_rng(0)
    counts = np.array([50_000, 20_000, 5_000, 1_000, 500])
    ids = rng.permutation(np.repeat(np.arange(5), counts))
    keep = keep_probabilities(counts, 1e-3)
    kept = rng.random(len(ids)) < keep[ids]  # what training does to each chunk
    observed = np.bincount(ids[kept], minlength=5) / counts
    assert np.all(np.abs(observed - keep) <= 4 * np.sqrt(keep * (1 - keep) / counts))  # four standard errors


def test_noise_distribution_and_table() -> None:
    counts = np.array([1000, 100, 10, 1])
    probabilities = noise_distribution(counts)
    np.testing.assert_allclose(probabilities, counts**0.75 / (counts**0.75).sum())
    assert probabilities[-1] > counts[-1] / counts.sum()  # the 3/4 power gives rare words more negatives
    assert probabilities[0] < counts[0] / counts.sum()
    table = noise_table(probabilities, size=100_000)
    assert len(table) == 100_000
    np.testing.assert_allclose(np.bincount(table, minlength=4) / len(table), probabilities, atol=1e-5)
    draws = table[np.random.default_rng(0).integers(0, len(table), size=200_000)]
    np.testing.assert_allclose(np.bincount(draws, minlength=4) / len(draws), probabilities, atol=0.005)


def test_skipgram_pairs_match_a_loop_and_stay_in_sentences() -> None:
    sentence = np.array([0] * 7 + [1] * 1 + [2] * 12)
    window = 4
    centres, contexts = skipgram_pairs(sentence, window, np.random.default_rng(5))
    reach = np.random.default_rng(5).integers(1, window + 1, size=len(sentence))
    expected = {
        (i, j)
        for i in range(len(sentence))
        for j in range(len(sentence))
        if i != j and abs(i - j) <= reach[i] and sentence[i] == sentence[j]
    }
    assert sorted(zip(centres.tolist(), contexts.tolist(), strict=True)) == sorted(expected)
    assert len(centres) == len(expected)
    cbow_centres, cbow_contexts = cbow_windows(sentence, window, np.random.default_rng(5))
    assert sorted(zip(cbow_centres.tolist(), cbow_contexts.tolist(), strict=True)) == sorted(expected)
    assert np.all(np.diff(cbow_centres) >= 0)  # centre by centre


def test_dynamic_window_favours_near_neighbours() -> None:
    window = 5
    sentence = np.zeros(20_000, dtype=np.int64)
    centres, contexts = skipgram_pairs(sentence, window, np.random.default_rng(0))
    distance = np.abs(contexts - centres)
    used = np.bincount(distance, minlength=window + 1)[1:] / (2 * len(sentence))
    np.testing.assert_allclose(used, (window - np.arange(1, window + 1) + 1) / window, atol=0.01)


def test_interleave_is_a_permutation_that_spreads_groups() -> None:
    order = interleave(24, 8)
    assert sorted(order.tolist()) == list(range(24))
    assert order[:8].tolist() == [0, 3, 6, 9, 12, 15, 18, 21]
