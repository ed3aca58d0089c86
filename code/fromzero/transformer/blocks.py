"""The pieces a Transformer is stacked from: position signals, the feed-forward layer, the block.

Self-attention treats its input as a set: permute the tokens and the outputs permute the same
way. Word order therefore has to be added to the token embeddings, either as fixed sinusoids
(:class:`SinusoidalPositions`, the original Transformer's) or as a learned vector per position
(:class:`LearnedPositions`, BERT's and GPT-2's), or be put into attention itself: rotary positions
(:class:`RotaryPositions`, most large models since 2022) turn queries and keys by their positions.

A :class:`TransformerBlock` is attention then a position-wise feed-forward network, each wrapped
in a residual connection and a LayerNorm. Where the LayerNorm sits matters: the original
Transformer and BERT normalise *after* adding the residual ("post-LN"); GPT-2 and most models since
normalise the *input* of each sub-layer ("pre-LN"), which leaves an unnormalised path from the
embeddings to the output and trains deep stacks without a long learning-rate warm-up.
"""

from __future__ import annotations

import torch
from torch import nn

from fromzero.errors import InputError
from fromzero.transformer.attention import KVCache, MultiHeadAttention, copy_from_torch_attention, position_angles
from fromzero.transformer.options import POSITIONS


def sinusoidal_table(max_len: int, d_model: int) -> torch.Tensor:
    """``(max_len, d_model)``: ``sin(pos / 10000^(2i/d))`` in column 2i, ``cos`` of the same in column 2i + 1.

    Each pair of columns is a clock turning at its own speed, from one turn every 2π positions to
    one every 10000·2π, so every position gets a distinct pattern and a fixed offset is a rotation.
    """
    angles = position_angles(max_len, d_model)
    table = torch.zeros(max_len, d_model)
    table[:, 0::2] = torch.sin(angles)
    table[:, 1::2] = torch.cos(angles[:, : d_model // 2])
    return table


class SinusoidalPositions(nn.Module):
    """Fixed position vectors (no parameters): row ``p`` of :func:`sinusoidal_table`."""

    def __init__(self, max_len: int, d_model: int) -> None:
        super().__init__()
        self.register_buffer("table", sinusoidal_table(max_len, d_model), persistent=False)

    def forward(self, length: int, start: int = 0) -> torch.Tensor:
        return self.table[start : start + length]


class LearnedPositions(nn.Module):
    """One trained vector per position: flexible, but blind beyond ``max_len``."""

    def __init__(self, max_len: int, d_model: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(max_len, d_model)

    def forward(self, length: int, start: int = 0) -> torch.Tensor:
        return self.embedding.weight[start : start + length]


class RotaryPositions(nn.Module):
    """Nothing added to the embeddings: with rotary positions the attention layers turn queries and keys.

    Blocks built with ``rotary_length`` do that (:func:`fromzero.transformer.attention.rotate`); this
    placeholder keeps the models' ``embeddings + positions`` line the same for every kind of position.
    """

    def forward(self, length: int, start: int = 0) -> float:
        return 0.0


def make_positions(kind: str, max_len: int, d_model: int) -> nn.Module:
    """``"learned"``, ``"sinusoidal"`` or ``"rotary"`` positions."""
    if kind == "learned":
        return LearnedPositions(max_len, d_model)
    if kind == "sinusoidal":
        return SinusoidalPositions(max_len, d_model)
    if kind == "rotary":
        return RotaryPositions()
    raise InputError(f"unknown positions {kind!r}: choose one of {', '.join(POSITIONS)}")


class FeedForward(nn.Module):
    """Two linear layers with a GELU between: the same small network applied at every position."""

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.fc1 = nn.Linear(d_model, d_ff)
        self.fc2 = nn.Linear(d_ff, d_model)
        self.activation = nn.GELU()
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.dropout(self.activation(self.fc1(x))))


class TransformerBlock(nn.Module):
    """Self-attention and a feed-forward layer, each with a residual connection and a LayerNorm.

    ``norm_first=True`` (pre-LN): ``x + Attn(LN(x))`` then ``x + FF(LN(x))``.
    ``norm_first=False`` (post-LN): ``LN(x + Attn(x))`` then ``LN(x + FF(x))``.
    ``causal=True`` makes it a decoder block (GPT); without it, an encoder block (BERT).
    ``rotary_length`` gives its attention rotary positions for inputs up to that length.
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        d_ff: int,
        *,
        dropout: float = 0.0,
        norm_first: bool = True,
        causal: bool = False,
        backend: str = "sdpa",
        rotary_length: int | None = None,
    ) -> None:
        super().__init__()
        self.norm_first = norm_first
        self.attention = MultiHeadAttention(
            d_model, n_heads, dropout=dropout, causal=causal, backend=backend, rotary_length=rotary_length
        )
        self.feed_forward = FeedForward(d_model, d_ff, dropout)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(
        self,
        x: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        *,
        need_weights: bool = False,
        cache: KVCache | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return the block's output and, with ``need_weights``, its attention weights (``cache``: see attention)."""
        if self.norm_first:
            attended, weights = self.attention(self.norm1(x), attention_mask, need_weights=need_weights, cache=cache)
            x = x + self.dropout(attended)
            return x + self.dropout(self.feed_forward(self.norm2(x))), weights
        attended, weights = self.attention(x, attention_mask, need_weights=need_weights, cache=cache)
        x = self.norm1(x + self.dropout(attended))
        return self.norm2(x + self.dropout(self.feed_forward(x))), weights


def copy_from_torch_encoder_layer(ours: TransformerBlock, reference: nn.TransformerEncoderLayer) -> None:
    """Give ``ours`` the weights of a ``torch.nn.TransformerEncoderLayer`` built with GELU.

    The two have the same parts under different names, which is what lets a test (and Chapter 8)
    check that our block computes exactly what PyTorch's does.
    """
    copy_from_torch_attention(ours.attention, reference.self_attn)
    pairs = [
        (ours.feed_forward.fc1, reference.linear1),
        (ours.feed_forward.fc2, reference.linear2),
        (ours.norm1, reference.norm1),
        (ours.norm2, reference.norm2),
    ]
    with torch.no_grad():
        for mine, theirs in pairs:
            mine.weight.copy_(theirs.weight)
            mine.bias.copy_(theirs.bias)
