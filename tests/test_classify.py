"""The bag-of-embeddings classifier and its feature pipelines: it learns, it pools correctly, it fails clearly."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import accuracy_score, f1_score

from fromzero.batches import make_loader
from fromzero.classify import (
    BagOfEmbeddings,
    TokenIdDataset,
    average_word_vectors,
    classification_loss,
    embedding_matrix,
    encode_labels,
    pad_collate,
    predict,
    predict_proba,
)
from fromzero.errors import InputError
from fromzero.significance import accuracy_intervals, class_tallies, f1_intervals, mcnemar_test
from fromzero.train import TrainConfig, fit


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """Tiny models on a busy 2-core machine: a second thread only adds waiting, and can slow training many times."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def toy_task(n: int, seed: int) -> TokenIdDataset:
    """Class 0 texts use words 2-9, class 1 words 10-17, both sprinkled with shared words 18-29; lengths 3-12."""
    rng = np.random.default_rng(seed)
    sequences, labels = [], []
    for _ in range(n):
        label = int(rng.integers(2))
        length = int(rng.integers(3, 13))
        own = rng.integers(2 + 8 * label, 10 + 8 * label, size=length // 2 + 1)
        shared = rng.integers(18, 30, size=length - len(own))
        sequences.append(rng.permutation(np.concatenate([own, shared])).tolist())
        labels.append(label)
    return TokenIdDataset(sequences, labels)


def train_toy(seed: int) -> tuple[BagOfEmbeddings, list[float]]:
    torch.manual_seed(seed)
    model = BagOfEmbeddings(vocab_size=30, embedding_dim=8, num_classes=2)
    loader = make_loader(toy_task(400, seed=1), batch_size=32, seed=seed, collate_fn=pad_collate)
    config = TrainConfig(epochs=8, lr=0.05, progress=False, seed=seed, schedule="constant")
    history = fit(model, loader, classification_loss, config)
    return model, history.train_loss


def test_learns_a_separable_toy_task() -> None:
    model, losses = train_toy(seed=0)
    assert np.mean(losses[-5:]) < 0.25 * np.mean(losses[:5])
    test = toy_task(200, seed=2)
    batches = [pad_collate([test[i] for i in range(start, min(start + 50, len(test)))]) for start in range(0, 200, 50)]
    accuracy = (predict(model, batches) == np.array(test.labels)).mean()
    assert accuracy >= 0.97


def test_seeded_training_reproduces() -> None:
    first, _ = train_toy(seed=3)
    second, _ = train_toy(seed=3)
    for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_padding_does_not_change_a_text_s_vector() -> None:
    torch.manual_seed(0)
    model = BagOfEmbeddings(vocab_size=12, embedding_dim=4, num_classes=3)
    alone = pad_collate([([3, 4, 5], 0)])
    padded = pad_collate([([3, 4, 5], 0), ([1, 2, 3, 4, 5, 6, 7, 8, 9], 1)])
    pooled_alone = model.pool(alone["input_ids"], alone["attention_mask"])
    pooled_padded = model.pool(padded["input_ids"], padded["attention_mask"])
    assert torch.allclose(pooled_alone[0], pooled_padded[0])
    assert torch.allclose(pooled_alone[0], model.embedding.weight[[3, 4, 5]].mean(dim=0))
    assert torch.allclose(model.pool(padded["input_ids"]), pooled_padded)  # the mask defaults to "not padding"


def test_pad_collate_shapes_and_mask() -> None:
    batch = pad_collate([([5, 6], 1), ([7], 0), ([8, 9, 10], 2)], pad_id=0)
    assert batch["input_ids"].tolist() == [[5, 6, 0], [7, 0, 0], [8, 9, 10]]
    assert batch["attention_mask"].sum(dim=1).tolist() == [2, 1, 3]
    assert batch["labels"].tolist() == [1, 0, 2]
    with pytest.raises(InputError, match="empty batch"):
        pad_collate([])
    from_arrays = pad_collate([(np.array([5, 6]), 1), (np.array([7]), 0)], pad_id=3)
    assert from_arrays["input_ids"].tolist() == [[5, 6], [7, 3]]
    assert from_arrays["input_ids"].dtype == torch.long and from_arrays["attention_mask"].dtype == torch.bool


def test_from_pretrained_copies_and_freezes() -> None:
    vectors = np.arange(20, dtype=np.float32).reshape(5, 4)
    model = BagOfEmbeddings.from_pretrained(vectors, num_classes=2, freeze=True)
    assert torch.equal(model.embedding.weight[1:], torch.from_numpy(vectors[1:]))
    assert torch.count_nonzero(model.embedding.weight[0]) == 0  # the padding row
    assert not model.embedding.weight.requires_grad
    assert BagOfEmbeddings.from_pretrained(vectors, num_classes=2).embedding.weight.requires_grad


def test_binary_cross_entropy_gradient_is_sigmoid_minus_label() -> None:
    z = torch.tensor([-3.0, -0.5, 0.0, 0.7, 4.0], requires_grad=True)
    y = torch.tensor([0.0, 1.0, 1.0, 0.0, 1.0])
    F.binary_cross_entropy_with_logits(z, y, reduction="sum").backward()
    assert torch.allclose(z.grad, torch.sigmoid(z.detach()) - y)


def test_weighted_loss_is_pytorch_s_weighted_mean() -> None:
    torch.manual_seed(0)
    model = BagOfEmbeddings(vocab_size=10, embedding_dim=3, num_classes=3)
    batch = pad_collate([([1, 2], 0), ([3], 1), ([4, 5, 6], 2), ([7], 2)])
    weight = torch.tensor([1.0, 2.0, 5.0])
    logits = model(batch["input_ids"], batch["attention_mask"])
    per_example = F.cross_entropy(logits, batch["labels"], reduction="none")
    example_weights = weight[batch["labels"]]
    by_hand = (example_weights * per_example).sum() / example_weights.sum()
    assert torch.allclose(classification_loss(model, batch, weight=weight), by_hand)
    assert torch.allclose(partial(classification_loss, weight=None)(model, batch), per_example.mean())


def test_average_word_vectors() -> None:
    words = ["cat", "dog", "fish"]
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [3.0, 3.0]])
    features = average_word_vectors([["cat", "dog", "unknown"], ["fish"], ["nothing", "known"]], words, vectors)
    assert np.allclose(features, [[0.5, 0.5], [3.0, 3.0], [0.0, 0.0]])
    with pytest.raises(InputError, match="matrix of vectors"):
        average_word_vectors([["cat"]], words, vectors[:2])
    with pytest.raises(InputError, match="tokenise the texts first"):
        average_word_vectors(["a raw string"], words, vectors)


