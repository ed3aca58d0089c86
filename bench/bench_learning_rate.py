"""How the default learning rates of ``embed train --method sgns|cbow`` are chosen: by held-out loss.

word2vec.c's defaults (0.025 for skip-gram, 0.05 for CBOW) were set for corpora of billions of words.
This script trains each candidate rate at the command line's other defaults on a corpus with every
50th sentence held out, and scores the held-out sentences with the negative-sampling loss
(:func:`fromzero.embeddings.word2vec.heldout_loss`, the same examples for every candidate). The rate
with the lowest held-out loss is the one to use; WordSim-353 is printed beside it for information only,
since choosing by a benchmark would be tuning on the test set. Two corpora: the small scale's text
corpus (Chapter 2's, 527k tokens) and the embedding benchmark's (1.35M tokens, ``bench_embeddings.py``).

    .venv/bin/python bench/bench_learning_rate.py
    .venv/bin/python bench/bench_learning_rate.py --methods sgns --rates 0.025 0.1 --corpora chapter
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench_embeddings import build_corpus
from machine import describe_machine

from fromzero.data.loaders import text_corpus
from fromzero.embeddings.options import EmbedOptions
from fromzero.embeddings.sampling import heldout_loss
from fromzero.embeddings.word2vec import train_word2vec
from fromzero.evaluate import similarity_table

HELD_OUT_EVERY = 50


def corpus_of(name: str, folder: Path) -> list[list[str]]:
    return text_corpus("small") if name == "chapter" else build_corpus(folder / "corpus.txt")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--methods", nargs="+", choices=["sgns", "cbow"], default=["sgns", "cbow"])
    parser.add_argument("--rates", type=float, nargs="+", default=[0.025, 0.05, 0.1, 0.2])
    parser.add_argument("--corpora", nargs="+", choices=["chapter", "bench"], default=["chapter", "bench"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"machine: {describe_machine()}")
    print("| corpus | method | lr | held-out loss | WordSim-353 (information only) | seconds |")
    print("|---|---|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as folder:
        for name in args.corpora:
            sentences = corpus_of(name, Path(folder))
            held_out = sentences[::HELD_OUT_EVERY]
            train = [sentence for number, sentence in enumerate(sentences) if number % HELD_OUT_EVERY]
            for method in args.methods:
                for rate in args.rates:
                    options = EmbedOptions(lr=rate, seed=args.seed, progress=False)
                    run = train_word2vec(train, options, method)
                    loss = heldout_loss(run, held_out, options, method)
                    wordsim = similarity_table(run.vectors.words, run.vectors.vectors).loc["wordsim353", "spearman"]
                    print(f"| {name} ({run.corpus_tokens:,} tokens) | {method} | {rate:g} | {loss:.4f} "
                          f"| {wordsim:.3f} | {run.seconds:.0f} |", flush=True)


if __name__ == "__main__":
    main()
