"""Every method of ``python -m fromzero embed train`` against its gensim counterpart, and PPMI + SVD beside them.

For each method and seed, two whole new Python processes run one after the other (alternating which
goes first, since the machine may be shared): the book's command line exactly as a user types it,
``python -m fromzero embed train --method M --corpus ... --out ...`` (start Python, import torch, read
the corpus, train, write the word2vec text file), and a few lines of gensim doing the same job
(:data:`GENSIM_SCRIPT`). Words per second = corpus tokens x epochs / the whole process's wall time.
Quality is scored on the files the processes wrote: WordSim-353 and SimLex-999 (Spearman correlation
over covered pairs) and the Google analogies (3CosAdd accuracy over covered questions).

The counterparts: ``sgns`` and ``cbow`` against gensim's ``Word2Vec`` (``sg=1`` / ``sg=0``), ``sgns0``
(``--subsample 0``) against ``Word2Vec(sample=0)``, ``fasttext`` against gensim's ``FastText`` (skip-gram,
n-grams of 3 to 6 characters, 2 million buckets). gensim has no GloVe, so ``glove`` is set against gensim's
skip-gram; ``glove20`` is GloVe at its own default of 20 epochs (an epoch of GloVe is one pass over the
co-occurrence cells, far cheaper than a pass over the text), against the same 3-epoch skip-gram. For the
GloVe rows the speed ratio is then simply gensim's whole-process time over the book's. With ``--glove-c DIR``
the GloVe rows run against the reference implementation instead, Stanford's glove.c (github.com/stanfordnlp/GloVe,
built there with ``make``; DIR is its ``build`` folder): ``vocab_count``, ``cooccur`` (window 5 on both sides,
counts weighted by 1/distance, as the book's), ``shuffle`` and ``glove`` (``x_max`` 100, alpha 0.75, the book's
dimension and epochs, W + W~ saved, 2 threads), timed together as one job. PPMI + SVD (Chapter 1's
count-based vectors, window 5, context counts smoothed with 3/4, the same dimension) is computed once in this
process, as the baseline every predictive method should be measured against.

The corpus is ~1.35 million real tokens, all offline: the small scale's text corpus (a Wikipedia sample and
the Lee news corpus, 527k tokens) and BBC News split into sentences (the distinct articles only). Run with the
project's environment:

    .venv/bin/python bench/bench_embeddings.py                          # every method, seeds 0 1 2
    .venv/bin/python bench/bench_embeddings.py --methods sgns --seeds 0  # a quick look
    .venv/bin/python bench/bench_embeddings.py --methods glove glove20 --glove-c ~/GloVe/build
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from machine import describe_machine

from fromzero.counting import cooccurrence_matrix, ppmi, svd_vectors
from fromzero.data.loaders import text_corpus
from fromzero.data.sources import load_bbc_news
from fromzero.data.text import tokenized_sentences
from fromzero.embeddings.io import load_word2vec_format
from fromzero.embeddings.options import WordVectors
from fromzero.embeddings.sampling import encode_corpus
from fromzero.evaluate import analogy_table, similarity_table

SETTINGS = {"dim": 100, "window": 5, "negative": 5, "epochs": 3, "min_count": 5}
SUBSAMPLE = 1e-3
# method -> (the book's extra options, the gensim model and its extra keyword arguments)
METHODS = {
    "sgns": ([], "Word2Vec", {"sg": 1, "sample": SUBSAMPLE}),
    "sgns0": (["--subsample=0"], "Word2Vec", {"sg": 1, "sample": 0}),
    "cbow": ([], "Word2Vec", {"sg": 0, "sample": SUBSAMPLE}),
    "fasttext": ([], "FastText", {"sg": 1, "sample": SUBSAMPLE, "min_n": 3, "max_n": 6, "bucket": 2_000_000}),
    "glove": ([], "Word2Vec", {"sg": 1, "sample": SUBSAMPLE}),
    "glove20": (["--epochs=20"], "Word2Vec", {"sg": 1, "sample": SUBSAMPLE}),
}
# the command-line method behind a benchmark name, where they differ
BOOK_METHOD = {"sgns0": "sgns", "glove20": "glove"}
EPOCHS = {"glove20": 20}  # passes the book's side makes where a method's options change SETTINGS["epochs"]

GENSIM_SCRIPT = """
import sys
from gensim.models import FastText, Word2Vec

corpus, out, seed, workers, model = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
options = eval(sys.argv[6])
with open(corpus, encoding="utf-8") as handle:
    sentences = [line.split() for line in handle if line.strip()]
trained = {{"Word2Vec": Word2Vec, "FastText": FastText}}[model](
    sentences, vector_size={dim}, window={window}, negative={negative}, epochs={epochs}, min_count={min_count},
    workers=workers, seed=seed, **options)
