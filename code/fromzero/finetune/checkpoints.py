"""Which checkpoint ``--model`` names, loading it with a fresh task head, and saving what training made.

``from_pretrained`` with ``num_labels``, ``id2label`` and ``label2id`` builds the pretrained encoder
plus a new, randomly initialised linear head whose outputs are named by the labels; saving writes
those names into ``config.json``, so a saved model predicts label *strings* without any side file.
The tokenizer is saved with ``model_max_length`` set to the length the model was trained with, so
that prediction truncates texts the way training did.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fromzero.errors import InputError
from fromzero.files import swapped_folder

TASK_ARCHITECTURES = {"classify": "ForSequenceClassification", "ner": "ForTokenClassification"}
_PATH_PREFIXES = ("/", "./", "../", "~", ".\\", "..\\")


@contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' loading chatter (the weight-loading bar, the 'newly initialised head' report).

    The report says that the classifier's weights are new, which is the point of adding a head;
    in a notebook or on the command line it would bury the output that matters.
    """
    from transformers.utils import logging as hf_logging

    verbosity, bar = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity(logging.ERROR)
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bar:
            hf_logging.enable_progress_bar()


def resolve_checkpoint(name: str) -> str:
    """What to hand ``from_pretrained`` for ``name``: ``"small"``, a local folder, or a hub name.

    ``small`` is the offline MiniLM encoder. A hub name (``bert-base-uncased``) needs the network,
    which is checked first so that an offline machine fails in seconds with a clear message.
    """
    from fromzero.data.loaders import encoder_checkpoint
    from fromzero.data.scale import require_network

    if name == "small":
        return encoder_checkpoint("small")
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise InputError(f"{name}: no config.json in this folder; it is not a model saved by from_pretrained")
        return str(path)
    if path.exists():
        raise InputError(f"{name}: is a file; --model takes 'small', a model folder or a Hugging Face hub name")
    if name.startswith(_PATH_PREFIXES) or name.endswith(("/", "\\")):
        raise InputError(f"{name}: no such model folder")
    require_network(f"the checkpoint {name!r}", remedy="Use --model small (the offline MiniLM) or a model folder.")
    return name


def _from_pretrained(auto_class: Any, checkpoint: str, **kwargs: Any) -> Any:
    from safetensors import SafetensorError

    try:
        with quiet_transformers():
            return auto_class.from_pretrained(checkpoint, **kwargs)
    except (OSError, ValueError, KeyError, SafetensorError) as error:  # SafetensorError: a cut-short weights file
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        if isinstance(error, SafetensorError):
            first_line = f"its .safetensors weights are cut short or corrupt ({first_line})"
        raise InputError(f"cannot load {checkpoint!r}: {first_line}") from None


def load_tokenizer(checkpoint: str) -> Any:
    """The checkpoint's fast tokenizer (fast: ``word_ids()`` is what label alignment needs)."""
    from transformers import AutoTokenizer

    tokenizer = _from_pretrained(AutoTokenizer, checkpoint)
    if not tokenizer.is_fast:
        raise InputError(f"{checkpoint!r} has no fast tokenizer; word-piece label alignment needs one")
    return tokenizer


def _label_maps(labels: list[str]) -> dict[str, Any]:
    return {
        "num_labels": len(labels),
        "id2label": dict(enumerate(labels)),
        "label2id": {label: index for index, label in enumerate(labels)},
    }


def load_classifier(checkpoint: str, labels: list[str]) -> tuple[Any, Any]:
    """``(model, tokenizer)``: the pretrained encoder with a new sequence-classification head for ``labels``."""
    from transformers import AutoModelForSequenceClassification

    model = _from_pretrained(AutoModelForSequenceClassification, checkpoint, **_label_maps(labels))
    return model, load_tokenizer(checkpoint)


def load_tagger(checkpoint: str, tags: list[str]) -> tuple[Any, Any]:
    """``(model, tokenizer)``: the pretrained encoder with a new token-classification head for ``tags``."""
    from transformers import AutoModelForTokenClassification

    model = _from_pretrained(AutoModelForTokenClassification, checkpoint, **_label_maps(tags))
    return model, load_tokenizer(checkpoint)


def save_finetuned(model: Any, tokenizer: Any, directory: str | Path, max_length: int) -> Path:
    """Save a plain ``from_pretrained``-loadable model (LoRA adapters merged) and its tokenizer.

    Merging changes a LoRA model's weights in place: use the returned folder, not the old wrapper, afterwards.
    """
    from fromzero.finetune.lora import merge_lora

    directory = Path(directory)
    plain = merge_lora(model)
    tokenizer.model_max_length = max_length
    with swapped_folder(directory) as new, quiet_transformers():  # a crash leaves the old model whole
        plain.save_pretrained(new)
        tokenizer.save_pretrained(new)
    return directory


def finetuned_task(directory: str | Path) -> str:
    """``"classify"`` or ``"ner"``, read from the architecture a saved model's ``config.json`` names."""
    from transformers import AutoConfig

    path = Path(directory)
    if not path.is_dir():
        raise InputError(f"{directory}: no such model folder")
    if not (path / "config.json").is_file():
        raise InputError(f"{directory}: no config.json; pass a folder written by 'fromzero finetune --output'")
    config = _from_pretrained(AutoConfig, str(path))
    for architecture in config.architectures or []:
        for task, suffix in TASK_ARCHITECTURES.items():
            if architecture.endswith(suffix):
                return task
    raise InputError(f"{directory}: the model is neither a sequence nor a token classifier ({config.architectures})")


def load_finetuned(directory: str | Path) -> tuple[Any, Any, str]:
    """``(model, tokenizer, task)`` for a folder written by :func:`save_finetuned`, in eval mode."""
    from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification

    task = finetuned_task(directory)
    weights = ("model.safetensors", "model.safetensors.index.json")  # one file, or shards with their index
    if not any((Path(directory) / name).is_file() for name in weights):
        raise InputError(f"{directory}: no model.safetensors; pass a folder written by 'fromzero finetune --output' "
                         "(pickled .bin weights are not loaded: unpickling can run code)")
    auto_class = AutoModelForSequenceClassification if task == "classify" else AutoModelForTokenClassification
    model = _from_pretrained(auto_class, str(directory))
    return model.eval(), load_tokenizer(str(directory)), task
