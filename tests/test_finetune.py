"""fromzero.finetune: freezing counts, LoRA parameters and merged saves, label alignment, padding, learning."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fromzero.errors import InputError, ScaleUnavailableError
from fromzero.finetune.checkpoints import load_classifier, resolve_checkpoint, save_finetuned
from fromzero.finetune.collate import PadCollator, align_labels, encode_tagged, encode_texts
from fromzero.finetune.freezing import freeze, trainable_parameters
from fromzero.finetune.inference import pooled_features, predict_tags
from fromzero.finetune.lora import add_lora
from fromzero.finetune.metrics import classification_scores, entity_scores, entity_tallies
from fromzero.finetune.options import FinetuneOptions
from fromzero.finetune.tasks import evaluate_classifier, evaluate_tagger, finetune_classifier, finetune_tagger
from fromzero.significance import f1_intervals
from fromzero.transformer.bert import IGNORE_INDEX

# MiniLM: 6 layers, hidden 384, feed-forward 1536, heads of a BERT layer counted by hand.
HIDDEN, FFN, LAYERS = 384, 1536, 6
ATTENTION = 4 * (HIDDEN * HIDDEN + HIDDEN) + 2 * HIDDEN  # Q, K, V, output projection; its LayerNorm
FEED_FORWARD = (HIDDEN * FFN + FFN) + (FFN * HIDDEN + HIDDEN) + 2 * HIDDEN  # two linears; their LayerNorm
LAYER = ATTENTION + FEED_FORWARD
POOLER = HIDDEN * HIDDEN + HIDDEN
HEAD = HIDDEN * 2 + 2  # two labels


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """pytest runs two workers on a 2-core machine: two OpenMP threads each would wait on each other at every op."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def checkpoint() -> str:
    return resolve_checkpoint("small")


@pytest.fixture(scope="module")
def classifier(checkpoint: str):
    torch.manual_seed(0)
    return load_classifier(checkpoint, ["negative", "positive"])


def test_a_bert_layer_has_the_hand_counted_parameters(classifier) -> None:
    model, _ = classifier
    layer = model.bert.encoder.layer[0]
    assert sum(p.numel() for p in layer.parameters()) == LAYER == 1_774_464


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("encoder", HEAD),
        ("top:0", POOLER + HEAD),
        ("top:2", 2 * LAYER + POOLER + HEAD),
        ("top:6", LAYERS * LAYER + POOLER + HEAD),
    ],
)
def test_freezing_policies_leave_exactly_the_right_parameters_trainable(classifier, policy: str, expected: int) -> None:
    model, _ = classifier
    counts = freeze(model, policy)
    assert counts.trainable == expected
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    if policy == "top:2":
        assert all(name.startswith(("bert.encoder.layer.4.", "bert.encoder.layer.5.", "bert.pooler.", "classifier."))
                   for name in trainable)
    assert not any(name.startswith("bert.embeddings.") for name in trainable)
    freeze(model, "none")
    assert trainable_parameters(model).trainable == trainable_parameters(model).total


@pytest.mark.parametrize("policy", ["top:7", "bottom", "top:-1", "top:"])
def test_bad_freezing_policy_raises(classifier, policy: str) -> None:
    with pytest.raises(InputError):
        freeze(classifier[0], policy)


def test_lora_adds_rank_times_width_parameters_and_a_merged_save_reloads_identically(checkpoint: str, tmp_path) -> None:
    from transformers import AutoModelForSequenceClassification

    torch.manual_seed(0)
    model, tokenizer = load_classifier(checkpoint, ["negative", "positive"])
    rank = 8
    lora = add_lora(model, "classify", rank=rank)
    per_matrix = rank * HIDDEN + HIDDEN * rank  # A (r x 384) and B (384 x r)
    assert trainable_parameters(lora).trainable == LAYERS * 2 * per_matrix + HEAD  # query and value in every layer
    with torch.no_grad():  # B starts at zero; give the adapters something to merge
        for name, parameter in lora.named_parameters():
            if "lora_B" in name:
                parameter.normal_(std=0.05)
    batch = PadCollator(tokenizer.pad_token_id)(encode_texts(tokenizer, ["a fine film", "dull and long"], 16))
    lora.eval()
    with torch.no_grad():
        before = lora(**batch).logits
    save_finetuned(lora, tokenizer, tmp_path, max_length=16)
    assert not (tmp_path / "adapter_config.json").exists()
    reloaded = AutoModelForSequenceClassification.from_pretrained(tmp_path).eval()
    assert not any("lora" in name for name, _ in reloaded.named_parameters())
    with torch.no_grad():
        after = reloaded(**batch).logits
    torch.testing.assert_close(after, before, atol=1e-5, rtol=1e-5)


def test_lora_with_freezing_is_refused() -> None:
    with pytest.raises(InputError, match="--lora"):
        FinetuneOptions(lora=True, freeze="top:2")


def test_align_labels_by_hand() -> None:
    # [CLS] new york ##er [SEP]: word 1 is split in two pieces, only the first is labelled.
    assert align_labels([None, 0, 1, 1, None], [3, 4]) == [IGNORE_INDEX, 3, 4, IGNORE_INDEX, IGNORE_INDEX]


