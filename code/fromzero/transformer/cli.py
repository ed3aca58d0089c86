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

from fromzero.argtypes import count, fraction, minutes, positive_float, positive_int, seed

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
    from fromzero.transformer.options import DEFAULTS, OPTIMIZERS, POSITIONS

    defaults = DEFAULTS[kind]
    parser.add_argument(
        "--corpus",
        required=True,
        metavar="PATH",
        help="UTF-8 text file to train on (its last 5%% is held out unless --eval-corpus is given)",
    )
    parser.add_argument("--eval-corpus", metavar="PATH", help="UTF-8 text file to evaluate on")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the tokeniser, model and checkpoints")
    parser.add_argument("--max-steps", type=positive_int, help="stop after this many optimizer steps")
    parser.add_argument(
        "--max-minutes",
        type=minutes,
        help="time limit for the whole run, tokeniser training and evaluation included: the number "
        "of steps is planned from a short timed probe",
    )
    parser.add_argument(
        "--epochs",
        type=positive_int,
        help="passes over the corpus (default: 1, or as many as --max-steps/--max-minutes allow)",
    )
    parser.add_argument("--seed", type=seed, default=0, help="random seed (0)")
    parser.add_argument("--device", default="auto", help="auto (default), cpu, cuda or mps")
    size = parser.add_argument_group("model size and training")
    size.add_argument("--vocab-size", type=positive_int, help=f"tokeniser vocabulary ({defaults['vocab_size']})")
    size.add_argument("--context", type=positive_int, help=f"tokens per training example ({defaults['context']})")
    size.add_argument("--layers", type=positive_int, help=f"Transformer blocks ({defaults['layers']})")
    size.add_argument("--heads", type=positive_int, default=4, help="attention heads per block (4)")
    size.add_argument("--dim", type=positive_int, help=f"model width d_model ({defaults['dim']})")
    size.add_argument("--dropout", type=fraction, help=f"dropout probability ({defaults['dropout']})")
    size.add_argument("--batch-size", type=positive_int, help=f"examples per step ({defaults['batch_size']})")
    size.add_argument(
        "--lr",
        type=positive_float,
        help=f"peak learning rate of AdamW, after a warm-up, then cosine decay ({defaults['lr']:g})",
    )
    size.add_argument(
        "--optimizer",
        choices=OPTIMIZERS,
        help="adamw: AdamW for every weight; muon: Muon for the weight matrices of the blocks, AdamW at --lr for "
        f"the rest ({defaults['optimizer']})",
    )
    size.add_argument(
        "--muon-lr", type=positive_float, help=f"peak learning rate of Muon ({defaults['muon_lr']:g})"
    )
    size.add_argument(
        "--positions",
        choices=POSITIONS,
        help="learned: a trained vector per position; sinusoidal: fixed waves; rotary: queries and keys turned by "
        f"their position inside attention, RoPE ({defaults['positions']})",
    )
    size.add_argument("--warmup-steps", type=count, help="warm-up steps (default: 10%% of the steps, at most 200)")
    size.add_argument(
        "--attention",
        choices=("sdpa", "math"),
        default="sdpa",
        help="sdpa: PyTorch's fused kernel (flash attention on a GPU); math: the written-out formula",
    )
    size.add_argument("--compile", action="store_true", help="torch.compile the model (worth it on a GPU)")
    if kind == "gpt":
        parser.add_argument(
            "--eval-stride",
            type=positive_int,
            help="score the held-out text in windows that advance by this many tokens, so that every token after "
            "the first window is predicted from at least context - stride tokens (default: half the context)",
        )
    else:
        parser.add_argument(
            "--nsp",
            action=argparse.BooleanOptionalAction,
            help="add next-sentence prediction to MLM, on pairs of segments as in BERT; --no-nsp (the default): "
            "MLM only, on single contiguous spans, as in RoBERTa",
        )
        parser.add_argument(
            "--mask-probability",
            type=fraction,
            help=f"share of the training tokens picked as MLM targets ({defaults['mask_probability']:g}; "
            "BERT used 0.15; the held-out score always picks 0.15)",
        )


def _pretrain_command(args: argparse.Namespace) -> int:
    started = time.perf_counter()  # --max-minutes counts from here: importing torch is part of the run
    from fromzero.transformer.corpus import read_corpus
    from fromzero.transformer.options import PretrainOptions

    options = PretrainOptions(
        kind=args.kind,
        corpus=args.corpus,
        eval_corpus=args.eval_corpus,
        out=args.out,
        max_steps=args.max_steps,
        max_minutes=args.max_minutes,
        epochs=args.epochs,
        seed=args.seed,
        device=args.device,
        vocab_size=args.vocab_size,
        context=args.context,
        layers=args.layers,
        heads=args.heads,
        dim=args.dim,
        dropout=args.dropout,
        batch_size=args.batch_size,
        lr=args.lr,
        optimizer=args.optimizer,
        muon_lr=args.muon_lr,
        positions=args.positions,
        warmup_steps=args.warmup_steps,
        nsp=getattr(args, "nsp", None),
        mask_probability=getattr(args, "mask_probability", None),
        attention=args.attention,
        compile=args.compile,
        eval_stride=getattr(args, "eval_stride", None),
    )
    for path in (args.corpus, args.eval_corpus):
        if path is not None:
            read_corpus(path)  # a bad file fails here, in a second, before torch is imported
    from fromzero.transformer.pretrain import pretrain

    result = pretrain(options, log=print, started=started)
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
