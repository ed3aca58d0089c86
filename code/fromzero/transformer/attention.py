"""Scaled dot-product attention, its masks, and multi-head self-attention.

Attention is written out in :func:`scaled_dot_product_attention` so that every step of
``softmax(Q K^T / sqrt(d_k)) V`` can be read and checked. PyTorch's
``torch.nn.functional.scaled_dot_product_attention`` computes the same thing in one fused kernel
(FlashAttention or memory-efficient attention on a GPU, a fused loop on the CPU) that never
stores the ``L x L`` weight matrix; :class:`MultiHeadAttention` uses it by default and falls back
to the written-out version when the weights themselves are wanted, e.g. to plot them.

Masks follow PyTorch's boolean convention: ``True`` means "this query may look at this key".

Rotary positions (RoPE, Su et al. 2024) also live here, because they act on the queries and keys
inside attention rather than on the embeddings: see :func:`rotate`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from fromzero.errors import InputError

ATTENTION_BACKENDS = ("sdpa", "math")


def scaled_dot_product_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    mask: torch.Tensor | None = None,
    dropout_p: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(softmax(Q K^T / sqrt(d_k) + mask) V, weights)`` for tensors shaped ``(..., length, d)``.

    Dividing by ``sqrt(d_k)`` keeps the scores' variance at about 1 whatever the head size: the dot
    product of two vectors with independent unit-variance entries has variance ``d_k``, and large
    scores push the softmax into saturation, where its gradient vanishes. ``mask`` (broadcast to
    ``(..., L_q, L_k)``) is False where a query must not look; those scores become ``-inf``, so
    their weights are exactly 0. A query that may look nowhere (a fully masked row) gets zero
    weights and a zero output rather than NaN.
    """
    d_k = query.shape[-1]
    scores = query @ key.transpose(-2, -1) / math.sqrt(d_k)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    if mask is not None:
        weights = weights.nan_to_num(0.0)  # rows that were all -inf
    if dropout_p > 0:
        weights = F.dropout(weights, p=dropout_p)
    return weights @ value, weights


def causal_mask(length: int, device: torch.device | str | None = None, *, past: int = 0) -> torch.Tensor:
    """``(length, past + length)`` booleans: query i (at position past + i) sees keys 0..past + i.

    With ``past=0`` that is the square mask, True on and below the diagonal; ``past`` counts the
    keys already in a :class:`KVCache`.
    """
    return torch.ones(length, past + length, dtype=torch.bool, device=device).tril(diagonal=past)


