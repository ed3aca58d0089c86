"""Fine-tuning pretrained encoders (Part IV): text classification and named-entity recognition.

One module per idea, all of them feeding the book's one training loop, :func:`fromzero.train.fit`:

* ``checkpoints``: which checkpoint ``--model`` means, loading it with a task head, saving the result;
* ``freezing``: which pretrained parameters train (``none``, ``encoder``, ``top:N``);
* ``lora``: low-rank adapters through ``peft``, merged back into plain weights before saving;
* ``collate``: tokenising, aligning word labels with word pieces, padding batches;
* ``inference``: logits, pooled features and word-level tags from a model;
* ``metrics``: accuracy and macro-F1, entity-level precision, recall and F1;
* ``tasks``: the whole recipe (load, head, data, train, evaluate) that notebooks and the CLI share.
"""

# Names load their module on first use, so that `python -m fromzero --help` does not import torch.
_EXPORTS = {
    "FeatureDataset": "collate",
    "FinetuneOptions": "options",
    "FinetuneResult": "tasks",
    "PadCollator": "collate",
    "ParameterCount": "freezing",
    "add_lora": "lora",
    "align_labels": "collate",
    "classification_scores": "metrics",
    "encode_tagged": "collate",
    "encode_texts": "collate",
    "encoder_layers": "freezing",
    "entity_scores": "metrics",
    "entity_tags": "tasks",
    "entity_tallies": "metrics",
    "evaluate_classifier": "tasks",
    "evaluate_tagger": "tasks",
    "finetune_classifier": "tasks",
    "finetune_tagger": "tasks",
    "freeze": "freezing",
    "load_classifier": "checkpoints",
    "load_finetuned": "checkpoints",
    "load_tagger": "checkpoints",
    "merge_lora": "lora",
    "parse_freeze": "freezing",
    "pooled_features": "inference",
    "predict_labels": "inference",
    "predict_logits": "inference",
    "predict_tags": "inference",
    "resolve_checkpoint": "checkpoints",
    "save_finetuned": "checkpoints",
    "sequence_loss": "tasks",
    "token_accuracy": "metrics",
    "token_loss": "tasks",
    "trainable_parameters": "freezing",
}

__all__ = [
    "FeatureDataset",
    "FinetuneOptions",
    "FinetuneResult",
    "PadCollator",
    "ParameterCount",
    "add_lora",
    "align_labels",
    "classification_scores",
    "encode_tagged",
    "encode_texts",
    "encoder_layers",
    "entity_scores",
    "entity_tags",
    "entity_tallies",
    "evaluate_classifier",
    "evaluate_tagger",
    "finetune_classifier",
    "finetune_tagger",
    "freeze",
    "load_classifier",
    "load_finetuned",
    "load_tagger",
    "merge_lora",
    "parse_freeze",
    "pooled_features",
    "predict_labels",
    "predict_logits",
    "predict_tags",
    "resolve_checkpoint",
    "save_finetuned",
    "sequence_loss",
    "token_accuracy",
    "token_loss",
    "trainable_parameters",
]


def __getattr__(name: str) -> object:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'fromzero.finetune' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"fromzero.finetune.{_EXPORTS[name]}"), name)
