"""``python -m fromzero embed {train,evaluate}``: train word vectors on a text file, and score them.

``train`` reads a corpus (one sentence per line, tokens separated by spaces), trains with the
chosen method, and writes the vectors in the word2vec text format that gensim and most tools read;
progress goes to stderr. Under ``torchrun`` process 0 trains and writes, and the others end at once: the
trainers use threads, not processes. ``evaluate`` prints the benchmark tables and, as its LAST line, one JSON
object ``{"wordsim353": ..., "simlex999": ..., "analogy": ..., "oov_rate": ...}`` (``null`` where
a score cannot be computed because the vocabulary covers none of the benchmark's items).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from fromzero.argtypes import add_options, options_from
from fromzero.embeddings.options import METHODS, EmbedOptions


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``embed`` with its ``train`` and ``evaluate`` subcommands."""
    embed = subparsers.add_parser(
        "embed",
        help="train word vectors (Word2Vec, GloVe, FastText) and evaluate them",
        description="Train static word vectors on a text file, or score a file of vectors on WordSim-353, "
        "SimLex-999 and the Google analogies.",
    )
    commands = embed.add_subparsers(dest="embed_command", metavar="{train,evaluate}", required=True)
    train = commands.add_parser(
        "train",
        help="train word vectors on a corpus and save them in the word2vec text format",
        description="Read --corpus (UTF-8, one sentence per line, tokens separated by spaces), train word vectors "
        "with --method, and write them to --out in the word2vec text format (header 'N D'), which gensim's "
        "KeyedVectors.load_word2vec_format reads. Progress goes to stderr.",
    )
    train.add_argument(
        "--method",
        choices=METHODS,
        required=True,
        help="sgns: skip-gram with negative sampling; cbow: continuous bag of words; glove; fasttext",
    )
    train.add_argument("--corpus", required=True, metavar="PATH", help="the training text")
    train.add_argument("--out", required=True, metavar="PATH", help="where to write the vectors")
    add_options(train, EmbedOptions)
    train.set_defaults(handler=_train_command, interrupted="--out was not written (a file already there is unchanged)")
    evaluate = commands.add_parser(
        "evaluate",
        help="score word vectors on WordSim-353, SimLex-999 and the Google analogies",
        description="Read PATH (word2vec text format) and print Spearman correlations on WordSim-353 and "
        "SimLex-999 and analogy accuracies (3CosAdd, 3CosMul) over the covered items. The last line is JSON with "
        "wordsim353, simlex999, analogy (3CosAdd accuracy) and oov_rate (share of the benchmarks' distinct words "
        "without a vector).",
    )
    evaluate.add_argument("path", metavar="PATH", help="a word2vec text file, e.g. written by 'embed train'")
    evaluate.set_defaults(handler=_evaluate_command)


def _train_command(args: argparse.Namespace) -> int:
    from fromzero.data.readers import read_sentences
    from fromzero.device import describe_device, pick_device
    from fromzero.distributed import is_main_process
    from fromzero.embeddings.io import save_word2vec_format
    from fromzero.embeddings.methods import epochs_of, train_embeddings
    from fromzero.files import check_output_file

    if not is_main_process():  # under torchrun: the trainers use threads, not processes, so process 0 does it all
        return 0
    check_output_file(args.out, "--out", {"--corpus": args.corpus})  # before training: a typo must not cost a run
    options = options_from(args, EmbedOptions)
    device = pick_device(options.device)
    started = time.perf_counter()
    sentences = read_sentences(args.corpus)
    tokens = sum(len(sentence) for sentence in sentences)
    vectors = train_embeddings(args.method, sentences, options)
    save_word2vec_format(vectors, args.out)
    seconds = time.perf_counter() - started
    print(
        f"{args.method} on {describe_device(device)}: {len(sentences):,} sentences, {tokens:,} tokens, "
        f"{len(vectors.words):,} words of {vectors.vectors.shape[1]} dimensions"
    )
    epochs = epochs_of(args.method, options)
    print(f"{seconds:.1f} s, {epochs} epochs, {tokens * epochs / seconds:,.0f} words/s (reading and writing included)")
    print(f"vectors written to {args.out}")
    return 0


def _evaluate_command(args: argparse.Namespace) -> int:
    import pandas as pd

    from fromzero.embeddings.io import load_word2vec_format
    from fromzero.evaluate import analogy_table, benchmark_oov_rate, benchmark_summary, similarity_table

    vectors = load_word2vec_format(args.path)
    similarity = similarity_table(vectors.words, vectors.vectors)
    analogies = analogy_table(vectors.words, vectors.vectors)
    summary = benchmark_summary(similarity, analogies, benchmark_oov_rate(vectors.words))
    with pd.option_context("display.width", 120, "display.float_format", "{:.3f}".format):
        print(f"{args.path}: {len(vectors.words):,} words, {vectors.vectors.shape[1]} dimensions\n")
        print(similarity.to_string(), end="\n\n")
        print(analogies.to_string(), end="\n\n")
    sys.stdout.flush()
    print(json.dumps(summary))
    return 0