class KVCache:
    """The keys and values one attention layer has computed so far, so that generation need not recompute them.

    A causal model's keys and values at positions 0..t never change when token t + 1 arrives, so
    generating with a cache reads each new token once instead of re-reading the whole prefix:
    every step then costs attention over the prefix, not a full forward pass over it.

    The cache writes new positions in place into buffers with room to spare. Appending with
    ``torch.cat`` would copy the whole cache at every step, and a generation of ``n`` tokens
    would copy about ``n**2 / 2`` positions; here a full buffer is replaced by one twice as
    long (as a Python list grows), so each position is copied only a few times on average.
    """

    def __init__(self) -> None:
        self._keys: torch.Tensor | None = None  # (batch, heads, capacity, d_head); the first `length` are filled
        self._values: torch.Tensor | None = None
        self.length = 0

    def extend(self, keys: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Append the new positions' keys and values; return all of them (views of the buffers)."""
        end = self.length + keys.shape[-2]
        if self._keys is None or end > self._keys.shape[-2]:
            self._keys, self._values = self._grown(self._keys, keys, end), self._grown(self._values, values, end)
        self._keys[..., self.length : end, :] = keys
        self._values[..., self.length : end, :] = values
        self.length = end
        return self._keys[..., :end, :], self._values[..., :end, :]

    def _grown(self, buffer: torch.Tensor | None, new: torch.Tensor, needed: int) -> torch.Tensor:
        """A buffer for at least ``needed`` positions (twice the old capacity), holding what ``buffer`` held."""
        capacity = max(needed, 2 * buffer.shape[-2]) if buffer is not None else needed
        grown = new.new_empty(*new.shape[:-2], capacity, new.shape[-1])
        if buffer is not None:
            grown[..., : self.length, :] = buffer[..., : self.length, :]
        return grown


def padding_mask(attention_mask: torch.Tensor) -> torch.Tensor:
    """Turn a tokenizer's ``(batch, length)`` attention mask (1 = token, 0 = padding) into a key mask.

    The result, shaped ``(batch, 1, 1, length)``, broadcasts over heads and queries: no query may
    look at a padding key. Padding *queries* still compute something; the loss ignores them.
    """
    return attention_mask.bool()[:, None, None, :]


def combine_masks(*masks: torch.Tensor | None) -> torch.Tensor | None:
    """The logical AND of the masks that are not None (None when all are)."""
    present = [mask for mask in masks if mask is not None]
    if not present:
        return None
    combined = present[0]
    for mask in present[1:]:
        combined = combined & mask
    return combined


def position_angles(max_len: int, d: int) -> torch.Tensor:
    """``(max_len, ceil(d / 2))``: position ``p`` times pair ``i``'s frequency ``10000^(-2i / d)``.

    One clock per pair of features, from one turn every 2π positions to one every 10000·2π: the
    angles of the sinusoidal position table and of rotary positions.
    """
    frequency = torch.exp(-math.log(10000.0) * torch.arange(0, d, 2, dtype=torch.float32) / d)
    return torch.arange(max_len, dtype=torch.float32)[:, None] * frequency


def rotary_angles(max_len: int, d_head: int) -> torch.Tensor:
    """``(max_len, d_head // 2)``: the :func:`position_angles` that rotary positions turn each pair by."""
    if d_head % 2:
        raise InputError(f"rotary positions rotate pairs of features: the head size ({d_head}) must be even")
    return position_angles(max_len, d_head)


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Turn each pair of features ``(2i, 2i+1)`` of ``x`` ``(..., length, d)`` by its position's angle.

    ``cos`` and ``sin`` (``(length, d // 2)``) are those of :func:`rotary_angles`. A query at
    position ``m`` turned by ``m θ`` and a key at ``n`` turned by ``n θ`` have the dot product of the
    unturned pair turned by ``(n - m) θ``: the scores depend on how far apart two tokens are, not on
    where they sit, and nothing is added to the embeddings.
    """
    even, odd = x[..., 0::2], x[..., 1::2]
    return torch.stack((even * cos - odd * sin, even * sin + odd * cos), dim=-1).flatten(-2)


class MultiHeadAttention(nn.Module):
    """Multi-head self-attention: ``n_heads`` attentions of size ``d_model / n_heads`` side by side.

    One ``(d_model, 3 d_model)`` projection makes queries, keys and values for all heads at once
    (the same layout as ``nn.MultiheadAttention.in_proj_weight``, so weights copy across); the
    heads' outputs are concatenated and mixed by ``out_proj``. ``causal=True`` adds the causal
    mask of a decoder. ``backend="sdpa"`` computes attention with PyTorch's fused kernel,
    ``"math"`` with :func:`scaled_dot_product_attention`; both give the same result.
    ``rotary_length`` (the longest input) turns queries and keys by their positions (:func:`rotate`).
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        *,
        dropout: float = 0.0,
        bias: bool = True,
        causal: bool = False,
        backend: str = "sdpa",
        rotary_length: int | None = None,
    ) -> None:
        super().__init__()
        if d_model % n_heads != 0:
            raise InputError(f"d_model ({d_model}) must be a multiple of n_heads ({n_heads})")
        if backend not in ATTENTION_BACKENDS:
            raise InputError(f"unknown attention backend {backend!r}: choose one of {', '.join(ATTENTION_BACKENDS)}")
        self.n_heads, self.d_head = n_heads, d_model // n_heads
        self.causal, self.backend, self.dropout = causal, backend, dropout
        self.in_proj = nn.Linear(d_model, 3 * d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)
        self.rotary = rotary_length is not None
        if self.rotary:
            angles = rotary_angles(rotary_length, self.d_head)
            self.register_buffer("rotary_cos", angles.cos(), persistent=False)
            self.register_buffer("rotary_sin", angles.sin(), persistent=False)

    def forward(
        self,
        x: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        *,
        need_weights: bool = False,
        cache: KVCache | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Attend over ``x`` ``(batch, length, d_model)``; return the output and, if asked, the weights.

        ``attention_mask`` is a tokenizer's ``(batch, length)`` mask (1 = token, 0 = padding).
        The weights, ``(batch, n_heads, length, past + length)``, need the written-out path.
        ``cache`` holds the keys and values of earlier positions (``past`` of them): ``x`` then
        holds only the new positions, which attend to the cached ones too (causal models only).
        """
        batch, length, d_model = x.shape
        past = cache.length if cache is not None else 0
        if cache is not None and (not self.causal or attention_mask is not None):
            raise InputError("a key-value cache is for generating with a causal model, without padding")
        q, k, v = self.in_proj(x).split(d_model, dim=-1)
        q, k, v = (t.view(batch, length, self.n_heads, self.d_head).transpose(1, 2) for t in (q, k, v))
        if self.rotary:
            cos, sin = self.rotary_cos[past : past + length], self.rotary_sin[past : past + length]
            q, k = rotate(q, cos, sin), rotate(k, cos, sin)  # each at its own position, cached keys already turned
        if cache is not None:
            k, v = cache.extend(k, v)  # (batch, heads, past + length, d_head)
        key_mask = padding_mask(attention_mask) if attention_mask is not None else None
        dropout_p = self.dropout if self.training else 0.0
        if self.backend == "math" or need_weights:
            mask = combine_masks(key_mask, causal_mask(length, x.device, past=past) if self.causal else None)
            out, weights = scaled_dot_product_attention(q, k, v, mask, dropout_p)
        else:
            out, weights = self._fused(q, k, v, key_mask, dropout_p, past), None
        out = out.transpose(1, 2).reshape(batch, length, d_model)
        return self.out_proj(out), weights

    def _fused(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        key_mask: torch.Tensor | None,
        dropout_p: float,
        past: int = 0,
    ) -> torch.Tensor:
        if key_mask is None and (past == 0 or q.shape[-2] == 1):
            # is_causal lets the kernel skip the masked half instead of reading a mask tensor; a single new
            # query after cached keys may see all of them.
            causal = self.causal and past == 0
            return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, is_causal=causal)
        mask = combine_masks(key_mask, causal_mask(q.shape[-2], q.device, past=past) if self.causal else None)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p)
        return out.nan_to_num(0.0)  # fully masked rows, as in the written-out path


def copy_from_torch_attention(ours: MultiHeadAttention, reference: nn.MultiheadAttention) -> None:
    """Give ``ours`` the weights of a ``torch.nn.MultiheadAttention`` (same layout, so a plain copy)."""
    with torch.no_grad():
        ours.in_proj.weight.copy_(reference.in_proj_weight)
        ours.out_proj.weight.copy_(reference.out_proj.weight)
        if ours.in_proj.bias is not None:
            ours.in_proj.bias.copy_(reference.in_proj_bias)
            ours.out_proj.bias.copy_(reference.out_proj.bias)