def test_encode_tagged_labels_the_first_piece_of_each_word(classifier) -> None:
    _, tokenizer = classifier
    words = ["Visit", "Londonderry", "now"]
    features, word_ids = encode_tagged(tokenizer, [words], max_length=32, tag_ids=[[0, 1, 0]])
    pieces = tokenizer.convert_ids_to_tokens(features[0]["input_ids"])
    assert pieces[0] == "[CLS]" and pieces[-1] == "[SEP]"
    assert len(pieces) > len(words) + 2  # "londonderry" becomes london ##der ##ry
    labels = features[0]["labels"]
    first_pieces = [i for i, w in enumerate(word_ids[0]) if w is not None and (i == 0 or word_ids[0][i - 1] != w)]
    assert [labels[i] for i in first_pieces] == [0, 1, 0]
    assert all(label == IGNORE_INDEX for i, label in enumerate(labels) if i not in first_pieces)


def test_collator_pads_to_the_longest_in_the_batch() -> None:
    features = [
        {"input_ids": [101, 7, 102], "attention_mask": [1, 1, 1], "labels": [-100, 2, -100]},
        {"input_ids": [101, 7, 8, 9, 102], "attention_mask": [1, 1, 1, 1, 1], "labels": [-100, 1, 0, -100, -100]},
    ]
    batch = PadCollator(pad_token_id=0)(features)
    assert batch["input_ids"].shape == batch["attention_mask"].shape == batch["labels"].shape == (2, 5)
    assert batch["input_ids"][0].tolist() == [101, 7, 102, 0, 0]
    assert batch["attention_mask"][0].tolist() == [1, 1, 1, 0, 0]
    assert batch["labels"][0].tolist() == [-100, 2, -100, -100, -100]
    sequence = PadCollator(0)([{"input_ids": [1, 2], "labels": 1}, {"input_ids": [1], "labels": 0}])
    assert sequence["labels"].tolist() == [1, 0] and sequence["input_ids"].shape == (2, 2)


def test_mean_pooling_ignores_padding(classifier) -> None:
    model, tokenizer = classifier
    texts = ["short text", "a much longer text that forces the first one to be padded in its batch"]
    together = pooled_features(model, tokenizer, texts, max_length=32, batch_size=2)
    alone = pooled_features(model, tokenizer, texts[:1], max_length=32, batch_size=1)
    np.testing.assert_allclose(together[0], alone[0], atol=1e-5)
    assert together.shape == (2, HIDDEN)


def test_entity_and_token_metrics_disagree_on_a_boundary_error() -> None:
    true, predicted = [["B-PER", "I-PER", "O", "O"]], [["B-PER", "O", "O", "O"]]
    scores = entity_scores(true, predicted)
    assert scores["token_accuracy"] == 0.75
    assert scores["f1"] == 0.0 and scores["per_type"]["PER"]["support"] == 1


def test_entity_tallies_sum_to_the_entity_scores() -> None:
    true = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG", "O"], ["B-LOC", "O"]]
    predicted = [["B-PER", "I-PER", "O", "O"], ["O", "B-ORG", "B-PER"], ["B-PER", "O"]]
    tallies = entity_tallies(true, predicted)
    assert tallies.tolist() == [[1, 1, 2], [1, 2, 1], [0, 1, 1]]  # (correct, predicted, gold) per sentence
    correct, found, gold = tallies.sum(axis=0)
    scores = entity_scores(true, predicted)
    assert (correct / found, correct / gold, 2 * correct / (found + gold)) == pytest.approx(
        (scores["precision"], scores["recall"], scores["f1"]))
    only_locations = entity_tallies(true, predicted, keep=lambda sentence, entity: entity[0] == "LOC")
    assert only_locations.tolist() == [[0, 0, 1], [0, 0, 0], [0, 0, 1]]
    assert f1_intervals({"tagger": tallies}, resamples=50).scores.loc["tagger", "f1"] == pytest.approx(scores["f1"])
    with pytest.raises(InputError, match="2 predicted tag sequences for 3 true ones"):
        entity_tallies(true, predicted[:2])
    with pytest.raises(InputError, match="sentence 1 has 3 true tags but 2 predicted"):
        entity_tallies(true, [predicted[0], ["O", "O"], predicted[2]])
    with pytest.raises(InputError, match="no sentences"):
        entity_tallies([], [])


def test_classification_scores_macro_f1() -> None:
    scores = classification_scores(["a", "a", "b", "b"], ["a", "a", "a", "b"], ["a", "b"])
    assert scores["accuracy"] == 0.75
    assert scores["per_class"]["b"]["recall"] == 0.5
    assert scores["macro_f1"] == pytest.approx((0.8 + 2 / 3) / 2)


TEXTS = ["what a wonderful film", "a great and moving story", "brilliant acting", "i loved every minute",
         "a boring mess", "dull and far too long", "terrible script", "i hated every minute"]
LABELS = ["positive"] * 4 + ["negative"] * 4


