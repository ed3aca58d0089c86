"""LoRA: train a low-rank update of the attention weights instead of the weights themselves.

For a frozen weight matrix :math:`W \\in \\mathbb{R}^{d \\times k}` LoRA (Hu et al., 2022) learns
:math:`B \\in \\mathbb{R}^{d \\times r}` and :math:`A \\in \\mathbb{R}^{r \\times k}` with a small
rank :math:`r` and uses :math:`W + \\tfrac{\\alpha}{r} BA`. ``B`` starts at zero, so training starts
exactly from the pretrained model. ``peft`` does the wrapping; the new task head is trained in
full (``modules_to_save``), as it has no pretrained weights to adapt. After training,
:func:`merge_lora` folds :math:`\\tfrac{\\alpha}{r}BA` into :math:`W`, which gives back a plain
model: the same architecture, the same speed and the same ``from_pretrained`` as before.
"""

from __future__ import annotations

import warnings
from typing import Any

from fromzero.errors import InputError

TASK_TYPES = {"classify": "SEQ_CLS", "ner": "TOKEN_CLS"}


def add_lora(model: Any, task: str, rank: int = 8, alpha: int = 16, dropout: float = 0.1) -> Any:
    """Wrap ``model`` with LoRA adapters on its attention query and value projections.

    Only the adapters and the task head are trainable afterwards. The target modules are peft's
    defaults for the model family (``query``/``value`` for BERT, ``q_lin``/``v_lin`` for DistilBERT).
    """
    from peft import LoraConfig, TaskType, get_peft_model
    from peft.utils import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as DEFAULT_TARGETS

    if rank < 1:
        raise InputError(f"LoRA rank must be at least 1, got {rank}")
    model_type = model.config.model_type
    targets = DEFAULT_TARGETS.get(model_type) or {"distilbert": ["q_lin", "v_lin"]}.get(model_type)
    if targets is None:
        raise InputError(f"no default LoRA target modules for model type {model_type!r}")
    config = LoraConfig(
        task_type=getattr(TaskType, TASK_TYPES[task]),
        r=rank,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=targets,
    )
    with warnings.catch_warnings():  # peft calls an API that transformers 5 renamed; the warning is not ours to fix
        warnings.filterwarnings("ignore", category=FutureWarning)
        return get_peft_model(model, config)


def merge_lora(model: Any) -> Any:
    """A plain transformers model: adapters folded into the weights; any other model returned as it is."""
    from peft import PeftModel

    if isinstance(model, PeftModel):
        return model.merge_and_unload()
    return model