trained.wv.save_word2vec_format(out)
""".format(**SETTINGS)


def build_corpus(path: Path) -> list[list[str]]:
    """Write the benchmark corpus to ``path``, one tokenised sentence per line; return its sentences."""
    news = load_bbc_news().drop_duplicates("text")
    sentences = text_corpus("small") + [tokens for text in news["text"] for tokens in tokenized_sentences(text)]
    path.write_text("\n".join(" ".join(tokens) for tokens in sentences) + "\n", encoding="utf-8")
    return sentences


def fromzero_command(method: str, corpus: Path, out: Path, seed: int, device: str, workers: int) -> list[str]:
    options = [f"--{name.replace('_', '-')}={value}" for name, value in SETTINGS.items()]
    return [sys.executable, "-m", "fromzero", "embed", "train", "--method", BOOK_METHOD.get(method, method),
            "--corpus", str(corpus), "--out", str(out), *options, *METHODS[method][0], f"--seed={seed}",
            f"--device={device}", f"--workers={workers}"]


def gensim_command(method: str, corpus: Path, out: Path, seed: int, workers: int) -> list[str]:
    _, model, options = METHODS[method]
    return [sys.executable, "-c", GENSIM_SCRIPT, str(corpus), str(out), str(seed), str(workers), model, repr(options)]


def glove_c_command(build: Path, method: str, corpus: Path, out: Path, seed: int, workers: int) -> list[str]:
    """glove.c's four programs on ``corpus``, in a folder of their own; the vectors go to ``out``, a .txt file."""
    epochs = EPOCHS.get(method, SETTINGS["epochs"])
    folder = out.parent / f"{out.stem}-glove-c"
    script = f"""set -e
mkdir -p {folder} && cd {folder}
{build}/vocab_count -min-count {SETTINGS['min_count']} -verbose 0 < {corpus} > vocab.txt
{build}/cooccur -vocab-file vocab.txt -window-size {SETTINGS['window']} -symmetric 1 -distance-weighting 1 \
    -verbose 0 < {corpus} > cooccurrences.bin
{build}/shuffle -seed {seed + 1} -verbose 0 < cooccurrences.bin > shuffled.bin
{build}/glove -input-file shuffled.bin -vocab-file vocab.txt -save-file {out.with_suffix('')} \
    -vector-size {SETTINGS['dim']} -iter {epochs} -x-max 100 -alpha 0.75 -threads {workers} -seed {seed + 1} \
    -binary 0 -model 2 -verbose 0
"""
    return ["bash", "-c", script]


def glove_c_vectors(out: Path) -> WordVectors:
    """The vectors glove.c wrote (no header, and a last line for ``<unk>``, the mean of the rarest words)."""
    lines = out.read_text(encoding="utf-8").splitlines()
    rows = [line.split(" ") for line in lines if not line.startswith("<unk> ")]
    return WordVectors([row[0] for row in rows], np.array([row[1:] for row in rows], dtype=np.float32))


def run_timed(command: list[str]) -> float:
    """Wall seconds of a whole process; exits with its error output if it fails."""
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        sys.exit(f"{' '.join(command[:8])} ... failed:\n{completed.stderr[-3000:]}")
    return seconds


def quality(vectors: WordVectors) -> dict[str, float]:
    similarity = similarity_table(vectors.words, vectors.vectors)
    analogies = analogy_table(vectors.words, vectors.vectors, methods=("3cosadd",))
    return {
        "wordsim353": float(similarity.loc["wordsim353", "spearman"]),
        "simlex999": float(similarity.loc["simlex999", "spearman"]),
        "analogy": float(analogies.loc["all", "3cosadd"]),
    }


def ppmi_svd(sentences: list[list[str]]) -> dict[str, float]:
    """Chapter 1's count-based vectors on the same corpus and vocabulary: the baseline."""
    started = time.perf_counter()
    encoded = encode_corpus(sentences, SETTINGS["min_count"])
    row = {word: i for i, word in enumerate(encoded.words)}
    ids = [[row[word] for word in sentence if word in row] for sentence in sentences]
    counts = cooccurrence_matrix(ids, len(row), window=SETTINGS["window"])
    vectors = svd_vectors(ppmi(counts), dim=SETTINGS["dim"], seed=0)
    return {"seconds": time.perf_counter() - started, **quality(WordVectors(encoded.words, vectors))}


