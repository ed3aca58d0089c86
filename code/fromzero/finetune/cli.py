"""``python -m fromzero finetune {classify,ner}`` and ``python -m fromzero predict``.

``finetune`` prints a short human report, then, as the LAST line of stdout, one JSON object with
the scores on ``--eval`` (other tools parse that line). ``predict`` prints one JSON object per
input text (JSON lines):

* a classifier: ``{"text": ..., "label": ..., "score": ...}``, ``score`` being the softmax
  probability of the predicted label;
* a tagger: ``{"text": ..., "tokens": [...], "tags": [...], "entities": [{"text", "type",
  "start", "end"}]}``; the text is split on whitespace into tokens, as in a CoNLL file, and
  ``start``/``end`` are token positions (``end`` excluded).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fromzero.argtypes import add_options, options_from, positive_int
from fromzero.errors import InputError
from fromzero.files import check_output_folder
from fromzero.finetune.options import FinetuneOptions

NOT_SAVED = "--output was not written (a model folder already there is unchanged)"

def _add_training_options(parser: argparse.ArgumentParser, data_format: str) -> None:
    parser.add_argument("--model", required=True, help="'small' (the offline MiniLM encoder), a model folder, "
                        "or a Hugging Face hub name such as bert-base-uncased (needs the network)")
    parser.add_argument("--train", required=True, metavar=data_format, help=f"training data ({data_format})")
    parser.add_argument("--eval", required=True, metavar=data_format, help=f"held-out data to score ({data_format})")
    add_options(parser, FinetuneOptions)
    parser.add_argument("--output", metavar="DIR",
                        help="save the fine-tuned model and tokenizer here (loadable with from_pretrained)")


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``finetune`` (with ``classify`` and ``ner``) and ``predict``."""
    finetune = subparsers.add_parser(
        "finetune",
        help="fine-tune a pretrained encoder for classification or NER",
        description="Fine-tune a pretrained BERT-style encoder with the book's training loop, score it on held-out "
        "data, and print the scores as a JSON object on the last line.",
    )
    tasks = finetune.add_subparsers(dest="finetune_task", metavar="{classify,ner}", required=True)
    classify = tasks.add_parser(
        "classify",
        help="text classification from TSV files",
        description="Train a sequence classifier on a TSV file with a header naming the columns 'text' and 'label'. "
        "The last line of output is JSON with accuracy, macro_f1, per_class and seconds.",
    )
    _add_training_options(classify, "TSV")
    classify.set_defaults(handler=_classify_command, interrupted=NOT_SAVED)
    ner = tasks.add_parser(
        "ner",
        help="named-entity recognition from CoNLL files",
        description="Train a BIO tagger on a CoNLL file: a token in the first column, its tag in the last, a blank "
        "line between sentences. The last line of output is JSON with entity-level precision, recall, f1 and "
        "per_type scores. --max-length cuts the training sentences only: --eval sentences are scored whole, and a "
        "saved model tags whole texts (up to the model's position limit, 512 word pieces for BERT models).",
    )
    _add_training_options(ner, "CONLL")
    ner.set_defaults(handler=_ner_command, interrupted=NOT_SAVED)
    predict = subparsers.add_parser(
        "predict",
        help="label texts with a model saved by 'finetune --output'",
        description="Print one JSON line per text: the label and its probability for a classifier; the tokens, tags "
        "and entities for a tagger (texts are split on whitespace). Reads one text per line from stdin when no TEXT "
        "is given.",
    )
    predict.add_argument("--model", required=True, metavar="DIR", help="a folder written by 'finetune --output'")
    predict.add_argument("texts", nargs="*", metavar="TEXT", help="texts to label (default: lines of stdin)")
    predict.add_argument("--batch-size", type=positive_int, default=32, help="texts per forward pass (32)")
    predict.set_defaults(handler=_predict_command)


def _options(args: argparse.Namespace) -> FinetuneOptions:
    return options_from(args, FinetuneOptions, progress=sys.stderr.isatty())


def _check_subset(train: set[str], held_out: set[str], path: str, what: str) -> None:
    unseen = sorted(held_out - train)
    if unseen:
        raise InputError(f"{path}: {what} {unseen[0]!r} does not occur in the training data")