def test_average_word_vectors_takes_a_gensim_model_as_it_is() -> None:
    """What Chapter 7 tells the reader: ``average_word_vectors(tokens, model.wv.index_to_key, model.wv.vectors)``."""
    gensim_models = pytest.importorskip("gensim.models")
    words = ["cat", "dog", "fish"]
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [3.0, 3.0]], dtype=np.float32)
    keyed = gensim_models.KeyedVectors(vector_size=2)
    keyed.add_vectors(words, vectors)
    texts = [["dog", "cat", "zebra"], ["fish", "fish"]]
    assert np.allclose(average_word_vectors(texts, keyed.index_to_key, keyed.vectors), [[0.5, 0.5], [3.0, 3.0]])


def test_embedding_matrix_copies_known_rows() -> None:
    words = ["cat", "dog"]
    vectors = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    matrix = embedding_matrix(["<pad>", "<unk>", "dog", "zebra"], words, vectors)
    assert matrix.shape == (4, 2)
    assert np.array_equal(matrix[0], [0.0, 0.0]) and np.array_equal(matrix[2], [3.0, 4.0])
    assert not np.allclose(matrix[3], 0.0)


def test_bad_input_gives_clear_errors() -> None:
    with pytest.raises(InputError, match=r"unknown label.*'weather'"):
        encode_labels(["sport", "weather"], ["business", "sport"])
    assert encode_labels(["sport", "business"], ["business", "sport"]) == [1, 0]
    with pytest.raises(InputError, match="3 token sequences but 2 labels"):
        TokenIdDataset([[1], [2], [3]], [0, 1])
    with pytest.raises(InputError, match=r"no tokens.*number 1"):
        TokenIdDataset([[1], []], [0, 1])
    with pytest.raises(InputError, match="padding_idx"):
        BagOfEmbeddings(vocab_size=5, embedding_dim=2, num_classes=2, padding_idx=5)
    model = BagOfEmbeddings(vocab_size=5, embedding_dim=2, num_classes=2)
    with pytest.raises(InputError, match="batch, length"):
        model(torch.tensor([1, 2, 3]))


