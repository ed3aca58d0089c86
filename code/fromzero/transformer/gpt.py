"""A tiny GPT: a causal Transformer language model, in one file, after nanoGPT's ``model.py``.

The model reads token ids and returns, at every position, logits for the *next* token. The causal
mask inside each block keeps position ``t`` from seeing positions after ``t``, so one forward pass
trains all positions of a window at once. The output layer shares its weight matrix with the token
embedding ("weight tying", Press & Wolf 2017): the same vector represents a token going in and
scores it coming out, which saves ``vocab_size x d_model`` parameters and usually helps small models.
Sampling (temperature, top-k, top-p) lives here too, since it is how a GPT is used.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from fromzero.errors import InputError
from fromzero.transformer.attention import KVCache
from fromzero.transformer.blocks import TransformerBlock, make_positions


@dataclass
class GPTConfig:
    """The shape of a :class:`TinyGPT`. ``d_ff=None`` means ``4 * d_model``."""

    vocab_size: int
    context_length: int = 256
    d_model: int = 128
    n_layers: int = 4
    n_heads: int = 4
    d_ff: int | None = None
    dropout: float = 0.0
    positions: str = "learned"  # or "sinusoidal", "rotary"
    tie_weights: bool = True
    attention: str = "sdpa"  # or "math", see fromzero.transformer.attention

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class TinyGPT(nn.Module):
    """Token and position embeddings, ``n_layers`` pre-LN causal blocks, a final LayerNorm, the LM head."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        d_ff = config.d_ff or 4 * config.d_model
        self.token_embedding = nn.Embedding(config.vocab_size, config.d_model)
        self.positions = make_positions(config.positions, config.context_length, config.d_model)
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(
            TransformerBlock(
                config.d_model,
                config.n_heads,
                d_ff,
                dropout=config.dropout,
                norm_first=True,
                causal=True,
                backend=config.attention,
                rotary_length=config.context_length if config.positions == "rotary" else None,
            )
            for _ in range(config.n_layers)
        )
        self.final_norm = nn.LayerNorm(config.d_model)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        if config.tie_weights:
            self.lm_head.weight = self.token_embedding.weight
        self.apply(init_weights)
        # GPT-2's scaling: each residual branch adds to the stream, so shrink their last layers by
        # 1/sqrt(number of branches) to keep the stream's variance from growing with depth.
        for block in self.blocks:
            for projection in (block.attention.out_proj, block.feed_forward.fc2):
                nn.init.normal_(projection.weight, std=0.02 / math.sqrt(2 * config.n_layers))

    def forward(self, ids: torch.Tensor, cache: list[KVCache] | None = None) -> torch.Tensor:
        """Logits ``(batch, length, vocab_size)`` for the token after each position of ``ids``.

        With ``cache`` (one :class:`KVCache` per block, from :meth:`new_cache`), ``ids`` continue the
        tokens the cache has already read, and only they are computed.
        """
        past = cache[0].length if cache else 0
        length = ids.shape[1]
        if past + length > self.config.context_length:
            raise InputError(
                f"sequence of {past + length} tokens is longer than the context ({self.config.context_length})"
            )
        x = self.dropout(self.token_embedding(ids) + self.positions(length, past))  # (batch, length, d_model)
        for i, block in enumerate(self.blocks):
            x, _ = block(x, cache=cache[i] if cache else None)
        return self.lm_head(self.final_norm(x))  # (batch, length, vocab_size)

    def new_cache(self) -> list[KVCache]:
        """An empty key-value cache, one per block, for :func:`generate`."""
        return [KVCache() for _ in self.blocks]


def init_weights(module: nn.Module) -> None:
    """GPT-2's initialisation: small normal weights (std 0.02), zero biases."""
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.normal_(module.weight, std=0.02)


def count_parameters(model: nn.Module) -> int:
    """Distinct parameters: a tied matrix counts once (``model.parameters()`` yields it once)."""
    return sum(p.numel() for p in model.parameters())


def causal_lm_loss(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Mean cross-entropy of predicting ``targets`` (the inputs shifted by one) from ``inputs``.

    The ``loss_fn`` that :func:`fromzero.train.fit` calls with ``(inputs, targets)`` batches.
    """
    inputs, targets = batch
    logits = model(inputs)
    return F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten())


def filter_logits(logits: torch.Tensor, *, top_k: int | None = None, top_p: float | None = None) -> torch.Tensor:
    """Set to ``-inf`` the logits that top-k and/or top-p (nucleus) sampling exclude.

    top-k keeps the ``k`` most likely tokens. top-p keeps the smallest set of most likely tokens
    whose probabilities add up to at least ``p``, so it keeps few tokens where the model is sure
    and many where it is not. The most likely token always survives.
    """
    if top_k is not None:
        if top_k < 1:
            raise InputError(f"top_k must be at least 1, got {top_k}")
        kth = torch.topk(logits, min(top_k, logits.shape[-1]), dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None:
        if not 0 < top_p <= 1:
            raise InputError(f"top_p must be in (0, 1], got {top_p}")
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
        # Drop a token when the tokens *before* it already reach p; the first token is never dropped.
        drop_sorted = (cumulative - sorted_logits.softmax(dim=-1)) >= top_p
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def sample_next(
    logits: torch.Tensor,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Draw one token id per row of ``logits`` ``(batch, vocab)``; ``temperature=0`` takes the arg-max.

    Dividing logits by the temperature ``T`` before the softmax sharpens the distribution (T < 1)
    or flattens it (T > 1); the filters then cut off the unlikely tail.
    """
    if temperature < 0:
        raise InputError(f"temperature must be 0 or more, got {temperature}")
    if temperature == 0:
        return logits.argmax(dim=-1)
    logits = filter_logits(logits.float() / temperature, top_k=top_k, top_p=top_p)
    return torch.multinomial(logits.softmax(dim=-1), 1, generator=generator).squeeze(-1)


@torch.no_grad()
def generate(
    model: TinyGPT,
    ids: torch.Tensor,
    max_new_tokens: int,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
    use_cache: bool = True,
) -> torch.Tensor:
    """Extend ``ids`` ``(batch, length)`` by ``max_new_tokens`` sampled tokens, one at a time.

    Each step samples from the logits at the last position. With ``use_cache`` the model reads the
    prompt once and then only each new token, keeping every layer's keys and values
    (:class:`KVCache`); without it, every step re-reads the last ``context_length`` tokens. The two
    give the same logits. Once the text outgrows the context, both slide a window of the last
    ``context_length`` tokens, which the cache cannot extend, so from then on it is rebuilt each step.
    """
    was_training = model.training
    model.eval()
    context = model.config.context_length
    cache = None
    for _ in range(max_new_tokens):
        if not use_cache:
            logits = model(ids[:, -context:])[:, -1]
        elif cache is None or cache[0].length >= context:  # (re)read the window of the last `context` tokens
            cache = model.new_cache()
            logits = model(ids[:, -context:], cache=cache)[:, -1]
        else:
            logits = model(ids[:, -1:], cache=cache)[:, -1]
        next_ids = sample_next(logits, temperature=temperature, top_k=top_k, top_p=top_p, generator=generator)
        ids = torch.cat([ids, next_ids[:, None].to(ids.device)], dim=1)
    model.train(was_training)
    return ids
