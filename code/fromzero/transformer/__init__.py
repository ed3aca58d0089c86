"""Attention, the Transformer, and tiny GPT and BERT models pretrained from scratch (Part III).

One module per idea, each readable on its own, in the spirit of nanoGPT's ``model.py``:

* ``attention``: scaled dot-product attention written out, masks, multi-head self-attention,
  rotary positions;
* ``blocks``: sinusoidal, learned and rotary positions, the feed-forward layer, the pre-/post-LN block;
* ``gpt``: :class:`TinyGPT`, its loss, and sampling with temperature, top-k and top-p;
* ``bert``: :class:`TinyBERT`, 80/10/10 masking, the MLM (+ NSP) loss;
* ``corpus``: reading a text file and holding out its end for evaluation;
* ``pretrain``: tokeniser training, data preparation, bits-per-character scores, the whole run;
* ``cli``: ``python -m fromzero pretrain {gpt,bert}``.
"""

from fromzero.lazy import lazy_getattr

# Names load their module on first use, so that `python -m fromzero --help` does not import torch.
_EXPORTS = {
    "BertConfig": "bert",
    "BertTokens": "pretrain",
    "FeedForward": "blocks",
    "GPTConfig": "gpt",
    "KVCache": "attention",
    "LearnedPositions": "blocks",
    "MLMCollator": "pretrain",
    "MultiHeadAttention": "attention",
    "PretrainOptions": "options",
    "RotaryPositions": "blocks",
    "SinusoidalPositions": "blocks",
    "TinyBERT": "bert",
    "TinyGPT": "gpt",
    "TokenWindows": "pretrain",
    "TransformerBlock": "blocks",
    "bert_examples": "pretrain",
    "bert_pretraining_loss": "bert",
    "bert_scores": "pretrain",
    "causal_lm_loss": "gpt",
    "causal_mask": "attention",
    "copy_from_torch_attention": "attention",
    "copy_from_torch_encoder_layer": "blocks",
    "count_parameters": "gpt",
    "encode_stream": "pretrain",
    "encode_with_lengths": "pretrain",
    "filter_logits": "gpt",
    "generate": "gpt",
    "gpt_scores": "pretrain",
    "gpt_token_nats": "pretrain",
    "load_pretrained": "pretrain",
    "mask_tokens": "bert",
    "mlm_loss": "bert",
    "mlm_predictions": "pretrain",
    "padding_mask": "attention",
    "predicted_characters": "pretrain",
    "pretrain": "pretrain",
    "read_corpus": "corpus",
    "rotary_angles": "attention",
    "rotate": "attention",
    "sample_next": "gpt",
    "scaled_dot_product_attention": "attention",
    "sinusoidal_table": "blocks",
    "split_holdout": "corpus",
    "train_byte_bpe": "pretrain",
    "train_wordpiece": "pretrain",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_getattr(__name__, _EXPORTS)