def test_predict_proba_rows_are_softmax_and_agree_with_predict() -> None:
    torch.manual_seed(0)
    model = BagOfEmbeddings(vocab_size=10, embedding_dim=3, num_classes=4)
    batches = [pad_collate([([1, 2], 0), ([3], 1)]), pad_collate([([4, 5, 6], 2)])]
    probabilities = predict_proba(model, batches)
    assert probabilities.shape == (3, 4)
    assert np.allclose(probabilities.sum(axis=1), 1.0)
    assert np.array_equal(probabilities.argmax(axis=1), predict(model, batches))
    with pytest.raises(InputError, match=r"predict_proba\(\) got no batches"):
        predict_proba(model, [])


def hand_made_predictions() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """200 examples of 3 classes; 'good' is right on 190 of them, 'poor' on 120, 'copy' is 'good' again."""
    rng = np.random.default_rng(5)
    truth = rng.integers(3, size=200)
    good, poor = truth.copy(), truth.copy()
    good[:10] = (truth[:10] + 1) % 3
    poor[:80] = (truth[:80] + 2) % 3
    return truth, {"good": good, "poor": poor, "copy": good.copy()}


def test_accuracy_intervals_point_scores_match_scikit_learn() -> None:
    truth, predictions = hand_made_predictions()
    board = accuracy_intervals(truth, predictions, resamples=200, seed=0)
    assert board.items == 200
    assert board.scores.loc["good", "accuracy"] == pytest.approx(0.95)
    assert board.scores.loc["poor", "accuracy"] == pytest.approx(0.60)
    for name, predicted in predictions.items():
        assert board.scores.loc[name, "accuracy"] == pytest.approx(accuracy_score(truth, predicted))
        assert board.scores.loc[name, "macro-F1"] == pytest.approx(f1_score(truth, predicted, average="macro"))
        low, high = board.interval(name)
        assert low <= board.scores.loc[name, "accuracy"] <= high
    # string labels; a class that the method never predicts counts with F1 = 0, as in scikit-learn
    truth_strings, never_b = ["a", "a", "b", "b"], ["a", "a", "a", "a"]
    strings = accuracy_intervals(truth_strings, {"m": never_b}, resamples=10)
    assert strings.scores.loc["m", "macro-F1"] == pytest.approx(f1_score(truth_strings, never_b, average="macro"))


def test_accuracy_interval_has_the_binomial_width() -> None:
    truth, predictions = hand_made_predictions()
    low, high = accuracy_intervals(truth, predictions, resamples=2000, seed=1).interval("poor")
    binomial = 2 * 1.96 * np.sqrt(0.6 * 0.4 / 200)  # the normal approximation's 95 % width
    assert high - low == pytest.approx(binomial, rel=0.15)


def test_identical_methods_differ_by_exactly_zero() -> None:
    truth, predictions = hand_made_predictions()
    board = accuracy_intervals(truth, predictions, resamples=300)
    for metric in ("accuracy", "macro-F1"):
        assert board.difference("good", "copy", metric) == (0.0, 0.0, 0.0)
        assert not board.beats("good", "copy", metric) and not board.beats("copy", "good", metric)


def test_a_clearly_better_method_beats_a_worse_one() -> None:
    truth, predictions = hand_made_predictions()
    board = accuracy_intervals(truth, predictions, resamples=500, seed=3)
    estimate, low, high = board.difference("good", "poor")
    assert estimate == pytest.approx(0.35)
    assert 0 < low < estimate < high
    assert board.beats("good", "poor") and board.beats("good", "poor", "macro-F1")
    assert not board.beats("poor", "good")


def test_paired_difference_is_tighter_than_separate_intervals() -> None:
    """Two methods that differ on 4 of 200 examples: their own intervals overlap, yet the paired difference is clear."""
    truth, predictions = hand_made_predictions()
    close = predictions["good"].copy()
    close[10:14] = (truth[10:14] + 1) % 3  # 4 more mistakes
    board = accuracy_intervals(truth, {"good": predictions["good"], "close": close}, resamples=1000, seed=0)
    good_low, good_high = board.interval("good")
    close_high = board.interval("close")[1]
    assert close_high > good_low  # separately, the two intervals overlap
    _, low, high = board.difference("good", "close")
    assert low > 0 and high - low < good_high - good_low  # paired: close never gets right what good gets wrong