def report(
    results: dict[str, dict[str, list[dict[str, float]]]],
    baseline: dict[str, float],
    tokens: int,
    references: dict[str, str],
) -> None:
    """The means over seeds as a Markdown table (for bench/README.md), with the ratios the targets are about.

    Where ``references[method]`` is not gensim (glove.c), the "gensim" columns of its row hold that reference's
    figures, as the row's label says.
    """
    print("\n| method | book words/s | gensim words/s | speed ratio | book WordSim | gensim WordSim | WordSim ratio "
          "| book SimLex | gensim SimLex | book analogies | gensim analogies |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for method, sides in results.items():
        book, gensim = ({key: statistics.mean(run[key] for run in runs) for key in runs[0]} for runs in sides.values())
        pairs = zip(sides["fromzero"], sides["gensim"], strict=True)
        speed = [theirs["seconds"] / ours["seconds"] for ours, theirs in pairs]  # = words/s ratio at equal epochs
        label = method if references[method] == "gensim" else f"{method} (against {references[method]})"
        print(f"| {label} | {book['words_per_second']:,.0f} | {gensim['words_per_second']:,.0f} "
              f"| {statistics.median(speed):.2f} | {book['wordsim353']:.3f} | {gensim['wordsim353']:.3f} "
              f"| {book['wordsim353'] / gensim['wordsim353']:.2f} | {book['simlex999']:.3f} "
              f"| {gensim['simlex999']:.3f} "
              f"| {book['analogy']:.4f} | {gensim['analogy']:.4f} |")
    print(f"| PPMI + SVD (in-process, {baseline['seconds']:.0f} s) | | | | {baseline['wordsim353']:.3f} | | "
          f"| {baseline['simlex999']:.3f} | | {baseline['analogy']:.4f} | |")
    print(f"\ncorpus {tokens:,} tokens; speed ratio = median over seeds of reference seconds / book seconds")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS), help="(all)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds to average over (0 1 2)")
    parser.add_argument("--workers", type=int, default=2, help="worker threads on both sides (2)")
    parser.add_argument("--glove-c", type=Path, metavar="DIR", help="glove.c's build folder: the GloVe rows then "
                        "run against glove.c instead of gensim's skip-gram")
    parser.add_argument("--device", default="cpu", help="where the book's command trains: cpu (default) or cuda; "
                        "gensim always runs on the CPU")
    return parser


def main() -> None:
    args = build_parser().parse_args()

    with tempfile.TemporaryDirectory() as folder:
        corpus = Path(folder) / "corpus.txt"
        sentences = build_corpus(corpus)
        tokens = sum(len(sentence) for sentence in sentences)
        print(f"corpus: {tokens:,} tokens; settings {SETTINGS}, subsampling {SUBSAMPLE} unless the method says 0; "
              f"workers={args.workers} on both sides; the book's command on {args.device}")
        print(f"machine: {describe_machine()}")
        baseline = ppmi_svd(sentences)
        print(f"PPMI + SVD: {baseline}", flush=True)
        results: dict[str, dict[str, list[dict[str, float]]]] = {}
        references: dict[str, str] = {}  # method -> what its "gensim" side ran: gensim or glove.c
        for method in args.methods:
            results[method] = {"fromzero": [], "gensim": []}
            references[method] = "glove.c" if args.glove_c and method.startswith("glove") else "gensim"
            reference_is_glove_c = references[method] == "glove.c"
            for position, seed in enumerate(args.seeds):
                for side in ("fromzero", "gensim") if position % 2 == 0 else ("gensim", "fromzero"):
                    out = Path(folder) / f"{method}-{side}-{seed}.txt"
                    glove_c_side = side == "gensim" and reference_is_glove_c
                    if side == "fromzero":
                        command = fromzero_command(method, corpus, out, seed, args.device, args.workers)
                    elif glove_c_side:
                        command = glove_c_command(args.glove_c, method, corpus, out, seed, args.workers)
                    else:
                        command = gensim_command(method, corpus, out, seed, args.workers)
                    seconds = run_timed(command)
                    vectors = glove_c_vectors(out) if glove_c_side else load_word2vec_format(out)
                    # gensim trains SETTINGS["epochs"]; the book, and glove.c against it, the method's own
                    gensim_side = side == "gensim" and not glove_c_side
                    passes = SETTINGS["epochs"] if gensim_side else EPOCHS.get(method, SETTINGS["epochs"])
                    row = {"seconds": seconds, "words_per_second": tokens * passes / seconds, **quality(vectors)}
                    results[method][side].append(row)
                    name = references[method] if side == "gensim" else side
                    print(f"{method:>8} seed {seed} {name:>8}: {seconds:6.1f} s, {row['words_per_second']:>9,.0f} "
                          f"words/s, WordSim-353 {row['wordsim353']:.3f}, SimLex-999 {row['simlex999']:.3f}, "
                          f"analogy {row['analogy']:.4f}  (load {os.getloadavg()[0]:.1f})", flush=True)
        report(results, baseline, tokens, references)


if __name__ == "__main__":
    main()