def _check_options(args: argparse.Namespace) -> None:
    """Refuse contradictory options before anything heavy is imported."""
    if args.lora and args.freeze != "none":
        raise InputError("--lora already freezes the pretrained weights: use it with --freeze none")
    if args.output:
        model_folder = {"--model": args.model} if Path(args.model).is_dir() else {}
        inputs = {"--train": args.train, "--eval": args.eval, **model_folder}
        check_output_folder(args.output, "--output", inputs)  # before training: a typo must not cost a run


def _prologue(args: argparse.Namespace) -> tuple[Any, str]:
    """Validate the options and the checkpoint before any data is tokenised or any weight is loaded."""
    from fromzero.device import describe_device, pick_device
    from fromzero.distributed import is_main_process
    from fromzero.finetune.checkpoints import resolve_checkpoint

    options = _options(args)
    device = describe_device(pick_device(args.device))
    checkpoint = resolve_checkpoint(args.model)
    if is_main_process():
        print(f"model: {args.model} ({checkpoint}) on {device}")
    return options, checkpoint


def _report_training(result: Any) -> None:
    history = result.history
    print(f"trained {history.steps[-1]} steps in {history.seconds:.1f} s, final training loss "
          f"{history.train_loss[-1]:.4f}; {result.parameters.trainable:,} of {result.parameters.total:,} "
          "parameters trainable")


def _full_length(model: Any) -> int:
    """The most word pieces ``model`` can read at once: its number of position embeddings (512 for BERT)."""
    return int(getattr(model.config, "max_position_embeddings", None) or 512)


def _summary(
    args: argparse.Namespace, result: Any, started: float, extra: dict[str, Any], saved_length: int
) -> dict[str, Any]:
    from fromzero.finetune.checkpoints import save_finetuned

    output = None
    if args.output:
        output = str(save_finetuned(result.model, result.tokenizer, args.output, saved_length))
        print(f"saved to {output}")
    return {
        **extra,
        "model": args.model,
        "trainable_parameters": result.parameters.trainable,
        "total_parameters": result.parameters.total,
        "final_train_loss": result.history.train_loss[-1],
        "train_seconds": round(result.history.seconds, 3),
        "seconds": round(time.perf_counter() - started, 3),
        "output": output,
    }


def _classify_command(args: argparse.Namespace) -> int:
    from fromzero.data.readers import read_tsv

    _check_options(args)
    started = time.perf_counter()
    train, held_out = read_tsv(args.train), read_tsv(args.eval)
    labels = sorted(set(train["label"]))
    if len(labels) < 2:
        raise InputError(f"{args.train}: a single label ({labels[0]!r}); a classifier needs at least two")
    _check_subset(set(labels), set(held_out["label"]), args.eval, "label")
    from fromzero.distributed import is_main_process
    from fromzero.finetune.tasks import evaluate_classifier, finetune_classifier

    options, checkpoint = _prologue(args)
    if is_main_process():
        print(f"train: {len(train)} texts, eval: {len(held_out)} texts, {len(labels)} labels: {', '.join(labels)}")
    result = finetune_classifier(checkpoint, train["text"].tolist(), train["label"].tolist(), options)
    if not is_main_process():
        return 0
    _report_training(result)
    scores, _ = evaluate_classifier(result.model, result.tokenizer, held_out["text"].tolist(),
                                    held_out["label"].tolist(), options.max_length)
    _print_table(scores["per_class"], "label")
    print(f"accuracy {scores['accuracy']:.4f}  macro-F1 {scores['macro_f1']:.4f}")
    extra = {"task": "classify", "train_examples": len(train), "eval_examples": len(held_out), **scores}
    print(json.dumps(_summary(args, result, started, extra, result.max_length)))
    return 0


