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

Import each name from its module (``from fromzero.transformer.gpt import ...``): this ``__init__`` imports
nothing, so that ``python -m fromzero --help`` does not import torch.
"""