def test_a_tiny_classifier_overfits_a_handful_and_reproduces() -> None:
    options = FinetuneOptions(epochs=8, lr=3e-4, batch_size=4, max_length=16, progress=False, warmup_fraction=0.0)
    result = finetune_classifier("small", TEXTS, LABELS, options)
    losses = result.history.train_loss
    assert np.mean(losses[-2:]) < 0.5 * np.mean(losses[:2])
    scores, _ = evaluate_classifier(result.model, result.tokenizer, TEXTS, LABELS, max_length=16)
    assert scores["accuracy"] == 1.0
    again = finetune_classifier("small", TEXTS, LABELS, FinetuneOptions(**{**options.__dict__, "epochs": 1}))
    once_more = finetune_classifier("small", TEXTS, LABELS, FinetuneOptions(**{**options.__dict__, "epochs": 1}))
    assert again.history.train_loss == once_more.history.train_loss


SENTENCES = [
    (["alice", "met", "bob"], ["B-PER", "O", "B-PER"]),
    (["we", "saw", "alice", "smith"], ["O", "O", "B-PER", "I-PER"]),
    (["bob", "jones", "left", "early"], ["B-PER", "I-PER", "O", "O"]),
    (["nothing", "to", "see", "here"], ["O", "O", "O", "O"]),
]


def test_a_tiny_tagger_overfits_a_handful() -> None:
    options = FinetuneOptions(epochs=20, lr=5e-4, batch_size=2, max_length=16, progress=False, warmup_fraction=0.0)
    result = finetune_tagger("small", SENTENCES, options)
    assert result.labels == ["O", "B-PER", "I-PER"]
    assert result.history.train_loss[-1] < 0.2 * result.history.train_loss[0]
    scores, predicted = evaluate_tagger(result.model, result.tokenizer, SENTENCES, max_length=16)
    assert scores["f1"] == 1.0, predicted


def test_validation_is_encoded_at_its_own_length(monkeypatch) -> None:
    """Training truncates at ``max_length``, validation at ``validation_max_length`` when given (no word dropped)."""
    from fromzero.finetune import tasks

    lengths = []
    encode = tasks.encode_tagged

    def recording_encode(tokenizer, sentences, max_length, tag_ids=None):
        lengths.append(max_length)
        return encode(tokenizer, sentences, max_length, tag_ids)

    monkeypatch.setattr(tasks, "encode_tagged", recording_encode)
    long_sentence = (["word"] * 20 + ["alice"], ["O"] * 20 + ["B-PER"])
    options = FinetuneOptions(epochs=1, batch_size=2, max_length=8, progress=False)
    finetune_tagger("small", SENTENCES, options, validation=[long_sentence], validation_max_length=32)
    finetune_tagger("small", SENTENCES, options, validation=[long_sentence])
    assert lengths == [8, 32, 8, 8]  # (training, validation) twice: the default keeps the training length


def test_words_cut_off_by_truncation_are_tagged_o(classifier, checkpoint: str) -> None:
    from fromzero.finetune.checkpoints import load_tagger

    model, tokenizer = load_tagger(checkpoint, ["O", "B-PER", "I-PER"])
    words = ["word"] * 20
    tags = predict_tags(model, tokenizer, [words], max_length=8)[0]
    assert len(tags) == 20 and tags[6:] == ["O"] * 14  # 8 pieces: [CLS], 6 words, [SEP]


def test_evaluation_labels_must_be_known() -> None:
    with pytest.raises(InputError, match="'neutral'"):
        finetune_classifier("small", TEXTS, LABELS, FinetuneOptions(epochs=1, max_length=8, progress=False),
                            validation=(["meh"], ["neutral"]))


def test_single_label_is_refused() -> None:
    with pytest.raises(InputError, match="single label"):
        finetune_classifier("small", TEXTS[:2], LABELS[:2])


def test_checkpoint_names(tmp_path, monkeypatch) -> None:
    assert resolve_checkpoint("small").endswith("model")
    with pytest.raises(InputError, match="no such model folder"):
        resolve_checkpoint(str(tmp_path / "missing") + "/")
    with pytest.raises(InputError, match=r"config\.json"):
        resolve_checkpoint(str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ScaleUnavailableError, match="bert-base-uncased"):
        resolve_checkpoint("bert-base-uncased")


def test_the_new_head_gets_its_own_learning_rate(classifier) -> None:
    from fromzero.finetune.tasks import make_finetune_optimizer

    model, _ = classifier
    freeze(model, "top:1")
    optimizer = make_finetune_optimizer(model, FinetuneOptions(lr=1e-5, head_lr=1e-3, weight_decay=0.1, device="cpu"))
    head = {id(p) for p in model.classifier.parameters()}
    for group in optimizer.param_groups:
        in_head = {id(p) in head for p in group["params"]}
        assert len(in_head) == 1  # a group is either all head or all encoder
        assert group["lr"] == (1e-3 if in_head.pop() else 1e-5)
        assert group["weight_decay"] == (0.1 if all(p.ndim >= 2 for p in group["params"]) else 0.0)
    trained = sum(p.numel() for group in optimizer.param_groups for p in group["params"])
    assert trained == trainable_parameters(model).trainable
    freeze(model, "none")