def _ner_command(args: argparse.Namespace) -> int:
    from fromzero.data.readers import read_conll

    _check_options(args)
    started = time.perf_counter()
    train, held_out = read_conll(args.train), read_conll(args.eval)
    types = {tag[2:] for _, row in train for tag in row if tag != "O"}
    if not types:
        raise InputError(f"{args.train}: no entities (every tag is 'O'); a tagger needs at least one entity type")
    _check_subset(types, {tag[2:] for _, row in held_out for tag in row if tag != "O"}, args.eval, "entity type")
    from fromzero.distributed import is_main_process
    from fromzero.finetune.tasks import evaluate_tagger, finetune_tagger

    options, checkpoint = _prologue(args)
    words = sum(len(tokens) for tokens, _ in train)
    if is_main_process():
        print(f"train: {len(train)} sentences ({words} tokens), eval: {len(held_out)} sentences, "
              f"entity types: {', '.join(sorted(types))}")
    result = finetune_tagger(checkpoint, train, options)
    if not is_main_process():
        return 0
    _report_training(result)
    # Training may cut long sentences at --max-length, scoring must not: a word cut off would be tagged O and
    # its entity counted as missed. Batches are padded to their own longest sentence, so short ones cost no more.
    full_length = _full_length(result.model)
    scores, _ = evaluate_tagger(result.model, result.tokenizer, held_out, full_length)
    _print_table(scores["per_type"], "type")
    print(f"entity precision {scores['precision']:.4f}  recall {scores['recall']:.4f}  F1 {scores['f1']:.4f}  "
          f"(tag accuracy {scores['token_accuracy']:.4f})")
    extra = {"task": "ner", "train_sentences": len(train), "eval_sentences": len(held_out), **scores}
    print(json.dumps(_summary(args, result, started, extra, full_length)))
    return 0


def _print_table(rows: dict[str, dict[str, float]], name: str) -> None:
    width = max([len(name), *map(len, rows)])
    print(f"{name:<{width}}  precision  recall     f1  support")
    for key, row in rows.items():
        print(f"{key:<{width}}  {row['precision']:9.3f}  {row['recall']:6.3f}  {row['f1']:5.3f}  {row['support']:7d}")


def _read_inputs(texts: Sequence[str]) -> list[str]:
    if texts:
        lines = list(texts)
    else:
        raw = sys.stdin.buffer.read()
        try:
            lines = raw.decode("utf-8").splitlines()
        except UnicodeDecodeError as error:
            raise InputError(f"standard input is not UTF-8 text: byte 0x{raw[error.start]:02x} at offset "
                             f"{error.start}") from None
    lines = [line.strip() for line in lines if line.strip()]
    if not lines:
        raise InputError("no text to label: give TEXT arguments or lines on stdin")
    return lines


def _predict_command(args: argparse.Namespace) -> int:
    from fromzero.finetune.checkpoints import load_finetuned

    texts = _read_inputs(args.texts)  # before the model: bad input fails before a slow load
    model, tokenizer, task = load_finetuned(args.model)
    max_length = min(tokenizer.model_max_length, getattr(model.config, "max_position_embeddings", 512))
    label = _classify_records if task == "classify" else _tag_records
    for record in label(model, tokenizer, texts, max_length, args.batch_size):
        print(json.dumps(record, ensure_ascii=False))
    return 0


def _classify_records(model: Any, tokenizer: Any, texts: list[str], max_length: int, batch_size: int) -> list[dict]:
    from fromzero.finetune.inference import predict_labels

    labels, probabilities = predict_labels(model, tokenizer, texts, max_length, batch_size)
    return [
        {"text": text, "label": label, "score": round(float(row.max()), 6)}
        for text, label, row in zip(texts, labels, probabilities, strict=True)
    ]


def _tag_records(model: Any, tokenizer: Any, texts: list[str], max_length: int, batch_size: int) -> list[dict]:
    from seqeval.metrics.sequence_labeling import get_entities

    from fromzero.finetune.inference import predict_tags

    sentences = [text.split() for text in texts]
    predicted = predict_tags(model, tokenizer, sentences, max_length, batch_size)
    records = []
    for text, tokens, tags in zip(texts, sentences, predicted, strict=True):
        entities = [
            {"text": " ".join(tokens[start : end + 1]), "type": kind, "start": start, "end": end + 1}
            for kind, start, end in get_entities(tags)
        ]
        records.append({"text": text, "tokens": tokens, "tags": tags, "entities": entities})
    return records
