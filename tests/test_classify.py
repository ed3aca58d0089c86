"""The bag-of-embeddings classifier and its feature pipelines: it learns, it pools correctly, it fails clearly."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fromzero.classify import (
    BagOfEmbeddings,
    TokenIdDataset,
    average_word_vectors,
    classification_loss,
    embedding_matrix,
    encode_labels,
    pad_collate,
    predict,
)
from fromzero.errors import InputError
from fromzero.train import TrainConfig, fit, make_loader


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
