"""``python -m fromzero pretrain {gpt,bert}``: pretrain a tiny model on a text file.

Progress goes to stderr (the training loop's bar) and a short report to stdout; the LAST line of
stdout is one JSON object with at least ``eval_loss``, ``eval_perplexity`` and
``eval_bits_per_char`` (see :mod:`fromzero.transformer.pretrain` for what each means for BERT).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from fromzero.argtypes import add_options, options_from

RESUME = "the checkpoints already in --out are kept; run the same command again to resume from the last one"


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``pretrain`` with its two model kinds."""
    pretrain = subparsers.add_parser(
        "pretrain",
        help="pretrain a tiny GPT or BERT from scratch on a text file",
        description="Train a tokeniser on --corpus (byte-level BPE for gpt, WordPiece for bert), then a tiny model "
        "with the book's training loop; write the tokeniser, the model description and resumable checkpoints to "
        "--out (run the same command again to resume). The last line of output is JSON with eval_loss, "
        "eval_perplexity and eval_bits_per_char on the held-out text.",
    )
    kinds = pretrain.add_subparsers(dest="kind", metavar="{gpt,bert}", required=True)
    gpt = kinds.add_parser(
        "gpt",
        help="a causal language model (next-token prediction)",
        description="Pretrain a tiny GPT. eval_bits_per_char is the held-out text's total negative log-likelihood in "
        "bits divided by its number of characters, comparable across tokenisers and with gzip or bzip2.",
    )
    bert = kinds.add_parser(
        "bert",
        help="a masked language model (MLM, optionally with next-sentence prediction)",
        description="Pretrain a tiny BERT. eval_loss is the masked-token cross-entropy (15% of the held-out tokens, "
        "fixed masks); eval_bits_per_char is that cross-entropy in bits per character of the masked tokens: the "
        "cost of restoring hidden text given both sides, not comparable with a GPT's.",
    )
    for parser, kind in ((gpt, "gpt"), (bert, "bert")):
        _add_options(parser, kind)
        parser.set_defaults(handler=_pretrain_command, interrupted=RESUME)


def _add_options(parser: argparse.ArgumentParser, kind: str) -> None:
    from fromzero.transformer.options import DEFAULTS, PretrainOptions

    add_options(parser, PretrainOptions, defaults=DEFAULTS[kind], variant=kind)


def _pretrain_command(args: argparse.Namespace) -> int:
    started = time.perf_counter()  # --max-minutes counts from here: importing torch is part of the run
    from fromzero.transformer.corpus import read_corpus
    from fromzero.transformer.options import PretrainOptions

    options = options_from(args, PretrainOptions)
    for path in (args.corpus, args.eval_corpus):
        if path is not None:
            read_corpus(path)  # a bad file fails here, in a second, before torch is imported
    from fromzero.distributed import is_main_process
    from fromzero.transformer.pretrain import pretrain

    result = pretrain(options, log=print, started=started)
    if not is_main_process():  # under torchrun, process 0 reports for all
        return 0
    summary = result.summary
    print(
        f"held-out text: loss {summary['eval_loss']:.4f} nats/token, perplexity {summary['eval_perplexity']:.2f}, "
        f"{summary['eval_bits_per_char']:.4f} bits/character"
    )
    if "eval_mask_accuracy" in summary:
        restored, guessed = summary["eval_mask_accuracy"], summary["eval_most_frequent_accuracy"]
        print(f"at [MASK]: {restored:.1%} restored, against {guessed:.1%} for always guessing the most frequent token")
    sys.stdout.flush()
    print(json.dumps(summary))
    return 0