def test_accuracy_intervals_reproduce_with_a_seed() -> None:
    truth, predictions = hand_made_predictions()
    first = accuracy_intervals(truth, predictions, resamples=100, seed=7)
    again = accuracy_intervals(truth, predictions, resamples=100, seed=7)
    other = accuracy_intervals(truth, predictions, resamples=100, seed=8)
    assert np.array_equal(first.resampled["macro-F1"], again.resampled["macro-F1"])
    assert not np.array_equal(first.resampled["accuracy"], other.resampled["accuracy"])
    table = first.table(digits=2)
    assert list(table.columns) == ["accuracy", "macro-F1"] and list(table.index) == ["good", "poor", "copy"]
    assert table.loc["good", "accuracy"].startswith("0.95 [")


def test_accuracy_intervals_reject_bad_input() -> None:
    truth, predictions = hand_made_predictions()
    with pytest.raises(InputError, match="at least one method"):
        accuracy_intervals(truth, {})
    with pytest.raises(InputError, match=r"'short' has \(199,\) predictions for \(200,\) true labels"):
        accuracy_intervals(truth, {"short": truth[:-1]})
    with pytest.raises(InputError, match="non-empty"):
        accuracy_intervals([], {"m": []})
    with pytest.raises(InputError, match="0 < level < 1"):
        accuracy_intervals(truth, predictions, level=95)
    with pytest.raises(InputError, match="resamples >= 1"):
        accuracy_intervals(truth, predictions, resamples=0)
    board = accuracy_intervals(truth, predictions, resamples=10)
    with pytest.raises(InputError, match=r"no method named 'best'.*good, poor, copy"):
        board.interval("best")
    with pytest.raises(InputError, match="no metric named 'f1'"):
        board.difference("good", "poor", "f1")


def hand_made_tallies() -> dict[str, np.ndarray]:
    """40 items with one gold positive each; 'tagger' predicts 30 positives, 24 of them right; 'twin' is a copy."""
    predicted = np.random.default_rng(2).permutation(np.repeat([0, 1, 2], [16, 18, 6]))  # 18 + 2 * 6 = 30
    correct = np.minimum(predicted, 1)  # right once on each of the 24 items where it predicts something
    tagger = np.column_stack([correct, predicted, np.ones(40)])
    weaker = tagger.copy()
    weaker[:, 0] = 0
    weaker[np.flatnonzero(correct)[:8], 0] = 1  # 8 right of the same 30 predicted
    return {"tagger": tagger, "twin": tagger.copy(), "weaker": weaker}


def test_f1_intervals_point_scores_are_the_f1_of_the_summed_tallies() -> None:
    tallies = hand_made_tallies()
    assert tallies["tagger"].sum(axis=0).tolist() == [24, 30, 40]
    board = f1_intervals(tallies, resamples=300, seed=0)
    assert board.items == 40 and board.main_metric == "f1"
    assert list(board.scores.columns) == ["precision", "recall", "f1"]
    assert board.scores.loc["tagger"].tolist() == pytest.approx([24 / 30, 24 / 40, 2 * 24 / 70])
    for name in tallies:
        for metric in ("precision", "recall", "f1"):
            low, high = board.interval(name, metric)
            assert low <= board.scores.loc[name, metric] <= high
    assert board.interval("tagger") == board.interval("tagger", "f1")  # F1 unless told otherwise
    table = board.table(digits=2)
    assert table.loc["tagger", "f1"].startswith("0.69 [")


def test_f1_of_a_binary_class_matches_scikit_learn() -> None:
    truth, predicted = hand_made_predictions()[0] == 1, hand_made_predictions()[1]["poor"] == 1
    tallies = class_tallies(truth, predicted)
    assert tallies.shape == (200, 3)
    board = f1_intervals({"poor": tallies}, resamples=10)
    assert board.scores.loc["poor", "f1"] == pytest.approx(f1_score(truth, predicted))
    labels = np.where(truth, "entity", "other")
    guesses = np.where(predicted, "entity", "other")
    assert np.array_equal(class_tallies(labels, guesses, positive="entity"), tallies)


