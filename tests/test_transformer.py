"""fromzero.transformer: attention against PyTorch's, masks that hide what they should, models that learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from fromzero.checkpoint import load_checkpoint
from fromzero.errors import InputError
from fromzero.train import TrainConfig, fit
from fromzero.transformer.attention import (
    KVCache,
    MultiHeadAttention,
    causal_mask,
    copy_from_torch_attention,
    rotary_angles,
    rotate,
    scaled_dot_product_attention,
)
from fromzero.transformer.bert import IGNORE_INDEX, BertConfig, TinyBERT, bert_pretraining_loss, mask_tokens
from fromzero.transformer.blocks import TransformerBlock, copy_from_torch_encoder_layer, sinusoidal_table
from fromzero.transformer.corpus import split_holdout
from fromzero.transformer.examples import (
    BertTokens,
    MLMCollator,
    TokenWindows,
    bert_examples,
    encode_stream,
    encode_with_lengths,
    train_byte_bpe,
    train_wordpiece,
)
from fromzero.transformer.gpt import (
    GPTConfig,
    TinyGPT,
    causal_lm_loss,
    count_parameters,
    filter_logits,
    generate,
    sample_next,
)
from fromzero.transformer.scoring import (
    bert_scores,
    gpt_scores,
    gpt_token_nats,
    mlm_predictions,
    predicted_characters,
    scoring_windows,
)

TOLERANCE = 1e-5
TEXT = (
    "The committee met on Tuesday to discuss the budget.\n"
    "Ministers said the economy grew faster than expected, by 2.5% in the year to June.\n\n"
    "Café owners in Zürich welcomed the news — prices fell for the first time since 2001.\n"
) * 20


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors: one thread avoids OpenMP's synchronisation cost, which dominates on a busy 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_gpt(attention: str = "sdpa", **changes: object) -> TinyGPT:
    torch.manual_seed(0)
    config = {"vocab_size": 50, "context_length": 16, "d_model": 32, "n_layers": 2, "n_heads": 4}
    return TinyGPT(GPTConfig(**{**config, "attention": attention, **changes}))


# Attention ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("masked", [False, True])
def test_written_out_attention_equals_pytorch(masked: bool) -> None:
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 3, 7, 8) for _ in range(3))
    mask = causal_mask(7) & (torch.rand(2, 1, 1, 7) > 0.3) if masked else None
    if mask is not None:
        mask[..., 0] = True  # every query may see at least one key, as PyTorch's reference needs
    ours, weights = scaled_dot_product_attention(q, k, v, mask)
    reference = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert (ours - reference).abs().max() < TOLERANCE
    assert torch.allclose(weights.sum(-1), torch.ones(2, 3, 7))
    if mask is not None:
        assert (weights[~mask.expand_as(weights)] == 0).all()


def test_fully_masked_query_gets_zeros_not_nan() -> None:
    q = k = v = torch.randn(1, 1, 3, 4)
    mask = torch.tensor([[True, True, False], [False, False, False], [True, True, True]])
    out, weights = scaled_dot_product_attention(q, k, v, mask)
    assert torch.isfinite(out).all()
    assert (out[0, 0, 1] == 0).all() and (weights[0, 0, 1] == 0).all()


@pytest.mark.parametrize("backend", ["math", "sdpa"])
@pytest.mark.parametrize("causal", [False, True])
def test_multi_head_attention_equals_torch_multihead_attention(backend: str, causal: bool) -> None:
    torch.manual_seed(0)
    reference = nn.MultiheadAttention(16, 4, batch_first=True)
    ours = MultiHeadAttention(16, 4, causal=causal, backend=backend)
    copy_from_torch_attention(ours, reference)
    x = torch.randn(3, 6, 16)
    attention_mask = torch.ones(3, 6, dtype=torch.long)
    attention_mask[1, 4:] = 0  # right padding
    attention_mask[2, 2:] = 0
    expected, expected_weights = reference(
        x,
        x,
        x,
        key_padding_mask=attention_mask == 0,
        attn_mask=~causal_mask(6) if causal else None,
        average_attn_weights=False,
    )
    got, _ = ours(x, attention_mask)
    assert (got - expected).abs().max() < TOLERANCE
    _, weights = ours(x, attention_mask, need_weights=True)
    assert (weights - expected_weights).abs().max() < TOLERANCE


@pytest.mark.parametrize("norm_first", [True, False])
def test_block_equals_torch_encoder_layer(norm_first: bool) -> None:
    torch.manual_seed(0)
    reference = nn.TransformerEncoderLayer(
        16, 4, 32, dropout=0.0, activation="gelu", batch_first=True, norm_first=norm_first
    )
    ours = TransformerBlock(16, 4, 32, norm_first=norm_first)
    copy_from_torch_encoder_layer(ours, reference)
    x = torch.randn(2, 5, 16)
    attention_mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    expected = reference(x, src_key_padding_mask=attention_mask == 0)  # training mode: no fused fast path
    got, _ = ours(x, attention_mask)
    assert (got - expected).abs().max() < TOLERANCE


def test_both_attention_backends_give_the_same_model() -> None:
    fused, written_out = tiny_gpt("sdpa"), tiny_gpt("math")
    written_out.load_state_dict(fused.state_dict())
    ids = torch.randint(0, 50, (2, 16))
    assert (fused(ids) - written_out(ids)).abs().max() < TOLERANCE


def test_sinusoidal_table_follows_the_formula() -> None:
    table = sinusoidal_table(50, 8)
    position, i = 17, 3
    angle = position / 10000 ** (2 * i / 8)
    assert table[position, 2 * i] == pytest.approx(math.sin(angle), abs=1e-6)
    assert table[position, 2 * i + 1] == pytest.approx(math.cos(angle), abs=1e-6)


def test_rotation_keeps_lengths_and_makes_scores_depend_on_the_distance_only() -> None:
    angles = rotary_angles(40, 8)
    cos, sin = angles.cos(), angles.sin()
    generator = torch.Generator().manual_seed(0)
    query, key = torch.randn(8, generator=generator), torch.randn(8, generator=generator)
    turned_q, turned_k = rotate(query.expand(40, 8), cos, sin), rotate(key.expand(40, 8), cos, sin)
    assert torch.allclose(turned_q.norm(dim=-1), query.norm().expand(40), atol=TOLERANCE)
    assert turned_q[0] @ turned_k[0] == pytest.approx(float(query @ key), abs=TOLERANCE)  # position 0: no turn
    three_apart = [float(turned_q[m] @ turned_k[m + 3]) for m in (0, 10, 30)]
    assert three_apart == pytest.approx([three_apart[0]] * 3, abs=TOLERANCE)
    assert float(turned_q[0] @ turned_k[5]) != pytest.approx(three_apart[0], abs=1e-3)


def test_rotary_gpt_leaks_nothing_from_the_future_and_adds_no_position_parameters() -> None:
    rotary, learned = tiny_gpt(positions="rotary").eval(), tiny_gpt()
    assert count_parameters(learned) - count_parameters(rotary) == 16 * 32
    ids = torch.randint(0, 50, (1, 16))
    changed = ids.clone()
    changed[0, 9] = (ids[0, 9] + 1) % 50
    assert torch.equal(rotary(ids)[0, :9], rotary(changed)[0, :9])
    written_out = tiny_gpt("math", positions="rotary").eval()
    written_out.load_state_dict(rotary.state_dict())
    assert (rotary(ids) - written_out(ids)).abs().max() < TOLERANCE
    with pytest.raises(InputError, match="head size \\(5\\) must be even"):
        MultiHeadAttention(10, 2, rotary_length=8)


def test_heads_must_divide_the_width() -> None:
    with pytest.raises(InputError, match="multiple of n_heads"):
        MultiHeadAttention(10, 3)


# GPT ---------------------------------------------------------------------------------------------------------


def test_causal_mask_leaks_nothing_from_the_future() -> None:
    model = tiny_gpt().eval()
    ids = torch.randint(0, 50, (1, 16))
    changed = ids.clone()
    changed[0, 9] = (ids[0, 9] + 1) % 50
    before, after = model(ids), model(changed)
    assert torch.equal(before[0, :9], after[0, :9])
    assert not torch.allclose(before[0, 9:], after[0, 9:])


def test_weight_tying_shares_one_matrix_and_saves_its_parameters() -> None:
    tied, untied = tiny_gpt(), tiny_gpt(tie_weights=False)
    assert tied.lm_head.weight is tied.token_embedding.weight
    assert count_parameters(untied) - count_parameters(tied) == 50 * 32


def test_longer_input_than_the_context_is_refused() -> None:
    with pytest.raises(InputError, match="longer than the context"):
        tiny_gpt()(torch.zeros(1, 17, dtype=torch.long))


def test_top_k_and_top_p_keep_the_right_tokens() -> None:
    logits = torch.log(torch.tensor([[0.5, 0.2, 0.15, 0.1, 0.05]]))
    kept_k = torch.isfinite(filter_logits(logits, top_k=2))
    assert kept_k.tolist() == [[True, True, False, False, False]]
    kept_p = torch.isfinite(filter_logits(logits, top_p=0.8))  # 0.5 + 0.2 < 0.8 <= 0.5 + 0.2 + 0.15
    assert kept_p.tolist() == [[True, True, True, False, False]]
    assert torch.isfinite(filter_logits(logits, top_p=0.01)).sum() == 1  # the top token always survives
    assert sample_next(logits, temperature=0).item() == 0


def test_sampling_frequencies_follow_the_tempered_distribution() -> None:
    logits = torch.log(torch.tensor([0.6, 0.3, 0.1])).expand(20000, 3)
    generator = torch.Generator().manual_seed(0)
    draws = sample_next(logits, temperature=2.0, generator=generator)
    expected = torch.softmax(logits[0] / 2.0, dim=-1)
    observed = torch.bincount(draws, minlength=3) / len(draws)
    assert (observed - expected).abs().max() < 0.015


def test_seeded_generation_reproduces() -> None:
    model, prompt = tiny_gpt(), torch.zeros(1, 1, dtype=torch.long)
    first = generate(model, prompt, 20, top_k=10, generator=torch.Generator().manual_seed(1))
    second = generate(model, prompt, 20, top_k=10, generator=torch.Generator().manual_seed(1))
    assert first.shape == (1, 21) and torch.equal(first, second)


def test_tiny_gpt_overfits_one_batch() -> None:
    model = tiny_gpt()
    ids = torch.randint(0, 50, (4, 17), generator=torch.Generator().manual_seed(0))
    batch = (ids[:, :-1], ids[:, 1:])
    config = TrainConfig(epochs=150, lr=3e-3, schedule="constant", progress=False, device="cpu")
    history = fit(model, [batch], causal_lm_loss, config)
    assert history.train_loss[0] > 3.5
    assert history.train_loss[-1] < 0.05


def test_checkpoint_round_trip_gives_identical_logits(tmp_path) -> None:
    model = tiny_gpt()
    ids = torch.randint(0, 50, (8, 17), generator=torch.Generator().manual_seed(0))
    data = [(ids[:4, :-1], ids[:4, 1:]), (ids[4:, :-1], ids[4:, 1:])]
    fit(model, data, causal_lm_loss, TrainConfig(epochs=2, checkpoint_dir=str(tmp_path), progress=False, device="cpu"))
    restored = tiny_gpt(attention="math")  # fresh weights, other backend: only the checkpoint makes them equal
    load_checkpoint(tmp_path, restored)
    probe = ids[:, :16]
    assert (model.eval()(probe) - restored.eval()(probe)).abs().max() < TOLERANCE


@pytest.mark.parametrize("positions", ["learned", "rotary"])
@pytest.mark.parametrize("backend", ["sdpa", "math"])
def test_key_value_cache_gives_the_logits_of_a_full_forward_pass(positions: str, backend: str) -> None:
    torch.manual_seed(0)
    model = TinyGPT(GPTConfig(vocab_size=50, context_length=16, d_model=32, n_layers=2, n_heads=4,
                              positions=positions, attention=backend)).eval()
    ids = torch.randint(0, 50, (2, 11))
    full = model(ids)
    cache = model.new_cache()
    pieces = [model(ids[:, :5], cache=cache)]  # the prompt at once
    pieces += [model(ids[:, t : t + 1], cache=cache) for t in range(5, 8)]  # then one token at a time
    pieces.append(model(ids[:, 8:], cache=cache))  # and a chunk of three after cached keys
    assert cache[0].length == 11
    assert (torch.cat(pieces, dim=1) - full).abs().max() < TOLERANCE


@pytest.mark.parametrize("positions", ["learned", "rotary"])
def test_generation_with_and_without_cache_agrees_past_the_context(positions: str) -> None:
    torch.manual_seed(0)
    model = TinyGPT(GPTConfig(vocab_size=50, context_length=8, d_model=32, n_layers=2, positions=positions))
    prompt = torch.randint(0, 50, (1, 3))
    cached = generate(model, prompt, 12, temperature=0, use_cache=True)
    uncached = generate(model, prompt, 12, temperature=0, use_cache=False)
    assert cached.shape == (1, 15)
    assert torch.equal(cached, uncached)


def test_key_value_cache_refuses_padding_and_overflow() -> None:
    model = TinyGPT(GPTConfig(vocab_size=50, context_length=8, d_model=32, n_layers=1)).eval()
    cache = model.new_cache()
    model(torch.randint(0, 50, (1, 6)), cache=cache)
    with pytest.raises(InputError, match="longer than the context"):
        model(torch.randint(0, 50, (1, 3)), cache=cache)
    attention = model.blocks[0].attention
    with pytest.raises(InputError, match="without padding"):
        attention(torch.zeros(1, 2, 32), torch.ones(1, 2), cache=KVCache())


def test_bits_per_char_of_a_uniform_model_is_log2_vocab_per_character() -> None:
    model = tiny_gpt()
    nn.init.zeros_(model.lm_head.weight)  # every logit 0: each token costs exactly log2(50) bits
    ids = np.arange(40) % 50
    scores = gpt_scores(model, ids, n_characters=100, batch_size=2)
    assert scores["tokens"] == 39  # every token but the first predicted once, from the tokens before it
    assert scores["bits_per_char"] == pytest.approx(39 * math.log2(50) / 100, rel=1e-5)
    assert scores["perplexity"] == pytest.approx(50, rel=1e-5)
    strided = gpt_scores(model, ids, n_characters=100, batch_size=2, stride=5)
    assert strided["tokens"] == 39 and strided["bits_per_char"] == pytest.approx(scores["bits_per_char"], rel=1e-5)
    with pytest.raises(InputError, match="fewer than 2 tokens"):
        gpt_scores(model, ids[:1], n_characters=3)


def test_token_nats_are_each_tokens_cross_entropy_in_order() -> None:
    torch.manual_seed(0)
    model = tiny_gpt().eval()
    ids = np.arange(12) % 50  # shorter than the context: one window
    nats = gpt_token_nats(model, ids)
    with torch.no_grad():
        logits = model(torch.as_tensor(ids[None, :-1]))[0]
    expected = nn.functional.cross_entropy(logits, torch.as_tensor(ids[1:]), reduction="none").numpy()
    assert nats.shape == (11,) and np.allclose(nats, expected, atol=1e-5)
    longer = np.arange(70) % 50
    consecutive = gpt_token_nats(model, longer)
    assert len(consecutive) == 69 and np.all(consecutive > 0)
    assert float(consecutive.sum()) == pytest.approx(
        gpt_scores(model, longer, n_characters=100)["loss"] * 69, rel=1e-5
    )


def test_predicted_characters_leave_out_the_first_token() -> None:
    tokenizer = train_byte_bpe(["hello world\n"] * 20, 300)
    text = "hello world"
    ids = encode_stream(tokenizer, text)
    assert predicted_characters(tokenizer, ids, text) == len(text) - len(tokenizer.decode([int(ids[0])]))
    assert 0 < predicted_characters(tokenizer, ids, text) < len(text)


@pytest.mark.parametrize(("n_predictions", "context", "stride"), [(40, 16, 16), (40, 16, 5), (7, 16, 4), (33, 8, 1)])
def test_scoring_windows_predict_every_token_exactly_once(n_predictions: int, context: int, stride: int) -> None:
    predicted = []
    windows = scoring_windows(n_predictions, context, stride)
    for start, first in windows:
        assert 0 <= first < min(context, n_predictions)
        predicted += range(start + first, start + min(context, n_predictions))
    assert predicted == list(range(n_predictions))
    # after the first window, every counted prediction has at least context - stride tokens before it in its window
    assert all(first >= min(context - stride, start) for start, first in windows[1:-1])


def test_scoring_stride_must_fit_the_context() -> None:
    with pytest.raises(InputError, match="stride must be between 1 and the context"):
        scoring_windows(100, 16, 17)


# Tokenisers and data ---------------------------------------------------------------------------------------------


def test_byte_level_bpe_is_lossless() -> None:
    tokenizer = train_byte_bpe(TEXT.splitlines(keepends=True), vocab_size=300)
    ids = encode_stream(tokenizer, TEXT)
    assert tokenizer.decode(ids.tolist()) == TEXT
    assert len(ids) < len(TEXT.encode("utf-8"))  # merges learned: fewer tokens than bytes


def test_wordpiece_lengths_cover_the_characters_of_each_token() -> None:
    tokenizer = train_wordpiece(TEXT.splitlines(), vocab_size=200)
    ids, lengths = encode_with_lengths(tokenizer, "Ministers said the economy grew.")
    assert len(ids) == len(lengths)
    assert lengths.sum() == len("Ministerssaidtheeconomygrew.")  # all characters but the spaces


def test_wordpiece_numbers_its_pieces_in_sorted_order_after_the_specials() -> None:
    tokenizer = train_wordpiece(TEXT.splitlines(), vocab_size=200)
    by_id = [token for token, _ in sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])]
    assert by_id[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert by_id[5:] == sorted(by_id[5:])  # the trainer alone numbers tied pieces in a varying order
    assert tokenizer.encode("the budget [MASK]").tokens[-1] == "[MASK]"


def test_token_windows_shift_targets_by_one() -> None:
    windows = TokenWindows(np.arange(21), context_length=5)
    assert len(windows) == 4
    inputs, targets = windows[3]
    assert inputs.tolist() == [15, 16, 17, 18, 19] and targets.tolist() == [16, 17, 18, 19, 20]


def test_holdout_is_the_end_of_the_text_at_a_line_break() -> None:
    text = "\n".join(f"line {i}" for i in range(100))
    train, held_out = split_holdout(text)
    assert held_out.startswith("line 9") and train.endswith("line 94")
    with pytest.raises(InputError, match="too short"):
        split_holdout("word")


# BERT -----------------------------------------------------------------------------------------------------------


def test_masking_statistics_are_80_10_10_and_skip_special_tokens() -> None:
    generator = torch.Generator().manual_seed(0)
    specials = (0, 1, 2, 3, 4)
    ids = torch.randint(5, 1000, (400, 128), generator=generator)
    ids[:, 0], ids[:, -1], ids[:, 100:] = 2, 3, 0  # [CLS] ... [SEP] and padding
    ordinary = torch.arange(5, 1000)
    corrupted, labels = mask_tokens(ids, mask_id=4, ordinary_ids=ordinary, special_ids=specials, generator=generator)
    picked = labels != IGNORE_INDEX
    candidates = ~torch.isin(ids, torch.tensor(specials))
    assert not picked[~candidates].any()  # specials and padding are never picked
    assert picked.sum() / candidates.sum() == pytest.approx(0.15, abs=0.005)
    assert torch.equal(labels[picked], ids[picked])
    masked = (corrupted == 4) & picked
    replaced = picked & (corrupted != 4) & (corrupted != ids)
    kept = picked & (corrupted == ids)
    n = picked.sum().item()
    assert masked.sum().item() / n == pytest.approx(0.8, abs=0.015)
    # A random replacement can draw the original token (1 in 995), so "kept" gains ~0.01 % from "replaced".
    assert replaced.sum().item() / n == pytest.approx(0.1, abs=0.01)
    assert kept.sum().item() / n == pytest.approx(0.1, abs=0.01)
    assert not torch.isin(corrupted[replaced], torch.tensor(specials)).any()
    assert torch.equal(corrupted[~picked], ids[~picked])


def test_bert_examples_make_balanced_next_sentence_pairs() -> None:
    tokenizer = train_wordpiece(TEXT.splitlines(), vocab_size=200)
    tokens = BertTokens.from_tokenizer(tokenizer)
    ids, lengths = encode_with_lengths(tokenizer, TEXT)
    examples = bert_examples(ids, lengths, tokens, max_len=32, nsp=True, seed=0)
    assert all(len(example["input_ids"]) <= 32 for example in examples)
    labels = [int(example["next_sentence_label"]) for example in examples]
    assert 0.3 < np.mean(labels) < 0.7
    first = examples[0]
    separators = (first["input_ids"] == tokens.sep).nonzero().squeeze(1).tolist()
    assert first["input_ids"][0] == tokens.cls and len(separators) == 2
    assert first["token_type_ids"][: separators[0] + 1].eq(0).all()
    assert first["token_type_ids"][separators[0] + 1 :].eq(1).all()
    batch = MLMCollator(tokens)(examples[:4])
    assert set(batch) >= {"input_ids", "labels", "attention_mask", "token_type_ids", "next_sentence_label"}


def test_tiny_bert_overfits_one_masked_batch() -> None:
    torch.manual_seed(0)
    model = TinyBERT(BertConfig(vocab_size=60, max_len=12, d_model=32, n_layers=2, dropout=0.0, norm_first=True))
    ids = torch.randint(5, 60, (4, 12), generator=torch.Generator().manual_seed(0))
    corrupted, labels = mask_tokens(
        ids, mask_id=4, ordinary_ids=torch.arange(5, 60), special_ids=(0, 1, 2, 3, 4), probability=0.3
    )
    batch = {
        "input_ids": corrupted,
        "labels": labels,
        "attention_mask": torch.ones_like(ids),
        "token_type_ids": torch.zeros_like(ids),
        "next_sentence_label": torch.tensor([0, 1, 0, 1]),
    }
    config = TrainConfig(epochs=150, lr=3e-3, schedule="constant", progress=False, device="cpu")
    history = fit(model, [batch], bert_pretraining_loss, config)
    assert history.train_loss[0] > 3.5
    assert history.train_loss[-1] < 0.05


def test_bert_scores_count_mask_accuracy_and_its_baseline_on_the_same_targets() -> None:
    torch.manual_seed(0)
    model = TinyBERT(BertConfig(vocab_size=60, max_len=12, d_model=32, n_layers=1, nsp=False))
    nn.init.zeros_(model.mlm_transform[0].weight)
    with torch.no_grad():
        model.mlm_bias[7] = 10.0  # every prediction is token 7
    # [MASK] is 4; of the six targets, four are shown as [MASK], one as itself and one as a random token (20)
    shown = torch.tensor([[2, 4, 4, 7, 11, 3], [2, 4, 20, 12, 4, 3]])
    labels = torch.tensor([[-100, 7, 9, 7, -100, -100], [-100, 7, 7, -100, 13, -100]])
    batch = {"input_ids": shown, "labels": labels, "attention_mask": torch.ones_like(shown),
             "token_type_ids": torch.zeros_like(shown), "char_lengths": torch.ones_like(shown)}
    scores = bert_scores(model, [batch], mask_id=4, most_frequent=7)
    assert scores["mlm_accuracy"] == pytest.approx(4 / 6)  # targets 7, 9, 7 | 7, 7, 13: four are 7
    assert scores["mask_accuracy"] == pytest.approx(2 / 4)  # shown as [MASK]: 7, 9 | 7, 13
    assert scores["most_frequent_accuracy"] == pytest.approx(2 / 4)
    assert "mask_accuracy" not in bert_scores(model, [batch])
    found = mlm_predictions(model, [batch])
    assert found["target"].tolist() == [7, 9, 7, 7, 7, 13]  # the picked targets, row by row
    assert found["shown"].tolist() == [4, 4, 7, 4, 20, 4]
    assert (found["predicted"] == 7).all()
    assert found["nats"].shape == (6,) and (found["nats"] > 0).all()
    assert found["nats"].mean() == pytest.approx(scores["loss"], rel=1e-5)
    assert "nsp_label" not in found  # no NSP head
    nothing_picked = dict(batch, labels=torch.full_like(labels, -100))
    with pytest.raises(InputError, match="no token was masked"):
        bert_scores(model, [nothing_picked])


@pytest.mark.parametrize("positions", ["learned", "rotary"])
def test_bert_padding_does_not_change_the_real_tokens_vectors(positions: str) -> None:
    torch.manual_seed(0)
    model = TinyBERT(BertConfig(vocab_size=60, max_len=12, d_model=32, n_layers=2, positions=positions)).eval()
    ids = torch.randint(5, 60, (1, 6))
    padded = torch.cat([ids, torch.zeros(1, 4, dtype=torch.long)], dim=1)
    alone = model(ids)
    with_padding = model(padded, attention_mask=(padded != 0).long())
    assert (alone - with_padding[:, :6]).abs().max() < TOLERANCE
