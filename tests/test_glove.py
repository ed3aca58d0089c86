"""GloVe (chapter 3): the weighting function, the gradient by hand, counting, learning planted structure, bad input."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch

from fromzero import InputError
from fromzero.embeddings.glove import (
    ADAGRAD_START,
    ALPHA,
    DEFAULT_EPOCHS,
    DEFAULT_LR,
    X_MAX,
    CellBatches,
    GloVe,
    count_cells,
    fit_glove,
    glove_loss,
    glove_weight,
    train_glove,
)
from fromzero.embeddings.methods import epochs_of, train_embeddings
from fromzero.embeddings.options import EmbedOptions, WordVectors
from fromzero.evaluate import nearest_neighbours

GROUPS = {
    "animals": ["cat", "dog", "horse", "cow", "sheep"],
    "colours": ["red", "green", "blue", "yellow", "purple"],
    "tools": ["hammer", "saw", "drill", "chisel", "wrench"],
}


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Tiny tensors: one thread avoids oversubscribing the cores that pytest-xdist's workers share."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def planted_corpus(sentences: int = 600, seed: int = 0) -> list[list[str]]:
    """Sentences that each draw their words from one group (and a shared filler word): groups never mix."""
    rng = np.random.default_rng(seed)
    names = list(GROUPS)
    corpus = []
    for _ in range(sentences):
        members = GROUPS[names[rng.integers(len(names))]]
        words = [members[i] for i in rng.integers(len(members), size=8)]
        words.insert(int(rng.integers(len(words))), "the")
        corpus.append(words)
    return corpus


def options(**changes: object) -> EmbedOptions:
    settings = {"dim": 8, "window": 3, "epochs": 30, "min_count": 1, "batch_size": 32, "lr": 0.1, "progress": False}
    return EmbedOptions(**{**settings, **changes})


def test_weighting_function_values() -> None:
    counts = torch.tensor([0.0, 1.0, X_MAX / 2, X_MAX, 10 * X_MAX])
    weights = glove_weight(counts)
    expected = torch.tensor([0.0, (1 / X_MAX) ** ALPHA, 0.5**ALPHA, 1.0, 1.0])
    torch.testing.assert_close(weights, expected)
    assert X_MAX == 100 and ALPHA == 0.75  # the paper's values
    assert torch.all(torch.diff(glove_weight(torch.linspace(0, 2 * X_MAX, 50))) >= 0)
    with pytest.raises(InputError, match="x_max and alpha must be positive"):
        glove_weight(counts, x_max=0)


def test_gradient_by_hand_matches_autograd() -> None:
    """dJ/dw_i = sum_j 2 f(X_ij) e_ij w~_j, dJ/dw~_j = sum_i 2 f(X_ij) e_ij w_i, dJ/db_i = sum_j 2 f(X_ij) e_ij."""
    torch.manual_seed(0)
    model = GloVe(vocab_size=6, dim=4)
    rows, cols = torch.tensor([0, 0, 3, 5, 2]), torch.tensor([1, 4, 3, 0, 1])
    counts = torch.tensor([3.0, 0.5, 120.0, 1.0, 7.0])
    weights = glove_weight(counts)
    glove_loss(model, (rows, cols, counts.log(), weights)).backward()

    w, w_tilde = model.word.weight.detach(), model.context.weight.detach()
    error = (w[rows] * w_tilde[cols]).sum(1) + model.word_bias.weight[rows, 0] + model.context_bias.weight[cols, 0]
    scale = (2 * weights * (error.detach() - counts.log()))[:, None]
    expected = {
        "word": torch.zeros_like(w).index_add_(0, rows, scale * w_tilde[cols]),
        "context": torch.zeros_like(w).index_add_(0, cols, scale * w[rows]),
        "word_bias": torch.zeros(6, 1).index_add_(0, rows, scale),
        "context_bias": torch.zeros(6, 1).index_add_(0, cols, scale),
    }
    for name, gradient in expected.items():
        torch.testing.assert_close(getattr(model, name).weight.grad, gradient)


def test_count_cells_weights_pairs_by_distance_and_drops_rare_words() -> None:
    words, cells = count_cells([["a", "b", "c"], ["a", "b", "rare"], ["a", "b"]], min_count=2, window=2)
    assert words == ["a", "b"]  # "c" and "rare" occur once: not counted, and no <unk> row
    dense = torch.zeros(2, 2).index_put_((cells.rows, cells.cols), cells.counts)
    torch.testing.assert_close(dense, torch.tensor([[0.0, 3.0], [3.0, 0.0]]))
    _, cells = count_cells([["a", "x", "b"]] * 2, min_count=1, window=2)
    assert sorted(cells.counts.tolist()) == [1, 1, 2, 2, 2, 2]  # a-b are 2 apart: 1/2 in each of two sentences


def test_batches_cover_every_cell_once_per_epoch() -> None:
    _, cells = count_cells(planted_corpus(50), min_count=1, window=3)
    batches = CellBatches(cells, batch_size=7)
    seen = torch.cat([batch[0] * 1000 + batch[1] for batch in batches])
    assert len(list(batches)) == len(batches)
    assert sorted(seen.tolist()) == sorted((cells.rows * 1000 + cells.cols).tolist())


def test_loss_decreases_and_planted_groups_become_neighbours() -> None:
    run = fit_glove(planted_corpus(), options())
    per_epoch = run.history.to_dataframe().groupby("epoch")["train_loss"].sum()
    assert per_epoch.iloc[-1] < 0.2 * per_epoch.iloc[0]
    vectors = run.word_vectors()
    for group, members in GROUPS.items():
        for word in members:
            neighbour = nearest_neighbours(vectors.vectors, vectors.words, word, k=1)[0][0]
            assert neighbour in members, f"{word} ({group}) is nearest to {neighbour}"


@pytest.mark.parametrize("table", ["word", "context"])
def test_each_table_alone_learns_the_planted_groups_at_the_default_learning_rate(table: str) -> None:
    run = fit_glove(planted_corpus(), options(lr=None, batch_size=None, epochs=200))
    vectors = getattr(run.model, table).weight.detach().numpy()
    for members in GROUPS.values():
        for word in members:
            neighbour = nearest_neighbours(vectors, run.words, word, k=1)[0][0]
            assert neighbour in members, f"{table}: {word} is nearest to {neighbour}"


def test_adagrad_sums_start_at_adagrad_start() -> None:
    """One batch holding every cell, one step: each parameter moves by lr * g / sqrt(ADAGRAD_START + g^2)."""
    corpus = planted_corpus(40)
    words, cells = count_cells(corpus, min_count=1, window=3)
    run = fit_glove(corpus, options(epochs=1, lr=None, batch_size=len(cells), seed=5))
    torch.manual_seed(5)
    start = GloVe(len(words), 8)
    batch = CellBatches(cells, batch_size=len(cells)).tensors
    glove_loss(start, batch).backward()
    for name, parameter in start.named_parameters():
        gradient = parameter.grad
        expected = parameter.detach() - DEFAULT_LR * gradient / torch.sqrt(ADAGRAD_START + gradient**2)
        torch.testing.assert_close(dict(run.model.named_parameters())[name].detach(), expected, rtol=1e-4, atol=1e-6)
    assert ADAGRAD_START > 0  # a zero start would make every first step exactly +-lr


def test_final_vectors_are_the_sum_of_both_tables_and_runs_reproduce() -> None:
    run = fit_glove(planted_corpus(100), options(epochs=2))
    np.testing.assert_allclose(run.model.vectors(), (run.model.word.weight + run.model.context.weight).detach().numpy())
    again = train_glove(planted_corpus(100), options(epochs=2))
    np.testing.assert_array_equal(run.model.vectors(), again.vectors)


def test_epochs_default_to_the_method_s_own() -> None:
    run = fit_glove(planted_corpus(60), options(epochs=None))
    assert run.history.to_dataframe()["epoch"].nunique() == DEFAULT_EPOCHS == epochs_of("glove", EmbedOptions())
    assert epochs_of("sgns", EmbedOptions()) == 5 and epochs_of("glove", EmbedOptions(epochs=3)) == 3


def test_dispatcher_trains_glove() -> None:
    vectors = train_embeddings("glove", planted_corpus(100), options(epochs=1))
    assert isinstance(vectors, WordVectors)
    assert vectors.vectors.shape == (16, 8) and "<unk>" not in vectors.words


@pytest.mark.parametrize(
    ("sentences", "message"),
    [
        ([], "empty vocabulary"),
        ([["a", "b"], ["c"]], "occurs at least min_count=2"),
        ([["a"], ["a"], ["b"], ["b"]], "no two words of the vocabulary occur within 3 positions"),
    ],
)
def test_bad_input_raises_a_clear_error(sentences: list[list[str]], message: str) -> None:
    with pytest.raises(InputError, match=message):
        train_glove(sentences, options(min_count=2))
