"""A tiny BERT: a bidirectional Transformer encoder pretrained by masked language modelling.

No causal mask here: every token sees the whole input, left and right. That makes "predict the
next token" trivial, so BERT (Devlin et al. 2019) hides tokens instead and asks for them back
(masked language modelling, MLM), optionally together with next-sentence prediction (NSP): was
segment B really the text that followed segment A? The embeddings add a *segment* vector (A or
B) to the token and position vectors. The MLM head scores the vocabulary with the token
embedding matrix itself (tied weights), as in BERT.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from fromzero.errors import InputError
from fromzero.transformer.blocks import TransformerBlock, make_positions
from fromzero.transformer.gpt import init_weights

IGNORE_INDEX = -100  # label of positions that the MLM loss skips (cross_entropy's ignore_index)


@dataclass
class BertConfig:
    """The shape of a :class:`TinyBERT`. ``d_ff=None`` means ``4 * d_model``.

    ``norm_first=False`` is BERT's post-LN; ``nsp=False`` leaves out the next-sentence head, as
    RoBERTa (Liu et al. 2019) does.
    """

    vocab_size: int
    max_len: int = 128
    d_model: int = 128
    n_layers: int = 2
    n_heads: int = 4
    d_ff: int | None = None
    dropout: float = 0.1
    positions: str = "learned"  # or "sinusoidal", "rotary"
    norm_first: bool = False
    nsp: bool = True
    attention: str = "sdpa"  # or "math"

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class TinyBERT(nn.Module):
    """Embeddings (token + position + segment, then LayerNorm), encoder blocks, MLM and NSP heads."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.config = config
        d = config.d_model
        self.token_embedding = nn.Embedding(config.vocab_size, d)
        self.positions = make_positions(config.positions, config.max_len, d)
        self.segment_embedding = nn.Embedding(2, d)
        self.embedding_norm = nn.LayerNorm(d)
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(
            TransformerBlock(
                d,
                config.n_heads,
                config.d_ff or 4 * d,
                dropout=config.dropout,
                norm_first=config.norm_first,
                backend=config.attention,
                rotary_length=config.max_len if config.positions == "rotary" else None,
            )
            for _ in range(config.n_layers)
        )
        # Pre-LN blocks leave the residual stream unnormalised; post-LN blocks end with a LayerNorm already.
        self.final_norm = nn.LayerNorm(d) if config.norm_first else nn.Identity()
        self.mlm_transform = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.LayerNorm(d))
        self.mlm_bias = nn.Parameter(torch.zeros(config.vocab_size))
        self.nsp_head = nn.Sequential(nn.Linear(d, d), nn.Tanh(), nn.Linear(d, 2)) if config.nsp else None
        self.apply(init_weights)

    def forward(
        self,
        input_ids: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Contextual vectors ``(batch, length, d_model)``, one per input token."""
        return self.encode(input_ids, token_type_ids, attention_mask)[0]

    def encode(
        self,
        input_ids: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        *,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
        """The contextual vectors and, with ``need_weights``, every layer's attention weights."""
        segments = token_type_ids if token_type_ids is not None else torch.zeros_like(input_ids)  # (batch, length)
        x = self.token_embedding(input_ids) + self.positions(input_ids.shape[1]) + self.segment_embedding(segments)
        x = self.dropout(self.embedding_norm(x))  # (batch, length, d_model)
        weights = []
        for block in self.blocks:
            x, block_weights = block(x, attention_mask, need_weights=need_weights)  # x keeps its shape
            weights.append(block_weights)  # (batch, heads, length, length) with need_weights, else None
        return self.final_norm(x), weights

    def mlm_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Vocabulary logits for the given vectors (any leading shape), scored against the token embeddings."""
        return self.mlm_transform(hidden) @ self.token_embedding.weight.T + self.mlm_bias

    def nsp_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """``(batch, 2)`` logits, from the first ([CLS]) vector: 1 = B follows A, 0 = B is random."""
        if self.nsp_head is None:
            raise InputError("this TinyBERT was built with nsp=False: it has no next-sentence head")
        return self.nsp_head(hidden[:, 0])


def mask_tokens(
    input_ids: torch.Tensor,
    *,
    mask_id: int,
    ordinary_ids: torch.Tensor,
    special_ids: Sequence[int],
    probability: float = 0.15,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's corruption: pick ``probability`` of the ordinary tokens; return ``(corrupted ids, labels)``.

    Of the picked tokens 80 % become ``[MASK]``, 10 % a random ordinary token and 10 % stay as
    they are; the labels hold the original id at picked positions and ``IGNORE_INDEX`` elsewhere.
    Never showing ``[MASK]`` for a fifth of the targets means the model cannot assume that only
    ``[MASK]`` positions matter, which matters at fine-tuning time, when no ``[MASK]`` appears.
    Special tokens ([CLS], [SEP], [PAD]) are never picked.
    """
    device = input_ids.device
    can_pick = ~torch.isin(input_ids, torch.as_tensor(list(special_ids), device=device))
    draw = torch.rand(input_ids.shape, generator=generator, device=device)
    picked = (draw < probability) & can_pick
    labels = torch.where(picked, input_ids, IGNORE_INDEX)
    how = torch.rand(input_ids.shape, generator=generator, device=device)
    to_mask = picked & (how < 0.8)
    to_random = picked & (how >= 0.8) & (how < 0.9)
    random_ids = ordinary_ids.to(device)[
        torch.randint(len(ordinary_ids), input_ids.shape, generator=generator, device=device)
    ]
    corrupted = torch.where(to_mask, mask_id, input_ids)
    corrupted = torch.where(to_random, random_ids, corrupted)
    return corrupted, labels


def mlm_loss(model: TinyBERT, hidden: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy at the picked positions only (the head runs on those alone: ~15 % of the work)."""
    picked = labels != IGNORE_INDEX
    if not picked.any():
        return hidden.sum() * 0.0  # a batch with nothing picked: no signal, but a valid graph
    return F.cross_entropy(model.mlm_logits(hidden[picked]).float(), labels[picked])


def bert_pretraining_loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """MLM loss, plus the NSP loss when the batch has ``next_sentence_label``: the ``loss_fn`` for ``fit``.

    ``model`` may be a DDP wrapper, so the forward pass goes through ``model(...)`` and the heads
    through the unwrapped module.
    """
    hidden = model(batch["input_ids"], batch.get("token_type_ids"), batch.get("attention_mask"))
    bert = getattr(model, "module", model)
    loss = mlm_loss(bert, hidden, batch["labels"])
    if "next_sentence_label" in batch:
        loss = loss + F.cross_entropy(bert.nsp_logits(hidden).float(), batch["next_sentence_label"])
    return loss