def test_f1_intervals_are_paired_and_reproducible() -> None:
    tallies = hand_made_tallies()
    board = f1_intervals(tallies, resamples=500, seed=4)
    for metric in ("precision", "recall", "f1"):
        assert np.array_equal(board.resampled[metric][0], board.resampled[metric][1])  # the twin, on every draw
        assert board.difference("tagger", "twin", metric) == (0.0, 0.0, 0.0)
    assert board.beats("tagger", "weaker") and not board.beats("weaker", "tagger")
    # the same seed gives the same draws, in a second call too: a difference across two calls stays paired
    alone = f1_intervals({"weaker": tallies["weaker"]}, resamples=500, seed=4)
    assert np.array_equal(alone.resampled["f1"][0], board.resampled["f1"][2])
    other = f1_intervals(tallies, resamples=500, seed=5)
    assert not np.array_equal(other.resampled["f1"], board.resampled["f1"])
    # the draws are accuracy_intervals' draws: F1 of a class on words and accuracy on them read the same resamples
    truth, predictions = hand_made_predictions()
    accuracy = accuracy_intervals(truth, {"good": predictions["good"]}, resamples=50, seed=4)
    right = class_tallies(truth == predictions["good"], np.ones(200, dtype=bool))  # precision of "all right" = accuracy
    assert np.allclose(f1_intervals({"good": right}, resamples=50, seed=4).resampled["precision"],
                       accuracy.resampled["accuracy"])


def test_nothing_predicted_scores_zero_not_nan() -> None:
    board = f1_intervals({"silent": [[0, 0, 1], [0, 0, 2]]}, resamples=20)
    assert board.scores.loc["silent"].tolist() == [0.0, 0.0, 0.0]
    assert not np.isnan(board.resampled["precision"]).any()


def test_f1_intervals_reject_bad_input() -> None:
    tallies = hand_made_tallies()
    with pytest.raises(InputError, match="at least one system"):
        f1_intervals({})
    with pytest.raises(InputError, match=r"different numbers of items \('tagger' 40, 'short' 39\)"):
        f1_intervals({"tagger": tallies["tagger"], "short": tallies["tagger"][:-1]})
    with pytest.raises(InputError, match=r"'empty': tallies must be a non-empty \(items, 3\) table"):
        f1_intervals({"empty": np.zeros((0, 3))})
    with pytest.raises(InputError, match=r"'pairs'.*\(correct, predicted, gold\).*shape \(40, 2\)"):
        f1_intervals({"pairs": tallies["tagger"][:, :2]})
    with pytest.raises(InputError, match=r"'impossible': .*correct <= predicted"):
        f1_intervals({"impossible": [[2, 1, 2]]})
    with pytest.raises(InputError, match="0 < level < 1"):
        f1_intervals(tallies, level=95)
    with pytest.raises(InputError, match="no metric named 'accuracy'"):
        f1_intervals(tallies, resamples=5).interval("tagger", "accuracy")
    with pytest.raises(InputError, match=r"\(3,\) predictions for \(4,\) true labels"):
        class_tallies([True, False, True, True], [True, False, True])
    with pytest.raises(InputError, match="non-empty"):
        class_tallies([], [])


def test_mcnemar_counts_the_disagreements_and_gives_the_exact_binomial_p() -> None:
    truth = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    first = np.array([0, 1, 2, 0, 1, 2, 0, 0])  # wrong on the last
    second = np.array([0, 1, 0, 1, 2, 2, 0, 1])  # wrong on 3 that first gets right, right on the last
    result = mcnemar_test(truth, first, second)
    assert (result.first_only, result.second_only, result.disagreements) == (3, 1, 4)
    assert result.p_value == pytest.approx(2 * (1 + 4) / 16)  # P(X <= 1 or X >= 3), X ~ Binomial(4, 1/2)
    swapped = mcnemar_test(truth, second, first)
    assert (swapped.first_only, swapped.second_only, swapped.p_value) == (1, 3, result.p_value)
    # three disagreements all won by one method: 2 / 2**3, far from any verdict
    assert mcnemar_test([0, 0, 0, 1], [0, 0, 0, 1], [1, 1, 1, 1]).p_value == pytest.approx(0.25)
    # the same answers, or different wrong answers, are no disagreement at all
    assert mcnemar_test(truth, first, first).p_value == 1.0
    assert mcnemar_test([0, 0], [1, 1], [2, 2]).disagreements == 0


def test_mcnemar_separates_clearly_different_methods() -> None:
    truth, predictions = hand_made_predictions()
    result = mcnemar_test(truth, predictions["good"], predictions["poor"])
    assert (result.first_only, result.second_only) == (70, 0)
    assert result.p_value < 1e-15


def test_mcnemar_rejects_mismatched_predictions() -> None:
    with pytest.raises(InputError, match="same documents"):
        mcnemar_test([0, 1, 2], [0, 1], [0, 1, 2])
    with pytest.raises(InputError, match="non-empty"):
        mcnemar_test([], [], [])
